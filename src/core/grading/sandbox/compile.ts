/**
 * Compiling a learner's TypeScript for the sandbox: their entry and its relative imports
 * bundled by esbuild into one CommonJS file, packages left to the lab's own node_modules.
 * Only syntax and resolution errors are esbuild's to find; type errors are the editor's
 * and `tsc`'s.
 */
import { promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { BuildFailure, BuildOptions, BuildResult, Message } from 'esbuild';
import type { SourceDiagnostic } from '../report';

/**
 * The part of esbuild's JS API used here. The caller supplies the module: esbuild ships a
 * native binary, so it cannot be bundled into the extension; the lab's own node_modules has
 * it (Vitest depends on Vite, which depends on esbuild).
 */
export interface EsbuildApi {
  build(options: BuildOptions & { write: true }): Promise<BuildResult>;
}

/** The lab's dependencies lack esbuild, so the learner's code cannot be compiled. */
export class LabEsbuildMissingError extends Error {
  override readonly name = 'LabEsbuildMissingError';
  constructor(
    readonly labDir: string,
    override readonly cause?: unknown,
  ) {
    super(`The lab's dependencies are not installed in ${labDir}: esbuild (it comes with Vitest) is missing from its node_modules. Run "npm install" in the lab folder (or "Install Lab Dependencies" in the editor), then grade again.`);
  }
}

/**
 * What runs esbuild in its own process: it loads the lab's esbuild, builds with the options
 * it reads from stdin, and writes one JSON line of what came of it.
 */
const COMPILE_CHILD = `
const { createRequire } = require('node:module');
const path = require('node:path');
const say = (value) => process.stdout.write(JSON.stringify(value), () => process.exit(0));
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { labDir, options } = JSON.parse(input);
  let esbuild;
  try {
    esbuild = createRequire(path.join(labDir, 'package.json'))('esbuild');
  } catch (error) {
    say({ missing: String(error && error.message || error) });
    return;
  }
  esbuild.build(options).then(
    (result) => say({ ok: { errors: result.errors, warnings: result.warnings } }),
    (error) => say(error && Array.isArray(error.errors) ? { failure: { errors: error.errors, warnings: error.warnings || [] } } : { error: String(error && error.stack || error) }),
  );
});
`;

type ChildAnswer =
  | { readonly missing: string }
  | { readonly ok: { readonly errors: Message[]; readonly warnings: Message[] } }
  | { readonly failure: { readonly errors: Message[]; readonly warnings: Message[] } }
  | { readonly error: string };

/**
 * esbuild from the lab's own node_modules (every lab tests with Vitest, which brings it; a
 * native binary cannot travel inside the extension's bundle), run in a process of its own:
 * the lab's files are the learner's, and a package they edited must not run inside the
 * grader, where it could change a verdict. All it can touch there is the bundle it writes,
 * which is the learner's code anyway and runs in the sandbox.
 */
export function labEsbuild(labDir: string, nodePath: string = process.execPath): EsbuildApi {
  const dir = path.resolve(labDir);
  return {
    build: (options) =>
      new Promise<BuildResult>((resolve, reject) => {
        // In the editor, process.execPath is Electron: this makes it behave as plain Node.
        const child = spawn(nodePath, ['-e', COMPILE_CHILD], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, windowsHide: true });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
        child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
        child.on('error', (error) => reject(new Error(`esbuild could not be run with ${nodePath}: ${error.message}`)));
        child.on('close', (code) => {
          let answer: ChildAnswer;
          try {
            answer = JSON.parse(out) as ChildAnswer;
          } catch {
            reject(new Error(`esbuild's process ended (code ${String(code)}) without an answer.${err.trim() !== '' ? ` It said: ${err.trim().slice(0, 2_000)}` : ''}`));
            return;
          }
          if ('missing' in answer) reject(new LabEsbuildMissingError(dir, new Error(answer.missing)));
          else if ('failure' in answer) reject(Object.assign(new Error('Build failed'), answer.failure));
          else if ('error' in answer) reject(new Error(`esbuild failed: ${answer.error}`));
          else resolve({ errors: answer.ok.errors, warnings: answer.ok.warnings } as BuildResult);
        });
        child.stdin.end(JSON.stringify({ labDir: dir, options }));
      }),
  };
}

