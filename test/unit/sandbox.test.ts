/**
 * The grading sandbox with real child processes and the repository's real esbuild. The
 * learner's modules are in fixtures/sandbox/src; each test file run copies them into a temp
 * lab whose node_modules is a symlink to the repository's (so `pg` resolves from the lab).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallResult,
  CompileError,
  type CompiledBundle,
  LabEsbuildMissingError,
  type Sandbox,
  SandboxInterruptedError,
  SandboxStartError,
  checkContract,
  compileLearnerCode,
  formatDiagnostic,
  labEsbuild,
  startSandbox,
} from '../../src/core/grading/sandbox';
import { rssLimitMb } from '../../src/core/grading/sandbox/process';
import { REPO_ROOT, buildSandboxChild, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-sandbox-');
let labDir: string;
let outDir: string;
/** The sandbox's child harness, built from src/core/grading/sandbox/child.ts as esbuild.js builds it. */
let childScript: string;
const started: Sandbox[] = [];

beforeAll(async () => {
  labDir = await tempDir();
  outDir = await tempDir();
  childScript = await buildSandboxChild(await tempDir());
  await fs.cp(path.join(__dirname, 'fixtures', 'sandbox', 'src'), path.join(labDir, 'src'), { recursive: true });
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(labDir, 'node_modules'), 'dir');
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.dispose()));
});

function compile(entry: string): Promise<CompiledBundle> {
  return compileLearnerCode({ esbuild, labDir, entry, outDir });
}

async function start(entry: string, memoryMb = 128): Promise<Sandbox> {
  const sandbox = await startSandbox({ bundle: await compile(entry), childScript, labDir, memoryMb });
  started.push(sandbox);
  return sandbox;
}

function expectFailure<K extends string>(result: CallResult, kind: K): Extract<CallResult, { kind: K }> {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  expect((result as { kind?: string }).kind, JSON.stringify(result)).toBe(kind);
  return result as Extract<CallResult, { kind: K }>;
}

