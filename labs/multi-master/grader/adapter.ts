/**
 * The Multi-Master lab's adapter, loaded in the learner's process beside their bundle. It
 * makes the three regions with the learner's `createRegion`, each on its own store (the
 * region's Redis, reached through the grader's fault proxy, in the grading database) and
 * with its own clock, runs their operations, hands them the messages the grader delivers,
 * and keeps what they send until the grader drains it: the channel between the regions is
 * the grader's. Bundled on its own into dist/sandbox/adapters/multi-master.cjs; it imports
 * nothing of the extension or the grader but the protocol and the RESP client.
 */
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import { RespClient, RespError, type RespValue } from '../../../src/core/services/resp';
import type { ClockSetting, MultiMasterAdapter, MultiMasterAdapterConfig, OpResult, RegionOp, Sent, StoreAddress } from './protocol';

const FILE = 'src/regions.ts';

type Reply = string | number | null | Reply[];

/** What a store call rejects with, as types.ts describes it (compared by name). */
class StoreError extends Error {
  override readonly name = 'StoreError';
}

interface LearnerRegion {
  readonly [op: string]: unknown;
}

interface Made {
  readonly region: LearnerRegion;
  readonly clients: Set<RespClient>;
  /** The sessions it opened and has not closed. */
  readonly sessions: Set<RespClient>;
  /** Whether this incarnation still runs: a dropped region's late sends go nowhere. */
  live: boolean;
}

function reply(value: RespValue, what: string): Reply {
  if (value instanceof RespError) throw new StoreError(`${what}: ${value.message}`);
  if (Array.isArray(value)) return value.map((v) => reply(v, what));
  return value;
}

