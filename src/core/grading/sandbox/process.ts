/**
 * The grading sandbox: runs a learner's compiled bundle (compile.ts) in a separate Node
 * process with a heap limit, calling its exports (or its lab adapter's functions) over IPC.
 *
 * Whatever the learner's code does — throws, loops forever, calls `process.exit`, leaves a
 * rejected promise behind, runs out of memory — every call ends with a verdict as data and
 * never hangs the grader.
 *
 * What the learner's code can reach:
 * - its own files, bundled by esbuild, and the packages of the lab's own `node_modules`
 *   (kept external and resolved from the lab folder at run time);
 * - the arguments of each call, passed by structured clone (plain JSON today; later the
 *   grader hands it capability objects such as a database connection string);
 * - a minimal environment (PATH, HOME, temp folders, locale, plus what the caller passes),
 *   not the editor's own environment.
 * Nothing of the grader is importable: the child process runs a small harness (child.ts,
 * bundled on its own) that loads only the bundle and the lab's adapter, and the grader's
 * modules are neither in the bundle nor on the child's module path. This is isolation from the grader's memory and a
 * limit on time and heap, not a security boundary: the learner's code is the learner's own
 * and may still use Node's built-in modules (files, network) like any program they run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { type RuntimeLogger, silentLogger } from '../../services/runtime';
import type { CompiledBundle } from './compile';
import { type ExportType, type ModuleExports, checkContract } from './contract';
import { type ChildMessage, KEY_FD, type KeyedMessage, type LearnerError, type Observation } from './messages';
import { type ProcessId, killRecorded, processTree } from './processTree';

/** How often the memory of the learner's process (and of those it started) is read, on Linux; four times as long elsewhere. */
const WATCH_INTERVAL_MS = 250;

/** The resident memory the learner's process and its children may hold together: twice the heap limit, and 256 MB for Node itself. */
export function rssLimitMb(heapMb: number): number {
  return 2 * Math.max(16, Math.floor(heapMb)) + 256;
}

