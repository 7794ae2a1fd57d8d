/**
 * An online shop, modelled twice on the same PostgreSQL database:
 *
 *   Part 1 — relational: customers, products, orders and order items in separate
 *            tables, tied together by keys the database enforces.
 *   Part 2 — document:   each product is one JSON document; products of different
 *            shapes live side by side in the same table.
 *
 * (Reference solution.)
 */
import type { Db } from './db';

// ─── Part 1: the relational model ─────────────────────────────────────────────

export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface NewOrder {
  readonly customerId: number;
  readonly items: readonly OrderLine[];
}

export interface CustomerTotal {
  readonly customerId: number;
  readonly name: string;
  readonly orderCount: number;
  readonly totalCents: number;
}

export async function createRelationalSchema(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE customers (
      id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name  text NOT NULL,
      email text NOT NULL UNIQUE
    );

    CREATE TABLE products (
      sku         text PRIMARY KEY,
      name        text NOT NULL,
      price_cents integer NOT NULL CHECK (price_cents >= 0)
    );

    CREATE TABLE orders (
      id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      customer_id integer NOT NULL REFERENCES customers (id),
      placed_at   timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE order_items (
      order_id         integer NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      sku              text    NOT NULL REFERENCES products (sku),
      quantity         integer NOT NULL CHECK (quantity > 0),
      unit_price_cents integer NOT NULL CHECK (unit_price_cents >= 0),
      PRIMARY KEY (order_id, sku)
    );
  `);
}

/** Adds a customer and returns the id the database gave it. (Given: an example of a parameterised query.) */
export async function addCustomer(db: Db, name: string, email: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>('INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id', [name, email]);
  return rows[0]!.id;
}

/** Adds a product to the catalogue. (Given.) */
export async function addProduct(db: Db, sku: string, name: string, priceCents: number): Promise<void> {
  await db.query('INSERT INTO products (sku, name, price_cents) VALUES ($1, $2, $3)', [sku, name, priceCents]);
}

export async function placeOrder(db: Db, order: NewOrder): Promise<number> {
  return db.transaction(async (tx) => {
    const inserted = await tx.query<{ id: number }>('INSERT INTO orders (customer_id) VALUES ($1) RETURNING id', [order.customerId]);
    const orderId = inserted.rows[0]!.id;
    for (const item of order.items) {
      const product = await tx.query<{ price_cents: number }>('SELECT price_cents FROM products WHERE sku = $1', [item.sku]);
      const price = product.rows[0];
      if (price === undefined) {
        throw new Error(`Unknown product "${item.sku}"`);
      }
      await tx.query('INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) VALUES ($1, $2, $3, $4)', [
        orderId,
        item.sku,
        item.quantity,
        price.price_cents,
      ]);
    }
    return orderId;
  });
}

export async function customerTotals(db: Db): Promise<CustomerTotal[]> {
  const { rows } = await db.query<CustomerTotal>(`
    SELECT c.id                                                     AS "customerId",
           c.name                                                   AS "name",
           COUNT(DISTINCT o.id)::int                                AS "orderCount",
           COALESCE(SUM(oi.quantity * oi.unit_price_cents), 0)::int AS "totalCents"
      FROM customers c
      LEFT JOIN orders o       ON o.customer_id = c.id
      LEFT JOIN order_items oi ON oi.order_id = o.id
     GROUP BY c.id, c.name
     ORDER BY "totalCents" DESC, c.name ASC
  `);
  return rows;
}

// ─── Part 2: the document model ───────────────────────────────────────────────

/** Every product has these four fields; anything else depends on the kind of product. */
export interface ProductDocument {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly priceCents: number;
  readonly [field: string]: unknown;
}

export async function createDocumentStore(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE product_docs (
      id  text PRIMARY KEY,
      doc jsonb NOT NULL
    );
    CREATE INDEX product_docs_doc_gin ON product_docs USING GIN (doc jsonb_path_ops);
  `);
}

export async function saveProductDocument(db: Db, doc: ProductDocument): Promise<void> {
  await db.query(
    `INSERT INTO product_docs (id, doc) VALUES ($1, $2::jsonb)
     ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc`,
    [doc.id, JSON.stringify(doc)],
  );
}

/** Reads one product back, nested fields and all, in a single query. (Given.) */
export async function getProductDocument(db: Db, id: string): Promise<ProductDocument | undefined> {
  const { rows } = await db.query<{ doc: ProductDocument }>('SELECT doc FROM product_docs WHERE id = $1', [id]);
  return rows[0]?.doc;
}

export async function findByAttribute(db: Db, path: readonly string[], value: unknown): Promise<ProductDocument[]> {
  // ['specs', 'ram'] and 16 become {"specs": {"ram": 16}}.
  const pattern = path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
  const { rows } = await db.query<{ doc: ProductDocument }>('SELECT doc FROM product_docs WHERE doc @> $1::jsonb ORDER BY id', [
    JSON.stringify(pattern),
  ]);
  return rows.map((row) => row.doc);
}
