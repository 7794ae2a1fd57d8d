/**
 * The sweep after a crash, for real: a separate process starts a lab's containers as its
 * own session and is killed with SIGKILL; the next sweep (what the extension runs on
 * activation) removes its containers and network. Parked containers (stopped on purpose)
 * and those of `data-labs services up` stay.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_LAB, containerOwner, folderGone, labNetworkName, startLabServices, stopLabServices, sweepOrphans } from '../../src/core/services/labServices';
import { CLI_OWNER, PARKED_OWNER, isOwnerAlive, sessionIdFor } from '../../src/core/services/sessions';
import { LOCAL_IMAGES, leftoverContainers, newRuntime, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
let bundleDir: string;
let holder: string;

beforeAll(async () => {
  bundleDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddl-sweep-'));
  holder = path.join(bundleDir, 'holdServices.js');
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'fixtures', 'holdServices.ts')],
    outfile: holder,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['cpu-features', '*.node'],
    logLevel: 'error',
  });
});

afterAll(async () => {
  await fs.rm(bundleDir, { recursive: true, force: true });
});

/** Starts the holder process and resolves once its services are up. */
function holdServices(labId: string, service: string, count: number): Promise<{ child: ReturnType<typeof spawn>; sessionId: string; containers: string[]; network: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [holder, labId, service, String(count), JSON.stringify(LOCAL_IMAGES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        resolve({ child, ...(JSON.parse(line) as { sessionId: string; containers: string[]; network: string | null }) });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before its services were up: ${err}`)));
  });
}

function killed(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('after a SIGKILLed session', () => {
  it('the next sweep removes its containers and network; live, parked and CLI ones stay', async () => {
    const crashedLab = registerLab(uniqueId('crashed'));
    const parkedLab = registerLab(uniqueId('parked'));
    const cliLab = registerLab(uniqueId('cli'));
    const liveLab = registerLab(uniqueId('live'));
    const me = sessionIdFor();

    const held = await holdServices(crashedLab, 'redis', 2);
    expect(held.containers).toHaveLength(2);
    expect(held.network).toBe(labNetworkName(crashedLab));
    await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId: parkedLab, sessionId: me, images: LOCAL_IMAGES });
    await stopLabServices(runtime, parkedLab);
    await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId: cliLab, sessionId: CLI_OWNER, images: LOCAL_IMAGES });
    await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId: liveLab, sessionId: me, images: LOCAL_IMAGES });

    // While the holder runs, its session is alive and a sweep keeps everything.
    const judged = new Set([held.sessionId, me, PARKED_OWNER, CLI_OWNER]);
    // Only the owners of this test are judged for real, so other runs on the engine are safe.
    const onlyOurs = (owner: string): boolean => (judged.has(owner) ? isOwnerAlive(owner) : true);
    const noFolder = (): boolean => false;
    expect((await sweepOrphans(runtime, onlyOurs, testLogger, noFolder)).removedContainers).toEqual([]);
    expect(await leftoverContainers(runtime, crashedLab)).toBe(2);

    await killed(held.child);
    const result = await sweepOrphans(runtime, onlyOurs, testLogger, noFolder);
    expect([...result.removedContainers].sort()).toEqual([...held.containers].sort());
    expect(result.removedNetworks).toEqual([labNetworkName(crashedLab)]);
    expect(await leftoverContainers(runtime, crashedLab)).toBe(0);
    expect(await runtime.listNetworks({ [LABEL_LAB]: crashedLab })).toEqual([]);

    const parked = await runtime.listContainers({ [LABEL_LAB]: parkedLab });
    expect(parked.map((c) => [c.status, containerOwner(c)])).toEqual([['exited', PARKED_OWNER]]);
    expect(await leftoverContainers(runtime, cliLab)).toBe(1);
    expect(await leftoverContainers(runtime, liveLab)).toBe(1);
  });

  it('a parked container taken over by a later session belongs to that session', async () => {
    const labId = registerLab(uniqueId('takeover'));
    const first = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: 'first-session', images: LOCAL_IMAGES });
    await stopLabServices(runtime, labId);
    const held = await holdServices(labId, 'redis', 1);
    // The same container, restarted and renamed to its new owner.
    expect(held.containers).toEqual([first.connections[0]!.containerId]);
    const [info] = await runtime.listContainers({ [LABEL_LAB]: labId });
    expect(containerOwner(info!)).toBe(held.sessionId);
    expect(info!.status).toBe('running');
    // Closing the lab in the first session's window no longer touches it...
    expect(await stopLabServices(runtime, labId, { onlyOwnedBy: 'first-session' })).toEqual([]);
    // ...and when its new owner is killed, the sweep removes it.
    await killed(held.child);
    const judged = (owner: string): boolean => (owner === held.sessionId ? isOwnerAlive(owner) : true);
    expect((await sweepOrphans(runtime, judged, testLogger, () => false)).removedContainers).toEqual(held.containers);
  });
});

describe("a container `data-labs services up` started", () => {
  it('is shared with an editor that opens the same folder, never adopted: it keeps its owner, and the editor\'s stop leaves it running', async () => {
    const labId = registerLab(uniqueId('shared'));
    const labDir = await tempLabDir();
    try {
      const cli = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: CLI_OWNER, labDir, images: LOCAL_IMAGES });
      const editor = sessionIdFor();
      const opened = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: editor, labDir, images: LOCAL_IMAGES });
      expect(opened.connections.map((c) => c.containerId)).toEqual(cli.connections.map((c) => c.containerId));
      const [info] = await runtime.listContainers({ [LABEL_LAB]: labId });
      expect(containerOwner(info!)).toBe(CLI_OWNER);
      expect(await stopLabServices(runtime, labId, { labDir, onlyOwnedBy: editor })).toEqual([]);
      expect((await runtime.inspectContainer(info!.id)).status).toBe('running');
      // Parked by the CLI's own stop, it is the next opener's.
      await stopLabServices(runtime, labId, { labDir, onlyOwnedBy: CLI_OWNER });
      await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: editor, labDir, images: LOCAL_IMAGES });
      expect(containerOwner((await runtime.listContainers({ [LABEL_LAB]: labId }))[0]!)).toBe(editor);
    } finally {
      await fs.rm(labDir, { recursive: true, force: true });
    }
  });
});

describe('a deleted lab folder', () => {
  it('its containers go at the next sweep, even the CLI\'s and parked ones; a live folder\'s stay', async () => {
    const labId = registerLab(uniqueId('gone'));
    const [gone, kept] = [await tempLabDir(), await tempLabDir()];
    try {
      const a = await startLabServices(runtime, [{ service: 'redis', count: 2 }], { labId, sessionId: CLI_OWNER, labDir: gone, images: LOCAL_IMAGES });
      await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: CLI_OWNER, labDir: kept, images: LOCAL_IMAGES });
      await stopLabServices(runtime, labId, { labDir: gone });
      await fs.rm(gone, { recursive: true, force: true });
      const ours = (labels: Readonly<Record<string, string>>): boolean => labels[LABEL_LAB] === labId && folderGone(labels);
      const result = await sweepOrphans(runtime, () => true, testLogger, ours);
      expect([...result.removedContainers].sort()).toEqual(a.connections.map((c) => c.containerId).sort());
      expect(result.removedNetworks).toEqual([a.network]);
      expect(await leftoverContainers(runtime, labId)).toBe(1);
    } finally {
      await Promise.all([gone, kept].map((d) => fs.rm(d, { recursive: true, force: true })));
    }
  });

  it('its stopped containers go when another folder of the lab starts; a running one is left to its owner', async () => {
    const labId = registerLab(uniqueId('gone-start'));
    const [gone, running, kept] = [await tempLabDir(), await tempLabDir(), await tempLabDir()];
    try {
      const a = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: CLI_OWNER, labDir: gone, images: LOCAL_IMAGES });
      const b = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: CLI_OWNER, labDir: running, images: LOCAL_IMAGES });
      await stopLabServices(runtime, labId, { labDir: gone });
      await fs.rm(gone, { recursive: true, force: true });
      await fs.rm(running, { recursive: true, force: true });
      await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: CLI_OWNER, labDir: kept, images: LOCAL_IMAGES });
      await expect(runtime.inspectContainer(a.connections[0]!.containerId)).rejects.toThrow(/No such container/i);
      // Its folder missing, but the database is in use (a grading, a terminal): it stays until its owner stops it.
      expect((await runtime.inspectContainer(b.connections[0]!.containerId)).status).toBe('running');
      expect(await leftoverContainers(runtime, labId)).toBe(2);
    } finally {
      await Promise.all([gone, running, kept].map((d) => fs.rm(d, { recursive: true, force: true })));
    }
  });
});
