/**
 * How a Quorum lab replica keeps a key, the same on a real Redis and on the in-process
 * stand-in: a hash with the fields `ts`, `writer` and `value`. A read is HMGET; a write
 * is one Lua script that stores the record only if its version is newer than the one
 * held (ts first, then writer as bytes; the lab's `compareVersions`), atomically on the
 * server. Used by the adapter (the learner's replicas), and by the grader to look at each
 * replica directly.
 */
import { RespError, type RespValue } from '../../../src/core/services/resp';
import type { Stored } from './versions';

export { type Stored, type Version, isNewer } from './versions';

/** Something that sends one command and gives its reply (a RespClient). */
export interface CommandSender {
  command(args: readonly string[]): Promise<RespValue>;
}

/**
 * KEYS[1] the key; ARGV ts, writer, value. Returns 1 when stored, 0 when the replica
 * already held this version or a newer one. Lua compares strings with the C locale
 * (bytes), like JavaScript's `<` on the ASCII writer ids the lab uses.
 */
export const WRITE_SCRIPT = [
  "local held = redis.call('HMGET', KEYS[1], 'ts', 'writer')",
  'local ts = tonumber(ARGV[1])',
  'if held[1] then',
  '  local heldTs = tonumber(held[1])',
  '  if heldTs > ts or (heldTs == ts and held[2] >= ARGV[2]) then return 0 end',
  'end',
  "redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'writer', ARGV[2], 'value', ARGV[3])",
  'return 1',
].join('\n');

function replyError(reply: RespValue, what: string): Error {
  return new Error(reply instanceof RespError ? `${what}: the replica answered "${reply.message}"` : `${what}: unexpected reply ${JSON.stringify(reply)}`);
}

export async function readRecord(client: CommandSender, key: string): Promise<Stored | null> {
  const reply = await client.command(['HMGET', key, 'ts', 'writer', 'value']);
  if (!Array.isArray(reply) || reply.length !== 3) {
    throw replyError(reply, `read ${key}`);
  }
  const [ts, writer, value] = reply;
  if (ts === null || ts === undefined) {
    return null;
  }
  if (typeof ts !== 'string' || typeof writer !== 'string' || typeof value !== 'string' || !Number.isFinite(Number(ts))) {
    throw replyError(reply, `read ${key}`);
  }
  return { value, version: { ts: Number(ts), writer } };
}

/** The command a write sends (a read sends HMGET): the grader's proxies can tell the two apart by it. */
export const WRITE_COMMAND = 'EVAL';

export async function writeRecord(client: CommandSender, key: string, record: Stored): Promise<boolean> {
  const reply = await client.command([WRITE_COMMAND, WRITE_SCRIPT, '1', key, String(record.version.ts), record.version.writer, record.value]);
  if (reply !== 0 && reply !== 1) {
    throw replyError(reply, `write ${key}`);
  }
  return reply === 1;
}

/** Checks a record the learner's code passed to a write before it goes on the wire. */
export function recordProblem(record: unknown): string | undefined {
  const r = record as { value?: unknown; version?: { ts?: unknown; writer?: unknown } } | null;
  if (typeof r !== 'object' || r === null) return 'the record is not an object';
  if (typeof r.value !== 'string') return 'its value is not a string';
  if (typeof r.version !== 'object' || r.version === null) return 'it has no version';
  if (typeof r.version.ts !== 'number' || !Number.isFinite(r.version.ts)) return 'its version.ts is not a finite number';
  if (typeof r.version.writer !== 'string') return 'its version.writer is not a string';
  return undefined;
}
