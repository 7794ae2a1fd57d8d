/**
 * The dockerode runtime's error mapping and deadlines, against a fake engine: an HTTP
 * server on a unix socket that answers as the Docker API does. The real engine is
 * exercised by test/docker; these cases are the ones an engine will not produce on cue.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveDockerHost, systemDockerHostInputs } from '../../src/core/services/dockerHost';
import { DockerodeRuntime } from '../../src/core/services/dockerodeRuntime';
import { ContainerRuntimeError, ImageMissingError, PortConflictError } from '../../src/core/services/runtime';
import { useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-fake-engine-');
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Starts a fake engine; `handler` answers each request, and the requests are recorded. */
async function fakeEngine(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ runtime: DockerodeRuntime; log: string[] }> {
  const socketPath = path.join(await tempDir(), 'docker.sock');
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const log: string[] = [];
  const runtime = new DockerodeRuntime({
    host: { endpoint: { kind: 'socket', socketPath }, source: { kind: 'DOCKER_HOST', value: `unix://${socketPath}` }, description: `unix://${socketPath}` },
    logger: { info: (m) => log.push(m), warn: (m) => log.push(m), error: (m) => log.push(m) },
    callTimeoutMs: 300,
  });
  return { runtime, log };
}

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const ID = 'a'.repeat(64);

