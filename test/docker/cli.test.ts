/**
 * `data-labs services` against the real engine, run in process: up writes .env and
 * prints the details, status lists the containers, down parks them, up restarts the
 * same ones, reset empties them, down --remove leaves nothing.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli';
import { validManifest, writeFixtureLab } from '../unit/helpers';
import { LOCAL_IMAGES, newRuntime, pgQuery, removeEveryFolder, tempLabDir, uniqueId } from './helpers';

/**
 * A lab of its own (a fixture with a PostgreSQL service), so the test never touches the
 * containers of a real lab someone has open on this engine.
 */
const LAB = uniqueId('cli');
const runtime = newRuntime();
let labsDir: string;

beforeAll(async () => {
  labsDir = await tempLabDir();
  await writeFixtureLab(labsDir, LAB, { ...validManifest(LAB), services: [{ service: 'postgres', count: 1, embedded: true }] });
});

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli({
    argv,
    env: { ...process.env, DATA_LABS_IMAGES: JSON.stringify(LOCAL_IMAGES), DATA_LABS_ROOT: cwd },
    cwd,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    labsDir,
    version: 'test',
  });
  return { code, stdout, stderr };
}

function envValue(env: string, key: string): string {
  const line = env.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) {
    throw new Error(`no ${key} in .env`);
  }
  return line.slice(key.length + 1);
}

afterAll(async () => {
  await removeEveryFolder(runtime, LAB);
});

describe('data-labs services on Docker', () => {
  it('up, status, down, up again, reset, down --remove', async () => {
    const labDir = await tempLabDir();

    const up = await cli(['services', 'up', LAB, labDir], labDir);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^postgres {4}ready on 127\.0\.0\.1:\d+ \(container [0-9a-f]{12}, created\)$/m);
    expect(up.stdout).toContain(`Connection details written to ${path.join(labDir, '.env')}`);
    const env = await fs.readFile(path.join(labDir, '.env'), 'utf8');
    const url = envValue(env, 'DATABASE_URL');
    expect(up.stdout).toContain(url);
    await pgQuery(url, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');

    const status = await cli(['services', 'status', LAB, labDir, '--json'], labDir);
    const parsed = JSON.parse(status.stdout) as { docker: { containers: { service: string; status: string; owner: string; id: string }[] } };
    expect(parsed.docker.containers).toMatchObject([{ service: 'postgres', status: 'running', owner: 'cli' }]);
    const id = parsed.docker.containers[0]!.id;

    const down = await cli(['services', 'down', LAB, labDir], labDir);
    expect(down.stdout).toContain(`Stopped 1 container(s) of ${LAB}; their data is kept`);
    expect((await cli(['services', 'status', LAB, labDir], labDir)).stdout).toMatch(/^postgres {4}exited .* owner parked$/m);

    const again = await cli(['services', 'up', LAB, labDir], labDir);
    expect(again.stdout).toContain(`container ${id.slice(0, 12)}, restarted`);
    const url2 = envValue(await fs.readFile(path.join(labDir, '.env'), 'utf8'), 'DATABASE_URL');
    expect((await pgQuery(url2, 'SELECT id FROM kept')).rows).toEqual([{ id: 42 }]);

    const reset = await cli(['services', 'reset', LAB, labDir], labDir);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(', created)');
    const url3 = envValue(await fs.readFile(path.join(labDir, '.env'), 'utf8'), 'DATABASE_URL');
    expect((await pgQuery(url3, "SELECT to_regclass('kept') AS t")).rows).toEqual([{ t: null }]);

    const removed = await cli(['services', 'down', LAB, labDir, '--remove'], labDir);
    expect(removed.stdout).toContain('Removed 1 container(s)');
    expect((await cli(['services', 'status', LAB, labDir], labDir)).stdout).toContain('Docker: no containers for this lab.');
  });

  it('up for a lab folder that does not exist says to open the lab first', async () => {
    const labDir = await tempLabDir();
    const out = await cli(['services', 'up', LAB, path.join(labDir, 'nope')], labDir);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`does not exist. Open the lab first ("data-labs open ${LAB}")`);
  });
});