/** Why the sandbox process ended. */
export type ProcessEnd =
  /** A call ran past its time limit and the process was killed. */
  | { readonly kind: 'timeout'; readonly message: string; readonly exportName: string; readonly timeoutMs: number }
  /** The process ended by itself: `process.exit(code)`, or a signal not sent by the sandbox. */
  | { readonly kind: 'exited'; readonly message: string; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  /** An uncaught exception or an unhandled rejection, typically in background code. */
  | { readonly kind: 'crashed'; readonly message: string; readonly origin: 'uncaughtException' | 'unhandledRejection'; readonly error: LearnerError }
  | { readonly kind: 'out-of-memory'; readonly message: string; readonly memoryMb: number }
  /** The grader stopped it: `dispose()`, `restart()`, or another call's timeout. */
  | { readonly kind: 'stopped'; readonly message: string }
  /** The learner's code sent a message on the grader's channel (without the harness's key): stopped, the message ignored. */
  | { readonly kind: 'tampered'; readonly message: string };

export type CallFailure =
  | { readonly ok: false; readonly kind: 'threw'; readonly message: string; readonly error: LearnerError }
  /** The export is missing or not a function. */
  | { readonly ok: false; readonly kind: 'not-callable'; readonly message: string }
  /** The returned value cannot be passed back (a function, a socket, a class instance with private state). */
  | { readonly ok: false; readonly kind: 'unserializable'; readonly message: string; readonly error: LearnerError }
  /** The process was not running when the call was made; `cause` says why it ended. */
  | { readonly ok: false; readonly kind: 'not-running'; readonly message: string; readonly cause: ProcessEnd }
  | ({ readonly ok: false } & ProcessEnd);

export type CallResult<T = unknown> = { readonly ok: true; readonly value: T } | CallFailure;

export interface SandboxOptions {
  readonly bundle: CompiledBundle;
  /** The child harness's bundle (dist/sandbox/child.cjs, built from child.ts). */
  readonly childScript: string;
  /** The lab folder: the working directory, and where packages are resolved from. */
  readonly labDir: string;
  /** The V8 heap limit (`--max-old-space-size`). */
  readonly memoryMb: number;
  readonly logger?: RuntimeLogger;
  /** The Node executable; in VS Code this is the editor's own runtime. */
  readonly nodePath?: string;
  /** Extra environment variables for the learner's process. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long loading the module may take before the start fails (default 15 s). */
  readonly startTimeoutMs?: number;
  /** How many lines of output `output()` keeps (default 50). */
  readonly outputLines?: number;
  /**
   * A CommonJS module of the grader's, loaded in the learner's process after the bundle:
   * its `createAdapter(learnerModule)` returns the functions `call` reaches. A lab's
   * adapter builds what the learner's code is handed (a database connection, the lab's
   * service clients) inside that process and calls the learner's exports with them.
   * `exports` still lists the learner's own module.
   */
  readonly adapter?: string;
}

/** The sandbox could not start: the module failed to load, or the process died while loading it. */
export class SandboxStartError extends Error {
  override readonly name = 'SandboxStartError';
  constructor(
    message: string,
    /** The load error, or why the process ended. */
    readonly failure: { readonly kind: 'load-failed'; readonly error: LearnerError } | ProcessEnd | { readonly kind: 'spawn-failed'; readonly error: LearnerError },
    /** The last lines the process printed. */
    readonly output: readonly string[],
  ) {
    super(message);
  }
}

/** `restart()` was refused: the grader interrupted the sandbox (see `Sandbox.interrupt`). */
export class SandboxInterruptedError extends Error {
  override readonly name = 'SandboxInterruptedError';
}

/** Environment variables a Node program needs to work normally; nothing else of the editor's is passed. */
const INHERITED_ENV = ['PATH', 'Path', 'SystemRoot', 'SYSTEMROOT', 'ComSpec', 'HOME', 'USERPROFILE', 'TEMP', 'TMP', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'];

/**
 * Passed on too when set: the mutant that mutation testing has switched on (StrykerJS's
 * instrumented code reads it; `npm run test:mutation` grades a lab's reference with each
 * mutant on). Code that was not instrumented never reads it.
 */
const ACTIVE_MUTANT_ENV = '__STRYKER_ACTIVE_MUTANT__';

/** The last lines of the learner's stdout and stderr, and whether V8 reported running out of heap. */
class OutputTail {
  private readonly lines: string[] = [];
  private readonly partial = { stdout: '', stderr: '' };
  heapExhausted = false;
  private static readonly MAX_LINE = 2000;

  constructor(private readonly keep: number) {}

  push(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    if (stream === 'stderr' && /heap out of memory/i.test(text)) {
      this.heapExhausted = true;
    }
    const parts = text.split(/\r?\n/);
    this.partial[stream] = (parts.pop() ?? '').slice(-OutputTail.MAX_LINE);
    for (const line of parts) {
      this.add(line);
    }
  }

  /** Ends both streams' unfinished lines. */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') {
        this.add(this.partial[stream]);
        this.partial[stream] = '';
      }
    }
  }

  add(line: string): void {
    this.lines.push(line.length > OutputTail.MAX_LINE ? `${line.slice(0, OutputTail.MAX_LINE)} …` : line);
    if (this.lines.length > this.keep) {
      this.lines.splice(0, this.lines.length - this.keep);
    }
  }

  snapshot(): string[] {
    const pending = [this.partial.stdout, this.partial.stderr].filter((p) => p !== '');
    return [...this.lines, ...pending].slice(-this.keep);
  }
}

interface PendingCall {
  readonly exportName: string;
  readonly resolve: (result: CallResult) => void;
  readonly timer: NodeJS.Timeout;
}

/** One learner process. A restart makes a new one. */
class Worker {
  readonly pending = new Map<number, PendingCall>();
  /** Set by the sandbox just before it kills the process, so the exit is classified by its cause. */
  killReason: ProcessEnd | undefined;
  /** The call whose time limit killed the process. */
  timedOutCall: number | undefined;
  crash: Extract<ChildMessage, { type: 'crash' }> | undefined;
  end: ProcessEnd | undefined;
  /** The module's exports, and what `call` reaches (the exports, or the adapter's functions), once loaded. */
  members: Record<string, ExportType> = {};
  callable: Record<string, ExportType> = {};
  readonly ended: Promise<ProcessEnd>;
  /** Every process the learner's process started, as last seen: ended with it, even those that left its group. */
  readonly seen = new Map<number, ProcessId>();
  /** Polls the memory of the process and those it started, and notes them. */
  watchdog: NodeJS.Timeout | undefined;
  private resolveEnded!: (end: ProcessEnd) => void;

