//! Products: create, read, list, update, delete, adjust stock, and the ledger. Each change is
//! one statement writing the product and its ledger row together (so atomic on its own), except
//! the slow path of `adjust_stock` and a create with an idempotency key, which are one short
//! transaction each.

use deadpool_postgres::GenericClient;
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    Adjustment, Error, MAX_STOCK, MovementKind, NewProduct, Page, Product, ProductPatch, Stock,
    StockDelta, StockMovement,
};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use crate::PostgresStore;
use crate::error::{OpError, OpResult, corrupt, is_foreign_key_violation, violates};
use crate::idempotency;
use crate::rows::{self, movement_columns, product_columns};

/// The UNIQUE constraint on `products.sku`, named in the migration.
const SKU_CONSTRAINT: &str = "products_sku_key";

/// The product and its ledger row (delta `$6`, kind `$7`, even for a stock of 0), in one
/// statement.
const INSERT_SQL: &str = concat!(
    "WITH created AS (\
         INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
    product_columns!(),
    "), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
         SELECT id, $6::bigint, $7::text, $7::text, $5 FROM created) \
     SELECT * FROM created"
);

const SELECT_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE id = $1"
);

/// Two texts, with and without the cursor, so each plan seeks the primary key from where it
/// should start.
const LIST_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products ORDER BY id LIMIT $1 OFFSET $2"
);
const LIST_AFTER_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE id > $3 ORDER BY id LIMIT $1 OFFSET $2"
);

/// A partial update in one statement: a NULL parameter keeps the column (what
/// [`ProductPatch::apply_to`] does, applied under the row lock). A changed stock writes a ledger
/// row of kind `$7` with the difference.
///
/// `old` locks the row and reads its newest stock (under READ COMMITTED, a locking read waits
/// for a concurrent writer, then returns the version it committed), and nothing can change it
/// between that lock and the UPDATE: so `stock - old_stock` is exactly this update's change.
/// `NO KEY UPDATE` is the lock the UPDATE takes anyway; it leaves the foreign-key checks of
/// concurrent inserts naming the product (orders, ledger rows) free to proceed.
const UPDATE_SQL: &str = concat!(
    "WITH old AS (SELECT id, stock FROM products WHERE id = $1 FOR NO KEY UPDATE), \
     updated AS (\
         UPDATE products SET sku = COALESCE($2::text, sku), name = COALESCE($3::text, name), \
         price_cents = COALESCE($4::bigint, price_cents), \
         stock = COALESCE($5::bigint, products.stock), updated_at = $6 \
         FROM old WHERE products.id = old.id \
         RETURNING products.id, sku, name, price_cents, products.stock, old.stock AS old_stock), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
         SELECT id, stock - old_stock, $7::text, $7::text, $6 FROM updated \
         WHERE stock <> old_stock) \
     SELECT ",
    product_columns!(),
    " FROM updated"
);

/// Deletes the product only if no order references it (its ledger goes with it, by the foreign
/// key's ON DELETE CASCADE), and tells in the same statement which of "not found", "has orders"
/// and "deleted" happened.
///
/// Both subqueries read the statement's snapshot. An order committed after it (its `place_order`
/// held the product row, so this DELETE waited and then re-checked) is caught by the foreign
/// key, whose check reads the newest data: SQLSTATE 23503, also mapped to `ProductHasOrders`.
const DELETE_SQL: &str = "\
    WITH target AS (\
        SELECT EXISTS (SELECT 1 FROM orders WHERE product_id = $1) AS has_orders \
        FROM products WHERE id = $1), \
    gone AS (\
        DELETE FROM products WHERE id = $1 \
        AND NOT EXISTS (SELECT 1 FROM orders WHERE product_id = $1) RETURNING id) \
    SELECT (SELECT has_orders FROM target) AS has_orders, \
           EXISTS (SELECT 1 FROM gone) AS deleted";

