/**
 * A graded lab's requirements table (`labs/<id>/grader/requirements.json`): every rule the
 * lab's README states, mapped to the hidden checks that verify it and the cases of their
 * scenarios that exercise it. The grader follows the specification the learner reads, not
 * its own mutants: a rule the README states with no check, a check that verifies no rule, a
 * scenario case that exercises none, and a sentence of the README that reads as a rule
 * (it says must, never, always, refuse...) or a row of its tables that nobody accounted
 * for, are all problems (`requirementProblems`), which a unit test holds every lab to. The
 * table is shown in the grader's README (`renderRequirementsTable`).
 *
 * Pure: text in, problems or markdown out.
 */
import * as z from '../schema';

const kebab = z.string().check(z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case words joined by "-"'));
/** A piece of the lab README, quoted: long enough to name one sentence or table row. */
const quote = z.string().check(z.minLength(20));

const requirementSchema = z.strictObject({
  id: kebab,
  /** The rule, in one sentence. */
  rule: z.string().check(z.minLength(10)),
  /** Where the lab README states it: exact pieces of its text (whitespace aside). */
  readme: z.array(quote).check(z.minLength(1)),
  /** The checks that verify it, and for each the cases of its scenario that exercise it. */
  verifiedBy: z
    .array(z.strictObject({ check: kebab, cases: z.array(kebab).check(z.minLength(1)) }))
    .check(z.minLength(1)),
});

const requirementsSchema = z.strictObject({
  $comment: z.optional(z.string()),
  rules: z.array(requirementSchema).check(z.minLength(1)),
  /** Sentences of the README that read like rules and are not rules of the learner's code (an explanation, a fact about the lab), each with why. */
  notRules: z._default(z.array(z.strictObject({ readme: quote, why: z.string().check(z.minLength(10)) })), []),
});

export type Requirement = z.infer<typeof requirementSchema>;
export type Requirements = z.infer<typeof requirementsSchema>;

export type RequirementsResult =
  | { readonly ok: true; readonly requirements: Requirements }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Checks the raw text of a requirements.json; never throws. */
export function parseRequirements(text: string): RequirementsResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`is not valid JSON: ${(error as Error).message}`] };
  }
  const result = requirementsSchema.safeParse(json);
  if (result.success) {
    return { ok: true, requirements: result.data };
  }
  return { ok: false, problems: result.error.issues.map((i) => `${i.path.map(String).join('.') || '(file)'}: ${i.message}`) };
}

/** Whitespace collapsed, so that a quote matches across the README's line breaks. */
export function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The start of a list item (`- `, `* `, `1. `), which starts a paragraph of its own. */
const LIST_ITEM = /^([-*+]|\d+\.)\s/;

