-- Orders of many lines. Each line is a product, a quantity and the unit price snapshotted when
-- the order was placed; the order keeps its status, its total (the sum of its lines) and its
-- times. Every order of the previous schema becomes a one-line order, line 0. Same constraints
-- as the SQLite schema.

-- RESTRICT: order history is never destroyed with its product (the store maps the violation,
-- SQLSTATE 23503, to ProductHasOrders). `line` is the line's index in the order, 0 to 99.
CREATE TABLE order_lines (
    order_id         BIGINT   NOT NULL REFERENCES orders (id),
    line             SMALLINT NOT NULL CHECK (line BETWEEN 0 AND 99),
    product_id       BIGINT   NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    quantity         BIGINT   NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT   NOT NULL CHECK (unit_price_cents > 0),
    total_cents      BIGINT   NOT NULL CHECK (total_cents = unit_price_cents * quantity),
    PRIMARY KEY (order_id, line)
);

-- GET /orders?product_id= lists the orders with a line of the product, by id; the index also
-- serves the foreign key check when a product is deleted.
CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);

INSERT INTO order_lines (order_id, line, product_id, quantity, unit_price_cents, total_cents)
SELECT id, 0, product_id, quantity, unit_price_cents, total_cents FROM orders;

-- Dropping the line columns drops the index on product_id and the CHECK tying the total to
-- them; the total now only has to be positive (the lines' CHECKs hold each product).
ALTER TABLE orders
    DROP COLUMN product_id,
    DROP COLUMN quantity,
    DROP COLUMN unit_price_cents,
    ADD CONSTRAINT orders_total_positive CHECK (total_cents > 0);
