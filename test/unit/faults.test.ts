/**
 * The parts of fault injection that need no engine: the journal's format, telling a
 * live journal owner from a dead one (or from a new process that was given its pid),
 * and what recovery does with journals that hold nothing to undo in the engine. The
 * undo itself runs against the real engine in test/docker/faults.test.ts.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultInjector, type FaultJournal, JOURNAL_VERSION, parseFaultJournal, recoverAbandonedFaults } from '../../src/core/services/faults';
import { isProcessAlive, processStartTime } from '../../src/core/services/sessions';
import type { ServiceConnection } from '../../src/core/services/labServices';
import type { ContainerRuntime, RuntimeLogger } from '../../src/core/services/runtime';
import { useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-faults-');

/**
 * Stands in for the engine where a test must show that recovery does not touch it:
 * every property access fails the test. (Undoing real faults is tested on a real engine.)
 */
const untouchableRuntime = new Proxy({} as ContainerRuntime, {
  get(_target, property) {
    throw new Error(`recovery called the engine (${String(property)}) where it had nothing to undo`);
  },
});

function recordingLogger(): RuntimeLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  if (child.pid === undefined) {
    throw new Error('the child process did not start');
  }
  return child.pid;
}

function journal(pid: number, faults: FaultJournal['faults'] = [], processStart?: string): FaultJournal {
  return { version: JOURNAL_VERSION, pid, ...(processStart !== undefined ? { processStartTime: processStart } : {}), runId: 'ab12cd34', createdAt: '2025-01-01T00:00:00.000Z', faults };
}

describe('fault journal', () => {
  it('parses what the injector writes and names what is wrong otherwise', () => {
    const good = journal(42, [
      { id: 1, kind: 'pause', service: 'postgres', containerId: 'a'.repeat(64), appliedAt: '2025-01-01T00:00:00.000Z' },
      { id: 2, kind: 'disconnect', service: 'redis-2', containerId: 'b'.repeat(64), network: 'datalabs-x', aliases: ['redis-2'], appliedAt: '2025-01-01T00:00:01.000Z' },
    ]);
    expect(parseFaultJournal(JSON.stringify(good))).toEqual({ ok: true, journal: good });

    const broken = parseFaultJournal('{"version": 1, "pid": 4');
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.reason).toMatch(/^not valid JSON/);

    const wrongKind = parseFaultJournal(JSON.stringify({ ...good, faults: [{ ...good.faults[0], kind: 'explode' }] }));
    expect(!wrongKind.ok && wrongKind.reason).toMatch(/^not a fault journal at "faults\.0\.kind"/);

    const newer = parseFaultJournal(JSON.stringify({ ...good, version: 2 }));
    expect(!newer.ok && newer.reason).toMatch(/at "version"/);
  });
});

describe('process liveness', () => {
  it.runIf(process.platform === 'linux')('reads a stable start time from /proc, none for a missing process', async () => {
    const mine = await processStartTime(process.pid);
    expect(mine).toMatch(/^\d+$/);
    expect(await processStartTime(process.pid)).toBe(mine);
    expect(await processStartTime(await deadPid())).toBeUndefined();
  });

  it('tells this process alive, an ended one dead, and a pid given to another process dead', async () => {
    const mine = await processStartTime(process.pid);
    expect(await isProcessAlive(process.pid, mine)).toBe(true);
    expect(await isProcessAlive(process.pid, undefined)).toBe(true);
    expect(await isProcessAlive(await deadPid(), undefined)).toBe(false);
    if (mine !== undefined) {
      // Same pid, another start time: the journal's owner died and the pid was reused.
      expect(await isProcessAlive(process.pid, String(Number(mine) + 1))).toBe(false);
    }
  });
});

