//! Products: create, read, list, update, delete, adjust stock. Each is one statement (so atomic
//! on its own), except the slow path of `adjust_stock`, which is one short transaction.

use inventory_core::{Error, FieldError, MAX_STOCK, NewProduct, Page, Product, ProductPatch};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use crate::PostgresStore;
use crate::error::{OpError, OpResult, is_foreign_key_violation, violates};
use crate::rows::{self, product_columns};

/// The UNIQUE constraint on `products.sku`, named in the migration.
const SKU_CONSTRAINT: &str = "products_sku_key";

const INSERT_SQL: &str = concat!(
    "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
    product_columns!()
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

/// A partial update in one statement: a NULL parameter keeps the column.
const UPDATE_SQL: &str = concat!(
    "UPDATE products SET sku = COALESCE($2::text, sku), name = COALESCE($3::text, name), \
     price_cents = COALESCE($4::bigint, price_cents), stock = COALESCE($5::bigint, stock), \
     updated_at = $6 WHERE id = $1 RETURNING ",
    product_columns!()
);

/// Deletes the product only if no order references it, and tells in the same statement which
/// of "not found", "has orders" and "deleted" happened.
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

/// Adds `$2` to the stock when the result stays within `0 ..= $4`, in one conditional statement.
/// Written as bounds on `$2` so that no sum can overflow a BIGINT. Under concurrent writers the
/// WHERE is re-checked on the newest row version before updating, so it never goes below zero.
const ADJUST_SQL: &str = concat!(
    "UPDATE products SET stock = stock + $2, updated_at = $3 \
     WHERE id = $1 AND $2 >= -stock AND $2 <= $4 - stock RETURNING ",
    product_columns!()
);

const LOCK_STOCK_SQL: &str = "SELECT stock FROM products WHERE id = $1 FOR UPDATE";

impl PostgresStore {
    pub(crate) async fn create_product_once(
        &self,
        p: &NewProduct,
        at: OffsetDateTime,
    ) -> OpResult<Product> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(INSERT_SQL).await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &p.sku.as_str(),
                    &p.name.as_str(),
                    &p.price.cents(),
                    &p.stock,
                    &at,
                ],
            )
            .await
            .map_err(|e| -> OpError {
                if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) {
                    Error::DuplicateSku { sku: p.sku.clone() }.into()
                } else {
                    e.into()
                }
            });
        rows::product(&row?)
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
        let sku = patch.sku.as_ref().map(|s| s.as_str());
        let name = patch.name.as_ref().map(|n| n.as_str());
        let price = patch.price.map(|p| p.cents());
        let result = client
            .query_opt(&stmt, &[&id, &sku, &name, &price, &patch.stock, &at])
            .await;
        match result {
            Ok(Some(row)) => rows::product(&row),
            Ok(None) => Err(Error::ProductNotFound { id }.into()),
            Err(e) => match &patch.sku {
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
        delta: i64,
        at: OffsetDateTime,
    ) -> OpResult<Product> {
        let mut client = self.client().await?;
        let stmt = client.prepare_cached(ADJUST_SQL).await?;
        if let Some(row) = client
            .query_opt(&stmt, &[&id, &delta, &at, &MAX_STOCK])
            .await?
        {
            return rows::product(&row);
        }
        // Refused (or no such product). Say why from the newest stock, not the snapshot's:
        // lock the row, so what is reported is what the decision was made on; if a concurrent
        // change has made the adjustment valid meanwhile, apply it under that lock.
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        let available: i64 = row.try_get("stock")?;
        match available.checked_add(delta) {
            Some(n) if (0..=MAX_STOCK).contains(&n) => {
                let row = tx.query_one(&stmt, &[&id, &delta, &at, &MAX_STOCK]).await?;
                let product = rows::product(&row)?;
                tx.commit().await?;
                Ok(product)
            }
            Some(n) if n < 0 => Err(Error::InsufficientStock {
                product_id: id,
                requested: delta.saturating_neg(),
                available,
            }
            .into()),
            // Above the maximum: the same answer as the in-memory reference store.
            _ => Err(
                Error::Validation(inventory_core::ValidationErrors::single(FieldError::new(
                    ["body", "delta"],
                    "stock would exceed its maximum",
                    "less_than_equal",
                )))
                .into(),
            ),
        }
        // On the error arms the transaction is dropped, which rolls it back.
    }
}

/// `LIMIT` and `OFFSET` as BIGINT parameters. `Page` keeps `skip` within `i64`.
pub(crate) fn limit_skip(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit()),
        i64::try_from(page.skip()).unwrap_or(i64::MAX),
    )
}
