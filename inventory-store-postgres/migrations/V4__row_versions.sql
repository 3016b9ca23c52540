-- Row versions for optimistic concurrency (ETag / If-Match): every change of a product or an
-- order row makes its version one larger.
ALTER TABLE products ADD COLUMN version BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE orders ADD COLUMN version BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1);
