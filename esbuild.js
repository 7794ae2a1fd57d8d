// Bundles the two faces of the product from the same src/core:
//   dist/extension.js  the VS Code extension (vscode stays external: the editor provides it)
//   dist/cli.js        the data-labs command line
//   dist/services-engine.js  the extension's lab-databases engine, loaded on first use
// and the process both of them start for labs that run without Docker:
//   dist/embedded-postgres.js  PGlite served over the PostgreSQL wire protocol, with
//   dist/pglite/               the WebAssembly and data files PGlite loads at start-up
// and what the grading sandbox runs in the learner's process (dist/sandbox/): its child
// harness (child.cjs) and each graded lab's adapter (adapters/<lab id>.cjs).
//
// Labs are found, not listed: every labs/<id>/grader/index.ts is a grader, reached by the
// lab's id through the generated module `data-labs:lab-graders` (the lab-graders plugin
// below; the Vitest configurations use the same generator), and every
// labs/<id>/grader/adapter.ts is bundled as that lab's adapter.
// Type-checking and linting run before this script (see `npm run build`).
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Logs each rebuild's errors the way the problem matcher of `npm run watch` expects. */
const reportPlugin = {
  name: 'report',
  setup(build) {
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
    });
  },
};

const LABS_DIR = path.join(__dirname, 'labs');

/** The ids of the labs under `labsDir` that have a grader (a grader/index.ts), sorted. */
function gradedLabIds(labsDir = LABS_DIR) {
  let names;
  try {
    names = fs.readdirSync(labsDir, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(labsDir, d.name, 'grader', 'index.ts')))
    .map((d) => d.name)
    .sort();
}

/**
 * The source of `data-labs:lab-graders`: each graded lab's grader module by lab id, loaded
 * on first use (see src/core/grading/labGraders.ts, which checks what each exports).
 */
function labGraderRegistrySource(labsDir = LABS_DIR) {
  const entries = gradedLabIds(labsDir).map((id) => `  ${JSON.stringify(id)}: () => import(${JSON.stringify(path.join(labsDir, id, 'grader', 'index.ts'))}),`);
  return `// Generated from the labs' folders by esbuild.js (labGraderRegistrySource).\nexport const labGraderModules = {\n${entries.join('\n')}\n};\n`;
}

const REGISTRY_MODULE = 'data-labs:lab-graders';

/** esbuild: resolves `data-labs:lab-graders` to the generated registry of `labsDir`'s graders. */
function labGradersPlugin(labsDir = LABS_DIR) {
  return {
    name: 'lab-graders',
    setup(build) {
      build.onResolve({ filter: /^data-labs:lab-graders$/ }, () => ({ path: 'lab-graders', namespace: 'data-labs' }));
      build.onLoad({ filter: /.*/, namespace: 'data-labs' }, () => ({ contents: labGraderRegistrySource(labsDir), loader: 'js', resolveDir: labsDir, watchDirs: [labsDir] }));
    },
  };
}

/** Vite (Vitest): the same registry, so tests load graders exactly as the bundles do. */
function labGradersVitePlugin(labsDir = LABS_DIR) {
  const resolved = `\0${REGISTRY_MODULE}`;
  return {
    name: 'data-labs-lab-graders',
    resolveId: (id) => (id === REGISTRY_MODULE ? resolved : undefined),
    load: (id) => (id === resolved ? labGraderRegistrySource(labsDir) : undefined),
  };
}

/**
 * The sandbox's bundles: its child harness, and each graded lab's adapter (the entry points
 * of `labsDir`'s grader/adapter.ts files), written to `outdir` (dist/sandbox). `pg` comes
 * from the lab's own node_modules at run time.
 */
function sandboxOptions(outdir, { labsDir = LABS_DIR, minify = false, sourcemap = false } = {}) {
  const entryPoints = { child: path.join(__dirname, 'src', 'core', 'grading', 'sandbox', 'child.ts') };
  for (const id of gradedLabIds(labsDir)) {
    const adapter = path.join(labsDir, id, 'grader', 'adapter.ts');
    if (fs.existsSync(adapter)) entryPoints[`adapters/${id}`] = adapter;
  }
  return {
    ...common,
    minify,
    sourcemap,
    entryPoints,
    outdir,
    outExtension: { '.js': '.cjs' },
    external: [...common.external, 'pg'],
  };
}