/// Adds `$2` to the stock when the result stays within `0 ..= $4` ([`MAX_STOCK`]: the bounds
/// of [`Adjustment::apply_to`], as a SQL guard), with its ledger row of kind `$6` carrying the
/// reason `$5`, in one conditional statement. Written as bounds on `$2` so that no sum can
/// overflow a BIGINT. Under concurrent writers the WHERE is re-checked on the newest row version
/// before updating, so it never goes below zero. No UPDATE row, no ledger row.
const ADJUST_SQL: &str = concat!(
    "WITH adjusted AS (\
         UPDATE products SET stock = stock + $2, updated_at = $3 \
         WHERE id = $1 AND $2 >= -stock AND $2 <= $4 - stock RETURNING ",
    product_columns!(),
    "), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
         SELECT id, $2, $6::text, $5, $3 FROM adjusted) \
     SELECT * FROM adjusted"
);

/// A product's ledger page, and whether the product exists, in one snapshot: the product row
/// joined to its page of movements, so a missing product is no row at all and an empty ledger
/// one row of NULLs. Two texts, with and without the cursor, as for the listings.
const MOVEMENTS_SQL: &str = concat!(
    "SELECT m.* FROM products p LEFT JOIN LATERAL (\
         SELECT ",
    movement_columns!(),
    " FROM stock_movements WHERE product_id = p.id ORDER BY id LIMIT $2 OFFSET $3) m ON true \
     WHERE p.id = $1 ORDER BY m.id"
);
const MOVEMENTS_AFTER_SQL: &str = concat!(
    "SELECT m.* FROM products p LEFT JOIN LATERAL (\
         SELECT ",
    movement_columns!(),
    " FROM stock_movements WHERE product_id = p.id AND id > $4 \
         ORDER BY id LIMIT $2 OFFSET $3) m ON true \
     WHERE p.id = $1 ORDER BY m.id"
);

const LOCK_STOCK_SQL: &str = "SELECT stock FROM products WHERE id = $1 FOR UPDATE";

impl PostgresStore {
    pub(crate) async fn create_product_once(
        &self,
        p: &NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> OpResult<Idempotent<Product>> {
        let mut client = self.client().await?;
        let Some(key) = key else {
            return Ok(Idempotent::Created(insert_product(&client, p, at).await?));
        };
        // The key, the product and its ledger row commit together or not at all. Dropping the
        // transaction on an early return rolls it back (and with it the key's claim).
        let tx = client.transaction().await?;
        if let Some(stored) = idempotency::claim(&tx, key, at).await? {
            return Ok(Idempotent::Replayed(stored));
        }
        let product = insert_product(&tx, p, at).await?;
        idempotency::complete(&tx, key, &product).await?;
        tx.commit().await?;
        Ok(Idempotent::Created(product))
    }

    pub(crate) async fn get_product_once(&self, id: i64) -> OpResult<Product> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(SELECT_SQL).await?;
        match client.query_opt(&stmt, &[&id]).await? {
            Some(row) => rows::product(&row),
            None => Err(Error::ProductNotFound { id }.into()),
        }
    }

    pub(crate) async fn list_products_once(&self, page: Page) -> OpResult<Vec<Product>> {
        let client = self.client().await?;
        let (limit, skip) = limit_skip(page);
        let rows = match page.after_id() {
            Some(after) => {
                let stmt = client.prepare_cached(LIST_AFTER_SQL).await?;
                client.query(&stmt, &[&limit, &skip, &after]).await?
            }
            None => {
                let stmt = client.prepare_cached(LIST_SQL).await?;
                client.query(&stmt, &[&limit, &skip]).await?
            }
        };
        rows.iter().map(rows::product).collect()
    }

