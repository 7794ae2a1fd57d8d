/**
 * The Quorum lab's adapter, loaded in the learner's process beside their bundle. The
 * grader runs several of the learner's coordinators here, one per simulated client
 * machine: each has its own connections to the replicas (Redis servers, or the in-process
 * stand-ins, each reached through the grader's fault proxy), its own clock, and its own
 * `Replica` objects as the lab's types.ts describes them. Bundled on its own into
 * dist/sandbox/adapters/quorum.cjs; it imports nothing of the extension or the grader but
 * the replica protocol and the RESP client.
 */
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import { RespClient } from '../../../src/core/services/resp';
import type { ClockSetting, Declared, OpenInput, QuorumAdapter, QuorumAdapterConfig, ReadAnswer } from './protocol';
import { type Stored, type Version, readRecord, recordProblem, writeRecord } from './replicaStore';

interface Client {
  readonly coordinator: { put(key: string, value: string): unknown; get(key: string): unknown; mode?: unknown; conflictPolicy?: unknown };
  readonly connections: readonly RespClient[];
}

const FILE = 'src/quorum.ts';

/** The error a replica call rejects with, as types.ts describes it (compared by name). */
class ReplicaError extends Error {
  override readonly name = 'ReplicaError';
  constructor(
    message: string,
    readonly replica: string,
  ) {
    super(message);
  }
}

function replicaError(replica: string, error: unknown): ReplicaError {
  return new ReplicaError(`${replica}: ${error instanceof Error ? error.message : String(error)}`, replica);
}

/** Plain data for the grader: a version as the learner's code returned it, checked. */
function plainVersion(value: unknown, what: string): Version {
  const v = value as { ts?: unknown; writer?: unknown } | null | undefined;
  if (typeof v !== 'object' || v === null || typeof v.ts !== 'number' || !Number.isFinite(v.ts) || typeof v.writer !== 'string') {
    throw new TypeError(`${what} must be a Version {ts: number, writer: string}; it was ${JSON.stringify(value)}.`);
  }
  return { ts: v.ts, writer: v.writer };
}

/** The functions the grader calls in the learner's process. */
export const createAdapter: AdapterFactory<QuorumAdapter> = (learner) => {
  let config: QuorumAdapterConfig | undefined;
  const clients = new Map<string, Client>();

  const client = (id: string): Client => {
    const found = clients.get(id);
    if (found === undefined) {
      throw new Error(`The grader has not opened a coordinator for ${id}.`);
    }
    return found;
  };

  const closeClient = (id: string): void => {
    for (const c of clients.get(id)?.connections ?? []) c.close();
    clients.delete(id);
  };

  return {
    configure(next: QuorumAdapterConfig): void {
      config = next;
    },

    open(id: string, options: OpenInput & { readonly replicas: number; readonly clock: ClockSetting }): Declared {
      if (config === undefined) {
        throw new Error('The grader did not configure the adapter.');
      }
      closeClient(id);
      const create = learner['createCoordinator'];
      if (typeof create !== 'function') {
        throw new TypeError(`${FILE} does not export a function createCoordinator(options).`);
      }
      const { timeoutMs, namespace } = config;
      const given = config.replicas.slice(0, options.replicas);
      const connections = given.map((r) => new RespClient({ host: r.host, port: r.port, password: r.password }, timeoutMs, r.name));
      const replicas = given.map((r, i) => {
        const connection = connections[i] as RespClient;
        return Object.freeze({
          name: r.name,
          read: async (key: string): Promise<Stored | null> => {
            try {
              return await readRecord(connection, namespace + String(key));
            } catch (error) {
              throw replicaError(r.name, error);
            }
          },
          write: async (key: string, record: Stored): Promise<boolean> => {
            const problem = recordProblem(record);
            if (problem !== undefined) {
              throw new TypeError(`${r.name}.write(${JSON.stringify(key)}, record): ${problem} (${JSON.stringify(record)}).`);
            }
            try {
              return await writeRecord(connection, namespace + String(key), { value: record.value, version: { ts: record.version.ts, writer: record.version.writer } });
            } catch (error) {
              throw replicaError(r.name, error);
            }
          },
        });
      });
      const clockOption = options.clock;
      const clock = 'fixed' in clockOption ? { now: () => clockOption.fixed } : { now: () => Date.now() + clockOption.skewMs };
      let coordinator: Client['coordinator'];
      try {
        coordinator = (create as (o: unknown) => Client['coordinator'])({
          replicas,
          n: options.n,
          r: options.r,
          w: options.w,
          ...(options.allowEventual !== undefined ? { allowEventual: options.allowEventual } : {}),
          id,
          clock,
        });
      } catch (error) {
        for (const c of connections) c.close();
        throw error;
      }
      if (typeof coordinator !== 'object' || coordinator === null || typeof coordinator.put !== 'function' || typeof coordinator.get !== 'function') {
        for (const c of connections) c.close();
        throw new TypeError(`createCoordinator must return a Coordinator with put and get; it returned ${JSON.stringify(coordinator)}.`);
      }
      clients.set(id, { coordinator, connections });
      return { mode: coordinator.mode, conflictPolicy: coordinator.conflictPolicy };
    },

    async put(id: string, key: string, value: string): Promise<Version> {
      const version = await client(id).coordinator.put(key, value);
      return plainVersion(version, `put(${JSON.stringify(key)}, ...) returned a value that`);
    },

    async get(id: string, key: string): Promise<ReadAnswer> {
      const result = (await client(id).coordinator.get(key)) as { value?: unknown; version?: unknown } | null | undefined;
      if (typeof result !== 'object' || result === null || (result.value !== null && typeof result.value !== 'string')) {
        throw new TypeError(`get(${JSON.stringify(key)}) must return {value: string | null, version}; it returned ${JSON.stringify(result)}.`);
      }
      return { value: result.value, version: result.value === null && (result.version === null || result.version === undefined) ? null : plainVersion(result.version, `get(${JSON.stringify(key)}).version`) };
    },

    close(id: string): void {
      closeClient(id);
    },

    finish(): void {
      for (const id of [...clients.keys()]) closeClient(id);
    },
  };
};
