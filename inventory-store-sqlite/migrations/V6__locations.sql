-- Stock per location. A product's `stock` stays what it was (its available units, summed over
-- locations); each location's share of it is a `stock_levels` row of what is on the shelf
-- (`on_hand`) and what PENDING and PAID orders hold of it (`committed`), so that
-- available = on_hand − committed. Every order line records where its units were taken from
-- (`order_allocations`), which is where a cancel returns them and where shipping takes them off
-- the shelf; every ledger row says at which location the available units moved.
--
-- The store runs migrations with foreign keys off and checks them all afterwards
-- (PRAGMA foreign_key_check): rebuilding `stock_movements` below is SQLite's documented table
-- rebuild, as V5 did for `orders`.

-- Locations are never deleted, so a plain rowid key never reuses an id. The bounds are core's
-- (LocationCode, LocationName, PRIORITY_RANGE); lower priority numbers are allocated from first.
CREATE TABLE locations (
    id       INTEGER PRIMARY KEY,
    code     TEXT    NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name     TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    priority INTEGER NOT NULL CHECK (priority BETWEEN -1000000 AND 1000000)
) STRICT;

-- The location every database has: where the seed's `stock` lives (create and PUT write it
-- here), and where every unit was before locations existed.
INSERT INTO locations (id, code, name, priority) VALUES (1, 'default', 'Default', 0);

-- One row per product and location it has ever had units at. WITHOUT ROWID: always read by
-- product, clustered by (product_id, location_id). A product's levels go with it (CASCADE; the
-- store deletes them explicitly as well). The CHECKs are a backstop: core only decides changes
-- that keep them.
CREATE TABLE stock_levels (
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    location_id INTEGER NOT NULL REFERENCES locations (id),
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    committed   INTEGER NOT NULL CHECK (committed >= 0),
    CHECK (committed <= on_hand),
    PRIMARY KEY (product_id, location_id)
) STRICT, WITHOUT ROWID;

-- Until now every unit was at the default location: each product's level there holds what its
-- live (PENDING and PAID) orders hold, and its available units are its stock.
INSERT INTO stock_levels (product_id, location_id, on_hand, committed)
SELECT id, 1, stock + held, held
FROM (
    SELECT p.id, p.stock,
           coalesce((SELECT sum(l.quantity)
                     FROM order_lines AS l JOIN orders AS o ON o.id = l.order_id
                     WHERE l.product_id = p.id AND o.status IN ('PENDING', 'PAID')), 0) AS held
    FROM products AS p
);

-- Where each line's units came from: one row per location that served it. A rowid table (not
-- WITHOUT ROWID): rows are never deleted, so the rowid keeps the order core allocated a line's
-- locations in, which is the order the store reads them back in.
CREATE TABLE order_allocations (
    order_id    INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    location_id INTEGER NOT NULL REFERENCES locations (id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line, location_id),
    FOREIGN KEY (order_id, line) REFERENCES order_lines (order_id, line)
) STRICT;

-- Every existing line was served wholly from the default location.
INSERT INTO order_allocations (order_id, line, location_id, quantity)
SELECT order_id, line, 1, quantity FROM order_lines ORDER BY order_id, line;

-- The ledger gains the location of each row (every existing row: the default location), and
-- its kind CHECK admits the two sides of a transfer (which name no order). SQLite cannot alter
-- a CHECK: the table is rebuilt, keeping every id, AUTOINCREMENT and its counter (a deleted
-- product's rows may have had the highest ids, and an id must never be handed out twice), and
-- the index.
CREATE TABLE stock_movements_v6 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta       INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('initial', 'adjustment', 'set', 'order_placed',
                                                 'order_canceled', 'expired', 'transfer_out',
                                                 'transfer_in')),
    reason      TEXT    NOT NULL,
    order_id    INTEGER REFERENCES orders (id),
    created_at  INTEGER NOT NULL,
    location_id INTEGER NOT NULL DEFAULT 1 REFERENCES locations (id),
    CHECK ((order_id IS NOT NULL) = (kind IN ('order_placed', 'order_canceled', 'expired')))
) STRICT;

INSERT INTO stock_movements_v6 (id, product_id, delta, kind, reason, order_id, created_at,
                                location_id)
SELECT id, product_id, delta, kind, reason, order_id, created_at, 1 FROM stock_movements
ORDER BY id;

-- The old table's counter, carried over (sqlite_sequence has no unique name, hence the DELETE):
-- DROP TABLE deletes the old table's row, and RENAME renames the new one's.
DELETE FROM sqlite_sequence WHERE name = 'stock_movements_v6';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'stock_movements_v6', seq FROM sqlite_sequence WHERE name = 'stock_movements';

DROP TABLE stock_movements;
ALTER TABLE stock_movements_v6 RENAME TO stock_movements;

-- GET /products/{id}/adjustments lists one product's ledger by id.
CREATE INDEX stock_movements_by_product ON stock_movements (product_id, id);