    pub(crate) async fn update_product_once(
        &self,
        id: i64,
        patch: &ProductPatch,
        at: OffsetDateTime,
    ) -> OpResult<Product> {
        if patch.is_empty() {
            return self.get_product_once(id).await;
        }
        let client = self.client().await?;
        let stmt = client.prepare_cached(UPDATE_SQL).await?;
        let sku = patch.sku().map(|s| s.as_str());
        let name = patch.name().map(|n| n.as_str());
        let price = patch.price().map(|p| p.cents());
        let stock = patch.stock().map(Stock::get);
        let kind = MovementKind::Set.as_str();
        let result = client
            .query_opt(&stmt, &[&id, &sku, &name, &price, &stock, &at, &kind])
            .await;
        match result {
            Ok(Some(row)) => rows::product(&row),
            Ok(None) => Err(Error::ProductNotFound { id }.into()),
            Err(e) => match patch.sku() {
                Some(sku) if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) => {
                    Err(Error::DuplicateSku { sku: sku.clone() }.into())
                }
                _ => Err(e.into()),
            },
        }
    }

    pub(crate) async fn delete_product_once(&self, id: i64) -> OpResult<()> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(DELETE_SQL).await?;
        let row = match client.query_one(&stmt, &[&id]).await {
            Ok(row) => row,
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(Error::ProductHasOrders { id }.into());
            }
            Err(e) => return Err(e.into()),
        };
        let has_orders: Option<bool> = row.try_get("has_orders")?;
        let deleted: bool = row.try_get("deleted")?;
        match (deleted, has_orders) {
            (true, _) => Ok(()),
            (false, Some(true)) => Err(Error::ProductHasOrders { id }.into()),
            // Absent from the snapshot, or present but deleted by a concurrent caller before
            // this DELETE reached it: either way it is gone.
            (false, _) => Err(Error::ProductNotFound { id }.into()),
        }
    }

    pub(crate) async fn adjust_stock_once(
        &self,
        id: i64,
        adjustment: &Adjustment,
        at: OffsetDateTime,
    ) -> OpResult<Product> {
        let mut client = self.client().await?;
        let stmt = client.prepare_cached(ADJUST_SQL).await?;
        let (delta, reason) = (adjustment.delta().get(), adjustment.reason().as_str());
        let kind = MovementKind::Adjustment.as_str();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&id, &delta, &at, &MAX_STOCK, &reason, &kind];
        if let Some(row) = client.query_opt(&stmt, &params).await? {
            return rows::product(&row);
        }
        // Refused (or no such product). Ask core why, on the newest stock rather than the
        // snapshot's: lock the row, so what is reported is what the decision was made on; if a
        // concurrent change has made the adjustment valid meanwhile, apply it under that lock.
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        let current = Stock::new(row.try_get("stock")?)
            .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
        // On a refusal the transaction is dropped, which rolls it back.
        adjustment.apply_to(id, current)?;
        let row = tx.query_one(&stmt, &params).await?;
        let product = rows::product(&row)?;
        tx.commit().await?;
        Ok(product)
    }

    pub(crate) async fn list_movements_once(
        &self,
        product_id: i64,
        page: Page,
    ) -> OpResult<Vec<StockMovement>> {
        let client = self.client().await?;
        let (limit, skip) = limit_skip(page);
        let rows = match page.after_id() {
            Some(after) => {
                let stmt = client.prepare_cached(MOVEMENTS_AFTER_SQL).await?;
                client
                    .query(&stmt, &[&product_id, &limit, &skip, &after])
                    .await?
            }
            None => {
                let stmt = client.prepare_cached(MOVEMENTS_SQL).await?;
                client.query(&stmt, &[&product_id, &limit, &skip]).await?
            }
        };
        if rows.is_empty() {
            return Err(Error::ProductNotFound { id: product_id }.into());
        }
        let mut movements = Vec::with_capacity(rows.len());
        for row in &rows {
            // The one row of NULLs of a product with no movement on this page.
            if row.try_get::<_, Option<i64>>("id")?.is_some() {
                movements.push(rows::movement(row)?);
            }
        }
        Ok(movements)
    }
}

/// Inserts a product and its `initial` ledger row on `client` (a pooled connection, or the
/// transaction of an idempotency key).
async fn insert_product<C: GenericClient>(
    client: &C,
    p: &NewProduct,
    at: OffsetDateTime,
) -> OpResult<Product> {
    let stmt = client.prepare_cached(INSERT_SQL).await?;
    let initial = StockDelta::initial(p.stock()).get();
    let kind = MovementKind::Initial.as_str();
    let row = client
        .query_one(
            &stmt,
            &[
                &p.sku().as_str(),
                &p.name().as_str(),
                &p.price().cents(),
                &p.stock().get(),
                &at,
                &initial,
                &kind,
            ],
        )
        .await
        .map_err(|e| -> OpError {
            if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) {
                Error::DuplicateSku {
                    sku: p.sku().clone(),
                }
                .into()
            } else {
                e.into()
            }
        });
    rows::product(&row?)
}

/// `LIMIT` and `OFFSET` as BIGINT parameters. `Page` keeps `skip` within `i64`.
pub(crate) fn limit_skip(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit()),
        i64::try_from(page.skip()).unwrap_or(i64::MAX),
    )
}