/** True while a process with this id exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('compileLearnerCode', () => {
  it('bundles the entry and its relative imports into one CommonJS file with a source map', async () => {
    const bundle = await compile('src/payments.ts');
    expect(bundle.entry).toBe('src/payments.ts');
    expect(bundle.file.startsWith(outDir)).toBe(true);
    const code = await fs.readFile(bundle.file, 'utf8');
    expect(code).toContain('function toCents');
    expect(code).toContain('sourceMappingURL=');
    await expect(fs.access(`${bundle.file}.map`)).resolves.toBeUndefined();
    expect(bundle.warnings).toEqual([]);
  });

  it('reports a syntax error at file:line:column relative to the lab folder, counting characters, not bytes', async () => {
    const badLine = '  const greeting = "héllo wörld" + ;';
    await fs.writeFile(path.join(labDir, 'src', 'broken.ts'), ['export function greet(): string {', badLine, '  return greeting;', '}', ''].join('\n'));
    const error = await compile('src/broken.ts').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompileError);
    const diagnostics = (error as CompileError).diagnostics;
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ file: 'src/broken.ts', line: 2, column: badLine.indexOf(';') + 1 });
    expect(formatDiagnostic(diagnostics[0]!)).toMatch(/^src\/broken\.ts:2:36: Unexpected ";"/);
    expect((error as CompileError).message).toContain('src/broken.ts:2:36');
  });

  it('reports an import that does not resolve at the importing line', async () => {
    await fs.writeFile(path.join(labDir, 'src', 'badImport.ts'), "import { nothing } from './nowhere';\nexport const x = nothing;\n");
    const error = (await compile('src/badImport.ts').catch((e: unknown) => e)) as CompileError;
    expect(error).toBeInstanceOf(CompileError);
    expect(error.diagnostics[0]).toMatchObject({ file: 'src/badImport.ts', line: 1, column: 25 });
    expect(error.diagnostics[0]?.message).toContain('./nowhere');
  });

  it('says which entry is missing instead of letting esbuild guess', async () => {
    const error = (await compile('src/payment.ts').catch((e: unknown) => e)) as CompileError;
    expect(error).toBeInstanceOf(CompileError);
    expect(error.diagnostics[0]?.message).toMatch(/^src\/payment\.ts does not exist in the lab folder/);
  });
});

describe('the contract', () => {
  it('lists the exports with their typeof and names missing and mistyped ones', async () => {
    const sandbox = await start('src/payments.ts');
    expect(sandbox.exports).toEqual({
      file: 'src/payments.ts',
      members: { PaymentDeclined: 'function', callback: 'function', createPayment: 'function', default: 'function', settings: 'object', throwString: 'function' },
    });
    expect(checkContract(sandbox.exports, { createPayment: 'function', default: 'function' })).toEqual([]);
    expect(checkContract(sandbox.exports, { refund: 'function', settings: 'function', createPayment: 'object' })).toEqual([
      '"refund" is not exported by src/payments.ts (it exports: PaymentDeclined, callback, createPayment, default, settings, throwString)',
      '"settings" in src/payments.ts is an object, not a function',
      '"createPayment" in src/payments.ts is a function, not an object',
    ]);
    expect(checkContract({ file: 'src/empty.ts', members: {} }, { run: 'function' })).toEqual(['"run" is not exported by src/empty.ts (it exports nothing)']);
    // Calling something that is not a function is answered without a round trip, with the same words.
    expectFailure(await sandbox.call('refund', [], 1000), 'not-callable');
    const notAFunction = expectFailure(await sandbox.call('settings', [], 1000), 'not-callable');
    expect(notAFunction.message).toBe('"settings" in src/payments.ts is an object, not a function');
  });
});

describe('calls', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await start('src/payments.ts');
  });

  it('returns the value, structured-cloned (a Date stays a Date), and keeps the printed output', async () => {
    const result = await sandbox.call('createPayment', [12.5, 'EUR'], 5000);
    expect(result).toEqual({ ok: true, value: { amountCents: 1250, currency: 'EUR', at: new Date(0) } });
    expect(await sandbox.call('default', ['/pay'], 5000)).toEqual({ ok: true, value: 'handled /pay' });
    expect(sandbox.output()).toContain('payment of 12.5 EUR');
  });

  it('passes a thrown error back as data, with its name, code and a stack in the TypeScript source, and stays usable', async () => {
    const failure = expectFailure(await sandbox.call('createPayment', [-1, 'EUR'], 5000), 'threw');
    expect(failure.error).toMatchObject({ name: 'PaymentDeclined', message: 'amount must be positive, got -1', code: 'DECLINED' });
    expect(failure.error.stack).toContain(path.join(labDir, 'src', 'payments.ts'));
    expect(failure.message).toBe('createPayment threw PaymentDeclined: amount must be positive, got -1');
    const thrownString = expectFailure(await sandbox.call('throwString', [], 5000), 'threw');
    expect(thrownString.error.message).toContain('just a string');
    expect((await sandbox.call('createPayment', [1, 'USD'], 5000)).ok).toBe(true);
  });

  it('says when a returned value cannot be passed back, and stays usable', async () => {
    const failure = expectFailure(await sandbox.call('callback', [], 5000), 'unserializable');
    expect(failure.message).toMatch(/^callback returned a value that cannot be passed back/);
    expect((await sandbox.call('default', ['/again'], 5000)).ok).toBe(true);
  });
});

describe('failure modes', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await start('src/faults.ts', 64);
  });

  it('kills a synchronous endless loop at its time limit; a call cut short by it says so; restart brings it back', async () => {
    const pid = sandbox.pid!;
    const [spun, slept] = await Promise.all([sandbox.call('spin', [], 500), sandbox.call('sleep', [60_000], 120_000)]);
    const timeout = expectFailure(spun, 'timeout');
    expect(timeout).toMatchObject({ exportName: 'spin', timeoutMs: 500 });
    expect(timeout.message).toMatch(/^spin did not finish within 500 ms/);
    expect(expectFailure(slept, 'stopped').message).toContain('spin ran past its time limit');
    expect(alive(pid)).toBe(false);
    const later = expectFailure(await sandbox.call('echo', [1], 1000), 'not-running');
    expect(later.cause.kind).toBe('timeout');
    await sandbox.restart();
    expect(sandbox.pid).not.toBe(pid);
    expect(await sandbox.call('echo', [{ a: [1, 2] }], 5000)).toEqual({ ok: true, value: { a: [1, 2] } });
  });

  it('reports process.exit(3) as exited with code 3, then restarts', async () => {
    const exited = expectFailure(await sandbox.call('exitWith', [3], 10_000), 'exited');
    expect(exited).toMatchObject({ code: 3, signal: null });
    expect(sandbox.endReason?.kind).toBe('exited');
    await sandbox.restart();
    expect(await sandbox.call('echo', ['back'], 5000)).toEqual({ ok: true, value: 'back' });
  });

  it('reports an unhandled rejection as a crash with its message', async () => {
    const crashed = expectFailure(await sandbox.call('leaveRejection', [], 30_000), 'crashed');
    expect(crashed.origin).toBe('unhandledRejection');
    expect(crashed.error.message).toBe('lost in the background');
    expect(crashed.message).toContain('lost in the background');
    await sandbox.restart();
  });

  it('reports an exception thrown from a timer after the call returned, through `ended`', async () => {
    expect(await sandbox.call('throwLater', [], 5000)).toEqual({ ok: true, value: 'scheduled' });
    const end = await sandbox.ended;
    expect(end).toMatchObject({ kind: 'crashed', origin: 'uncaughtException', error: { name: 'TypeError', message: 'background job failed' } });
    const next = expectFailure(await sandbox.call('echo', [1], 1000), 'not-running');
    expect(next.message).toContain('background job failed');
    await sandbox.restart();
  });

  it('reports running out of a 64 MB heap as out-of-memory, then restarts', async () => {
    const oom = expectFailure(await sandbox.call('hog', [], 60_000), 'out-of-memory');
    expect(oom.memoryMb).toBe(64);
    expect(sandbox.output().join('\n')).toMatch(/heap out of memory/i);
    await sandbox.restart();
    expect(await sandbox.call('echo', [7], 5000)).toEqual({ ok: true, value: 7 });
  });

  it('dispose() kills the process, leaves nothing behind, and later calls say why', async () => {
    const pid = sandbox.pid!;
    expect(alive(pid)).toBe(true);
    const pending = sandbox.call('sleep', [60_000], 120_000);
    await sandbox.dispose();
    expect(alive(pid)).toBe(false);
    expect(expectFailure(await pending, 'stopped').message).toBe('The sandbox was disposed.');
    expect(expectFailure(await sandbox.call('echo', [1], 1000), 'not-running').cause.kind).toBe('stopped');
    await sandbox.dispose();
    await expect(sandbox.restart()).rejects.toThrow(/disposed/);
  });
});

describe('spare processes', () => {
  /** The processes running this bundle (found by its path on their command line). */
  async function processesRunning(bundleFile: string): Promise<number[]> {
    const pids: number[] = [];
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.split('\0').includes(bundleFile)) pids.push(Number(entry));
    }
    return pids;
  }

  it.runIf(process.platform === 'linux')('restart swaps in a spare loaded and prepared ahead; a spare that fails to prepare is dropped; dispose ends them all', async () => {
    const bundle = await compile('src/spare.ts');
    const sandbox = await startSandbox({ bundle, childScript, labDir, memoryMb: 64 });
    started.push(sandbox);
    let prepared = 0;
    sandbox.keepSpare(async (call) => {
      prepared++;
      if (prepared === 2) throw new Error('the database is not there');
      const result = await call('remember', [`prepared as spare ${prepared}`], 5000);
      if (!result.ok) throw new Error(result.message);
    });
    const first = sandbox.pid;
    expect(await sandbox.restart()).toEqual({ prepared: true });
    expect(sandbox.pid).not.toBe(first);
    expect(await sandbox.call('recall', [], 5000)).toEqual({ ok: true, value: 'prepared as spare 1' });
    // The next spare failed to prepare: this restart starts a process as usual.
    expect(await sandbox.restart()).toEqual({ prepared: false });
    expect(await sandbox.call('recall', [], 5000)).toEqual({ ok: true, value: undefined });
    expect(await sandbox.restart()).toEqual({ prepared: true });
    expect(await sandbox.call('recall', [], 5000)).toEqual({ ok: true, value: 'prepared as spare 3' });
    // The current process and one spare (the fourth) run; nothing else is left of the others.
    await expect.poll(() => processesRunning(bundle.file), { timeout: 10_000 }).toHaveLength(2);
    expect(await processesRunning(bundle.file)).toContain(sandbox.pid);
    await sandbox.dispose();
    expect(await processesRunning(bundle.file)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('restarts made at once (a scenario past its budget still restarting while the next one does) leave the current process and its spares only; dispose ends every process it started', async () => {
    const bundle = await compile('src/spare.ts');
    const sandbox = await startSandbox({ bundle, childScript, labDir, memoryMb: 64 });
    started.push(sandbox);
    sandbox.keepSpare(async () => undefined, 2);
    // Each restart swaps in a process; at once, a swapped-in process could be left running, owned by nobody.
    await Promise.all([sandbox.restart(), sandbox.restart(), sandbox.restart(), sandbox.restart()]);
    await expect.poll(() => processesRunning(bundle.file), { timeout: 10_000 }).toHaveLength(3);
    expect(await processesRunning(bundle.file)).toContain(sandbox.pid);
    // A restart under way when it is disposed leaves nothing either.
    const restarting = sandbox.restart().catch(() => undefined);
    await sandbox.dispose();
    await restarting;
    expect(await processesRunning(bundle.file)).toEqual([]);
  });
});

describe('interrupt', () => {
  it('ends the process at once (a call under way ends as stopped), and refuses restarts until resume', async () => {
    const sandbox = await start('src/faults.ts');
    const pid = sandbox.pid!;
    const pending = sandbox.call('sleep', [60_000], 120_000);
    sandbox.interrupt('The grader stopped this scenario.');
    expect(expectFailure(await pending, 'stopped').message).toBe('The grader stopped this scenario.');
    expect(alive(pid)).toBe(false);
    await expect(sandbox.restart()).rejects.toBeInstanceOf(SandboxInterruptedError);
    expectFailure(await sandbox.call('echo', [1], 1000), 'not-running');
    sandbox.resume();
    await sandbox.restart();
    expect(await sandbox.call('echo', [1], 5000)).toEqual({ ok: true, value: 1 });
  });
});

describe("an adapter's observations", () => {
  it('reach the grader as they happen: a transaction held across a call is known while open, and after its process was killed; one that ended is not', async () => {
    // An adapter that reports what pgDb.ts would: a call made inside transaction 1, then (on request) its end.
    const adapter = path.join(outDir, 'observingAdapter.cjs');
    await fs.writeFile(
      adapter,
      [
        'exports.createAdapter = (learner, sandbox) => ({',
        "  hold: (id, openForMs) => { sandbox.observe({ kind: 'call-in-transaction', transaction: id, call: 'POST /orders/create', openForMs }); return new Promise(() => {}); },",
        "  end: (id) => sandbox.observe({ kind: 'transaction-ended', transaction: id }),",
        '  echo: (x) => x,',
        '});',
      ].join('\n'),
    );
    const sandbox = await startSandbox({ bundle: await compile('src/faults.ts'), childScript, labDir, memoryMb: 64, adapter });
    started.push(sandbox);
    const before = performance.now();
    void sandbox.call('hold', [1, 2_000], 60_000);
    void sandbox.call('hold', [2, 0], 60_000);
    await expect.poll(() => sandbox.heldTransactions().length).toBe(2);
    await sandbox.call('end', [2], 5000);
    const held = sandbox.heldTransactions();
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ call: 'POST /orders/create', open: true });
    expect(held[0]!.heldMs).toBeGreaterThanOrEqual(2_000);
    // Killed with it open: it was held until then, and stays known for the scenario that saw it.
    await sandbox.restart();
    const after = sandbox.heldTransactions(before);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ call: 'POST /orders/create', open: false });
    expect(sandbox.heldTransactions(performance.now() + 1)).toEqual([]);
  });
});

