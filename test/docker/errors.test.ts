/**
 * Each typed error of the runtime, caused for real: no daemon, a daemon stopped, a socket
 * the user may not open, an image that is not there, a port already taken, a service that
 * never becomes ready, a failed pull.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDockerHost, systemDockerHostInputs } from '../../src/core/services/dockerHost';
import { DockerodeRuntime } from '../../src/core/services/dockerodeRuntime';
import { LABEL_EXTENSION, LABEL_LAB, startLabServices, waitUntilReady } from '../../src/core/services/labServices';
import { DockerUnavailableError, ImageMissingError, PortConflictError, PullFailedError, ReadinessTimeoutError } from '../../src/core/services/runtime';
import { SERVICE_CATALOG } from '../../src/core/services/serviceCatalog';
import { LOCAL_IMAGES, leftoverContainers, newRuntime, occupyPort, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

function runtimeAt(dockerHost: string, installed: boolean): DockerodeRuntime {
  const host = resolveDockerHost(systemDockerHostInputs({ DOCKER_HOST: dockerHost }));
  return new DockerodeRuntime({ host, logger: testLogger, isDockerInstalled: () => installed });
}

describe('an engine that is not there', () => {
  it('says "not installed" or "daemon down" for a socket that does not exist, naming it', async () => {
    const missing = `unix://${path.join(os.tmpdir(), 'no-such-dir', 'docker.sock')}`;
    const down = runtimeAt(missing, true);
    const downError = await down.ping().catch((e: unknown) => e);
    expect(downError).toBeInstanceOf(DockerUnavailableError);
    expect(downError).toMatchObject({ kind: 'daemon-down' });
    expect((downError as Error).message).toContain(missing);
    expect((downError as Error).message).toMatch(/systemctl start docker|Start Docker Desktop/);

    const absent = await runtimeAt(missing, false).ping().catch((e: unknown) => e);
    expect(absent).toMatchObject({ kind: 'not-installed' });
    expect((absent as Error).message).toMatch(/Install Docker/);

    // Every other call reports the same, not a raw ENOENT.
    await expect(down.listContainers({ [LABEL_EXTENSION]: '1' })).rejects.toMatchObject({ name: 'DockerUnavailableError', kind: 'daemon-down' });
    await expect(startLabServices(down, [{ service: 'redis', count: 1 }], { labId: 'never', sessionId: 's' })).rejects.toBeInstanceOf(DockerUnavailableError);
  });

  it('says "daemon down" for a socket file nobody listens on', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddl-sock-'));
    scratch.push(dir);
    // A stale socket path (the daemon died without removing it) refuses connections.
    const stale = path.join(dir, 'docker.sock');
    await fs.writeFile(stale, '');
    await expect(runtimeAt(`unix://${stale}`, true).ping()).rejects.toMatchObject({ name: 'DockerUnavailableError', kind: 'daemon-down' });
  });

  it('says "daemon down" once a daemon that answered is stopped', async () => {
    // A second, private dockerd (own socket, data and state), really stopped. It runs in a
    // network namespace of its own: in the host's, starting a daemon without a bridge
    // deletes the docker0 bridge the real engine's containers need.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddl-dockerd-'));
    scratch.push(dir);
    const socket = path.join(dir, 'docker.sock');
    const daemon = spawn(
      'unshare',
      ['--net', 'dockerd', '--host', `unix://${socket}`, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'docker.pid'), '--bridge', 'none', '--iptables=false', '--ip6tables=false'],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    try {
      const privateEngine = runtimeAt(`unix://${socket}`, true);
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await privateEngine.ping();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      daemon.kill('SIGTERM');
      await exited;
      const error = await privateEngine.ping().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'DockerUnavailableError', kind: 'daemon-down' });
      expect((error as Error).message).toContain(socket);
      await expect(startLabServices(privateEngine, [{ service: 'postgres', count: 1 }], { labId: 'never', sessionId: 's' })).rejects.toMatchObject({ kind: 'daemon-down' });
    } finally {
      daemon.kill('SIGKILL');
      await exited;
    }
    // The real engine did not notice: its containers still start and answer on 127.0.0.1.
    const labId = registerLab(uniqueId('after-private-daemon'));
    const started = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: 'errors-test', images: LOCAL_IMAGES });
    expect(started.connections).toHaveLength(1);
  });

  it.runIf(process.getuid?.() === 0)('says "permission denied" to a user outside the docker group, on the real socket', async () => {
    // Root reads any socket, so the check runs as "nobody", for whom the engine's socket
    // (root:docker, 0660) is closed: the same EACCES a learner not in the group meets.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ddl-nobody-'));
    scratch.push(dir);
    const script = path.join(dir, 'ping.js');
    await esbuild.build({ entryPoints: [path.join(__dirname, 'fixtures', 'pingDocker.ts')], outfile: script, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['cpu-features', '*.node'], logLevel: 'error' });
    await fs.chmod(dir, 0o755);
    await fs.chmod(script, 0o644);
    const endpoint = resolveDockerHost(systemDockerHostInputs()).endpoint;
    expect(endpoint.kind).toBe('socket');
    const run = spawnSync(process.execPath, [script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '', HOME: dir } });
    expect(run.stderr).toBe('');
    const outcome = JSON.parse(run.stdout) as { ok: boolean; name?: string; kind?: string; message?: string };
    expect(outcome).toMatchObject({ ok: false, name: 'DockerUnavailableError', kind: 'permission-denied' });
    expect(outcome.message).toMatch(/usermod -aG docker/);
  });

  it('says "daemon down" for a TCP endpoint that refuses', async () => {
    await expect(runtimeAt('tcp://127.0.0.1:1', true).ping()).rejects.toMatchObject({ kind: 'daemon-down' });
  });
});

describe('images', () => {
  it('reports a missing image that cannot be fetched as ImageMissingError, leaving nothing behind', async () => {
    const labId = registerLab(uniqueId('noimage'));
    // Port 1 refuses at once: the same answer as a registry out of reach when offline.
    const error = await startLabServices(runtime, [{ service: 'redis', count: 1 }], { labId, sessionId: 's', images: { redis: '127.0.0.1:1/data-labs/missing:1' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageMissingError);
    expect((error as Error).message).toMatch(/dataLabs\.images/);
    expect(await leftoverContainers(runtime, labId)).toBe(0);
  });

  it('reports creating a container from an absent image as ImageMissingError', async () => {
    await expect(runtime.createContainer({ image: 'data-labs-local/absent:0', labels: { [LABEL_EXTENSION]: '1', [LABEL_LAB]: 'dtest-absent' } })).rejects.toBeInstanceOf(ImageMissingError);
  });

  it('knows which images are present', async () => {
    expect(await runtime.imageExists(LOCAL_IMAGES.redis)).toBe(true);
    expect(await runtime.imageExists('data-labs-local/absent:0')).toBe(false);
  });

  const registry = '127.0.0.1:5000';
  const registryUp = fetch(`http://${registry}/v2/_catalog`, { signal: AbortSignal.timeout(1_000) })
    .then(async (r) => ((await r.json()) as { repositories?: string[] }).repositories ?? [])
    .catch(() => [] as string[]);

  it('pulls from the local registry with per-layer progress, and fails a missing tag with PullFailedError', async (context) => {
    const repositories = await registryUp;
    if (!repositories.includes('data-labs-local/redis')) {
      context.skip(`no local registry with data-labs-local/redis on ${registry} (test/setup/docker.sh starts it)`);
    }
    const layers = new Set<string>();
    await runtime.pullImage(`${registry}/data-labs-local/redis:7`, { onProgress: (p) => layers.add(p.layerId), timeoutMs: 60_000 });
    expect(layers.size).toBeGreaterThan(0);
    const error = await runtime.pullImage(`${registry}/data-labs-local/redis:no-such-tag`, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullFailedError);
    expect((error as Error).message).toMatch(/no-such-tag/);
  });

  it('stops a pull when it is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runtime.pullImage('127.0.0.1:1/data-labs/missing:1', { signal: controller.signal })).rejects.toThrow(/cancelled|missing/);
  });
});

describe('ports', () => {
  it('reports a host port already taken as PortConflictError, naming the port', async () => {
    const held = await occupyPort();
    const labels = { [LABEL_EXTENSION]: '1', [LABEL_LAB]: registerLab(uniqueId('port')) };
    try {
      const id = await runtime.createContainer({
        image: LOCAL_IMAGES.redis,
        cmd: ['redis-server', '--requirepass', 'x'],
        labels,
        publish: [{ containerPort: '6379/tcp', hostIp: '127.0.0.1', hostPort: held.port }],
      });
      const error = await runtime.startContainer(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortConflictError);
      expect(error).toMatchObject({ hostPort: held.port });
      expect((error as Error).message).toMatch(/already in use/);
    } finally {
      await held.close();
    }
  });
});

describe('readiness', () => {
  it('times out with the last log lines of a service that never answers', async () => {
    const labId = registerLab(uniqueId('stuck'));
    const id = await runtime.createContainer({
      image: LOCAL_IMAGES.redis,
      // Something that runs and logs but never serves Redis.
      cmd: ['sh', '-c', 'echo "pretending to boot"; echo "still booting" >&2; sleep 300'],
      labels: { [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId },
      publish: [{ containerPort: '6379/tcp', hostIp: '127.0.0.1' }],
    });
    await runtime.startContainer(id);
    const started = Date.now();
    const error = await waitUntilReady(runtime, SERVICE_CATALOG.redis, id, { user: 'default', password: 'x', database: '0' }, 1_500).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(error).toBeInstanceOf(ReadinessTimeoutError);
    // The engine copies stdout and stderr separately, so their order in the log may vary.
    expect([...(error as ReadinessTimeoutError).lastLogLines].sort()).toEqual(['pretending to boot', 'still booting']);
    expect((error as Error).message).toMatch(/Redis .* was not ready after 2 s/);
    expect((error as Error).message).toContain('still booting');
  });

  it('fails at once, with its log, when the container exits instead of serving', async () => {
    const labId = registerLab(uniqueId('exits'));
    const id = await runtime.createContainer({
      image: LOCAL_IMAGES.redis,
      cmd: ['sh', '-c', 'echo "fatal: bad configuration"; exit 3'],
      labels: { [LABEL_EXTENSION]: '1', [LABEL_LAB]: labId },
      publish: [{ containerPort: '6379/tcp', hostIp: '127.0.0.1' }],
    });
    await runtime.startContainer(id);
    const started = Date.now();
    const error = await waitUntilReady(runtime, SERVICE_CATALOG.redis, id, { user: 'default', password: 'x', database: '0' }, 30_000).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(ReadinessTimeoutError);
    expect((error as Error).message).toMatch(/exit code 3/);
    expect((error as ReadinessTimeoutError).lastLogLines).toContain('fatal: bad configuration');
  });
});
