-- Orders of many lines. Each line is a product, a quantity and the unit price snapshotted when
-- the order was placed; the order keeps its status, its total (the sum of its lines) and its
-- times. Every order of the previous schema becomes a one-line order, line 0.
--
-- The store runs migrations with foreign keys off and checks them all afterwards
-- (PRAGMA foreign_key_check): rebuilding `orders` without its line columns is SQLite's
-- documented table rebuild, which a foreign key check at DROP TABLE would refuse.

-- WITHOUT ROWID: always read by order, clustered by (order_id, line). RESTRICT: order history
-- is never destroyed with its product. `line` is the line's index in the order, 0 to 99.
CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    line             INTEGER NOT NULL CHECK (line BETWEEN 0 AND 99),
    product_id       INTEGER NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
    total_cents      INTEGER NOT NULL CHECK (total_cents = unit_price_cents * quantity),
    PRIMARY KEY (order_id, line)
) STRICT, WITHOUT ROWID;

-- GET /orders?product_id= lists the orders with a line of the product, by id; the index also
-- serves the foreign key check when a product is deleted.
CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);

INSERT INTO order_lines (order_id, line, product_id, quantity, unit_price_cents, total_cents)
SELECT id, 0, product_id, quantity, unit_price_cents, total_cents FROM orders;

CREATE TABLE orders_v5 (
    id          INTEGER PRIMARY KEY,
    status      TEXT    NOT NULL
                CHECK (status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    total_cents INTEGER NOT NULL CHECK (total_cents > 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;

INSERT INTO orders_v5 (id, status, total_cents, created_at, updated_at, version)
SELECT id, status, total_cents, created_at, updated_at, version FROM orders;

DROP TABLE orders;
ALTER TABLE orders_v5 RENAME TO orders;

CREATE INDEX orders_by_status ON orders (status, id);
CREATE INDEX orders_by_creation ON orders (created_at, id);