/** The words that make a sentence read as a rule of the learner's code. */
const RULE_WORDS = /\b(must|mustn't|never|always|refuses?|refused)\b/i;

/**
 * What in a lab README states, or may state, a rule: every sentence that says must, never,
 * always or refuse, and every body row of its tables (outcomes, status codes, what a test
 * shows). Fenced code and headings are left out; sentences are whitespace-normalized.
 */
export function readmeRuleItems(readme: string): string[] {
  const lines = readme.replace(/```[\s\S]*?```/g, '').split('\n');
  const items: string[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    const text = normalizeText(paragraph.join(' '));
    paragraph = [];
    for (const sentence of text.split(/(?<=[.!?])\s+(?=[A-Z*`(“"])/)) {
      if (RULE_WORDS.test(sentence)) {
        items.push(sentence);
      }
    }
  };
  const separator = (line: string | undefined): boolean => line !== undefined && /^\|[\s:|-]+\|$/.test(line.trim());
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed.startsWith('|')) {
      flush();
      // A table's separator row, and its header (the row just before the separator), are not rules.
      if (!separator(trimmed) && !separator(lines[i + 1])) {
        items.push(normalizeText(trimmed));
      }
    } else if (trimmed === '' || trimmed.startsWith('#') || LIST_ITEM.test(trimmed)) {
      flush();
      if (!trimmed.startsWith('#')) {
        paragraph.push(trimmed.replace(LIST_ITEM, ''));
      }
    } else {
      paragraph.push(trimmed);
    }
  });
  flush();
  return items;
}

/** What the requirements are checked against: the lab's README, its declared checks, and the cases each scenario declares. */
export interface RequirementsContext {
  readonly readme: string;
  /** The ids of the checks lab.json declares (not its demonstrations). */
  readonly checks: readonly string[];
  /** For each scenario (by check id), the cases it declares it exercises. */
  readonly cases: Readonly<Record<string, readonly string[]>>;
}

/** Where a lab's requirements table and its README, checks and scenarios disagree; empty when they agree. */
export function requirementProblems(requirements: Requirements, context: RequirementsContext): string[] {
  const problems: string[] = [];
  const readme = normalizeText(context.readme);
  const seen = new Set<string>();
  for (const rule of requirements.rules) {
    if (seen.has(rule.id)) {
      problems.push(`rule "${rule.id}" is listed twice`);
    }
    seen.add(rule.id);
    for (const q of rule.readme) {
      if (!readme.includes(normalizeText(q))) {
        problems.push(`rule "${rule.id}" quotes "${q}", which the lab README does not say`);
      }
    }
    for (const v of rule.verifiedBy) {
      if (!context.checks.includes(v.check)) {
        problems.push(`rule "${rule.id}" is verified by "${v.check}", which is not a check of lab.json`);
        continue;
      }
      const declared = context.cases[v.check] ?? [];
      for (const c of v.cases.filter((x) => !declared.includes(x))) {
        problems.push(`rule "${rule.id}" names case "${c}" of "${v.check}", which that scenario does not declare (it declares: ${declared.join(', ') || 'none'})`);
      }
    }
  }
  for (const n of requirements.notRules) {
    if (!readme.includes(normalizeText(n.readme))) {
      problems.push(`notRules quotes "${n.readme}", which the lab README does not say`);
    }
  }
  for (const check of context.checks) {
    const rules = requirements.rules.filter((r) => r.verifiedBy.some((v) => v.check === check));
    if (rules.length === 0) {
      problems.push(`check "${check}" verifies no rule of the README`);
    }
    for (const c of context.cases[check] ?? []) {
      if (!rules.some((r) => r.verifiedBy.some((v) => v.check === check && v.cases.includes(c)))) {
        problems.push(`case "${c}" of "${check}" exercises no rule`);
      }
    }
  }
  const quotes = [...requirements.rules.flatMap((r) => r.readme), ...requirements.notRules.map((n) => n.readme)].map(normalizeText);
  for (const item of readmeRuleItems(context.readme)) {
    if (!quotes.some((q) => item.includes(q) || q.includes(item))) {
      problems.push(`the README says "${item}", which no rule (or notRules entry) accounts for`);
    }
  }
  return problems;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');

/** The table the grader README shows, between REQUIREMENTS_START and REQUIREMENTS_END. */
export function renderRequirementsTable(requirements: Requirements): string {
  const rows = requirements.rules.map((r) => {
    const checks = r.verifiedBy.map((v) => `\`${v.check}\`: ${v.cases.join(', ')}`).join('; ');
    return `| ${cell(r.rule)} | ${checks} |`;
  });
  return ['| Rule (from the lab README) | Checked by: cases that exercise it |', '| --- | --- |', ...rows].join('\n');
}

export const REQUIREMENTS_START = '<!-- requirements table: made from requirements.json; a unit test keeps it current -->';
export const REQUIREMENTS_END = '<!-- end of requirements table -->';

/** The grader README with its requirements table replaced by `table`; undefined when it has no markers. */
export function withRequirementsTable(graderReadme: string, table: string): string | undefined {
  const start = graderReadme.indexOf(REQUIREMENTS_START);
  const end = graderReadme.indexOf(REQUIREMENTS_END);
  if (start < 0 || end < start) {
    return undefined;
  }
  return `${graderReadme.slice(0, start + REQUIREMENTS_START.length)}\n\n${table}\n\n${graderReadme.slice(end)}`;
}
