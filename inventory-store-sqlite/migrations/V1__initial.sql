-- The database enforces the invariants too, not only the code: a bug or a hand-made UPDATE cannot
-- take stock below zero, price a product at zero, or give an order a status outside the table.
-- STRICT tables refuse values of the wrong type instead of storing them.
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC (the core's precision).

-- AUTOINCREMENT: a deleted product's id is never handed out again (an old link or order history
-- must never point at a different product).
CREATE TABLE products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku         TEXT    NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents INTEGER NOT NULL CHECK (price_cents BETWEEN 1 AND 9999999999),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- Orders are never deleted, so a plain rowid key never reuses an id and saves AUTOINCREMENT's
-- extra write per order. RESTRICT: order history is never destroyed with its product.
CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    product_id       INTEGER NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    status           TEXT    NOT NULL
                     CHECK (status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
    total_cents      INTEGER NOT NULL CHECK (total_cents = unit_price_cents * quantity),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

-- The filters GET /orders offers, each listed by id.
CREATE INDEX orders_by_status ON orders (status, id);
CREATE INDEX orders_by_product ON orders (product_id, id);

-- No foreign key on order_id: an ignored event type is recorded as sent, even when the order it
-- names does not exist.
CREATE TABLE webhook_events (
    event_id     TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    order_id     INTEGER,
    processed_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
