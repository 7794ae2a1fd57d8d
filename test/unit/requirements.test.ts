/**
 * Every graded lab's requirements table (labs/<id>/grader/requirements.json) against its
 * README, its lab.json and its grader's scenarios: no rule of the README without a check,
 * no check or scenario case that exercises no rule, and the table shown in the grader's
 * README as requirements.json makes it. `DATA_LABS_WRITE_TABLES=1 npm run test:unit --
 * requirements` rewrites those tables.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLabGrader } from '../../src/core/grading/labGraders';
import { type Lab, loadCatalog } from '../../src/core/labs/catalog';
import {
  REQUIREMENTS_END,
  REQUIREMENTS_START,
  parseRequirements,
  readmeRuleItems,
  renderRequirementsTable,
  requirementProblems,
  withRequirementsTable,
} from '../../src/core/labs/requirements';
import { REPO_ROOT } from '../support/buildScript';

const LABS_DIR = path.join(REPO_ROOT, 'labs');
const graded = (await loadCatalog(LABS_DIR)).filter((e): e is Lab => e.ok && e.manifest.grader !== undefined);

describe.each(graded.map((lab) => [lab.id, lab] as const))('the requirements of %s', (_id, lab) => {
  it('cover every rule of its README with a check and a case, and every check and case with a rule', async () => {
    const text = await fs.readFile(path.join(lab.dir, 'grader', 'requirements.json'), 'utf8');
    const parsed = parseRequirements(text);
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    if (!parsed.ok) return;
    const grader = await loadLabGrader(lab);
    const readme = await fs.readFile(path.join(lab.dir, lab.manifest.readme), 'utf8');
    const problems = requirementProblems(parsed.requirements, {
      readme,
      checks: lab.manifest.grader?.checks.map((c) => c.id) ?? [],
      cases: Object.fromEntries(grader.scenarios.map((s) => [s.id, s.cases ?? []])),
    });
    expect(problems).toEqual([]);
  });

  it('are shown in its grader README, as requirements.json says', async () => {
    const parsed = parseRequirements(await fs.readFile(path.join(lab.dir, 'grader', 'requirements.json'), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const file = path.join(lab.dir, 'grader', 'README.md');
    const current = await fs.readFile(file, 'utf8');
    const wanted = withRequirementsTable(current, renderRequirementsTable(parsed.requirements));
    expect(wanted, `${file} has no ${REQUIREMENTS_START} … ${REQUIREMENTS_END} markers`).toBeDefined();
    if (wanted !== current && process.env['DATA_LABS_WRITE_TABLES'] === '1' && wanted !== undefined) {
      await fs.writeFile(file, wanted);
      return;
    }
    expect(current, 'rewrite it with DATA_LABS_WRITE_TABLES=1 npm run test:unit -- requirements').toBe(wanted);
  });
});

describe('requirementProblems', () => {
  const readme = [
    '# A lab',
    '',
    'The service must answer a repeated key with the first answer. It is fast.',
    'A key is never reused for another request body.',
    '',
    '| status | meaning |',
    '| --- | --- |',
    '| 409 | the key is still in progress |',
    '',
    '```ts',
    '// this code must not count',
    '```',
  ].join('\n');
  const base = {
    rules: [
      { id: 'replay', rule: 'A repeated key gets the first answer.', readme: ['must answer a repeated key with the first answer'], verifiedBy: [{ check: 'replay', cases: ['after-success'] }] },
      { id: 'in-progress', rule: 'An unfinished key answers 409.', readme: ['| 409 | the key is still in progress |'], verifiedBy: [{ check: 'replay', cases: ['while-running'] }] },
    ],
    notRules: [{ readme: 'A key is never reused for another request body.', why: 'the grader never sends one: left to issue N' }],
  };
  const context = { readme, checks: ['replay'], cases: { replay: ['after-success', 'while-running'] } };

  it('finds the sentences and table rows that read as rules, not code, headers or plain facts', () => {
    expect(readmeRuleItems(readme)).toEqual([
      'The service must answer a repeated key with the first answer.',
      'A key is never reused for another request body.',
      '| 409 | the key is still in progress |',
    ]);
  });

  it('accepts a table that accounts for everything', () => {
    const parsed = parseRequirements(JSON.stringify(base));
    expect(parsed.ok && requirementProblems(parsed.requirements, context)).toEqual([]);
  });

  it('names a README rule nobody accounts for, a check with no rule, a case with no rule, an unknown case and a misquote', () => {
    const parsed = parseRequirements(
      JSON.stringify({
        rules: [{ id: 'replay', rule: 'A repeated key gets the first answer.', readme: ['must answer a repeated key with the LAST answer'], verifiedBy: [{ check: 'replay', cases: ['after-success', 'after-crash'] }] }],
      }),
    );
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const problems = requirementProblems(parsed.requirements, { ...context, checks: ['replay', 'expiry'] });
    expect(problems).toEqual([
      'rule "replay" quotes "must answer a repeated key with the LAST answer", which the lab README does not say',
      'rule "replay" names case "after-crash" of "replay", which that scenario does not declare (it declares: after-success, while-running)',
      'case "while-running" of "replay" exercises no rule',
      'check "expiry" verifies no rule of the README',
      'the README says "The service must answer a repeated key with the first answer.", which no rule (or notRules entry) accounts for',
      'the README says "A key is never reused for another request body.", which no rule (or notRules entry) accounts for',
      'the README says "| 409 | the key is still in progress |", which no rule (or notRules entry) accounts for',
    ]);
  });

  it('refuses a malformed table with the field named', () => {
    const parsed = parseRequirements(JSON.stringify({ rules: [{ id: 'Bad Id', rule: 'short', readme: [], verifiedBy: [] }] }));
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems.join('\n')).toMatch(/rules\.0\.id/);
    expect(parseRequirements('{').ok).toBe(false);
  });

  it('renders the table the grader README shows', () => {
    const parsed = parseRequirements(JSON.stringify(base));
    if (!parsed.ok) throw new Error('bad fixture');
    const table = renderRequirementsTable(parsed.requirements);
    expect(table.split('\n')[2]).toBe('| A repeated key gets the first answer. | `replay`: after-success |');
    const doc = `# G\n\n${REQUIREMENTS_START}\nold\n${REQUIREMENTS_END}\n`;
    expect(withRequirementsTable(doc, table)).toBe(`# G\n\n${REQUIREMENTS_START}\n\n${table}\n\n${REQUIREMENTS_END}\n`);
    expect(withRequirementsTable('# G', table)).toBeUndefined();
  });
});
