import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHECKLIST,
  SECTIONS,
  SECTION_IDS,
  countProgress,
  findChecklistItem,
  findConcept,
  findSection,
} from '../../src/core/curriculum/curriculum';

/** The seed's Progress Checklist, word for word, in its sections and order. */
const SEED_CHECKLIST: ReadonlyArray<readonly [section: string, labels: readonly string[]]> = [
  [
    'Database Types',
    [
      'Understand relational vs NoSQL',
      'Learn document database (MongoDB)',
      'Try key-value store (Redis)',
      'Explore graph database (Neo4j)',
      'Compare trade-offs',
    ],
  ],
  ['Consistency Patterns', ['Implement two-phase commit', 'Build saga with compensation', 'Add idempotency keys', 'Handle retries safely']],
  ['Replication', ['Set up master-slave (PostgreSQL)', 'Handle replication lag', 'Try multi-master', 'Implement quorum reads/writes']],
  ['Hands-On Project', ['Design polyglot system', 'Implement distributed transaction', 'Set up replication', 'Test failure scenarios']],
];

/** The curriculum's checklist as its source document words it (a fixture in the repository). */
const SEED_FILE = path.join(__dirname, '..', 'fixtures', 'curriculum', 'checklist.md');

function checklistFromSeed(text: string): Array<[string, string[]]> {
  const start = text.indexOf('Progress Checklist');
  const end = text.indexOf('\n---', start);
  const sections: Array<[string, string[]]> = [];
  for (const line of text.slice(start, end).split('\n')) {
    const heading = /^### (.+)$/.exec(line);
    const item = /^- \[ \] (.+)$/.exec(line);
    if (heading?.[1]) {
      sections.push([heading[1].trim(), []]);
    } else if (item?.[1]) {
      sections.at(-1)?.[1].push(item[1].trim());
    }
  }
  return sections;
}

describe('curriculum', () => {
  it('has exactly the seed\'s 17 checklist items', () => {
    expect(CHECKLIST).toHaveLength(17);
    expect(SEED_CHECKLIST.flatMap(([, labels]) => labels)).toHaveLength(17);
  });

  it('has the seed\'s sections, in order, each with its items in order and worded exactly', () => {
    expect(SECTIONS.map((s) => [s.title, s.checklist.map((i) => i.label)])).toEqual(SEED_CHECKLIST);
    expect(CHECKLIST.map((i) => i.label)).toEqual(SEED_CHECKLIST.flatMap(([, labels]) => labels));
  });

  it("matches the curriculum's own checklist, read back from its text", () => {
    const fromSeed = checklistFromSeed(readFileSync(SEED_FILE, 'utf8'));
    expect(fromSeed.flatMap(([, labels]) => labels)).toHaveLength(17);
    expect(SECTIONS.map((s) => [s.title, s.checklist.map((i) => i.label)])).toEqual(fromSeed);
  });

  it('gives every item the id of the section that holds it', () => {
    for (const section of SECTIONS) {
      for (const item of section.checklist) {
        expect(item.section).toBe(section.id);
      }
    }
    expect(SECTION_IDS).toEqual(['database-types', 'consistency-patterns', 'replication', 'hands-on-project']);
  });

  it('uses unique, kebab-case ids for items, concepts and sections', () => {
    const itemIds = CHECKLIST.map((i) => i.id);
    const conceptIds = SECTIONS.flatMap((s) => s.concepts.map((c) => c.id));
    expect(new Set(itemIds).size).toBe(itemIds.length);
    expect(new Set(conceptIds).size).toBe(conceptIds.length);
    expect(new Set(SECTION_IDS).size).toBe(SECTION_IDS.length);
    for (const id of [...itemIds, ...conceptIds, ...SECTION_IDS]) {
      expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
  });

  it('gives every section at least one concept with a title and blurb', () => {
    for (const section of SECTIONS) {
      expect(section.concepts.length).toBeGreaterThan(0);
      for (const concept of section.concepts) {
        expect(concept.title.length).toBeGreaterThan(0);
        expect(concept.blurb.length).toBeGreaterThan(0);
      }
    }
  });

  it('finds items, concepts and sections by id, and nothing for unknown ids', () => {
    expect(findChecklistItem('add-idempotency-keys')).toEqual({
      id: 'add-idempotency-keys',
      label: 'Add idempotency keys',
      section: 'consistency-patterns',
    });
    expect(findChecklistItem('nope')).toBeUndefined();
    expect(findConcept('saga')?.title).toBe('Saga pattern');
    expect(findConcept('understand-relational-vs-nosql')).toBeUndefined();
    expect(findSection('replication')?.title).toBe('Replication');
    expect(findSection('Replication')).toBeUndefined();
  });
});

describe('countProgress', () => {
  it('counts nothing done', () => {
    const counts = countProgress(() => false);
    expect(counts.overall).toEqual({ done: 0, total: 17 });
    expect([...counts.perSection.entries()]).toEqual([
      ['database-types', { done: 0, total: 5 }],
      ['consistency-patterns', { done: 0, total: 4 }],
      ['replication', { done: 0, total: 4 }],
      ['hands-on-project', { done: 0, total: 4 }],
    ]);
  });

  it('counts everything done', () => {
    const counts = countProgress(() => true);
    expect(counts.overall).toEqual({ done: 17, total: 17 });
    expect(counts.perSection.get('database-types')).toEqual({ done: 5, total: 5 });
  });

  it('counts per section and overall, ignoring ids that are not checklist items', () => {
    const done = new Set(['understand-relational-vs-nosql', 'compare-trade-offs', 'try-multi-master', 'not-an-item']);
    const counts = countProgress((id) => done.has(id));
    expect(counts.overall).toEqual({ done: 3, total: 17 });
    expect(counts.perSection.get('database-types')).toEqual({ done: 2, total: 5 });
    expect(counts.perSection.get('consistency-patterns')).toEqual({ done: 0, total: 4 });
    expect(counts.perSection.get('replication')).toEqual({ done: 1, total: 4 });
    expect(counts.perSection.get('hands-on-project')).toEqual({ done: 0, total: 4 });
  });

  it('asks about each checklist item exactly once', () => {
    const asked: string[] = [];
    countProgress((id) => {
      asked.push(id);
      return false;
    });
    expect(asked).toEqual(CHECKLIST.map((i) => i.id));
  });
});
