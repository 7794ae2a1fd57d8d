import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from '../../src/cli/cli';
import { CHECKLIST, SECTIONS } from '../../src/core/curriculum/curriculum';
import { PROGRESS_FILE_NAME, ProgressStore } from '../../src/core/curriculum/progress';
import { LAB_MARKER_FILE, readLabMarker } from '../../src/core/labs/scaffold';
import { REAL_LABS_DIR, STARTER_FILES, exists, useTempDirs, validManifest, writeFixtureLab } from './helpers';

const tempDir = useTempDirs('ddl-cli-');

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A catalog with one good lab and one broken one. */
let labsDir: string;
let progressDir: string;
let labsRoot: string;
let cwd: string;

beforeAll(async () => {
  labsDir = await tempDir();
  await writeFixtureLab(labsDir, 'demo-lab');
  await writeFixtureLab(labsDir, 'broken-lab', { ...validManifest('broken-lab'), section: 'sharding' });
});

beforeEach(async () => {
  progressDir = path.join(await tempDir(), 'progress');
  labsRoot = path.join(await tempDir(), 'my-labs');
  cwd = await tempDir();
});

async function cli(argv: readonly string[], options: { labs?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runCli({
    argv,
    env: options.env ?? { DATA_LABS_PROGRESS_DIR: progressDir, DATA_LABS_ROOT: labsRoot },
    cwd,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    labsDir: options.labs ?? labsDir,
    version: '1.2.3',
  });
  return { code, stdout, stderr };
}

describe('usage', () => {
  it.each([['--help'], ['-h'], ['help']])('%s prints the help and exits 0', async (flag) => {
    const out = await cli([flag]);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain('Usage:');
    for (const command of ['data-labs list', 'data-labs open <lab> [dir]', 'data-labs validate', '--no-install', 'DATA_LABS_ROOT', 'DATA_LABS_PROGRESS_DIR']) {
      expect(out.stdout).toContain(command);
    }
    expect(out.stderr).toBe('');
  });

  it('with no arguments prints the help and exits 2', async () => {
    const out = await cli([]);
    expect(out.code).toBe(EXIT_USAGE);
    expect(EXIT_USAGE).toBe(2);
    expect(out.stdout).toContain('Usage:');
  });

  it('--version prints the version', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: '1.2.3\n', stderr: '' });
    expect((await cli(['-v'])).stdout).toBe('1.2.3\n');
  });

  it('an unknown command exits 2 and says so', async () => {
    expect(await cli(['frobnicate'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'data-labs: Unknown command "frobnicate".\nRun "data-labs --help" for usage.\n',
    });
  });

  it('an unknown option exits 2 and names it', async () => {
    const out = await cli(['list', '--bogus']);
    expect(out.code).toBe(EXIT_USAGE);
    expect(out.stderr).toContain('Unknown option --bogus.');
    expect(out.stdout).toBe('');
    expect((await cli(['open', 'demo-lab', '--force'])).code).toBe(EXIT_USAGE);
    expect((await cli(['validate', '--json'])).code).toBe(EXIT_USAGE);
  });

  it('open without a lab, or with too many arguments, exits 2', async () => {
    const none = await cli(['open']);
    expect(none.code).toBe(EXIT_USAGE);
    expect(none.stderr).toContain('open needs a lab id');
    const many = await cli(['open', 'demo-lab', 'a', 'b']);
    expect(many.code).toBe(EXIT_USAGE);
    expect(many.stderr).toContain('got also b');
  });

  it.each([['list'], ['open'], ['validate']])('%s --help prints that command\'s usage', async (command) => {
    const out = await cli([command, '--help']);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain(`Usage: data-labs ${command}`);
  });
});

