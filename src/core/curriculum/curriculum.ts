/**
 * The Phase 4 "Data Management" curriculum: its four sections, the concepts each
 * teaches (pages under media/concepts/) and the seed's whole Progress Checklist.
 *
 * Ids are stable: the progress store and the lab manifests refer to them, so an id
 * must never be renamed once it has shipped (add a migration instead).
 */

export type SectionId = 'database-types' | 'consistency-patterns' | 'replication' | 'hands-on-project';

export interface Concept {
  readonly id: string;
  readonly title: string;
  /** One line shown beside the concept in the tree. */
  readonly blurb: string;
}

export interface ChecklistItem {
  readonly id: string;
  /** The seed's own wording. */
  readonly label: string;
  readonly section: SectionId;
}

export interface Section {
  readonly id: SectionId;
  readonly title: string;
  readonly concepts: readonly Concept[];
  readonly checklist: readonly ChecklistItem[];
}

function items(section: SectionId, entries: ReadonlyArray<readonly [string, string]>): ChecklistItem[] {
  return entries.map(([id, label]) => ({ id, label, section }));
}

export const SECTIONS: readonly Section[] = [
  {
    id: 'database-types',
    title: 'Database Types',
    concepts: [
      { id: 'polyglot-persistence', title: 'Polyglot persistence', blurb: 'Different stores for different needs' },
      { id: 'relational', title: 'Relational (SQL)', blurb: 'PostgreSQL, MySQL: ACID, JOINs, integrity' },
      { id: 'document', title: 'Document (NoSQL)', blurb: 'MongoDB, CouchDB: flexible, nested data' },
      { id: 'key-value', title: 'Key-value', blurb: 'Redis, Memcached: speed and a simple model' },
      { id: 'column-family', title: 'Column-family', blurb: 'Cassandra, HBase: massive write scale' },
      { id: 'graph', title: 'Graph', blurb: 'Neo4j, Neptune: relationships and traversals' },
      { id: 'time-series', title: 'Time-series', blurb: 'InfluxDB, Prometheus: metrics over time' },
      { id: 'choosing-a-database', title: 'Choosing a database', blurb: 'Quick reference decision guide' },
    ],
    checklist: items('database-types', [
      ['understand-relational-vs-nosql', 'Understand relational vs NoSQL'],
      ['learn-document-database', 'Learn document database (MongoDB)'],
      ['try-key-value-store', 'Try key-value store (Redis)'],
      ['explore-graph-database', 'Explore graph database (Neo4j)'],
      ['compare-trade-offs', 'Compare trade-offs'],
    ]),
  },
  {
    id: 'consistency-patterns',
    title: 'Consistency Patterns',
    concepts: [
      { id: 'two-phase-commit', title: 'Two-phase commit (2PC)', blurb: 'Atomic commit across databases' },
      { id: 'saga', title: 'Saga pattern', blurb: 'Compensating transactions for long workflows' },
      { id: 'idempotency', title: 'Idempotency', blurb: 'Safe retries, duplicate requests handled' },
      { id: 'choosing-consistency', title: 'Consistency vs availability', blurb: 'Quick reference decision guide' },
    ],
    checklist: items('consistency-patterns', [
      ['implement-two-phase-commit', 'Implement two-phase commit'],
      ['build-saga-with-compensation', 'Build saga with compensation'],
      ['add-idempotency-keys', 'Add idempotency keys'],
      ['handle-retries-safely', 'Handle retries safely'],
    ]),
  },
  {
    id: 'replication',
    title: 'Replication',
    concepts: [
      { id: 'master-slave', title: 'Master-slave replication', blurb: 'One writer, many readers, and lag' },
      { id: 'multi-master', title: 'Multi-master replication', blurb: 'Many writers and conflict resolution' },
      { id: 'quorum', title: 'Quorum replication', blurb: 'R + W > N and tunable consistency' },
      { id: 'choosing-replication', title: 'Choosing replication', blurb: 'Quick reference decision guide' },
    ],
    checklist: items('replication', [
      ['set-up-master-slave', 'Set up master-slave (PostgreSQL)'],
      ['handle-replication-lag', 'Handle replication lag'],
      ['try-multi-master', 'Try multi-master'],
      ['implement-quorum-reads-writes', 'Implement quorum reads/writes'],
    ]),
  },
  {
    id: 'hands-on-project',
    title: 'Hands-On Project',
    concepts: [
      { id: 'polyglot-project', title: 'The polyglot project', blurb: 'Redis + PostgreSQL + Neo4j in one system' },
    ],
    checklist: items('hands-on-project', [
      ['design-polyglot-system', 'Design polyglot system'],
      ['implement-distributed-transaction', 'Implement distributed transaction'],
      ['set-up-replication', 'Set up replication'],
      ['test-failure-scenarios', 'Test failure scenarios'],
    ]),
  },
];

export const SECTION_IDS = SECTIONS.map((s) => s.id) as [SectionId, ...SectionId[]];

export const CHECKLIST: readonly ChecklistItem[] = SECTIONS.flatMap((s) => s.checklist);

const checklistById = new Map(CHECKLIST.map((item) => [item.id, item]));
const conceptById = new Map(SECTIONS.flatMap((s) => s.concepts.map((c) => [c.id, c] as const)));

export function findChecklistItem(id: string): ChecklistItem | undefined {
  return checklistById.get(id);
}

export function findConcept(id: string): Concept | undefined {
  return conceptById.get(id);
}

export function findSection(id: string): Section | undefined {
  return SECTIONS.find((s) => s.id === id);
}

export interface Count {
  readonly done: number;
  readonly total: number;
}

/** Counts ticked checklist items per section and overall. */
export function countProgress(isDone: (itemId: string) => boolean): {
  readonly perSection: ReadonlyMap<SectionId, Count>;
  readonly overall: Count;
} {
  const perSection = new Map<SectionId, Count>();
  let done = 0;
  for (const section of SECTIONS) {
    const sectionDone = section.checklist.filter((item) => isDone(item.id)).length;
    perSection.set(section.id, { done: sectionDone, total: section.checklist.length });
    done += sectionDone;
  }
  return { perSection, overall: { done, total: CHECKLIST.length } };
}
