/**
 * Everything the extension needs to run lab databases, bundled on its own as
 * `dist/services-engine.js`: the Docker client, the pg client and the embedded engine's
 * launcher weigh over a megabyte, which the extension's own bundle must not make every
 * activation parse. The extension loads this file on first use (loadEngine below).
 */
export { LabServicesController, labAllowsEmbedded } from '../core/services/labServicesController';
export { DockerodeRuntime } from '../core/services/dockerodeRuntime';
export { createEmbeddedBackend } from '../core/services/embeddedBackend';
export { sessionIdFor } from '../core/services/sessions';
export { embeddedTemplatesDir, faultJournalDir } from '../core/services/stateDir';
export { recoverAbandonedFaults } from '../core/services/faults';
export { sweepOrphans } from '../core/services/labServices';
// Grading: the sandbox, the labs' graders (each loaded on first use) and the report's text.
export { GradingCancelledError } from '../core/grading/engine';
export { gradeLab, randomSeed, UnknownCheckError } from '../core/grading/gradeLab';
export { loadLabGrader } from '../core/grading/labGraders';
export { prepareGrading } from '../core/grading/prepareGrading';
export { formatReport } from '../core/grading/format';
