-- Listing orders by creation time (GET /orders?created_after=&created_before=): the range
-- scan of the half-open interval, in id order within one instant.
CREATE INDEX orders_by_creation ON orders (created_at, id);