describe('DockerodeRuntime against a fake engine', () => {
  it('turns "port is already allocated" into PortConflictError with the port', async () => {
    const { runtime, log } = await fakeEngine((_req, res) => answer(res, 500, { message: 'driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:5555 failed: port is already allocated' }));
    const error = await runtime.startContainer(ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortConflictError);
    expect(error).toMatchObject({ hostPort: 5555 });
    // The log names the container by its short id.
    expect(log.some((line) => line.includes('start aaaaaaaaaaaa') && line.includes('PortConflictError'))).toBe(true);
  });

  it('turns a userland-proxy bind failure into PortConflictError', async () => {
    const { runtime } = await fakeEngine((_req, res) => answer(res, 500, { message: 'Error starting userland proxy: listen tcp4 127.0.0.1:6000: bind: address already in use' }));
    await expect(runtime.startContainer(ID)).rejects.toMatchObject({ name: 'PortConflictError', hostPort: 6000 });
  });

  it('turns "No such image" on create into ImageMissingError', async () => {
    const { runtime } = await fakeEngine((_req, res) => answer(res, 404, { message: 'No such image: postgres:15' }));
    await expect(runtime.createContainer({ image: 'postgres:15', labels: {} })).rejects.toBeInstanceOf(ImageMissingError);
  });

  it('treats stopping a stopped container and removing a removed one as done', async () => {
    const { runtime } = await fakeEngine((req, res) => {
      if (req.method === 'DELETE') {
        answer(res, 404, { message: 'No such container' });
      } else {
        res.writeHead(304);
        res.end();
      }
    });
    await expect(runtime.stopContainer(ID, 1)).resolves.toBeUndefined();
    await expect(runtime.removeContainer(ID)).resolves.toBeUndefined();
  });

  it('finishes a removal the engine left half-done, and counts it done only once the id is gone', async () => {
    // What the engine does when a forced removal races a start: the first DELETE fails
    // half-way, the container stays "removal in progress", a second DELETE answers 409.
    const requests: string[] = [];
    let deletes = 0;
    const { runtime } = await fakeEngine((req, res) => {
      requests.push(`${req.method} ${req.url?.split('?')[0] ?? ''}`);
      if (req.method === 'DELETE') {
        deletes++;
        if (deletes === 1) answer(res, 500, { message: 'unable to remove filesystem for x: unlinkat /var/lib/docker/containers/x: directory not empty' });
        else if (deletes === 2) answer(res, 409, { message: 'removal of container x is already in progress' });
        else {
          res.writeHead(204);
          res.end();
        }
      } else {
        answer(res, 200, { Id: ID, Name: '/x', State: { Status: 'removing' }, Config: { Image: 'i', Labels: {} }, NetworkSettings: { Ports: {}, Networks: {} } });
      }
    });
    await expect(runtime.removeContainer(ID)).resolves.toBeUndefined();
    expect(requests.filter((r) => r.startsWith('DELETE'))).toHaveLength(3);
    expect(requests.filter((r) => r.startsWith('GET'))).toHaveLength(2);
  });

  it('gives up on an engine that never answers, within the call deadline', async () => {
    const { runtime } = await fakeEngine(() => {
      // Never answers.
    });
    const started = Date.now();
    const error = await runtime.inspectContainer(ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContainerRuntimeError);
    expect((error as Error).message).toMatch(/did not answer "inspect aaaaaaaaaaaa" within/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reads published ports and state from inspect', async () => {
    const { runtime } = await fakeEngine((_req, res) =>
      answer(res, 200, {
        Id: ID,
        Name: '/datalabs-x-postgres-abc',
        Config: { Image: 'postgres:15', Labels: { 'dev.datalabs.lab': 'x' } },
        State: { Status: 'running', ExitCode: 0 },
        NetworkSettings: { Ports: { '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '49153' }], '9999/tcp': null }, Networks: { 'datalabs-x': {} } },
      }),
    );
    expect(await runtime.inspectContainer(ID)).toEqual({
      id: ID,
      name: 'datalabs-x-postgres-abc',
      image: 'postgres:15',
      status: 'running',
      labels: { 'dev.datalabs.lab': 'x' },
      ports: [{ containerPort: '5432/tcp', hostIp: '127.0.0.1', hostPort: 49153 }],
      networks: ['datalabs-x'],
    });
  });
});

describe('DockerodeRuntime over TLS (DOCKER_TLS_VERIFY), against a real TLS server that wants a client certificate', () => {
  /** A CA, the engine's certificate for 127.0.0.1 and a client's, made with openssl in a new folder. */
  async function certificates(): Promise<{ dir: string; server: { key: Buffer; cert: Buffer; ca: Buffer } }> {
    const dir = await tempDir();
    const run = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    };
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test engine CA');
    await fs.writeFile(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-days', '2', '-extfile', 'san.cnf');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=learner');
    run('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2');
    const read = (name: string): Promise<Buffer> => fs.readFile(path.join(dir, name));
    return { dir, server: { key: await read('server-key.pem'), cert: await read('server-cert.pem'), ca: await read('ca.pem') } };
  }

  it('pings the engine with the certificates of DOCKER_CERT_PATH, its CA checked and the client certificate presented', async () => {
    const { dir, server: material } = await certificates();
    const clients: string[] = [];
    const server = https.createServer({ ...material, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      clients.push(`${String(peer.subject?.CN)} ${req.url ?? ''}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir };
      const tls = new DockerodeRuntime({ host: resolveDockerHost(systemDockerHostInputs(env)), callTimeoutMs: 5_000 });
      await tls.ping();
      expect(clients).toEqual(['learner /_ping']);
      // Without DOCKER_TLS_VERIFY, as before: plain HTTP to a TLS engine gets nowhere.
      const plain = new DockerodeRuntime({ host: resolveDockerHost(systemDockerHostInputs({ DOCKER_HOST: `tcp://127.0.0.1:${port}` })), callTimeoutMs: 2_000, isDockerInstalled: () => true });
      await expect(plain.ping()).rejects.toThrow();
      expect(clients).toHaveLength(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names the certificate it cannot read, and the setting that chose its folder', async () => {
    const empty = await tempDir();
    const host = resolveDockerHost(systemDockerHostInputs({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: empty }));
    expect(() => new DockerodeRuntime({ host })).toThrow(new RegExp(`${path.join(empty, 'ca.pem').replace(/[/.]/g, '\\$&')} cannot be read \\(ENOENT\\)\\. Point DOCKER_CERT_PATH`));
  });
});