describe('list', () => {
  it('shows every checklist item, the sections with counts, the labs and broken labs', async () => {
    const out = await cli(['list']);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stderr).toBe('');
    const lines = out.stdout.split('\n');
    expect(lines[0]).toBe('Progress: 0/17 checklist items');
    // Which file it read, so that the CLI and an editor can be seen to agree.
    expect(lines[1]).toBe(`(from ${path.join(progressDir, PROGRESS_FILE_NAME)}; DATA_LABS_PROGRESS_DIR chooses another folder)`);
    expect(lines.filter((l) => l.startsWith('  [ ]  ')).map((l) => l.slice(7))).toEqual(CHECKLIST.map((i) => i.label));
    for (const [title, total] of [['Database Types', 5], ['Consistency Patterns', 4], ['Replication', 4], ['Hands-On Project', 4]] as const) {
      expect(lines).toContain(`${title}  0/${total}`);
    }
    expect(out.stdout).toMatch(/^ {2}lab {2}demo-lab +Demo lab \(not started\)$/m);
    expect(out.stdout).toContain('Broken lab "broken-lab":');
    expect(out.stdout).toContain('field "section"');
    // Nothing was written just by listing.
    expect(await exists(path.join(progressDir, PROGRESS_FILE_NAME))).toBe(false);
  });

  it('shows progress ticked through the store in the same folder', async () => {
    const store = await ProgressStore.open({ dir: progressDir });
    await store.tick('understand-relational-vs-nosql');
    await store.tick('try-multi-master');
    await store.recordLabOpened('demo-lab');
    const out = await cli(['list']);
    expect(out.stdout).toContain('Progress: 2/17 checklist items');
    expect(out.stdout).toContain('Database Types  1/5');
    expect(out.stdout).toContain('Replication  1/4');
    expect(out.stdout).toContain('Consistency Patterns  0/4');
    expect(out.stdout).toContain('  [x]  Understand relational vs NoSQL');
    expect(out.stdout).toContain('  [x]  Try multi-master');
    expect(out.stdout).toContain('  [ ]  Learn document database (MongoDB)');
    expect(out.stdout).toMatch(/demo-lab +Demo lab \(opened\)/);
    await store.recordLabPassed('demo-lab', ['compare-trade-offs']);
    const after = await cli(['list']);
    expect(after.stdout).toContain('Database Types  2/5');
    expect(after.stdout).toMatch(/demo-lab +Demo lab \(passed\)/);
  });

  it('--json gives the whole picture in a stable shape', async () => {
    const store = await ProgressStore.open({ dir: progressDir });
    await store.tick('compare-trade-offs');
    const out = await cli(['list', '--json']);
    expect(out.code).toBe(EXIT_OK);
    const json = JSON.parse(out.stdout) as {
      progressFile: string;
      overall: { done: number; total: number };
      sections: Array<{ id: string; title: string; done: number; total: number; checklist: Array<{ id: string; label: string; done: boolean }>; labs: Array<Record<string, unknown>> }>;
      brokenLabs: Array<{ id: string; problems: string[] }>;
    };
    expect(Object.keys(json)).toEqual(['progressFile', 'overall', 'sections', 'brokenLabs']);
    expect(json.progressFile).toBe(path.join(progressDir, PROGRESS_FILE_NAME));
    expect(json.overall).toEqual({ done: 1, total: 17 });
    expect(json.sections.map((s) => [s.id, s.title, s.done, s.total])).toEqual(SECTIONS.map((s) => [s.id, s.title, s.id === 'database-types' ? 1 : 0, s.checklist.length]));
    expect(json.sections.flatMap((s) => s.checklist)).toEqual(CHECKLIST.map((i) => ({ id: i.id, label: i.label, done: i.id === 'compare-trade-offs' })));
    expect(json.sections[0]?.labs).toEqual([
      { id: 'demo-lab', title: 'Demo lab', completes: ['understand-relational-vs-nosql', 'compare-trade-offs'], services: [], openedAt: null, passedAt: null },
    ]);
    expect(json.sections.slice(1).every((s) => s.labs.length === 0)).toBe(true);
    expect(json.brokenLabs).toHaveLength(1);
    expect(json.brokenLabs[0]?.id).toBe('broken-lab');
    expect(json.brokenLabs[0]?.problems[0]).toContain(`${path.join(labsDir, 'broken-lab', 'lab.json')}: field "section"`);
  });

  it('reports an unreadable progress file on stderr, keeps it, and still lists', async () => {
    await fs.mkdir(progressDir, { recursive: true });
    await fs.writeFile(path.join(progressDir, PROGRESS_FILE_NAME), 'garbage');
    const out = await cli(['list']);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stderr).toMatch(/^data-labs: your progress file was unreadable \(not valid JSON.*\); it was kept as .*progress\.corrupt-.*\.json\.\n$/);
    expect(out.stdout).toContain('Progress: 0/17');
    const kept = (await fs.readdir(progressDir)).filter((n) => n.startsWith('progress.corrupt-'));
    expect(kept).toHaveLength(1);
    expect(await fs.readFile(path.join(progressDir, kept[0] as string), 'utf8')).toBe('garbage');
  });

  it('leaves a progress file written by a newer version as it is, saying so, and still lists', async () => {
    await fs.mkdir(progressDir, { recursive: true });
    const newer = JSON.stringify({ version: 9, items: {}, labs: {} });
    await fs.writeFile(path.join(progressDir, PROGRESS_FILE_NAME), newer);
    const out = await cli(['list']);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stderr).toMatch(/your progress file .*progress\.json was written by a newer version of Data Labs \(schema 9; this one reads 1\); it is left as it is/);
    expect(await fs.readFile(path.join(progressDir, PROGRESS_FILE_NAME), 'utf8')).toBe(newer);
    expect((await fs.readdir(progressDir)).filter((n) => n.startsWith('progress.corrupt-'))).toEqual([]);
  });

  it('works with no labs at all', async () => {
    const out = await cli(['list'], { labs: path.join(cwd, 'no-labs-here') });
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain('Progress: 0/17');
    expect(out.stdout).not.toContain('  lab  ');
  });
});

