-- The records kept beside each change: the stock ledger, order history, and idempotency keys,
-- plus an index for the unpaid-order expiry. Written in the same transaction as the change they
-- record (see the store's code); the constraints below refuse rows that could not come from it.

-- Every change to a product's stock, with why. CASCADE: a product can only be deleted while it
-- has no orders, and then its ledger (initial stock, adjustments) goes with it, as in the
-- reference store. `order_id` has no index: orders are never deleted, so the foreign key is
-- never checked from that side.
CREATE TABLE stock_movements (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id BIGINT      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta      BIGINT      NOT NULL,
    kind       TEXT        NOT NULL CHECK (kind IN ('initial', 'adjustment', 'set',
                                                    'order_placed', 'order_canceled', 'expired')),
    reason     TEXT        NOT NULL,
    order_id   BIGINT      REFERENCES orders (id),
    created_at TIMESTAMPTZ NOT NULL,
    -- Exactly the order movements name their order.
    CONSTRAINT stock_movements_order_kind
        CHECK ((kind IN ('order_placed', 'order_canceled', 'expired')) = (order_id IS NOT NULL))
);

-- A product's ledger, in id order (GET /products/{id}/adjustments, the invariant check); also
-- serves the cascade when a product is deleted.
CREATE INDEX stock_movements_by_product ON stock_movements (product_id, id);

-- Every status change of an order, with what caused it.
CREATE TABLE order_events (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT      NOT NULL REFERENCES orders (id),
    -- NULL for the row written when the order is placed.
    from_status TEXT        CHECK (from_status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    to_status   TEXT        NOT NULL
                            CHECK (to_status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    source      TEXT        NOT NULL CHECK (source IN ('api', 'webhook', 'expiry')),
    event_id    TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    -- Exactly the webhook changes carry their event id.
    CONSTRAINT order_events_webhook_event CHECK ((source = 'webhook') = (event_id IS NOT NULL))
);

CREATE INDEX order_events_by_order ON order_events (order_id, id);

-- Idempotency keys. The primary key is what lets exactly one of several concurrent requests
-- with one key do the work: the others' INSERT ... ON CONFLICT waits for its transaction, then
-- finds its row. `status` and `body` are filled in before that transaction commits, so another
-- transaction never sees a row without its response.
CREATE TABLE idempotency_keys (
    scope       TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    status      SMALLINT,
    body        BYTEA,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key),
    CONSTRAINT idempotency_keys_response CHECK ((status IS NULL) = (body IS NULL))
);

-- The purge deletes by age.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- The expiry sweep reads the oldest PENDING orders first; partial, so it stays as small as the
-- set of unpaid orders.
CREATE INDEX orders_pending_by_age ON orders (created_at, id) WHERE status = 'PENDING';

-- Backfill, for a database that has run V1 with data: the ledger must sum to each product's
-- stock and satisfy `stock = initial + adjustments - units held by PENDING/PAID/SHIPPED orders`
-- (what `Inventory::verify_invariants` checks), and every order must have its history.
--
-- V1 kept no record of past adjustments, so they are folded into one `initial` row per product:
-- the current stock plus the units its live orders hold (what the product had before those
-- orders took them). Then every order gets its `order_placed` row (-quantity), and a canceled
-- order also its `order_canceled` row (+quantity): V1 returned the units of every cancellation,
-- and whether one was an expiry cannot be known. The sum is stock + held - all + canceled =
-- stock. Each order gets one history row, NULL -> its current status, from the API: the
-- intermediate steps were not recorded. Timestamps are the rows' own.
INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at)
SELECT p.id,
       p.stock + COALESCE((SELECT sum(o.quantity) FROM orders o
                           WHERE o.product_id = p.id
                             AND o.status IN ('PENDING', 'PAID', 'SHIPPED')), 0),
       'initial', 'initial', NULL, p.created_at
FROM products p
ORDER BY p.id;

INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at)
SELECT m.product_id, m.delta, m.kind, m.kind, m.order_id, m.created_at
FROM (
    SELECT o.product_id, -o.quantity AS delta, 'order_placed' AS kind, o.id AS order_id,
           o.created_at, 0 AS step
    FROM orders o
    UNION ALL
    SELECT o.product_id, o.quantity, 'order_canceled', o.id, o.updated_at, 1
    FROM orders o
    WHERE o.status = 'CANCELED'
) m
ORDER BY m.order_id, m.step;

INSERT INTO order_events (order_id, from_status, to_status, source, event_id, created_at)
SELECT o.id, NULL, o.status, 'api', NULL, o.created_at
FROM orders o
ORDER BY o.id;