/** The `data-labs` command line, with the graders of `labsDir`'s labs. */
function cliOptions(outfile, { labsDir = LABS_DIR, minify = false, sourcemap = false } = {}) {
  return {
    ...common,
    minify,
    sourcemap,
    entryPoints: [path.join(__dirname, 'src', 'cli', 'main.ts')],
    outfile,
    banner: { js: '#!/usr/bin/env node' },
    plugins: [...common.plugins, labGradersPlugin(labsDir)],
  };
}

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  plugins: [reportPlugin],
  // dockerode's ssh transport (ssh2) can use these native add-ons when present and works
  // without them; bundling them would only fail, so they stay out.
  external: ['cpu-features', '*.node'],
};

/*
 * The embedded PostgreSQL server. PGlite's ES module build finds its files through
 * `import.meta.url`, which a CommonJS bundle does not have (esbuild leaves it undefined),
 * and it creates `require` from the same URL. So `import.meta.url` becomes the bundle's
 * own file URL, and the server passes the three files to PGlite explicitly from
 * dist/pglite/ (see src/embedded/postgresServer.ts), where the plugin below copies them.
 * `ws` is only reached by Emscripten's WebSocket file system, which PGlite never uses.
 */
// The package's main file is dist/index.cjs; its files sit beside it.
const PGLITE_DIST = path.dirname(require.resolve('@electric-sql/pglite'));
const PGLITE_ASSET_FILES = ['pglite.wasm', 'initdb.wasm', 'pglite.data'];

/** Copies PGlite's files beside the bundle, skipping those already there with the same size. */
function copyPgliteAssets(outdir) {
  const target = path.join(outdir, 'pglite');
  fs.mkdirSync(target, { recursive: true });
  for (const name of PGLITE_ASSET_FILES) {
    const from = path.join(PGLITE_DIST, name);
    const to = path.join(target, name);
    const existing = fs.statSync(to, { throwIfNoEntry: false });
    if (!existing || existing.size !== fs.statSync(from).size) {
      fs.copyFileSync(from, to);
    }
  }
}

/** esbuild options of the embedded server bundle; test/unit/embedded.test.ts builds with them too. */
function embeddedServerOptions(outdir, { minify = false, sourcemap = false } = {}) {
  return {
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify,
    sourcemap,
    sourcesContent: false,
    logLevel: 'warning',
    entryPoints: [path.join(__dirname, 'src', 'embedded', 'postgresServer.ts')],
    outfile: path.join(outdir, 'embedded-postgres.js'),
    external: ['ws'],
    define: { 'import.meta.url': '__dataLabsModuleUrl' },
    banner: { js: 'var __dataLabsModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [
      reportPlugin,
      {
        name: 'pglite-assets',
        setup(build) {
          build.onEnd((result) => {
            if (result.errors.length === 0) copyPgliteAssets(outdir);
          });
        },
      },
    ],
  };
}

async function main() {
  const contexts = await Promise.all([
    esbuild.context({
      ...common,
      entryPoints: ['src/extension.ts'],
      outfile: 'dist/extension.js',
      external: [...common.external, 'vscode'],
      // Activation time counts module evaluation (first to last line of the bundle)
      // as well as activate() itself; see src/extension.ts.
      banner: { js: 'globalThis.__dataLabsLoadStart = performance.now();' },
      footer: { js: 'globalThis.__dataLabsLoadEnd = performance.now();' },
    }),
    // The lab-databases engine, loaded by the extension on first use (src/services/loadEngine.ts),
    // so activation does not parse the Docker and pg clients.
    esbuild.context({
      ...common,
      entryPoints: ['src/services/engine.ts'],
      outfile: 'dist/services-engine.js',
      plugins: [...common.plugins, labGradersPlugin()],
    }),
    esbuild.context(cliOptions(path.join(__dirname, 'dist', 'cli.js'), { minify: production, sourcemap: !production })),
    esbuild.context(embeddedServerOptions(path.join(__dirname, 'dist'), { minify: production, sourcemap: !production })),
    // What runs in the learner's process beside their code (src/core/grading/sandbox).
    esbuild.context(sandboxOptions(path.join(__dirname, 'dist', 'sandbox'), { minify: production, sourcemap: !production })),
  ]);
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

module.exports = { embeddedServerOptions, PGLITE_ASSET_FILES, cliOptions, gradedLabIds, labGraderRegistrySource, labGradersPlugin, labGradersVitePlugin, sandboxOptions };

// Run as a script it builds; required (by a test), it only hands out the options above.
if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
