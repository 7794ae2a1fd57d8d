/**
 * The Quorum lab's replicas without Docker: small servers in the grader's process that
 * speak the part of Redis's protocol the lab's replicas use (AUTH, PING, HMGET, the write
 * script of replicaStore.ts, FLUSHALL) with the same semantics, on 127.0.0.1. They stand
 * in for the Redis containers honestly for what the lab grades — a replica that keeps
 * the newest version of each key — and the fault proxy in front of each one works the
 * same. The container faults have in-process equivalents (respServer.ts): pause, kill
 * (the data kept, as a Redis with `appendfsync always` keeps what it acknowledged) and
 * restart.
 */
import { RespError, type RespValue, encodeReply, encodeStatus } from '../../../src/core/services/resp';
import { type CommandHandler, InProcessRespServer } from '../../../src/core/services/respServer';
import { WRITE_SCRIPT, isNewer } from './replicaStore';

interface Record {
  readonly ts: string;
  readonly writer: string;
  readonly value: string;
}

export class InProcessReplica extends InProcessRespServer {
  private readonly data = new Map<string, Record>();

  static async start(name: string, password: string): Promise<InProcessReplica> {
    const replica = new InProcessReplica(name, password);
    await replica.listen(0);
    return replica;
  }

  protected connection(): CommandHandler {
    let authenticated = false;
    return (command) => {
      if ((command[0] ?? '').toUpperCase() === 'AUTH') {
        authenticated = command[command.length - 1] === this.password;
        return authenticated ? encodeStatus('OK') : encodeReply(new RespError('WRONGPASS invalid username-password pair or user is disabled.'));
      }
      return authenticated ? this.run(command) : encodeReply(new RespError('NOAUTH Authentication required.'));
    };
  }

  private run(command: readonly string[]): Buffer {
    const name = (command[0] ?? '').toUpperCase();
    switch (name) {
      case 'PING':
        return encodeStatus('PONG');
      case 'FLUSHALL':
      case 'FLUSHDB':
        this.data.clear();
        return encodeStatus('OK');
      case 'CONFIG':
        return encodeStatus('OK');
      case 'HMGET': {
        const held = this.data.get(command[1] ?? '');
        return encodeReply(command.slice(2).map((field): RespValue => (held === undefined ? null : field === 'ts' ? held.ts : field === 'writer' ? held.writer : field === 'value' ? held.value : null)));
      }
      case 'EVAL': {
        if (command[1] !== WRITE_SCRIPT || command[2] !== '1' || command.length !== 7) {
          return encodeReply(new RespError('ERR the in-process replica runs only the Quorum lab\'s write script'));
        }
        const [key, ts, writer, value] = command.slice(3) as [string, string, string, string];
        const held = this.data.get(key);
        if (held !== undefined && !isNewer({ ts: Number(ts), writer }, { ts: Number(held.ts), writer: held.writer })) {
          return encodeReply(0);
        }
        this.data.set(key, { ts, writer, value });
        return encodeReply(1);
      }
      default:
        return encodeReply(new RespError(`ERR unknown command '${name}' (the in-process replica knows AUTH, PING, HMGET, EVAL, FLUSHALL)`));
    }
  }
}