/** Copies a message as plain data, or says what in it is not. */
function plainCopy(value: unknown, at: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${at} is ${value}, which JSON cannot carry`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => plainCopy(v, `${at}[${i}]`));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`${at} is a ${(value as object).constructor?.name ?? 'class instance'}, not plain data (use an object, an array or a string)`);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainCopy(v, `${at}.${k}`)]));
  }
  throw new TypeError(`${at} is ${value === undefined ? 'undefined' : `a ${typeof value}`}, which JSON cannot carry`);
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function checked(op: RegionOp, value: unknown): OpResult {
  const call = `${op.op}(${JSON.stringify(op.key)})`;
  switch (op.op) {
    case 'getProfile':
      if (value === null || typeof value === 'string') return value;
      throw new TypeError(`${call} must return a string or null; it returned ${JSON.stringify(value)}.`);
    case 'conflicts':
    case 'getCart':
      if (isStrings(value)) return [...value];
      throw new TypeError(`${call} must return an array of strings; it returned ${JSON.stringify(value)}.`);
    case 'likes':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw new TypeError(`${call} must return a number; it returned ${JSON.stringify(value)}.`);
    default:
      return undefined;
  }
}

/** The functions the grader calls in the learner's process. */
export const createAdapter: AdapterFactory<MultiMasterAdapter> = (learner) => {
  let config: MultiMasterAdapterConfig | undefined;
  const regions = new Map<string, Made>();
  let outbox: Sent[] = [];

  const drop = (id: string): void => {
    const made = regions.get(id);
    if (made === undefined) return;
    made.live = false;
    for (const c of made.clients) c.close();
    regions.delete(id);
  };

  const made = (id: string): Made => {
    const found = regions.get(id);
    if (found === undefined) throw new Error(`The grader has not opened region ${id}.`);
    return found;
  };

  const storeOf = (address: StoreAddress, settings: MultiMasterAdapterConfig, clients: Set<RespClient>, sessions: Set<RespClient>) => {
    const connect = (): RespClient => {
      const client = new RespClient({ host: address.host, port: address.port, password: address.password, database: settings.database }, settings.timeoutMs, `${address.region}'s store`);
      clients.add(client);
      return client;
    };
    const shared = connect();
    const send = async (client: RespClient, args: readonly (string | number)[], what: string): Promise<Reply> => {
      let value: RespValue;
      try {
        value = await client.command(args.map(String));
      } catch (error) {
        throw new StoreError(error instanceof Error ? error.message : String(error));
      }
      return reply(value, what);
    };
    return Object.freeze({
      command: (...args: (string | number)[]) => send(shared, args, String(args[0] ?? '')),
      eval: (script: string, keys: readonly string[], args: readonly (string | number)[]) => send(shared, ['EVAL', script, keys.length, ...keys, ...args], 'EVAL'),
      session: () => {
        const own = connect();
        sessions.add(own);
        return Object.freeze({
          command: (...args: (string | number)[]) => send(own, args, String(args[0] ?? '')),
          close: () => {
            own.close();
            clients.delete(own);
            sessions.delete(own);
          },
        });
      },
    });
  };

  return {
    configure(next: MultiMasterAdapterConfig): void {
      config = next;
    },

    open(id: string, clockSetting: ClockSetting): void {
      if (config === undefined) throw new Error('The grader did not configure the adapter.');
      drop(id);
      const create = learner['createRegion'];
      if (typeof create !== 'function') throw new TypeError(`${FILE} does not export a function createRegion(options).`);
      const address = config.stores.find((s) => s.region === id);
      if (address === undefined) throw new Error(`There is no region ${id}.`);
      const peers = config.stores.map((s) => s.region).filter((r) => r !== id);
      const clients = new Set<RespClient>();
      const sessions = new Set<RespClient>();
      const incarnation: { made?: Made } = {};
      const clock = 'fixed' in clockSetting ? { now: () => clockSetting.fixed } : { now: () => Date.now() + clockSetting.skewMs };
      const send = (to: unknown, message: unknown): void => {
        if (typeof to !== 'string' || !peers.includes(to)) throw new TypeError(`send(to, message): ${JSON.stringify(to)} is not one of this region's peers (${peers.join(', ')}).`);
        const body = plainCopy(message, 'the message');
        if (incarnation.made?.live !== false) outbox.push({ from: id, to, body });
      };
      let region: unknown;
      try {
        region = (create as (o: unknown) => unknown)(Object.freeze({ id, peers: Object.freeze([...peers]), store: storeOf(address, config, clients, sessions), clock: Object.freeze(clock), send }));
      } catch (error) {
        for (const c of clients) c.close();
        throw error;
      }
      if (typeof region !== 'object' || region === null) {
        for (const c of clients) c.close();
        throw new TypeError(`createRegion must return a Region; it returned ${JSON.stringify(region)}.`);
      }
      const entry: Made = { region: region as LearnerRegion, clients, sessions, live: true };
      incarnation.made = entry;
      regions.set(id, entry);
    },

    async run(id: string, op: RegionOp): Promise<OpResult> {
      const { region } = made(id);
      const fn = region[op.op];
      if (typeof fn !== 'function') throw new TypeError(`The region createRegion returned has no function ${op.op}.`);
      const args = 'value' in op ? [op.key, op.value] : [op.key];
      return checked(op, await (fn as (...a: unknown[]) => unknown).apply(region, args));
    },

    async deliver(to: string, from: string, body: unknown): Promise<void> {
      const { region } = made(to);
      const receive = region['receive'];
      if (typeof receive !== 'function') throw new TypeError('The region createRegion returned has no function receive.');
      await (receive as (f: string, m: unknown) => unknown).call(region, from, plainCopy(body, 'the message'));
    },

    drain(): Sent[] {
      const taken = outbox;
      outbox = [];
      return taken;
    },

    openSessions(): Record<string, number> {
      return Object.fromEntries([...regions].map(([id, r]) => [id, r.sessions.size]));
    },

    finish(): void {
      for (const id of [...regions.keys()]) drop(id);
      outbox = [];
    },
  };
};
