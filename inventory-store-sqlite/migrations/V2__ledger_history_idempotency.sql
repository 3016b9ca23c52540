-- The records kept beside each change: the stock ledger, order history, and idempotency keys.
-- Each row is written by the store in the same savepoint as the change it records.

-- AUTOINCREMENT: a deleted product takes its ledger with it, and a ledger id must still never be
-- handed out twice (clients page through a ledger with `after=<id>`).
-- The last CHECK ties the order id to the kinds that follow an order, so a row cannot claim an
-- order it has nothing to do with, nor an order movement lose its order.
CREATE TABLE stock_movements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta      INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('initial', 'adjustment', 'set', 'order_placed',
                                                'order_canceled', 'expired')),
    reason     TEXT    NOT NULL,
    order_id   INTEGER REFERENCES orders (id),
    created_at INTEGER NOT NULL,
    CHECK ((order_id IS NOT NULL) = (kind IN ('order_placed', 'order_canceled', 'expired')))
) STRICT;

-- GET /products/{id}/adjustments lists one product's ledger by id.
CREATE INDEX stock_movements_by_product ON stock_movements (product_id, id);

-- Orders are never deleted, so neither is their history: a plain rowid key never reuses an id.
-- `from_status` is NULL for the row written when the order was placed. Only a webhook change
-- carries an event id, and it always does.
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    from_status TEXT CHECK (from_status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    to_status   TEXT    NOT NULL CHECK (to_status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    source      TEXT    NOT NULL CHECK (source IN ('api', 'webhook', 'expiry')),
    event_id    TEXT,
    created_at  INTEGER NOT NULL,
    CHECK ((event_id IS NOT NULL) = (source = 'webhook'))
) STRICT;

CREATE INDEX order_events_by_order ON order_events (order_id, id);

-- One row per (operation, client key): the fingerprint of the first request and its response,
-- replayed to a retry. WITHOUT ROWID: always looked up by its primary key.
CREATE TABLE idempotency_keys (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
    body        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;

-- The purge deletes by age.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- The expiry looks for the oldest PENDING orders (the rowid, implicitly last in the index,
-- breaks ties in id order).
CREATE INDEX orders_by_age ON orders (status, created_at);

-- Backfill for a database written by V1, which kept no ledger and no history. (On a new
-- database both statements insert nothing.)
--
-- The ledger must satisfy what `Inventory::verify_invariants` checks for every product:
--   stock = Σ delta = Σ delta of (initial, adjustment, set) − Σ quantity of held orders,
-- where an order holds stock unless CANCELED (every cancel V1 allowed, from PENDING or PAID,
-- returned the units). V1 did not record adjustments, so the true initial stock is unknown; the
-- one `initial` row carries what is known: the current stock plus the units its live orders
-- hold. Then each order gets its `order_placed` row (−quantity), and each CANCELED order its
-- `order_canceled` row (+quantity), which cancel out. So
--   Σ delta = stock + held − Σ all orders + Σ canceled = stock, and
--   initial − held = stock.
-- Every product's `initial` row comes first (its ledger starts with it, as a new product's
-- does), then the order rows in the order they happened: placed at the order's `created_at`,
-- canceled at its `updated_at` (V1 changed an order's `updated_at` only on a status change).
-- The reason of a non-manual row is its kind's name, as for rows the store writes.
INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at)
SELECT product_id, delta, kind, kind, order_id, created_at
FROM (
    SELECT p.id AS product_id,
           p.stock + coalesce((SELECT sum(o.quantity) FROM orders AS o
                               WHERE o.product_id = p.id AND o.status <> 'CANCELED'), 0)
               AS delta,
           'initial' AS kind, NULL AS order_id, p.created_at AS created_at,
           0 AS step, p.id AS seq
    FROM products AS p
    UNION ALL
    SELECT product_id, -quantity, 'order_placed', id, created_at, 1, id
    FROM orders
    UNION ALL
    SELECT product_id, quantity, 'order_canceled', id, updated_at, 2, id
    FROM orders WHERE status = 'CANCELED'
)
ORDER BY step > 0, created_at, step, seq;

-- One history row per order: how it got to its status is not known, only that it was placed
-- and is now in it. Dated `updated_at`, the moment V1 last moved it, i.e. when it entered that
-- status (its `created_at` for a PENDING order). The source of that change is not known either;
-- `api` is the one that claims nothing more (a webhook row would need its event id).
INSERT INTO order_events (order_id, from_status, to_status, source, event_id, created_at)
SELECT id, NULL, status, 'api', NULL, updated_at
FROM orders
ORDER BY id;