  constructor(
    readonly child: ChildProcess,
    /** The harness's key: a message from the child without it is not the harness's. */
    readonly key: string,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  finish(end: ProcessEnd): void {
    clearInterval(this.watchdog);
    // What it started and left running (a detached process outlives its group's kill) ends now.
    killRecorded(this.seen.values());
    this.end = end;
    this.resolveEnded(end);
  }
}

/** How long to wait, after the process exited, for its output pipes to close (a grandchild may hold them). */
const CLOSE_GRACE_MS = 1000;

/** Calls an export of one particular process (see `Sandbox.call`). */
export type SandboxCall = <T = unknown>(exportName: string, args: readonly unknown[], timeoutMs: number) => Promise<CallResult<T>>;

/**
 * A lab adapter's functions, as a type (a lab's grader/protocol.ts declares it): each takes
 * and returns plain data, or a promise of it. The adapter implements it in the learner's
 * process; the grader calls it through a SandboxClient of the same type.
 */
export type AdapterApi<Api> = { readonly [K in keyof Api]: (...args: never[]) => unknown };

/** What the sandbox hands an adapter besides the learner's module: a way to tell the grader what it sees, as it happens. */
export interface AdapterSandbox {
  observe(observation: Observation): void;
}

/** What a lab's grader/adapter.ts exports as `createAdapter`: its functions, built around the learner's module. */
export type AdapterFactory<Api extends AdapterApi<Api>> = (learner: Readonly<Record<string, unknown>>, sandbox: AdapterSandbox) => Api;

/**
 * A transaction of the learner's code inside which it called a service, as its adapter
 * reported it (see Observation): still open, or open until its process ended.
 */
export interface HeldTransaction {
  /** The call made inside it ("POST /inventory/reserve"). */
  readonly call: string;
  /** When it began, in performance.now() milliseconds of the grader's process. */
  readonly openedAt: number;
  /** How long it has been (or was) open. */
  readonly heldMs: number;
  /** Open now; otherwise its process ended (killed, crashed) before it did. */
  readonly open: boolean;
}

interface HeldRecord {
  readonly worker: Worker;
  readonly transaction: number;
  readonly call: string;
  readonly openedAt: number;
  /** When its process ended with it still open. */
  endedAt?: number;
}

/** Calls into the learner's process, typed by the adapter's API: its names, their arguments and their results. */
export interface SandboxClient<Api extends AdapterApi<Api>> {
  call<K extends keyof Api & string>(name: K, args: Parameters<Api[K]>, timeoutMs: number): Promise<CallResult<Awaited<ReturnType<Api[K]>>>>;
}

/** A typed client over a call into one process (the sandbox's current one, or a spare being prepared). */
export function sandboxClient<Api extends AdapterApi<Api>>(call: SandboxCall): SandboxClient<Api> {
  return {
    call: <K extends keyof Api & string>(name: K, args: Parameters<Api[K]>, timeoutMs: number) => call<Awaited<ReturnType<Api[K]>>>(name, args, timeoutMs),
  };
}

/**
 * A running learner module. Create it with `startSandbox`. Calls may overlap (async exports
 * run concurrently). When the process ends for any reason, every call still waiting resolves
 * with that reason, and later calls resolve `not-running` until `restart()`.
 */
export class Sandbox {
  private worker!: Worker;
  /** Processes loaded and prepared ahead, oldest first, which `restart()` swaps in (see `keepSpare`). */
  private spares: Promise<Worker | undefined>[] = [];
  private spareCount = 0;
  private prepareSpare: ((call: SandboxCall) => Promise<void>) | undefined;
  private nextId = 1;
  private disposed = false;
  /** Transactions the adapters reported a service call inside, not (yet) ended; see `heldTransactions`. */
  private held: HeldRecord[] = [];
  /** Every process started and not yet ended (the current one, spares, one being swapped): dispose ends them all. */
  private readonly live = new Set<Worker>();
  /** Restarts run one after another: two at once would each swap in a process, and one would be left running unowned. */
  private restarts: Promise<unknown> = Promise.resolve();
  /** Set by `interrupt`: no process is started until `resume`. */
  private interrupted: string | undefined;
  private readonly tail: OutputTail;
  private readonly logger: RuntimeLogger;

