-- Stock per location. A product's `stock` stays what it was (its available units, now summed
-- over locations); each location keeps its own level, split into `on_hand` (on the shelf) and
-- `committed` (held by PENDING and PAID orders), and each order line records where its units
-- were taken from, so that a cancel returns them exactly there and shipping takes them off that
-- shelf. Core decides every change (inventory_core::LevelChange); the CHECKs below are a
-- backstop that refuses rows no decision of core could make. Same constraints as the SQLite
-- schema.

-- Locations are never deleted (an order's allocations, a ledger row, a level keep naming
-- them), so the foreign keys below need no index on their side.
CREATE TABLE locations (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Named, because the store maps a violation of exactly this constraint to
    -- DuplicateLocationCode.
    code     TEXT    NOT NULL CONSTRAINT locations_code_key UNIQUE
                     CHECK (char_length(code) BETWEEN 1 AND 64),
    name     TEXT    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Allocation order: lower first, ties by lower id (core's PRIORITY_RANGE).
    priority INTEGER NOT NULL CHECK (priority BETWEEN -1000000 AND 1000000)
);

-- The default location (inventory_core::DEFAULT_LOCATION = 1): where the seed's `stock` lives,
-- and where every unit of the previous schema is. Its id is fixed, so it is given explicitly;
-- the identity's sequence is then moved past it, so the next location gets 2.
INSERT INTO locations (id, code, name, priority) OVERRIDING SYSTEM VALUE
VALUES (1, 'default', 'Default', 0);
SELECT setval(pg_get_serial_sequence('locations', 'id'), 1);

-- One product's units at one location. CASCADE: a product can only be deleted while it has no
-- orders, and its levels go with it (as its ledger does). Written only while the product's row
-- is locked, so a level read after taking that lock is current.
CREATE TABLE stock_levels (
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    location_id BIGINT NOT NULL REFERENCES locations (id),
    on_hand     BIGINT NOT NULL CHECK (on_hand >= 0),
    committed   BIGINT NOT NULL CHECK (committed >= 0),
    -- Orders never hold more than is on the shelf: available = on_hand - committed >= 0.
    CONSTRAINT stock_levels_committed_on_hand CHECK (committed <= on_hand),
    PRIMARY KEY (product_id, location_id)
);

-- Where each order line's units came from. An order is never deleted, and neither are its
-- lines, so the foreign key to them needs no index of its own (the primary key, led by the
-- order, serves reading an order's allocations).
CREATE TABLE order_allocations (
    order_id    BIGINT   NOT NULL,
    line        SMALLINT NOT NULL,
    location_id BIGINT   NOT NULL REFERENCES locations (id),
    quantity    BIGINT   NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line, location_id),
    FOREIGN KEY (order_id, line) REFERENCES order_lines (order_id, line)
);

-- Each ledger row names the location whose available units moved; every row written before
-- is the default location's. A transfer writes two rows, out of one location and into
-- another; like the manual kinds they name no order (stock_movements_order_kind still holds).
ALTER TABLE stock_movements
    ADD COLUMN location_id BIGINT NOT NULL DEFAULT 1 REFERENCES locations (id),
    DROP CONSTRAINT stock_movements_kind_check,
    ADD CONSTRAINT stock_movements_kind_check
        CHECK (kind IN ('initial', 'adjustment', 'set', 'order_placed', 'order_canceled',
                        'expired', 'transfer_out', 'transfer_in'));

-- Backfill: every unit is at the default location. What PENDING and PAID orders hold is
-- committed there (the previous schema had already taken it from `stock`), so the shelf holds
-- the stock plus that; SHIPPED orders' units have left the shelf, CANCELED orders' are back in
-- `stock`. `sum` of BIGINT is NUMERIC, hence the cast.
INSERT INTO stock_levels (product_id, location_id, on_hand, committed)
SELECT p.id, 1, p.stock + COALESCE(h.held, 0), COALESCE(h.held, 0)
FROM products p
LEFT JOIN (
    SELECT l.product_id, sum(l.quantity)::bigint AS held
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE o.status IN ('PENDING', 'PAID')
    GROUP BY l.product_id
) h ON h.product_id = p.id
ORDER BY p.id;

-- How many levels each product has, kept on its row by the store whenever it inserts one (levels
-- are only deleted with their product): the guard of the one-statement placement of a one-line
-- order, which is only taken for a product with a single level. On the product row, so that a
-- concurrent insert of a second level (done under the product's lock) is seen by that guard when
-- it re-checks the newest row version after waiting for the lock.
ALTER TABLE products ADD COLUMN level_count integer NOT NULL DEFAULT 0
    CONSTRAINT products_level_count_nonnegative CHECK (level_count >= 0);
UPDATE products p SET level_count = 1;

-- Every existing line was taken wholly from the default location (where a cancel of a still
-- PENDING or PAID order returns it, and shipping takes it off the shelf).
INSERT INTO order_allocations (order_id, line, location_id, quantity)
SELECT order_id, line, 1, quantity FROM order_lines
ORDER BY order_id, line;
