import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NewOrder, addCustomer, addProduct, createRelationalSchema, customerTotals, placeOrder } from '../src/shop';
import { CHECK_VIOLATION, FOREIGN_KEY_VIOLATION, type TestDb, closeDb, countRows, freshDb, inTime, outcome } from './support';

describe('relational model', () => {
  let db: TestDb;
  let ada: number;

  /** placeOrder, with a clear message instead of a long hang if its transaction waits for itself. */
  const place = (order: NewOrder): Promise<number> =>
    inTime(
      placeOrder(db, order),
      'placeOrder',
      'Inside db.transaction(async (tx) => ...), send every statement through tx.query, not db.query: ' +
        'db.query runs on another connection, and the embedded database makes it wait until the open transaction ends.',
    );

  beforeEach(async () => {
    db = await freshDb();
    await createRelationalSchema(db);
    ada = await addCustomer(db, 'Ada', 'ada@example.com');
    await addProduct(db, 'BOOK-1', 'Designing Data Systems', 1500);
    await addProduct(db, 'PEN-1', 'Fountain pen', 250);
  });

  afterEach(async () => {
    await closeDb(db);
  });

  it('TODO(1) creates the four tables, each with a primary key and the foreign keys between them', async () => {
    const primaryKeys = await db.query<{ table: string }>(
      `SELECT conrelid::regclass::text AS "table" FROM pg_constraint WHERE contype = 'p' AND connamespace = current_schema()::regnamespace ORDER BY 1`,
    );
    expect(primaryKeys.rows.map((r) => r.table)).toEqual(['customers', 'order_items', 'orders', 'products']);

    const foreignKeys = await db.query<{ link: string }>(
      `SELECT conrelid::regclass::text || ' -> ' || confrelid::regclass::text AS link FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace ORDER BY 1`,
    );
    expect(foreignKeys.rows.map((r) => r.link)).toEqual(['order_items -> orders', 'order_items -> products', 'orders -> customers']);
  });

  it('TODO(2) placeOrder stores the order and its items at the price of the moment', async () => {
    const orderId = await place({ customerId: ada, items: [{ sku: 'BOOK-1', quantity: 2 }, { sku: 'PEN-1', quantity: 3 }] });
    expect(typeof orderId).toBe('number');

    const order = await db.query<{ customer_id: number }>('SELECT customer_id FROM orders WHERE id = $1', [orderId]);
    expect(order.rows).toEqual([{ customer_id: ada }]);

    // A later price change must not rewrite history: the item keeps the price it was sold at.
    await db.query(`UPDATE products SET price_cents = 9999 WHERE sku = 'BOOK-1'`);
    const items = await db.query('SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = $1 ORDER BY sku', [orderId]);
    expect(items.rows).toEqual([
      { sku: 'BOOK-1', quantity: 2, unit_price_cents: 1500 },
      { sku: 'PEN-1', quantity: 3, unit_price_cents: 250 },
    ]);

    const second = await place({ customerId: ada, items: [{ sku: 'PEN-1', quantity: 1 }] });
    expect(second).not.toBe(orderId);
  });

  it('TODO(1) the FOREIGN KEY refuses an order for a customer that does not exist', async () => {
    // Straight into the table, with plain SQL: the rule lives in the database, not in
    // TypeScript (so it holds for placeOrder too, once TODO(2) is done).
    expect(await outcome(db.query('INSERT INTO orders (customer_id) VALUES (999)')), 'an order for customer 999').toBe(FOREIGN_KEY_VIOLATION);
    expect(await countRows(db, 'orders')).toBe(0);

    // The other direction: a customer who has orders cannot disappear from under them.
    await db.query('INSERT INTO orders (customer_id) VALUES ($1)', [ada]);
    expect(await outcome(db.query('DELETE FROM customers WHERE id = $1', [ada])), 'deleting a customer who has orders').toBe(FOREIGN_KEY_VIOLATION);
  });

  it('TODO(1) CHECK constraints refuse a zero quantity and a negative price', async () => {
    expect(await outcome(addProduct(db, 'BAD-1', 'Free money', -100)), 'a product priced -100').toBe(CHECK_VIOLATION);

    const { rows } = await db.query<{ id: number }>('INSERT INTO orders (customer_id) VALUES ($1) RETURNING id', [ada]);
    const orderId = rows[0]!.id;
    expect(
      await outcome(db.query(`INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) VALUES ($1, 'PEN-1', 0, 250)`, [orderId])),
      'an order item with quantity 0',
    ).toBe(CHECK_VIOLATION);
    expect(
      await outcome(db.query(`INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) VALUES ($1, 'PEN-1', 1, -1)`, [orderId])),
      'an order item with unit price -1',
    ).toBe(CHECK_VIOLATION);
  });

  it('TODO(2) placeOrder is atomic: one bad item rolls back the whole order', async () => {
    const unknownProduct = await outcome(place({ customerId: ada, items: [{ sku: 'BOOK-1', quantity: 1 }, { sku: 'NO-SUCH-SKU', quantity: 1 }] }));
    expect(unknownProduct, 'an order with an unknown product').not.toBe('accepted');
    expect(await countRows(db, 'orders'), 'orders left behind by the failed order').toBe(0);
    expect(await countRows(db, 'order_items'), 'items left behind by the failed order').toBe(0);

    const zeroQuantity = await outcome(place({ customerId: ada, items: [{ sku: 'BOOK-1', quantity: 1 }, { sku: 'PEN-1', quantity: 0 }] }));
    expect(zeroQuantity, 'an order with a quantity of 0').toBe(CHECK_VIOLATION);
    expect(await countRows(db, 'orders'), 'orders left behind by the failed order').toBe(0);
    expect(await countRows(db, 'order_items'), 'items left behind by the failed order').toBe(0);
  });

  it('TODO(3) customerTotals joins and groups: one row per customer, also those without orders', async () => {
    const bob = await addCustomer(db, 'Bob', 'bob@example.com');
    const cy = await addCustomer(db, 'Cy', 'cy@example.com');
    await place({ customerId: ada, items: [{ sku: 'BOOK-1', quantity: 2 }, { sku: 'PEN-1', quantity: 1 }] }); // 3250
    await place({ customerId: ada, items: [{ sku: 'PEN-1', quantity: 4 }] }); // 1000
    await place({ customerId: bob, items: [{ sku: 'BOOK-1', quantity: 1 }] }); // 1500

    expect(await customerTotals(db)).toEqual([
      { customerId: ada, name: 'Ada', orderCount: 2, totalCents: 4250 },
      { customerId: bob, name: 'Bob', orderCount: 1, totalCents: 1500 },
      { customerId: cy, name: 'Cy', orderCount: 0, totalCents: 0 },
    ]);
  });
});