  private constructor(private readonly options: SandboxOptions) {
    this.tail = new OutputTail(options.outputLines ?? 50);
    this.logger = options.logger ?? silentLogger;
  }

  /** @internal Use `startSandbox`. */
  static async start(options: SandboxOptions): Promise<Sandbox> {
    const sandbox = new Sandbox(options);
    await sandbox.launch();
    return sandbox;
  }

  /** The module's exports and their `typeof`, as loaded by the current process. */
  get exports(): ModuleExports {
    return { file: this.options.bundle.entry, members: { ...this.worker.members } };
  }

  /** The process id of the current learner process, or undefined once it has ended. */
  get pid(): number | undefined {
    return this.worker.end === undefined ? this.worker.child.pid : undefined;
  }

  /** Resolves when the current process ends, with why. */
  get ended(): Promise<ProcessEnd> {
    return this.worker.ended;
  }

  /** Why the current process ended, or undefined while it runs. */
  get endReason(): ProcessEnd | undefined {
    return this.worker.end;
  }

  /** The last lines (about 50) the learner's code printed to stdout and stderr, across restarts. */
  output(): string[] {
    return this.tail.snapshot();
  }

  /**
   * The transactions inside which the learner's code called a service (as its adapter
   * reported) that are open now, or were still open when their process ended at or after
   * `since` (performance.now() milliseconds). A transaction that ended by itself is not one.
   */
  heldTransactions(since = 0): HeldTransaction[] {
    const now = performance.now();
    this.held = this.held.filter((r) => r.endedAt === undefined || r.endedAt >= now - 10 * 60_000);
    return this.held
      .filter((r) => r.endedAt === undefined || r.endedAt >= since)
      .map((r) => ({ call: r.call, openedAt: r.openedAt, heldMs: Math.round((r.endedAt ?? now) - r.openedAt), open: r.endedAt === undefined }));
  }

  private observed(worker: Worker, observation: Observation): void {
    switch (observation.kind) {
      case 'call-in-transaction':
        if (!this.held.some((r) => r.worker === worker && r.transaction === observation.transaction)) {
          this.held.push({ worker, transaction: observation.transaction, call: observation.call, openedAt: performance.now() - Math.max(0, observation.openForMs) });
        }
        return;
      case 'transaction-ended':
        this.held = this.held.filter((r) => !(r.worker === worker && r.transaction === observation.transaction));
        return;
    }
  }

  /** Calls typed by the lab adapter's API (see AdapterApi). */
  client<Api extends AdapterApi<Api>>(): SandboxClient<Api> {
    return sandboxClient<Api>((name, args, timeoutMs) => this.call(name, args, timeoutMs));
  }

  /**
   * Calls an export with `args` and waits up to `timeoutMs` for it (and the promise it
   * returns) to finish. Past the limit the process is killed (SIGKILL: even a synchronous
   * endless loop ends) and the call resolves `timeout`. Never rejects.
   */
  call<T = unknown>(exportName: string, args: readonly unknown[], timeoutMs: number): Promise<CallResult<T>> {
    return this.callWorker<T>(this.worker, exportName, args, timeoutMs);
  }

