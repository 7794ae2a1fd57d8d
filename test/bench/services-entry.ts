/**
 * The product code the services benchmark (test/bench/services.mjs) runs: bundled by
 * esbuild at bench start exactly as the extension and the CLI bundle it, so the
 * benchmark measures the shipped code paths and not a copy of them.
 */
export { DockerodeRuntime } from '../../src/core/services/dockerodeRuntime';
export { LABEL_EXTENSION, LABEL_LAB, labLabels, removeLabServices, startLabServices, stopLabServices } from '../../src/core/services/labServices';
export { SERVICE_CATALOG, serviceDefinition } from '../../src/core/services/serviceCatalog';
