-- The database enforces the invariants too, not only the code: a bug, a second program or a
-- hand-made UPDATE cannot take stock below zero, price a product at zero, or give an order a
-- status outside the table. Same constraints as the SQLite schema.
-- Timestamps are TIMESTAMPTZ (microsecond precision, the core's precision), read back in UTC.

-- Identity columns come from sequences, so a deleted product's id is never handed out again
-- (an old link or order history must never point at a different product).
CREATE TABLE products (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Named, because the store maps a violation of exactly this constraint to DuplicateSku.
    sku         TEXT        NOT NULL CONSTRAINT products_sku_key UNIQUE
                            CHECK (char_length(sku) BETWEEN 1 AND 64),
    name        TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    price_cents BIGINT      NOT NULL CHECK (price_cents BETWEEN 1 AND 9999999999),
    stock       BIGINT      NOT NULL CHECK (stock >= 0),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- RESTRICT: order history is never destroyed with its product (the store maps the violation,
-- SQLSTATE 23503, to ProductHasOrders).
CREATE TABLE orders (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id       BIGINT      NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    quantity         BIGINT      NOT NULL CHECK (quantity > 0),
    status           TEXT        NOT NULL
                                 CHECK (status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELED')),
    unit_price_cents BIGINT      NOT NULL CHECK (unit_price_cents > 0),
    total_cents      BIGINT      NOT NULL CHECK (total_cents = unit_price_cents * quantity),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- The filters GET /orders offers, each listed by id. The product index also serves the foreign
-- key check when a product is deleted.
CREATE INDEX orders_by_status ON orders (status, id);
CREATE INDEX orders_by_product ON orders (product_id, id);

-- No foreign key on order_id: an ignored event type is recorded as sent, even when the order it
-- names does not exist. The primary key is what lets exactly one delivery of an event apply.
CREATE TABLE webhook_events (
    event_id     TEXT        PRIMARY KEY,
    kind         TEXT        NOT NULL,
    order_id     BIGINT,
    processed_at TIMESTAMPTZ NOT NULL
);
