import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DockerHostInputs, DockerHostError, contextMetaFile, parseDockerHost, resolveDockerHost } from '../../src/core/services/dockerHost';

const HOME = '/home/ada';

/** An in-memory file system: the files it holds, and the sockets that "exist". */
function inputs(env: Record<string, string>, files: Record<string, string> = {}, sockets: string[] = [], platform: NodeJS.Platform = 'linux'): DockerHostInputs {
  return {
    env,
    homeDir: HOME,
    platform,
    fs: {
      readText: (file) => files[file],
      exists: (file) => sockets.includes(file) || file in files,
    },
  };
}

function contextFiles(name: string, host: string, configDir = path.join(HOME, '.docker')): Record<string, string> {
  return { [contextMetaFile(configDir, name)]: JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }) };
}

describe('parseDockerHost', () => {
  it('reads unix, tcp and npipe addresses', () => {
    expect(parseDockerHost('unix:///run/user/1000/docker.sock', 'x')).toEqual({ kind: 'socket', socketPath: '/run/user/1000/docker.sock' });
    expect(parseDockerHost('tcp://10.0.0.5:2375', 'x')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375, tls: false });
    expect(parseDockerHost('tcp://docker.local', 'x')).toEqual({ kind: 'tcp', host: 'docker.local', port: 2375, tls: false });
    expect(parseDockerHost('npipe:////./pipe/docker_engine', 'x')).toEqual({ kind: 'socket', socketPath: '//./pipe/docker_engine' });
  });

  it('refuses what it cannot use, naming where the value came from', () => {
    expect(() => parseDockerHost('ssh://me@box', 'DOCKER_HOST')).toThrow(/DOCKER_HOST.*ssh:\/\/ is not supported/);
    expect(() => parseDockerHost('/var/run/docker.sock', 'DOCKER_HOST')).toThrow(DockerHostError);
    expect(() => parseDockerHost('unix://', 'DOCKER_HOST')).toThrow(/no socket path/);
  });
});

describe('resolveDockerHost', () => {
  it('prefers DOCKER_HOST over everything else', () => {
    const choice = resolveDockerHost(inputs({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_CONTEXT: 'colima' }, contextFiles('colima', 'unix:///c.sock'), ['/var/run/docker.sock']));
    expect(choice.endpoint).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2376, tls: false });
    expect(choice.source).toEqual({ kind: 'DOCKER_HOST', value: 'tcp://127.0.0.1:2376' });
    expect(choice.description).toBe('tcp://127.0.0.1:2376');
  });

  it('uses DOCKER_CONTEXT, found under the SHA-256 of its name', () => {
    const digest = createHash('sha256').update('colima').digest('hex');
    expect(contextMetaFile('/cfg', 'colima')).toBe(path.join('/cfg', 'contexts', 'meta', digest, 'meta.json'));
    const choice = resolveDockerHost(inputs({ DOCKER_CONTEXT: 'colima' }, contextFiles('colima', 'unix:///home/ada/.colima/docker.sock'), ['/var/run/docker.sock']));
    expect(choice.endpoint).toEqual({ kind: 'socket', socketPath: '/home/ada/.colima/docker.sock' });
    expect(choice.source.kind).toBe('context');
  });

  it('uses currentContext from config.json, honouring DOCKER_CONFIG', () => {
    const files = {
      '/cfg/config.json': JSON.stringify({ auths: {}, currentContext: 'remote' }),
      ...contextFiles('remote', 'tcp://build.example:2375', '/cfg'),
    };
    const choice = resolveDockerHost(inputs({ DOCKER_CONFIG: '/cfg' }, files, ['/var/run/docker.sock']));
    expect(choice.endpoint).toEqual({ kind: 'tcp', host: 'build.example', port: 2375, tls: false });
    expect(choice.source).toMatchObject({ kind: 'context', context: 'remote' });
  });

  it('treats the "default" context as no context', () => {
    const files = { [path.join(HOME, '.docker', 'config.json')]: JSON.stringify({ currentContext: 'default' }) };
    expect(resolveDockerHost(inputs({}, files, ['/var/run/docker.sock'])).source.kind).toBe('default-socket');
  });

  it('fails loudly for a context that does not exist, rather than using another engine', () => {
    expect(() => resolveDockerHost(inputs({ DOCKER_CONTEXT: 'gone' }, {}, ['/var/run/docker.sock']))).toThrow(/context "gone".*does not exist/);
  });

  it('ignores an unreadable config.json and falls back to the default socket', () => {
    const files = { [path.join(HOME, '.docker', 'config.json')]: '{ not json' };
    const choice = resolveDockerHost(inputs({}, files, ['/var/run/docker.sock']));
    expect(choice.endpoint).toEqual({ kind: 'socket', socketPath: '/var/run/docker.sock' });
    expect(choice.description).toBe('unix:///var/run/docker.sock');
  });

  it("finds Podman's socket when Docker's is absent: the user's first, then the system's", () => {
    const user = resolveDockerHost(inputs({ XDG_RUNTIME_DIR: '/run/user/1000' }, {}, ['/run/user/1000/podman/podman.sock', '/run/podman/podman.sock']));
    expect(user.endpoint).toEqual({ kind: 'socket', socketPath: '/run/user/1000/podman/podman.sock' });
    expect(user.source.kind).toBe('podman-socket');
    const system = resolveDockerHost(inputs({}, {}, ['/run/podman/podman.sock']));
    expect(system.endpoint).toEqual({ kind: 'socket', socketPath: '/run/podman/podman.sock' });
  });

  it('falls back to the usual socket when nothing exists, so errors name it', () => {
    const choice = resolveDockerHost(inputs({}, {}, []));
    expect(choice.endpoint).toEqual({ kind: 'socket', socketPath: '/var/run/docker.sock' });
    expect(choice.source.kind).toBe('fallback');
  });

  it("uses Docker Desktop's pipe on Windows", () => {
    expect(resolveDockerHost(inputs({}, {}, [], 'win32')).endpoint).toEqual({ kind: 'socket', socketPath: '//./pipe/docker_engine' });
  });
});

describe('DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI reads them', () => {
  it('turn TLS on for a tcp:// DOCKER_HOST, with the certificates from DOCKER_CERT_PATH, else the docker config folder', () => {
    expect(resolveDockerHost(inputs({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' })).endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2376, tls: true, certDir: '/certs' });
    const byDefault = resolveDockerHost(inputs({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1' }));
    expect(byDefault.endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2376, tls: true, certDir: path.join(HOME, '.docker') });
    expect(byDefault.description).toBe('https://10.0.0.5:2376');
    expect(resolveDockerHost(inputs({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: '/etc/dock' })).endpoint).toMatchObject({ certDir: '/etc/dock' });
  });

  it('leave plain tcp:// plain when DOCKER_TLS_VERIFY is unset or empty, and mean nothing for a socket', () => {
    expect(resolveDockerHost(inputs({ DOCKER_HOST: 'tcp://10.0.0.5:2375', DOCKER_TLS_VERIFY: '' })).endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375, tls: false });
    expect(resolveDockerHost(inputs({ DOCKER_HOST: 'unix:///var/run/docker.sock', DOCKER_TLS_VERIFY: '1' })).endpoint).toEqual({ kind: 'socket', socketPath: '/var/run/docker.sock' });
  });
});
