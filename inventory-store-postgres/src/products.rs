//! Products: create, read, list, update, delete, adjust stock, and the ledger. Each change that
//! moves stock is one short transaction: the product row, then (under its lock) its levels and
//! their ledger rows, as core decided them ([`apply_levels`]).

use deadpool_postgres::GenericClient;
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::{
    Adjustments, Error, LevelChange, MovementKind, NewProduct, Page, Precondition, Product,
    ProductPatch, Stock, StockDelta, StockMovement, Version,
};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{OpError, OpResult, corrupt, is_foreign_key_violation, violates};
use crate::idempotency;
use crate::locations::{Entry, apply_levels, check_locations, levels_of, named_locations};
use crate::rows::{self, movement_columns, product_columns};

/// The UNIQUE constraint on `products.sku`, named in the migration.
const SKU_CONSTRAINT: &str = "products_sku_key";

/// The product; its level and `initial` ledger row follow in the same transaction.
const INSERT_SQL: &str = concat!(
    "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
    product_columns!()
);

/// [`INSERT_SQL`] for a batch item: no row at all when the SKU exists, instead of a unique
/// violation; a concurrent insert of the same SKU is waited for.
const INSERT_IF_NEW_SQL: &str = concat!(
    "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (sku) DO NOTHING RETURNING ",
    product_columns!()
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
/// and stock compare-and-set included), and the row and, for a changed stock, its level at the
/// default location with its `set` ledger row are written (`write_product`).
const LOCK_FOR_UPDATE_SQL: &str = concat!(
    "SELECT ",
    product_columns!(),
    " FROM products WHERE id = $1 FOR NO KEY UPDATE"
);

const WRITE_SQL: &str = "UPDATE products SET sku = $2, name = $3, price_cents = $4, stock = $5, \
     updated_at = $6, version = $7 WHERE id = $1";

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

/// Locks the product to adjust (`NO KEY UPDATE`, as every product lock) and reads its stock.
const LOCK_STOCK_SQL: &str = "SELECT stock FROM products WHERE id = $1 FOR NO KEY UPDATE";

/// The stock core decided for a list of adjustments, under [`LOCK_STOCK_SQL`]'s lock.
const SET_STOCK_SQL: &str = concat!(
    "UPDATE products SET stock = $2, updated_at = $3, version = version + 1 WHERE id = $1 \
     RETURNING ",
    product_columns!()
);

impl PostgresStore {
    pub(crate) async fn create_product_once(
        &self,
        p: &NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> OpResult<Idempotent<Product>> {
        let mut client = self.client().await?;
        // The key (if any), the product, its level and its ledger row commit together or not
        // at all. Dropping the transaction on an early return rolls it back (and with it the
        // key's claim).
        let tx = client.transaction().await?;
        if let Some(key) = key
            && let Some(stored) = idempotency::claim(&tx, key, at).await?
        {
            return Ok(Idempotent::Replayed(stored));
        }
        let product = insert_product(&tx, p, at).await?;
        if let Some(key) = key {
            idempotency::complete(&tx, key, &product).await?;
        }
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
        // Lock the row, read its levels, and let core decide on them: what is reported is what
        // the decision was made on.
        let tx = client.transaction().await?;
        let lock = tx.prepare_cached(LOCK_STOCK_SQL).await?;
        let Some(row) = tx.query_opt(&lock, &[&id]).await? else {
            return Err(Error::ProductNotFound { id }.into());
        };
        let current = Stock::new(row.try_get("stock")?)
            .map_err(|e| corrupt(format!("product {id}: stock: {e}")))?;
        let list = adjustments.as_slice();
        let named = named_locations(list.iter().map(|a| a.location()));
        if !named.is_empty() {
            check_locations(&tx, &named).await?;
        }
        // On a refusal the transaction is dropped, which rolls it back.
        let (new, changes) = adjustments.plan(id, current, &levels_of(&tx, id).await?)?;
        let set = tx.prepare_cached(SET_STOCK_SQL).await?;
        let row = tx.query_one(&set, &[&id, &new.get(), &at]).await?;
        let kind = MovementKind::Adjustment;
        let changes: Vec<_> = list
            .iter()
            .zip(changes)
            .map(|(a, c)| (c, Entry::of(kind, at).reason(a.reason().as_str())))
            .collect();
        apply_levels(&tx, &changes).await?;
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

/// Writes `product` (whose row the caller has locked) over its row, at the version it carries,
/// in the caller's transaction (a taken SKU refused first, as every store does); for a stock
/// changed by `delta`, asks core where ([`LevelChange::set_stock`], on the levels read under
/// that lock) and writes that level with its `set` ledger row. A refusal is an error, on which
/// the caller drops the transaction: nothing stays written.
pub(crate) async fn write_product<C: GenericClient>(
    tx: &C,
    product: &Product,
    delta: Option<StockDelta>,
    at: OffsetDateTime,
) -> OpResult<()> {
    write_row(tx, product, at).await?;
    if let Some(delta) = delta {
        let levels = levels_of(tx, product.id).await?;
        let set = LevelChange::set_stock(product.id, delta, &levels)?;
        apply_levels(tx, &[(set, Entry::of(MovementKind::Set, at))]).await?;
    }
    Ok(())
}

/// Writes `product` over its row (at the version it carries); a taken SKU is
/// [`Error::DuplicateSku`].
pub(crate) async fn write_row<C: GenericClient>(
    tx: &C,
    product: &Product,
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
    match tx.execute(&write, &params).await {
        Ok(_) => Ok(()),
        Err(e) if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) => {
            Err(Error::DuplicateSku {
                sku: product.sku.clone(),
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The level of new products (`created`: their stock all at the default location), with their
/// `initial` ledger rows, in the order given.
pub(crate) async fn write_initial<C: GenericClient>(
    tx: &C,
    created: &[&Product],
    at: OffsetDateTime,
) -> OpResult<()> {
    let entry = Entry::of(MovementKind::Initial, at);
    let changes: Vec<_> = created
        .iter()
        .map(|p| (LevelChange::initial(p.id, p.stock), entry))
        .collect();
    apply_levels(tx, &changes).await
}

/// Inserts a batch item's product, its level and its `initial` ledger row unless its SKU
/// exists by now (`None`).
pub(crate) async fn insert_new_product<C: GenericClient>(
    tx: &C,
    p: &NewProduct,
    at: OffsetDateTime,
) -> OpResult<Option<Product>> {
    let stmt = tx.prepare_cached(INSERT_IF_NEW_SQL).await?;
    let params: [&(dyn ToSql + Sync); 5] = [
        &p.sku().as_str(),
        &p.name().as_str(),
        &p.price().cents(),
        &p.stock().get(),
        &at,
    ];
    let Some(row) = tx.query_opt(&stmt, &params).await? else {
        return Ok(None);
    };
    let product = rows::product(&row)?;
    write_initial(tx, &[&product], at).await?;
    Ok(Some(product))
}

/// Inserts a product, its level and its `initial` ledger row in `tx`.
async fn insert_product<C: GenericClient>(
    tx: &C,
    p: &NewProduct,
    at: OffsetDateTime,
) -> OpResult<Product> {
    let stmt = tx.prepare_cached(INSERT_SQL).await?;
    let params: [&(dyn ToSql + Sync); 5] = [
        &p.sku().as_str(),
        &p.name().as_str(),
        &p.price().cents(),
        &p.stock().get(),
        &at,
    ];
    let row = tx.query_one(&stmt, &params).await.map_err(|e| -> OpError {
        if violates(&e, &SqlState::UNIQUE_VIOLATION, SKU_CONSTRAINT) {
            Error::DuplicateSku {
                sku: p.sku().clone(),
            }
            .into()
        } else {
            e.into()
        }
    })?;
    let product = rows::product(&row)?;
    write_initial(tx, &[&product], at).await?;
    Ok(product)
}

/// `LIMIT` and `OFFSET` as BIGINT parameters. `Page` keeps `skip` within `i64`.
pub(crate) fn limit_skip(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit()),
        i64::try_from(page.skip()).unwrap_or(i64::MAX),
    )
}