describe('recoverAbandonedFaults without anything to undo in the engine', () => {
  it('returns an empty report for a missing folder', async () => {
    const dir = path.join(await tempDir(), 'no-such-folder');
    expect(await recoverAbandonedFaults(untouchableRuntime, dir)).toEqual({ recovered: [], live: [], unreadable: [], failed: [] });
  });

  it("leaves a live process's journal alone, sets unreadable ones aside, and deletes empty and stray files of dead processes", async () => {
    const dir = await tempDir();
    const dead = await deadPid();
    const live = path.join(dir, `faults-${process.pid}-0000aaaa.json`);
    await fs.writeFile(live, JSON.stringify(journal(process.pid, [{ id: 1, kind: 'pause', service: 'postgres', containerId: 'c'.repeat(64), appliedAt: 'now' }], await processStartTime(process.pid))));
    const unreadable = path.join(dir, `faults-${dead}-0000bbbb.json`);
    await fs.writeFile(unreadable, 'not json at all');
    const empty = path.join(dir, `faults-${dead}-0000cccc.json`);
    await fs.writeFile(empty, JSON.stringify(journal(dead)));
    const deadTemp = path.join(dir, `.faults-${dead}-0000dddd.json.${dead}.3.tmp`);
    await fs.writeFile(deadTemp, '{');
    const liveTemp = path.join(dir, `.faults-${process.pid}-0000eeee.json.${process.pid}.1.tmp`);
    await fs.writeFile(liveTemp, '{');
    const unrelated = path.join(dir, 'notes.txt');
    await fs.writeFile(unrelated, 'kept');

    const logger = recordingLogger();
    const report = await recoverAbandonedFaults(untouchableRuntime, dir, logger);

    expect(report.live).toEqual([live]);
    expect(report.unreadable).toEqual([unreadable]);
    expect(report.recovered).toEqual([{ file: empty, pid: dead, faults: [], outcomes: [] }]);
    expect(report.failed).toEqual([]);
    const left = (await fs.readdir(dir)).sort();
    // Sorted: the temp file's leading dot first, then the journals, then notes.txt.
    expect(left).toEqual([
      path.basename(liveTemp),
      path.basename(live),
      expect.stringMatching(new RegExp(`^faults-${dead}-0000bbbb\\.json\\.unreadable-`)),
      'notes.txt',
    ]);
    expect(logger.lines.some((l) => l.startsWith('error ') && l.includes('not valid JSON') && l.includes('docker ps'))).toBe(true);

    // Recovery again: the set-aside file is no journal any more, so nothing is reported twice.
    const again = await recoverAbandonedFaults(untouchableRuntime, dir, logger);
    expect(again).toEqual({ recovered: [], live: [live], unreadable: [], failed: [] });
  });
});

describe('FaultInjector before the engine is touched', () => {
  const postgres: ServiceConnection = {
    service: 'postgres',
    index: 1,
    name: 'postgres',
    containerId: 'd'.repeat(64),
    image: 'postgres:15',
    host: '127.0.0.1',
    port: 1,
    user: 'lab',
    password: 'secret',
    database: 'lab',
    url: 'postgresql://lab:secret@127.0.0.1:1/lab',
    created: true,
  };

  it('does not apply a container fault whose journal cannot be written', async () => {
    const dir = await tempDir();
    // A file where the journal folder should be: the journal cannot be created there.
    const notAFolder = path.join(dir, 'file');
    await fs.writeFile(notAFolder, '');
    const injector = await FaultInjector.create(untouchableRuntime, { services: [postgres], journalDir: path.join(notAFolder, 'journal'), proxies: false });
    await expect(injector.pause('postgres')).rejects.toThrow(/Could not write the fault journal .* so "pause postgres" was not applied/);
    expect(injector.outstanding).toEqual([]);
  });

  it('says what is wrong with a fault it cannot apply', async () => {
    const injector = await FaultInjector.create(untouchableRuntime, { services: [postgres], proxies: false });
    await expect(injector.disconnect('postgres')).rejects.toThrow(/this lab has no network/);
    await expect(injector.pause('mysql')).rejects.toThrow('No service called "mysql" in this lab; it has postgres.');
    expect(() => injector.latency('postgres', 10)).toThrow(/created without proxies/);
    await expect(FaultInjector.create(untouchableRuntime, { services: [postgres, postgres], proxies: false })).rejects.toThrow(/both called "postgres"/);
    expect(injector.outstanding).toEqual([]);
  });
});
