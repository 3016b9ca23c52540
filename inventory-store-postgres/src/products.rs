//! Products: create, read, list, update, delete, adjust stock, and the ledger. Each change is
//! one statement writing the product and its ledger row together (so atomic on its own), except
//! the slow path of `adjust_stock` and a create with an idempotency key, which are one short
//! transaction each.

use deadpool_postgres::GenericClient;
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    Adjustments, Error, MAX_STOCK, MovementKind, NewProduct, Page, Precondition, Product,
    ProductPatch, Stock, StockDelta, StockMovement, Version,
};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

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

/// [`INSERT_SQL`] for a batch item: no row at all (and so no ledger row) when the SKU exists,
/// instead of a unique violation; a concurrent insert of the same SKU is waited for.
const INSERT_IF_NEW_SQL: &str = concat!(
    "WITH created AS (\
         INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (sku) DO NOTHING RETURNING ",
    product_columns!(),
    "), \
     ledger AS (\
         INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
         SELECT id, $6::bigint, $7::text, $7::text, $5 FROM created) \
     SELECT * FROM created"
);

/// A batch item's product, locked as [`LOCK_FOR_UPDATE_SQL`] locks it, found by SKU.
pub(crate) const LOCK_BY_SKU_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE sku = $1 FOR NO KEY UPDATE"
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

/// A partial update, in one transaction: the row is locked (`NO KEY UPDATE`, the lock the
/// UPDATE takes anyway; it leaves the foreign-key checks of concurrent inserts naming the product
/// free to proceed), core's [`ProductPatch::apply_to`] decides the new row from it (precondition
/// and stock compare-and-set included), and the row and, for a changed stock, its `set` ledger
/// row are written.
const LOCK_FOR_UPDATE_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE id = $1 FOR NO KEY UPDATE"
);

const WRITE_SQL: &str = "UPDATE products SET sku = $2, name = $3, price_cents = $4, stock = $5, \
     updated_at = $6, version = $7 WHERE id = $1";

const SET_LEDGER_SQL: &str = "INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
     VALUES ($1, $2, $3, $3, $4)";

/// Locks the row to delete (a concurrent order's foreign-key check waits for it) and reads the
/// version a precondition is checked against.
const LOCK_FOR_DELETE_SQL: &str = "SELECT version FROM products WHERE id = $1 FOR UPDATE";

/// Deletes the product only if no order references it (its ledger goes with it, by the foreign
/// key's ON DELETE CASCADE), and tells in the same statement which of "not found", "has orders"
/// and "deleted" happened.
///
/// Both subqueries read the statement's snapshot. An order committed after it (its `place_order`
/// held the product row, so this DELETE waited and then re-checked) is caught by the foreign
/// key, whose check reads the newest data: SQLSTATE 23503, also mapped to `ProductHasOrders`.
const DELETE_SQL: &str = "\
    WITH target AS (\
        SELECT EXISTS (SELECT 1 FROM order_lines WHERE product_id = $1) AS has_orders \
        FROM products WHERE id = $1), \
    gone AS (\
        DELETE FROM products WHERE id = $1 \
        AND NOT EXISTS (SELECT 1 FROM order_lines WHERE product_id = $1) RETURNING id) \
    SELECT (SELECT has_orders FROM target) AS has_orders, \
           EXISTS (SELECT 1 FROM gone) AS deleted";