/** `src/main.ts:3:7: Expected ";" but found "x"`, as the CLI prints it. */
export function formatDiagnostic(d: SourceDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** The learner's code could not be compiled; `diagnostics` says where and why. */
export class CompileError extends Error {
  override readonly name = 'CompileError';
  constructor(readonly diagnostics: readonly SourceDiagnostic[]) {
    super(`The learner's code does not compile:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  }
}

export interface CompileOptions {
  readonly esbuild: EsbuildApi;
  /** The lab folder (absolute). Packages are resolved from its node_modules at run time. */
  readonly labDir: string;
  /** The module to load, relative to the lab folder (`src/main.ts`). */
  readonly entry: string;
  /** Where the bundle is written (created when missing). Keep it outside the extension's own folder. */
  readonly outDir: string;
}

export interface CompiledBundle {
  /** Absolute path of the CommonJS bundle (with a source map beside it). */
  readonly file: string;
  /** The entry, relative to the lab folder, as the learner knows it. */
  readonly entry: string;
  /** What esbuild warned about (for example `import.meta` in CommonJS), in the same form as errors. */
  readonly warnings: readonly SourceDiagnostic[];
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** esbuild's column counts UTF-8 bytes; editors count UTF-16 code units. */
function utf16Column(lineText: string, byteColumn: number): number {
  return Buffer.from(lineText, 'utf8').subarray(0, byteColumn).toString('utf8').length;
}

function toDiagnostic(message: Message, entry: string): SourceDiagnostic {
  const text = message.notes.length > 0 ? `${message.text} (${message.notes.map((n) => n.text).join('; ')})` : message.text;
  const location = message.location;
  if (!location) {
    return { file: entry, line: 1, column: 1, message: text };
  }
  return { file: toPosix(location.file), line: location.line, column: utf16Column(location.lineText, location.column) + 1, message: text };
}

function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as Partial<BuildFailure>).errors);
}

/**
 * Bundles the learner's entry and its relative imports into one CommonJS file. Packages
 * stay external. Only syntax and resolution errors are esbuild's to find; type errors are
 * the editor's and `tsc`'s. Throws `CompileError` with the diagnostics when it fails.
 */
export async function compileLearnerCode(options: CompileOptions): Promise<CompiledBundle> {
  const labDir = path.resolve(options.labDir);
  const entry = toPosix(path.normalize(options.entry));
  if (path.isAbsolute(options.entry) || entry.split('/').includes('..')) {
    throw new CompileError([{ file: entry, line: 1, column: 1, message: 'The entry must be a path inside the lab folder, relative to it.' }]);
  }
  try {
    await fs.access(path.join(labDir, entry));
  } catch {
    throw new CompileError([{ file: entry, line: 1, column: 1, message: `${entry} does not exist in the lab folder ${labDir}. Restore it (or reset the lab) and try again.` }]);
  }
  await fs.mkdir(options.outDir, { recursive: true });
  const file = path.join(path.resolve(options.outDir), `${entry.replace(/\.[cm]?[jt]sx?$/, '').replace(/[^A-Za-z0-9_-]+/g, '_')}.cjs`);
  let result: BuildResult;
  try {
    result = await options.esbuild.build({
      absWorkingDir: labDir,
      entryPoints: [entry],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      // Files are known by the paths the learner sees, even when a lab folder links them
      // from elsewhere: diagnostics name those paths, and relative imports resolve from them.
      preserveSymlinks: true,
      sourcemap: true,
      logLevel: 'silent',
      write: true,
    });
  } catch (error) {
    if (isBuildFailure(error)) {
      throw new CompileError(error.errors.map((m) => toDiagnostic(m, entry)));
    }
    throw error;
  }
  return { file, entry, warnings: result.warnings.map((m) => toDiagnostic(m, entry)) };
}