describe('loading', () => {
  it('resolves packages such as pg from the lab folder node_modules, not from where the bundle is', async () => {
    const sandbox = await start('src/usesPg.ts');
    const result = await sandbox.call('describeClient', ['postgresql://lab:secret@127.0.0.1:54329/lab'], 10_000);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    const value = (result as { value: { clientType: string; port: number; resolvedFrom: string } }).value;
    expect(value).toMatchObject({ clientType: 'function', port: 54329 });
    // Node reports the real path behind the lab's node_modules symlink.
    expect(value.resolvedFrom.startsWith(await fs.realpath(path.join(labDir, 'node_modules', 'pg')))).toBe(true);
  });

  it('fails to start with the error when the module throws at load time, and kills the process', async () => {
    await fs.writeFile(path.join(labDir, 'src', 'throwsAtLoad.ts'), "export const ready = true;\nthrow new Error('config missing');\n");
    const error = (await start('src/throwsAtLoad.ts').catch((e: unknown) => e)) as SandboxStartError;
    expect(error).toBeInstanceOf(SandboxStartError);
    expect(error.failure).toMatchObject({ kind: 'load-failed', error: { message: 'config missing' } });
    expect(error.message).toBe('src/throwsAtLoad.ts threw while it was loaded: Error: config missing');
  });

  it('fails to start when loading loops forever, after the start time limit', async () => {
    await fs.writeFile(path.join(labDir, 'src', 'loopsAtLoad.ts'), 'export const ready = true;\nfor (;;) {\n  // never loads\n}\n');
    const bundle = await compile('src/loopsAtLoad.ts');
    const error = (await startSandbox({ bundle, childScript, labDir, memoryMb: 64, startTimeoutMs: 500 }).catch((e: unknown) => e)) as SandboxStartError;
    expect(error).toBeInstanceOf(SandboxStartError);
    expect(error.failure.kind).toBe('timeout');
    expect(error.message).toMatch(/Loading src\/loopsAtLoad\.ts did not finish within 500 ms/);
  });

  it('fails to start with a clear error when the Node executable does not exist', async () => {
    const bundle = await compile('src/payments.ts');
    const error = (await startSandbox({ bundle, childScript, labDir, memoryMb: 64, nodePath: path.join(labDir, 'no-such-node') }).catch((e: unknown) => e)) as SandboxStartError;
    expect(error).toBeInstanceOf(SandboxStartError);
    expect(error.failure.kind).toBe('spawn-failed');
    expect(error.message).toContain('no-such-node');
  });
});