/// Adds `$2` to the stock when the result stays within `0 ..= $4` ([`MAX_STOCK`]: the bounds
/// of [`Adjustment::apply_to`], as a SQL guard), with its ledger row of kind `$6` carrying the
/// reason `$5`, in one conditional statement. Written as bounds on `$2` so that no sum can
/// overflow a BIGINT. Under concurrent writers the WHERE is re-checked on the newest row version
/// before updating, so it never goes below zero. No UPDATE row, no ledger row.
const ADJUST_SQL: &str = concat!(
    "WITH adjusted AS (\
         UPDATE products SET stock = stock + $2, updated_at = $3, version = version + 1 \
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

/// The stock core decided for a list of adjustments, under [`LOCK_STOCK_SQL`]'s lock.
const SET_STOCK_SQL: &str = concat!(
    "UPDATE products SET stock = $2, updated_at = $3, version = version + 1 WHERE id = $1 \
     RETURNING ",
    product_columns!()
);

/// One adjustment's ledger row.
const LEDGER_SQL: &str = "INSERT INTO stock_movements (product_id, delta, kind, reason, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_FOR_UPDATE_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        let old = rows::product(&row)?;
        let product = patch.apply_to(&old)?;
        let delta = (product.stock != old.stock).then(|| old.stock.delta_to(product.stock));
        write_product(&tx, &product, delta, at).await?;
        tx.commit().await?;
        Ok(product)
    }

    pub(crate) async fn delete_product_once(
        &self,
        id: i64,
        precondition: Option<&Precondition>,
    ) -> OpResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_FOR_DELETE_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        if let Some(precondition) = precondition {
            let version = Version::new(row.try_get("version")?)
                .map_err(|e| corrupt(format!("product {id}: version: {e}")))?;
            precondition.check(id, version)?;
        }
        let stmt = tx.prepare_cached(DELETE_SQL).await?;
        let row = match tx.query_one(&stmt, &[&id]).await {
            Ok(row) => row,
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(Error::ProductHasOrders { id }.into());
            }
            Err(e) => return Err(e.into()),
        };
        let has_orders: Option<bool> = row.try_get("has_orders")?;
        let deleted: bool = row.try_get("deleted")?;
        match (deleted, has_orders) {
            (true, _) => {
                tx.commit().await?;
                Ok(())
            }
            (false, Some(true)) => Err(Error::ProductHasOrders { id }.into()),
            // Absent from the snapshot, or present but deleted by a concurrent caller before
            // this DELETE reached it: either way it is gone.
            (false, _) => Err(Error::ProductNotFound { id }.into()),
        }
    }

    pub(crate) async fn adjust_stock_once(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> OpResult<Product> {
        let mut client = self.client().await?;
        if let [adjustment] = adjustments.as_slice() {
            // One adjustment: one conditional statement, no transaction, when it applies.
            let stmt = client.prepare_cached(ADJUST_SQL).await?;
            let (delta, reason) = (adjustment.delta().get(), adjustment.reason().as_str());
            let kind = MovementKind::Adjustment.as_str();
            let params: [&(dyn ToSql + Sync); 6] = [&id, &delta, &at, &MAX_STOCK, &reason, &kind];
            if let Some(row) = client.query_opt(&stmt, &params).await? {
                return rows::product(&row);
            }
        }
        // Several, or one refused (or no such product): lock the row and ask core on the newest
        // stock, so what is reported is what the decision was made on; if a concurrent change
        // has made a refused adjustment valid meanwhile, it is applied under that lock.
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        let current = Stock::new(row.try_get("stock")?)
            .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
        // On a refusal the transaction is dropped, which rolls it back.
        let new = adjustments.apply_to(id, current)?.get();
        let set = tx.prepare_cached(SET_STOCK_SQL).await?;
        let row = tx.query_one(&set, &[&id, &new, &at]).await?;
        let ledger = tx.prepare_cached(LEDGER_SQL).await?;
        let kind = MovementKind::Adjustment.as_str();
        for a in adjustments.as_slice() {
            let (delta, reason) = (a.delta().get(), a.reason().as_str());
            tx.execute(&ledger, &[&id, &delta, &kind, &reason, &at])
                .await?;
        }
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

/// Writes `product` over its row (at the version it carries) and, for a changed stock, its
/// `set` ledger row of `delta`, in the caller's transaction.
pub(crate) async fn write_product<C: GenericClient>(
    tx: &C,
    product: &Product,
    delta: Option<StockDelta>,
    at: OffsetDateTime,
) -> OpResult<()> {
    let write = tx.prepare_cached(WRITE_SQL).await?;
    let params: [&(dyn ToSql + Sync); 7] = [
        &product.id,
        &product.sku.as_str(),
        &product.name.as_str(),
        &product.price.cents(),
        &product.stock.get(),
        &at,
        &product.version.get(),
    ];
    if let Err(e) = tx.execute(&write, &params).await {
        return Err(
            if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) {
                Error::DuplicateSku {
                    sku: product.sku.clone(),
                }
                .into()
            } else {
                e.into()
            },
        );
    }
    if let Some(delta) = delta {
        let ledger = tx.prepare_cached(SET_LEDGER_SQL).await?;
        let kind = MovementKind::Set.as_str();
        tx.execute(&ledger, &[&product.id, &delta.get(), &kind, &at])
            .await?;
    }
    Ok(())
}

/// Inserts a batch item's product and its `initial` ledger row unless its SKU exists by now
/// (`None`).
pub(crate) async fn insert_new_product<C: GenericClient>(
    tx: &C,
    p: &NewProduct,
    at: OffsetDateTime,
) -> OpResult<Option<Product>> {
    let stmt = tx.prepare_cached(INSERT_IF_NEW_SQL).await?;
    let initial = StockDelta::initial(p.stock()).get();
    let kind = MovementKind::Initial.as_str();
    let params: [&(dyn ToSql + Sync); 7] = [
        &p.sku().as_str(),
        &p.name().as_str(),
        &p.price().cents(),
        &p.stock().get(),
        &at,
        &initial,
        &kind,
    ];
    match tx.query_opt(&stmt, &params).await? {
        Some(row) => Ok(Some(rows::product(&row)?)),
        None => Ok(None),
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
