// Bundles the two faces of the product from the same src/core:
//   dist/extension.js  the VS Code extension (vscode stays external: the editor provides it)
//   dist/cli.js        the data-labs command line
// Type-checking and linting run before this script (see `npm run build`).
const esbuild = require('esbuild');

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
    esbuild.context({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      outfile: 'dist/cli.js',
      banner: { js: '#!/usr/bin/env node' },
    }),
  ]);
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
