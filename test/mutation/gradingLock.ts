/**
 * One grading at a time. Gradings of a lab share its containers, so two at once would fail
 * each other's checks; yet Stryker, even with `concurrency: 1`, hands the checker's share to
 * a second test runner once type-checking is done (ConcurrencyTokenProvider.freeCheckers),
 * and its command runner then runs two grading commands at once. So main.ts serves a lock on
 * a local socket and each grading command holds it while it grades. The lock passes on when
 * its holder's socket closes, which the system does when the holder exits however it ends
 * (a SIGKILL from Stryker's timeout included): no stale lock is left behind.
 */
import { promises as fs } from 'node:fs';
import * as net from 'node:net';

export interface GradingLockServer {
  /** How many connections wait or hold the lock now. */
  readonly waiting: () => number;
  close(): Promise<void>;
}

/** Serves the lock on a Unix socket (a named pipe on Windows) at `socketPath`, first come first served. */
export async function serveGradingLock(socketPath: string): Promise<GradingLockServer> {
  if (process.platform !== 'win32') await fs.rm(socketPath, { force: true });
  const queue: net.Socket[] = [];
  let holder: net.Socket | undefined;
  const next = (): void => {
    while (holder === undefined && queue.length > 0) {
      const socket = queue.shift();
      if (socket === undefined || socket.destroyed) continue;
      holder = socket;
      socket.write('go\n');
    }
  };
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const i = queue.indexOf(socket);
      if (i >= 0) queue.splice(i, 1);
      if (holder === socket) {
        holder = undefined;
        next();
      }
    });
    queue.push(socket);
    next();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    waiting: () => queue.length + (holder !== undefined ? 1 : 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of [...queue, ...(holder !== undefined ? [holder] : [])]) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Waits for the lock; it is held until `release()` or until this process ends. */
export function acquireGradingLock(socketPath: string): Promise<{ release(): void }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    let granted = false;
    socket.on('error', (error) => {
      if (!granted) reject(error);
    });
    socket.on('close', () => {
      if (!granted) reject(new Error(`the grading lock at ${socketPath} closed before it was granted`));
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (!granted && text.includes('go\n')) {
        granted = true;
        resolve({ release: () => socket.destroy() });
      }
    });
  });
}