describe('esbuild from the lab', () => {
  it('comes from the lab\'s own node_modules, and compiles with it', async () => {
    const bundle = await compileLearnerCode({ esbuild: labEsbuild(labDir), labDir, entry: 'src/money.ts', outDir });
    expect(bundle.entry).toBe('src/money.ts');
    // Errors come back as esbuild's, placed in the learner's file.
    await fs.writeFile(path.join(labDir, 'src', 'broken.ts'), 'export const x = ;\n');
    const error = await compileLearnerCode({ esbuild: labEsbuild(labDir), labDir, entry: 'src/broken.ts', outDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompileError);
    expect((error as CompileError).diagnostics[0]).toMatchObject({ file: 'src/broken.ts', line: 1 });
  });

  it('runs in a process of its own: an esbuild the learner patched never runs inside the grader', async () => {
    const lab = await tempDir();
    await fs.mkdir(path.join(lab, 'src'));
    await fs.writeFile(path.join(lab, 'src', 'main.ts'), 'export const answer = 42;\n');
    const patched = path.join(lab, 'node_modules', 'esbuild');
    await fs.mkdir(patched, { recursive: true });
    await fs.writeFile(path.join(patched, 'package.json'), JSON.stringify({ name: 'esbuild', main: 'index.js' }));
    // A patch that would forge a verdict if it ran in the grader: it marks the process it runs in.
    await fs.writeFile(
      path.join(patched, 'index.js'),
      `globalThis.__dataLabsPatched = true;\nrequire('node:fs').writeFileSync(${JSON.stringify(path.join(lab, 'loaded-in'))}, String(process.pid));\nmodule.exports = require(${JSON.stringify(require.resolve('esbuild'))});\n`,
    );
    const bundle = await compileLearnerCode({ esbuild: labEsbuild(lab), labDir: lab, entry: 'src/main.ts', outDir: await tempDir() });
    expect(bundle.entry).toBe('src/main.ts');
    expect(Number(await fs.readFile(path.join(lab, 'loaded-in'), 'utf8'))).not.toBe(process.pid);
    expect((globalThis as { __dataLabsPatched?: boolean }).__dataLabsPatched).toBeUndefined();
  });

  it('missing (dependencies not installed) says to install them, naming the folder', async () => {
    const bare = await tempDir();
    await fs.mkdir(path.join(bare, 'src'));
    await fs.writeFile(path.join(bare, 'src', 'main.ts'), 'export const answer = 42;\n');
    const error = await compileLearnerCode({ esbuild: labEsbuild(bare), labDir: bare, entry: 'src/main.ts', outDir: await tempDir() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabEsbuildMissingError);
    expect((error as Error).message).toContain(`The lab's dependencies are not installed in ${bare}`);
    expect((error as Error).message).toContain('npm install');
  });
});

describe("the grader's channel", () => {
  it('never takes an answer the learner\'s code forged on it (process.send): the process is stopped as tampered, and says so', async () => {
    await fs.writeFile(
      path.join(labDir, 'src', 'forger.ts'),
      [
        "// Answers the grader's calls first, in the harness's place.",
        "process.on('message', (m: any) => {",
        "  if (m && m.type === 'call') process.send?.({ type: 'result', id: m.id, ok: true, value: 'forged: every check passed' });",
        '});',
        'export async function commitPoints(): Promise<string> {',
        '  await new Promise((r) => setTimeout(r, 300));',
        "  return 'real';",
        '}',
        '',
      ].join('\n'),
    );
    const sandbox = await start('src/forger.ts');
    const result = await sandbox.call('commitPoints', [], 5000);
    const failure = expectFailure(result, 'tampered');
    expect(failure.message).toMatch(/sent a message on the grader's own channel \(process\.send\)/);
    expect(JSON.stringify(result)).not.toContain('forged');
  });

  it('still answers from the harness when the learner\'s code only listens on the channel', async () => {
    await fs.writeFile(path.join(labDir, 'src', 'listener.ts'), "const seen: unknown[] = [];\nprocess.on('message', (m) => seen.push(m));\nexport function count(): number {\n  return seen.length;\n}\n");
    const sandbox = await start('src/listener.ts');
    const result = await sandbox.call('count', [], 5000);
    expect(result).toEqual({ ok: true, value: 1 });
  });
});

describe('limits beyond the heap', () => {
  it('kills a process whose Buffers (outside the heap limit) grow past its memory limit, and says why', async () => {
    await fs.writeFile(
      path.join(labDir, 'src', 'buffers.ts'),
      "const kept: Buffer[] = [];\nexport async function hoard(): Promise<number> {\n  for (let i = 0; i < 40; i++) {\n    kept.push(Buffer.alloc(16 * 1024 * 1024, 1));\n    await new Promise((r) => setTimeout(r, 20));\n  }\n  return kept.length;\n}\n",
    );
    // A 32 MB heap: the Buffers (640 MB if nothing stopped them) are not in it.
    const sandbox = await start('src/buffers.ts', 32);
    const failure = expectFailure(await sandbox.call('hoard', [], 20_000), 'out-of-memory');
    expect(failure.message).toMatch(new RegExp(`over the ${rssLimitMb(32)} MB its process \\(with those it started\\) may hold\\. Memory outside the JavaScript heap counts too`));
  });

  it('ends a process the learner\'s code started detached (its own group), which the group kill alone leaves running', async () => {
    await fs.writeFile(
      path.join(labDir, 'src', 'escape.ts'),
      "import { spawn } from 'node:child_process';\nexport function escape(): number {\n  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });\n  child.unref();\n  return child.pid ?? 0;\n}\n",
    );
    const sandbox = await start('src/escape.ts');
    const result = await sandbox.call('escape', [], 5000);
    expect(result.ok).toBe(true);
    const escaped = (result as { value: number }).value;
    expect(alive(escaped)).toBe(true);
    await sandbox.dispose();
    const deadline = Date.now() + 10_000;
    while (alive(escaped) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(escaped)).toBe(false);
  });
});