  private callWorker<T>(worker: Worker, exportName: string, args: readonly unknown[], timeoutMs: number): Promise<CallResult<T>> {
    if (worker.end !== undefined) {
      const cause = worker.end;
      return Promise.resolve({ ok: false, kind: 'not-running', cause, message: `The sandbox is not running (${cause.message}). Restart it to call ${exportName}.` });
    }
    if (worker.callable[exportName] !== 'function') {
      const problem =
        this.options.adapter === undefined
          ? (checkContract(this.exports, { [exportName]: 'function' })[0] ?? `"${exportName}" is not a function`)
          : `The grader's adapter has no function "${exportName}".`;
      return Promise.resolve({ ok: false, kind: 'not-callable', message: problem });
    }
    const id = this.nextId++;
    return new Promise<CallResult<T>>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(`sandbox: ${exportName} did not finish within ${timeoutMs} ms; killing the learner's process`);
        if (worker.killReason === undefined) {
          worker.timedOutCall = id;
        }
        this.kill(worker, {
          kind: 'timeout',
          exportName,
          timeoutMs,
          message: `${exportName} did not finish within ${timeoutMs} ms, so its process was killed. Look for an endless loop, or a promise that never settles.`,
        });
      }, timeoutMs);
      worker.pending.set(id, { exportName, timer, resolve: resolve as (result: CallResult) => void });
      try {
        worker.child.send({ type: 'call', id, name: exportName, args });
      } catch (error) {
        clearTimeout(timer);
        worker.pending.delete(id);
        resolve({
          ok: false,
          kind: 'unserializable',
          message: `The arguments for ${exportName} cannot be passed to the learner's process: ${error instanceof Error ? error.message : String(error)}`,
          error: { name: 'DataCloneError', message: error instanceof Error ? error.message : String(error) },
        });
      }
    });
  }

  /**
   * Kills the current process (if it still runs) and starts a fresh one from the same
   * bundle. `prepared` says whether the fresh process is a spare that `keepSpare`'s
   * `prepare` already ran on.
   */
  async restart(): Promise<{ prepared: boolean }> {
    const run = this.restarts.catch(() => undefined).then(() => this.restartNow());
    this.restarts = run;
    return run;
  }

  private async restartNow(): Promise<{ prepared: boolean }> {
    const restarted = await this.swapIn();
    if (this.interrupted !== undefined) {
      // Interrupted while it restarted: the new process does not run either.
      this.kill(this.worker, { kind: 'stopped', message: this.interrupted });
      throw new SandboxInterruptedError(this.interrupted);
    }
    return restarted;
  }

  private async swapIn(): Promise<{ prepared: boolean }> {
    if (this.disposed) {
      throw new Error('The sandbox was disposed; start a new one instead of restarting it.');
    }
    if (this.interrupted !== undefined) {
      throw new SandboxInterruptedError(this.interrupted);
    }
    await this.stop({ kind: 'stopped', message: 'The sandbox was restarted.' });
    this.tail.flush();
    this.tail.add('[the sandbox restarted]');
    const next = this.spares.shift();
    if (next !== undefined) {
      const spare = await next;
      this.fillSpares();
      if (spare !== undefined && spare.end === undefined) {
        if (this.disposed) {
          // Disposed while the spare was being prepared: it must not outlive the sandbox.
          this.kill(spare, { kind: 'stopped', message: 'The sandbox was disposed.' });
          await spare.ended;
          throw new Error('The sandbox was disposed while it restarted.');
        }
        this.worker = spare;
        return { prepared: true };
      }
    }
    if (this.disposed) {
      throw new Error('The sandbox was disposed while it restarted.');
    }
    await this.launch();
    return { prepared: false };
  }

  /**
   * Ends the current process and starts none until `resume()`: calls already made end as
   * `stopped`, later ones as `not-running`, and `restart()` rejects with
   * SandboxInterruptedError. The grader uses it to stop a scenario it has given up on (past
   * its budget) at once, whatever the scenario's code goes on to try. Spares stay loaded.
   */
  interrupt(reason: string): void {
    this.interrupted = reason;
    if (this.worker.end === undefined) {
      this.kill(this.worker, { kind: 'stopped', message: reason });
    }
  }

  /** Lets `restart()` start processes again after `interrupt`. */
  resume(): void {
    this.interrupted = undefined;
  }

  /**
   * From now on keeps `count` more processes loaded, with `prepare` run on each (connecting
   * it, for example), so that `restart()` swaps it in at once instead of starting Node and loading
   * the bundle while the grading waits: a grader that kills the learner's process dozens of
   * times spends most of its time there otherwise. A spare that fails to load or prepare is
   * dropped, and that restart starts a process as usual.
   */
  keepSpare(prepare: (call: SandboxCall) => Promise<void>, count = 1): void {
    this.prepareSpare = prepare;
    this.spareCount = count;
    this.fillSpares();
  }

  /**
   * Stops keeping spares and ends those loaded or being prepared, waiting until they are
   * gone. A spare's `prepare` may still be running (connecting, creating what it needs);
   * once this resolves, none of it runs any more.
   */
  async releaseSpares(): Promise<void> {
    this.spareCount = 0;
    const spares = this.spares;
    this.spares = [];
    for (const spare of await Promise.all(spares)) {
      if (spare !== undefined) {
        this.kill(spare, { kind: 'stopped', message: 'The spare process was no longer wanted.' });
        await spare.ended;
      }
    }
  }

  private fillSpares(): void {
    while (!this.disposed && this.spares.length < this.spareCount) {
      this.spares.push(this.launchSpare());
    }
  }

  private async launchSpare(): Promise<Worker | undefined> {
    let worker: Worker | undefined;
    try {
      worker = await this.startWorker();
      const ready = worker;
      await this.prepareSpare?.((name, args, timeoutMs) => this.callWorker(ready, name, args, timeoutMs));
      if (ready.end !== undefined) {
        return undefined;
      }
      return ready;
    } catch (error) {
      this.logger.warn(`sandbox: a spare process could not be prepared: ${error instanceof Error ? error.message : String(error)}`);
      if (worker !== undefined) {
        this.kill(worker, { kind: 'stopped', message: 'The spare process could not be prepared.' });
        await worker.ended;
      }
      return undefined;
    }
  }

  /** Kills the process (and the spare) and waits until they are gone. Safe to call more than once. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const spares = this.spares;
    this.spares = [];
    await this.stop({ kind: 'stopped', message: 'The sandbox was disposed.' });
    for (const spare of await Promise.all(spares)) {
      if (spare !== undefined) {
        this.kill(spare, { kind: 'stopped', message: 'The sandbox was disposed.' });
        await spare.ended;
      }
    }
    // And any other still running: a process started by a restart under way, whatever became of it.
    await this.restarts.catch(() => undefined);
    const others = [...this.live];
    for (const worker of others) {
      this.kill(worker, { kind: 'stopped', message: 'The sandbox was disposed.' });
    }
    await Promise.all(others.map((w) => w.ended));
  }

  private async stop(reason: ProcessEnd): Promise<void> {
    if (this.worker.end === undefined) {
      this.kill(this.worker, reason);
    }
    await this.worker.ended;
  }

  /**
   * Every WATCH_INTERVAL_MS: notes the processes the learner's process started, and kills
   * it when it and they hold more memory than RSS_LIMIT allows. The heap limit alone leaves
   * Buffers, typed arrays and child processes unbounded.
   */
  private watch(worker: Worker): void {
    const memoryMb = this.options.memoryMb;
    const limitMb = rssLimitMb(memoryMb);
    worker.watchdog = setInterval(
      () => {
        const pid = worker.child.pid;
        if (pid === undefined || worker.end !== undefined || worker.killReason !== undefined) return;
        const tree = processTree(pid);
        if (tree === undefined) return;
        for (const member of tree.members) {
          if (member.pid !== pid) worker.seen.set(member.pid, member);
        }
        const usedMb = Math.round(tree.rss / (1024 * 1024));
        if (usedMb > limitMb) {
          this.logger.warn(`sandbox: pid ${pid} and the processes it started hold ${usedMb} MB, over ${limitMb} MB; killing it`);
          this.kill(worker, {
            kind: 'out-of-memory',
            memoryMb,
            message: `The learner's code used ${usedMb} MB of memory, over the ${limitMb} MB its process (with those it started) may hold. Memory outside the JavaScript heap counts too (Buffers, typed arrays, child processes). Look for data that grows without bound.`,
          });
        }
      },
      process.platform === 'linux' ? WATCH_INTERVAL_MS : WATCH_INTERVAL_MS * 4,
    );
    worker.watchdog.unref();
  }

  private kill(worker: Worker, reason: ProcessEnd): void {
    if (worker.end !== undefined) {
      return;
    }
    worker.killReason ??= reason;
    const pid = worker.child.pid;
    // The processes it started, found by their parents while it still runs: those in a group or session of their own too.
    const tree = pid !== undefined ? processTree(pid) : undefined;
    killRecorded([...(tree?.members ?? []).filter((m) => m.pid !== pid), ...worker.seen.values()]);
    // The child leads its own process group on POSIX; killing the group also ends any process the learner started.
    if (pid !== undefined && process.platform !== 'win32') {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // The group is already gone; the direct kill below is harmless.
      }
    }
    worker.child.kill('SIGKILL');
  }

  private spawnChild(): ChildProcess {
    const env: Record<string, string> = {};
    for (const name of [...INHERITED_ENV, ACTIVE_MUTANT_ENV]) {
      const value = process.env[name];
      if (value !== undefined) {
        env[name] = value;
      }
    }
    Object.assign(env, {
      // Packages resolve from the lab, wherever the bundle was written.
      NODE_PATH: path.join(path.resolve(this.options.labDir), 'node_modules'),
      // ELECTRON_RUN_AS_NODE makes desktop VS Code's runtime behave as plain Node.
      ELECTRON_RUN_AS_NODE: '1',
      ...this.options.env,
    });
    const memoryMb = Math.max(16, Math.floor(this.options.memoryMb));
    return spawn(this.options.nodePath ?? process.execPath, [`--max-old-space-size=${memoryMb}`, '--enable-source-maps', this.options.childScript, this.options.bundle.file, ...(this.options.adapter !== undefined ? [this.options.adapter] : [])], {
      cwd: this.options.labDir,
      env,
      // fd 3 the IPC channel, fd KEY_FD (4) the pipe on which the harness gets its key.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
      serialization: 'advanced',
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
  }

  /** Starts a process, makes it the current one, and waits for the module to load. */
  private async launch(): Promise<void> {
    this.tail.heapExhausted = false;
    await this.startWorker((worker) => {
      this.worker = worker;
    });
  }

  /** Starts a process, wires it up, and waits for the module to load; throws `SandboxStartError` when it cannot. */
  private async startWorker(created?: (worker: Worker) => void): Promise<Worker> {
    const child = this.spawnChild();
    const key = randomBytes(24).toString('hex');
    const keyPipe = child.stdio[KEY_FD] as import('node:stream').Writable | null | undefined;
    keyPipe?.on('error', () => undefined);
    keyPipe?.end(`${key}\n`);
    const worker = new Worker(child, key);
    this.watch(worker);
    this.live.add(worker);
    void worker.ended.then(() => this.live.delete(worker));
    created?.(worker);
    const entry = this.options.bundle.entry;
    this.logger.info(`sandbox: started pid ${String(child.pid)} for ${entry} (heap limit ${this.options.memoryMb} MB)`);

    let settleStart: ((outcome: { ok: true } | { ok: false; error: SandboxStartError }) => void) | undefined;
    const started = new Promise<{ ok: true } | { ok: false; error: SandboxStartError }>((resolve) => {
      settleStart = resolve;
    });
    const failStart = (message: string, failure: SandboxStartError['failure']): void => {
      settleStart?.({ ok: false, error: new SandboxStartError(message, failure, this.tail.snapshot()) });
      settleStart = undefined;
    };

    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => this.tail.push('stdout', d));
    child.stderr?.on('data', (d: string) => this.tail.push('stderr', d));

    child.on('message', (raw: unknown) => {
      const keyed = raw as Partial<KeyedMessage> | null;
      if (keyed === null || typeof keyed !== 'object' || keyed.key !== worker.key || keyed.message === undefined) {
        // Not the harness: the learner's code wrote on the channel (process.send), perhaps to answer a call in its place.
        if (worker.end === undefined && worker.killReason === undefined) {
          this.logger.warn(`sandbox: pid ${String(child.pid)} sent a message without the harness's key; stopping it`);
          this.kill(worker, {
            kind: 'tampered',
            message: "The learner's code sent a message on the grader's own channel (process.send), which the grader never accepts as an answer. Remove any process.send or process.on('message') from your code.",
          });
        }
        return;
      }
      const message = keyed.message;
      switch (message.type) {
        case 'ready':
          worker.members = message.members;
          worker.callable = message.callable;
          settleStart?.({ ok: true });
          settleStart = undefined;
          return;
        case 'load-failed':
          failStart(`${entry} threw while it was loaded: ${message.error.name}: ${message.error.message}`, { kind: 'load-failed', error: message.error });
          return;
        case 'crash':
          worker.crash = message;
          return;
        case 'observation':
          this.observed(worker, message.observation);
          return;
        case 'result': {
          const call = worker.pending.get(message.id);
          if (!call) {
            return;
          }
          worker.pending.delete(message.id);
          clearTimeout(call.timer);
          if (message.ok) {
            call.resolve({ ok: true, value: message.value });
          } else if (message.kind === 'not-callable') {
            call.resolve({ ok: false, kind: 'not-callable', message: message.message });
          } else if (message.kind === 'threw') {
            call.resolve({ ok: false, kind: 'threw', error: message.error, message: `${call.exportName} threw ${message.error.name}: ${message.error.message}` });
          } else {
            call.resolve({
              ok: false,
              kind: 'unserializable',
              error: message.error,
              message: `${call.exportName} returned a value that cannot be passed back to the grader (${message.error.message}). Return plain data: objects, arrays, strings, numbers, dates.`,
            });
          }
          return;
        }
      }
    });

    let exited = false;
    child.on('error', (error) => {
      // Spawning failed (no such executable), or a kill failed; only the first matters.
      if (!exited && child.pid === undefined) {
        exited = true;
        this.finishWorker(worker, { kind: 'exited', code: null, signal: null, message: `The learner's process could not be started: ${error.message}` });
        failStart(`The sandbox could not start Node (${this.options.nodePath ?? process.execPath}): ${error.message}`, { kind: 'spawn-failed', error: { name: error.name, message: error.message } });
      }
    });
    child.on('exit', (code, signal) => {
      if (exited) {
        return;
      }
      exited = true;
      // Wait for the pipes to drain (the heap message comes last), but not forever.
      let grace: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (grace !== undefined) {
          clearTimeout(grace);
          grace = undefined;
        }
        child.removeListener('close', done);
        if (worker.end !== undefined) {
          return;
        }
        this.tail.flush();
        const end = this.classify(worker, code, signal);
        this.logger.info(`sandbox: pid ${String(child.pid)} ended: ${end.message}`);
        this.finishWorker(worker, end);
        failStart(`${entry} could not be loaded: ${end.message}`, end);
      };
      grace = setTimeout(done, CLOSE_GRACE_MS);
      child.once('close', done);
    });

    const startTimeoutMs = this.options.startTimeoutMs ?? 15_000;
    const startTimer = setTimeout(() => {
      this.kill(worker, {
        kind: 'timeout',
        exportName: '(loading the module)',
        timeoutMs: startTimeoutMs,
        message: `Loading ${entry} did not finish within ${startTimeoutMs} ms, so its process was killed. Look for an endless loop in the module's top-level code.`,
      });
    }, startTimeoutMs);
    try {
      const outcome = await started;
      if (!outcome.ok) {
        this.kill(worker, { kind: 'stopped', message: 'The module failed to load.' });
        await worker.ended;
        throw outcome.error;
      }
    } finally {
      clearTimeout(startTimer);
    }
    return worker;
  }

  /** Decides why a process ended, most specific cause first. */
  private classify(worker: Worker, code: number | null, signal: NodeJS.Signals | null): ProcessEnd {
    if (worker.killReason) {
      return worker.killReason;
    }
    if (this.tail.heapExhausted) {
      this.tail.heapExhausted = false;
      const memoryMb = this.options.memoryMb;
      return { kind: 'out-of-memory', memoryMb, message: `The learner's code ran out of memory (the heap limit is ${memoryMb} MB). Look for data that grows without bound.` };
    }
    if (worker.crash) {
      const { origin, error } = worker.crash;
      const what = origin === 'unhandledRejection' ? 'A promise rejected with nobody handling it' : 'An exception was thrown with nobody catching it';
      return { kind: 'crashed', origin, error, message: `${what}, which crashed the learner's process: ${error.name}: ${error.message}` };
    }
    const how = signal !== null ? `was ended by the signal ${signal}` : `exited with code ${String(code)}`;
    return { kind: 'exited', code, signal, message: `The learner's process ${how} (did the code call process.exit?).` };
  }

  /** Records the end and resolves every call still waiting, so nothing is left hanging. */
  private finishWorker(worker: Worker, end: ProcessEnd): void {
    worker.finish(end);
    // Its connections closed with it: what it held open is over, but it was held until now.
    const now = performance.now();
    for (const record of this.held) {
      if (record.worker === worker && record.endedAt === undefined) {
        record.endedAt = now;
      }
    }
    for (const [id, call] of worker.pending) {
      clearTimeout(call.timer);
      if (end.kind === 'timeout' && worker.timedOutCall !== id) {
        call.resolve({ ok: false, kind: 'stopped', message: `${call.exportName} was cut short: the process was killed because ${end.exportName} ran past its time limit.` });
      } else {
        call.resolve({ ok: false, ...end });
      }
    }
    worker.pending.clear();
    worker.child.stdout?.removeAllListeners('data');
    worker.child.stderr?.removeAllListeners('data');
    worker.child.removeAllListeners('message');
  }
}

/**
 * Starts the learner's module in its own Node process and waits until it has loaded.
 * Throws `SandboxStartError` when it cannot load (it throws at top level, loops, or exits).
 */
export function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  return Sandbox.start(options);
}
