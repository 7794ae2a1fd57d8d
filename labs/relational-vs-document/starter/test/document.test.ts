import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ProductDocument, createDocumentStore, findByAttribute, getProductDocument, saveProductDocument } from '../src/shop';
import { type TestDb, closeDb, countRows, freshDb } from './support';

const book: ProductDocument = {
  id: 'book-1',
  type: 'book',
  name: 'Designing Data Systems',
  priceCents: 3900,
  authors: ['Ada Lovelace', 'Grace Hopper'],
  pages: 320,
};

const laptop: ProductDocument = {
  id: 'laptop-1',
  type: 'laptop',
  name: 'Ultrabook 14',
  priceCents: 129900,
  specs: { ram: 16, cpu: '8-core', ports: ['usb-c', 'hdmi'] },
};

describe('document model', () => {
  let db: TestDb;

  beforeEach(async () => {
    db = await freshDb();
    await createDocumentStore(db);
  });

  afterEach(async () => {
    await closeDb(db);
  });

  it('TODO(5) stores differently shaped products side by side, with no migration', async () => {
    await saveProductDocument(db, book);
    await saveProductDocument(db, laptop);

    // One read returns the whole product, nested arrays and objects included: no JOIN needed.
    expect(await getProductDocument(db, 'book-1')).toEqual(book);
    expect(await getProductDocument(db, 'laptop-1')).toEqual(laptop);
    expect(await getProductDocument(db, 'no-such-id')).toBeUndefined();

    // Books have authors, laptops have specs, yet the table never grew a column for either.
    const columns = await db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'product_docs' ORDER BY ordinal_position`,
    );
    expect(columns.rows).toEqual([
      { column_name: 'id', data_type: 'text' },
      { column_name: 'doc', data_type: 'jsonb' },
    ]);
  });

  it('TODO(5) saving a document whose id already exists replaces it (upsert)', async () => {
    await saveProductDocument(db, laptop);
    const upgraded: ProductDocument = { ...laptop, priceCents: 149900, specs: { ram: 32, cpu: '8-core', gpu: 'integrated' } };
    await saveProductDocument(db, upgraded);

    expect(await countRows(db, 'product_docs')).toBe(1);
    expect(await getProductDocument(db, 'laptop-1')).toEqual(upgraded);
  });

  it('TODO(6) findByAttribute matches nested values and array members by containment', async () => {
    await saveProductDocument(db, book);
    await saveProductDocument(db, { id: 'book-2', type: 'book', name: 'Compilers', priceCents: 5900, authors: ['Grace Hopper'] });
    await saveProductDocument(db, laptop);
    await saveProductDocument(db, { id: 'laptop-2', type: 'laptop', name: 'Netbook 11', priceCents: 29900, specs: { ram: 8, cpu: '4-core' } });

    const ids = (docs: ProductDocument[]): string[] => docs.map((d) => d.id);
    expect(ids(await findByAttribute(db, ['type'], 'book'))).toEqual(['book-1', 'book-2']);
    expect(ids(await findByAttribute(db, ['specs', 'ram'], 16))).toEqual(['laptop-1']);
    expect(ids(await findByAttribute(db, ['authors'], ['Ada Lovelace']))).toEqual(['book-1']);
    expect(ids(await findByAttribute(db, ['authors'], ['Grace Hopper']))).toEqual(['book-1', 'book-2']);
    // JSON keeps its types: the number 16 is not the string "16".
    expect(ids(await findByAttribute(db, ['specs', 'ram'], '16'))).toEqual([]);
    expect(ids(await findByAttribute(db, ['specs', 'gpu'], 'discrete'))).toEqual([]);

    // The whole document comes back, not just its id.
    expect(await findByAttribute(db, ['specs', 'cpu'], '8-core')).toEqual([laptop]);
  });

  it('TODO(4) a GIN index on doc serves the containment query', async () => {
    const indexes = await db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'product_docs'`);
    expect(indexes.rows.map((r) => r.indexdef).filter((def) => /USING gin \(doc/i.test(def)), 'a GIN index on product_docs.doc').not.toEqual([]);

    // With a handful of rows the planner would rather read the whole table, so forbid that
    // and ask how PostgreSQL would run the containment query. SET LOCAL lasts until the end
    // of the transaction, and the EXPLAIN must run in the same one to see the setting.
    const text = await db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off');
      const plan = await tx.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT doc FROM product_docs WHERE doc @> $1::jsonb', [
        JSON.stringify({ specs: { ram: 16 } }),
      ]);
      return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(text).toMatch(/Index Cond: \(doc @>/);
  });
});