describe('open', () => {
  it('an unknown lab exits 1 and lists the known labs', async () => {
    const out = await cli(['open', 'no-such-lab', path.join(cwd, 'x'), '--no-install']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stderr).toBe('data-labs: there is no lab "no-such-lab". Known labs: broken-lab, demo-lab.\n');
    expect(await exists(path.join(cwd, 'x'))).toBe(false);
  });

  it('creates the lab and exits 0 when its progress cannot be recorded, saying why', async () => {
    const fileNotFolder = path.join(cwd, 'progress-is-a-file');
    await fs.writeFile(fileNotFolder, 'x');
    const target = path.join(cwd, 'lab-despite-progress');
    const out = await cli(['open', 'demo-lab', target, '--no-install'], { env: { DATA_LABS_PROGRESS_DIR: fileNotFolder, DATA_LABS_ROOT: labsRoot } });
    expect(out.code).toBe(EXIT_OK);
    expect(out.stderr).toMatch(/the lab is ready, but opening it was not recorded in your progress: Your progress file .*progress-is-a-file\/progress\.json cannot be read: a part of its path is a file, not a folder/);
    expect(await exists(path.join(target, '.data-lab.json'))).toBe(true);
  });

  it('a broken lab exits 1 and names its problems', async () => {
    const out = await cli(['open', 'broken-lab', path.join(cwd, 'x'), '--no-install']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stderr).toContain('lab "broken-lab" has a broken manifest');
    expect(out.stderr).toContain(`${path.join(labsDir, 'broken-lab', 'lab.json')}: field "section"`);
  });

  it('an unwritable folder exits 1 with a message that names it and says what to do', async () => {
    const afile = path.join(cwd, 'afile');
    await fs.writeFile(afile, 'not a folder');
    const out = await cli(['open', 'demo-lab', path.join(afile, 'sub'), '--no-install']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stderr).toBe(`data-labs: ${afile} is a file, not a folder. Choose another folder for your labs.\n`);
    expect(out.stdout).toBe('');
    // Nothing was recorded for a lab that could not be opened.
    expect(await exists(path.join(progressDir, PROGRESS_FILE_NAME))).toBe(false);
  });

  it('<lab> <dir> --no-install creates the files and records the lab as opened', async () => {
    const target = path.join(cwd, 'here', 'demo');
    const out = await cli(['open', 'demo-lab', target, '--no-install']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain(`Lab "Demo lab" is in ${target}\n`);
    expect(out.stdout).toContain('created 5 file(s)\n');
    expect(out.stdout).not.toContain('Installing');
    expect(out.stdout).toContain(`Next: read ${path.join(target, 'README.md')}, edit ${path.join(target, 'src/main.ts')}`);
    for (const [relative, text] of Object.entries(STARTER_FILES)) {
      expect(await fs.readFile(path.join(target, relative), 'utf8')).toBe(text);
    }
    expect(await readLabMarker(target)).toMatchObject({ lab: 'demo-lab', productVersion: '1.2.3' });
    const store = await ProgressStore.open({ dir: progressDir });
    expect(store.snapshot().labs['demo-lab']?.openedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(store.hasStarted()).toBe(true);
    expect(CHECKLIST.some((i) => store.isDone(i.id))).toBe(false);
  });

  it('a second open keeps the learner\'s files and says so', async () => {
    const target = path.join(cwd, 'demo');
    await cli(['open', 'demo-lab', target, '--no-install']);
    await fs.writeFile(path.join(target, 'src/main.ts'), 'my answer\n');
    const out = await cli(['open', 'demo-lab', target, '--no-install']);
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain('created 0 file(s), kept 4 of yours unchanged');
    expect(await fs.readFile(path.join(target, 'src/main.ts'), 'utf8')).toBe('my answer\n');
  });

  it('without a folder, opens into $DATA_LABS_ROOT/<lab>; a relative folder is taken from the cwd', async () => {
    expect((await cli(['open', 'demo-lab', '--no-install'])).code).toBe(EXIT_OK);
    expect(await exists(path.join(labsRoot, 'demo-lab', LAB_MARKER_FILE))).toBe(true);
    expect((await cli(['open', '--no-install', 'demo-lab', 'rel/dir'])).code).toBe(EXIT_OK);
    expect(await exists(path.join(cwd, 'rel', 'dir', 'src', 'main.ts'))).toBe(true);
  });

  it('without --no-install, installs the lab\'s dependencies with npm', async () => {
    const target = path.join(cwd, 'installed');
    const out = await cli(['open', 'demo-lab', target]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toContain('Installing the lab\'s dependencies');
    expect(await exists(path.join(target, 'node_modules', '.data-labs-installed'))).toBe(true);
    // Installed once: a second open does not install again.
    const again = await cli(['open', 'demo-lab', target]);
    expect(again.stdout).not.toContain('Installing');
  }, 120_000);
});

describe('validate', () => {
  it('passes on the real labs/ folder', async () => {
    const out = await cli(['validate'], { labs: REAL_LABS_DIR });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toMatch(/^\d+ valid, 0 invalid$/m);
    expect(out.stdout).not.toMatch(/^0 valid/m);
  });

  it('fails on a broken manifest, naming the file and the field on stderr', async () => {
    const out = await cli(['validate']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stdout).toContain('ok    demo-lab\n');
    expect(out.stdout).toContain('1 valid, 1 invalid\n');
    expect(out.stderr).toContain(`error ${path.join(labsDir, 'broken-lab', 'lab.json')}: field "section"`);
  });

  it('takes a labs folder argument, relative to the cwd', async () => {
    const dir = path.join(cwd, 'other-labs');
    await writeFixtureLab(dir, 'only-lab', { ...validManifest('only-lab'), tests: ['test/missing.test.ts'] });
    const out = await cli(['validate', 'other-labs']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stderr).toBe(
      `error ${path.join(dir, 'only-lab', 'lab.json')}: field "tests.0" "test/missing.test.ts" is not listed in starter.files\n`,
    );
  });

  it('fails when there are no labs at all', async () => {
    const out = await cli(['validate', 'empty']);
    expect(out.code).toBe(EXIT_FAILURE);
    expect(out.stderr).toBe(`data-labs: no labs found in ${path.join(cwd, 'empty')}.\n`);
  });
});

describe('services', () => {
  it('--help documents every action, the backend and DATA_LABS_IMAGES', async () => {
    const out = await cli(['services', '--help']);
    expect(out.code).toBe(EXIT_OK);
    for (const text of ['services up <lab> [dir]', 'services down', 'services status', 'services reset', '--backend docker|embedded', '--remove', 'DATA_LABS_IMAGES']) {
      expect(out.stdout).toContain(text);
    }
    expect((await cli(['--help'])).stdout).toContain('data-labs services up|down|status|reset <lab>');
  });

  it.each([
    [['services'], 'services needs an action: up, down, status or reset.'],
    [['services', 'start', 'demo-lab'], 'Unknown services action "start": use up, down, status or reset.'],
    [['services', 'up'], 'services up needs a lab id'],
    [['services', 'up', 'demo-lab', 'a', 'b'], 'takes a lab and at most one folder; got also b'],
    [['services', 'up', 'demo-lab', '--backend', 'kubernetes'], '--backend must be docker or embedded, not "kubernetes".'],
    [['services', 'up', 'demo-lab', '--backend'], '--backend needs a value.'],
    [['services', 'up', 'demo-lab', '--frobnicate'], 'Unknown option --frobnicate.'],
  ])('%j is a usage error', async (argv, message) => {
    const out = await cli(argv);
    expect(out.code).toBe(EXIT_USAGE);
    expect(out.stderr).toContain(message);
  });

  it('rejects a DATA_LABS_IMAGES that is not a JSON object of strings', async () => {
    for (const value of ['postgres=mirror/postgres:15', '["x"]', '{"postgres": 15}']) {
      const out = await cli(['services', 'status', 'demo-lab'], { env: { DATA_LABS_PROGRESS_DIR: progressDir, DATA_LABS_ROOT: labsRoot, DATA_LABS_IMAGES: value } });
      expect(out.code).toBe(EXIT_USAGE);
      expect(out.stderr).toContain('DATA_LABS_IMAGES must be a JSON object mapping services to images');
    }
  });

  it('names the known labs for an unknown one, and the problems of a broken one', async () => {
    const unknown = await cli(['services', 'up', 'no-such-lab']);
    expect(unknown.code).toBe(EXIT_FAILURE);
    expect(unknown.stderr).toContain('there is no lab "no-such-lab". Known labs:');
    const broken = await cli(['services', 'up', 'broken-lab']);
    expect(broken.code).toBe(EXIT_FAILURE);
    expect(broken.stderr).toContain('lab "broken-lab" has a broken manifest');
  });

  it('a lab without databases needs nothing started', async () => {
    const out = await cli(['services', 'up', 'demo-lab', cwd]);
    expect(out).toMatchObject({ code: EXIT_OK, stdout: 'Lab demo-lab needs no databases.\n' });
  });
});

describe('services down without Docker', () => {
  it('stops nothing on an engine it cannot reach, says so, and succeeds', async () => {
    const out = await cli(['services', 'down', 'demo-lab', cwd], {
      env: { DATA_LABS_PROGRESS_DIR: progressDir, DATA_LABS_ROOT: labsRoot, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT_OK);
    expect(out.stdout).toMatch(/^Docker is not reachable, so no containers were stopped: Docker is (installed but its daemon is not running|not installed) \(unix:\/\/\/nonexistent\/docker\.sock/);
    expect(out.stdout).not.toContain('No running containers');
  });

  it('with --backend embedded, does not ask Docker at all', async () => {
    const out = await cli(['services', 'down', 'demo-lab', cwd, '--backend', 'embedded'], {
      env: { DATA_LABS_PROGRESS_DIR: progressDir, DATA_LABS_ROOT: labsRoot, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    expect(out).toEqual({ code: EXIT_OK, stdout: '', stderr: '' });
  });
});

describe('check-history', () => {
  const write = async (name: string, text: string): Promise<string> => {
    await fs.writeFile(path.join(cwd, name), text);
    return name;
  };

  it('exits 0 for a linearizable Jepsen log and 1 for one that is not, naming what cannot come next', async () => {
    const good = await write('good.log', 'INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:write\t1\n');
    const ok = await cli(['check-history', good]);
    expect(ok.code).toBe(EXIT_OK);
    expect(ok.stdout).toMatch(/^linearizable: 2 operations/);
    const bad = await write('bad.json', JSON.stringify([
      { process: 0, type: 'invoke', f: 'write', key: 'x', value: 1 },
      { process: 0, type: 'ok', f: 'write', key: 'x', value: 1 },
      { process: 1, type: 'invoke', f: 'read', key: 'x' },
      { process: 1, type: 'ok', f: 'read', key: 'x', value: null },
    ]));
    const no = await cli(['check-history', bad, '--model', 'kv']);
    expect(no.code).toBe(EXIT_FAILURE);
    expect(no.stdout).toContain('NOT linearizable (key x)');
    expect(no.stdout).toContain('process 1 read x → null');
    const asJson = JSON.parse((await cli(['check-history', bad, '--model', 'kv', '--json'])).stdout) as { verdict: string; key: string };
    expect(asJson).toMatchObject({ verdict: 'not-linearizable', key: 'x' });
  });

  it('shows the control characters of a history\'s values instead of sending them to the terminal, and --json keeps them as they were', async () => {
    const hostile = '\u001b]0;owned\u0007\u001b[2J\u009b1A\u202eevil';
    const file = await write('hostile.json', JSON.stringify([
      { process: 0, type: 'invoke', f: 'write', key: 'x', value: hostile },
      { process: 0, type: 'ok', f: 'write', key: 'x', value: hostile },
      { process: 1, type: 'invoke', f: 'read', key: 'x' },
      { process: 1, type: 'ok', f: 'read', key: 'x', value: 'other' },
    ]));
    const text = await cli(['check-history', file, '--model', 'kv']);
    expect(text.stdout).toContain('NOT linearizable');
    expect(text.stdout).toContain('\\u001b]0;owned\\u0007\\u001b[2J\\u009b1A\\u202eevil');
    const asJson = await cli(['check-history', file, '--model', 'kv', '--json']);
    for (const out of [text.stdout, text.stderr, asJson.stdout, asJson.stderr]) {
      // eslint-disable-next-line no-control-regex -- looking for raw control characters
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    }
    expect(JSON.stringify(JSON.parse(asJson.stdout))).toContain(JSON.stringify(hostile).slice(1, -1));
    const unreadable = await write('hostile-name.log', '0\t:invoke\t:read\t\u001b[31mred\n');
    expect((await cli(['check-history', unreadable])).stderr).toMatch(/cannot read the value "\\u001b\[31mred"/);
  });

  it('says what is wrong with a file, a model or the arguments', async () => {
    expect((await cli(['check-history', 'missing.log'])).stderr).toMatch(/cannot read .*missing\.log/);
    const broken = await write('broken.json', '[{"process":0,"type":"done","f":"read"}]');
    expect((await cli(['check-history', broken])).stderr).toContain('event 0: "type" must be invoke, ok, fail or info');
    const model = await cli(['check-history', broken, '--model', 'set']);
    expect(model.code).toBe(EXIT_USAGE);
    expect(model.stderr).toContain('--model must be register, cas-register, kv, not "set".');
    expect((await cli(['check-history'])).code).toBe(EXIT_USAGE);
  });
});
