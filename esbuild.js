// Bundles the two faces of the product from the same src/core:
//   dist/extension.js  the VS Code extension (vscode stays external: the editor provides it)
//   dist/cli.js        the data-labs command line
//   dist/services-engine.js  the extension's lab-databases engine, loaded on first use
// and the process both of them start for labs that run without Docker:
//   dist/embedded-postgres.js  PGlite served over the PostgreSQL wire protocol, with
//   dist/pglite/               the WebAssembly and data files PGlite loads at start-up
// and the adapters graded labs load beside the learner's code (dist/adapters/*.cjs).
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
    }),
    esbuild.context({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      outfile: 'dist/cli.js',
      banner: { js: '#!/usr/bin/env node' },
    }),
    esbuild.context(embeddedServerOptions(path.join(__dirname, 'dist'), { minify: production, sourcemap: !production })),
    // The graded labs' adapters, each loaded in the learner's process beside their code
    // (see src/core/grading/sandbox.ts); `pg` comes from the lab's own node_modules.
    esbuild.context({
      ...common,
      entryPoints: { 'idempotency-keys': 'src/core/grading/adapters/idempotencyKeys.ts', saga: 'src/core/grading/adapters/saga.ts', quorum: 'src/core/grading/adapters/quorum.ts' },
      outdir: 'dist/adapters',
      outExtension: { '.js': '.cjs' },
      external: [...common.external, 'pg'],
    }),
  ]);
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

module.exports = { embeddedServerOptions, PGLITE_ASSET_FILES };

// Run as a script it builds; required (by a test), it only hands out the options above.
if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
