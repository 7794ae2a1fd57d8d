import { describe, expect, it } from 'vitest';
import { type ManifestProblem, SERVICE_KINDS, formatProblem, labManifestSchema, parseManifest } from '../../src/core/labs/manifest';
import { validManifest } from './helpers';

const FILE = '/labs/demo-lab/lab.json';

function problemsOf(manifest: unknown): readonly ManifestProblem[] {
  const result = parseManifest(typeof manifest === 'string' ? manifest : JSON.stringify(manifest), FILE);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.problems;
}

function withStarter(patch: Record<string, unknown>): Record<string, unknown> {
  const base = validManifest();
  return { ...base, starter: { ...(base['starter'] as object), ...patch } };
}

describe('parseManifest', () => {
  it('accepts a valid manifest and fills in the defaults', () => {
    const manifest = validManifest();
    delete manifest['services'];
    delete manifest['readme'];
    const result = parseManifest(JSON.stringify(manifest), FILE);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.manifest.id).toBe('demo-lab');
      expect(result.manifest.services).toEqual([]);
      expect(result.manifest.readme).toBe('README.md');
      expect(result.manifest.starter.main).toBe('src/main.ts');
      expect(result.manifest.estimatedMinutes).toBeUndefined();
    }
  });

  it('defaults a service\'s count, embedded flag and sameCredentials', () => {
    const result = parseManifest(JSON.stringify({ ...validManifest(), services: [{ service: 'postgres' }] }), FILE);
    expect(result.ok && result.manifest.services).toEqual([{ service: 'postgres', count: 1, embedded: false, sameCredentials: false }]);
    const shared = parseManifest(JSON.stringify({ ...validManifest(), services: [{ service: 'postgres', count: 2, sameCredentials: true }] }), FILE);
    expect(shared.ok && shared.manifest.services).toEqual([{ service: 'postgres', count: 2, embedded: false, sameCredentials: true }]);
    expect(problemsOf({ ...validManifest(), services: [{ service: 'postgres', sameCredentials: 'yes' }] }).map((p) => p.field)).toEqual(['services.0.sameCredentials']);
    expect(SERVICE_KINDS).toContain('postgres');
  });

  it('takes PostgreSQL server settings for Docker, and refuses them for Redis, an embedded service or a value that is not plain', () => {
    const settings = { max_prepared_transactions: '64' };
    const ok = parseManifest(JSON.stringify({ ...validManifest(), services: [{ service: 'postgres', count: 3, settings }] }), FILE);
    expect(ok.ok && ok.manifest.services).toEqual([{ service: 'postgres', count: 3, embedded: false, sameCredentials: false, settings }]);
    const messages = (services: unknown[]): string[] => problemsOf({ ...validManifest(), services }).map((p) => `${p.field ?? ''}: ${p.message}`);
    expect(messages([{ service: 'redis', settings }])).toEqual([expect.stringMatching(/^services\.0\.settings: settings are PostgreSQL server settings/)]);
    expect(messages([{ service: 'postgres', embedded: true, settings }])).toEqual([expect.stringMatching(/^services\.0\.settings: settings are applied to Docker containers only/)]);
    expect(messages([{ service: 'postgres', settings: { max_prepared_transactions: '64; DROP' } }])).toEqual([expect.stringMatching(/must be a plain value/)]);
    expect(messages([{ service: 'postgres', settings: { 'Bad-Name': '1' } }])).toEqual([expect.stringMatching(/must be a PostgreSQL setting name/)]);
  });

  it('reports invalid JSON for the whole file, never throwing', () => {
    const problems = problemsOf('{ "id": "demo-lab", ');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: FILE, field: '' });
    expect(problems[0]?.message).toMatch(/^is not valid JSON/);
  });

  // Each broken manifest is reported with its file and the dotted path of the field.
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a missing field', (() => { const m = validManifest(); delete m['title']; return m; })(), 'title', /string/],
    ['a missing nested field', withStarter({ main: undefined }), 'starter.main', /string/],
    ['an unknown section', { ...validManifest(), section: 'sharding' }, 'section', /database-types/],
    ['an unknown checklist id', { ...validManifest(), completes: ['compare-trade-offs', 'learn-sharding'] }, 'completes.1', /is not a checklist item id/],
    ['no checklist ids at all', { ...validManifest(), completes: [] }, 'completes', /.+/],
    ['starter.main not in starter.files', withStarter({ main: 'src/other.ts' }), 'starter.main', /"src\/other\.ts" is not listed in starter\.files/],
    ['a test not in starter.files', { ...validManifest(), tests: ['test/main.test.ts', 'test/hidden.test.ts'] }, 'tests.1', /"test\/hidden\.test\.ts" is not listed in starter\.files/],
    ['a starter file with ".."', withStarter({ files: ['package.json', 'src/main.ts', 'test/main.test.ts', '../../etc/passwd'] }), 'starter.files.3', /no "\.\."/],
    ['a Windows-style ".." path', withStarter({ files: ['package.json', 'src\\..\\..\\x.ts', 'src/main.ts', 'test/main.test.ts'] }), 'starter.files.1', /no "\.\."/],
    ['an absolute readme path', { ...validManifest(), readme: '/etc/motd' }, 'readme', /not absolute/],
    ['a starter dir with ".."', withStarter({ dir: '../elsewhere' }), 'starter.dir', /no "\.\."/],
    ['an id that is not kebab-case', { ...validManifest(), id: 'Demo_Lab' }, 'id', /lower-case words/],
    ['an unknown service', { ...validManifest(), services: [{ service: 'mongodb' }] }, 'services.0.service', /postgres/],
    ['too many service instances', { ...validManifest(), services: [{ service: 'redis', count: 9 }] }, 'services.0.count', /5/],
    ['a hint without text', { ...validManifest(), hints: [{ title: 'x', text: '' }] }, 'hints.0.text', /.+/],
    ['a fractional estimate', { ...validManifest(), estimatedMinutes: 2.5 }, 'estimatedMinutes', /.+/],
  ])('reports %s', (_name, manifest, field, message) => {
    const problems = problemsOf(manifest);
    expect(problems.map((p) => p.field)).toContain(field);
    const problem = problems.find((p) => p.field === field);
    expect(problem?.file).toBe(FILE);
    expect(problem?.message).toMatch(message);
    expect(formatProblem(problem as ManifestProblem)).toBe(`${FILE}: field "${field}" ${problem?.message ?? ''}`);
  });

  it('reports an unknown extra key, naming the key, in the file', () => {
    const problems = problemsOf({ ...validManifest(), difficulty: 'hard' });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toBe(FILE);
    expect(problems[0]?.field).toBe('difficulty');
    expect(problems[0]?.message).toMatch(/not a known field/);
  });

  it('reports an unknown key inside starter, naming the key and its object', () => {
    const problems = problemsOf(withStarter({ entry: 'src/main.ts' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/not a known field/);
    expect(problems[0]?.field).toBe('starter.entry');
  });

  it('names an unknown key as its own dotted field', () => {
    expect(problemsOf({ ...validManifest(), difficulty: 'hard' }).map((p) => p.field)).toEqual(['difficulty']);
    expect(problemsOf(withStarter({ entry: 'src/main.ts' })).map((p) => p.field)).toEqual(['starter.entry']);
  });

  it('reports several problems at once, each with its own field', () => {
    const manifest = { ...withStarter({ main: 'nope.ts' }), section: 'sharding', completes: ['x'] };
    const fields = problemsOf(manifest).map((p) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['section', 'completes.0']));
  });

  it('formats a whole-file problem without a field', () => {
    expect(formatProblem({ file: FILE, field: '', message: 'is not valid JSON: x' })).toBe(`${FILE}: is not valid JSON: x`);
  });

  it('exports the schema for other checks', () => {
    expect(labManifestSchema.safeParse(validManifest()).success).toBe(true);
    expect(labManifestSchema.safeParse({}).success).toBe(false);
  });
});
