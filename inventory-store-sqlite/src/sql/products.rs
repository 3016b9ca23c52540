//! Products, and the level changes of their `stock`: a create's initial units, a `stock` write
//! and adjustments, each at the location core says.

use std::fmt::Display;

use inventory_core::{
    Adjustments, BatchOutcome, Error, LevelChange, Money, MovementKind, NewProduct, Page,
    Precondition, Product, ProductBatch, ProductName, ProductPatch, Result, Sku, Stock, StockDelta,
    UpsertPlan, Version,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::locations::{apply_levels, levels_of};
use super::page_params;
use crate::error::{DbResult, corrupt, is_foreign_key_violation, unique_or};

/// The columns [`ProductRow::read`] expects, in order; a macro so statements are `concat!`ed
/// at compile time.
macro_rules! columns {
    () => {
        "id, sku, name, price_cents, stock, version"
    };
}

/// A product row as stored, before the domain types check it.
struct ProductRow {
    id: i64,
    sku: String,
    name: String,
    price_cents: i64,
    stock: i64,
    version: i64,
}

impl ProductRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ProductRow {
            id: r.get(0)?,
            sku: r.get(1)?,
            name: r.get(2)?,
            price_cents: r.get(3)?,
            stock: r.get(4)?,
            version: r.get(5)?,
        })
    }

    fn into_product(self) -> Result<Product> {
        let id = self.id;
        let bad = |what: &str, e: &dyn Display| corrupt(format!("product {id}: {what}: {e}"));
        Ok(Product {
            id,
            sku: Sku::parse(&self.sku).map_err(|e| bad("sku", &e))?,
            name: ProductName::parse(&self.name).map_err(|e| bad("name", &e))?,
            price: Money::from_cents(self.price_cents).map_err(|e| bad("price", &e))?,
            stock: stock_from_db(id, self.stock)?,
            version: Version::new(self.version).map_err(|e| bad("version", &e))?,
        })
    }
}

/// A stored stock level, checked by the domain.
fn stock_from_db(id: i64, stock: i64) -> Result<Stock> {
    Stock::new(stock).map_err(|e| corrupt(format!("product {id}: stock {stock}: {e}")))
}

fn product_by_id(conn: &Connection, id: i64) -> Result<Option<Product>> {
    let sql = concat!("SELECT ", columns!(), " FROM products WHERE id = ?1");
    let row = conn
        .prepare_cached(sql)
        .db()?
        .query_row([id], ProductRow::read)
        .optional()
        .db()?;
    row.map(ProductRow::into_product).transpose()
}

pub(super) fn exists(conn: &Connection, id: i64) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()
}

/// Whether a product other than `except` has this SKU.
fn sku_taken(conn: &Connection, sku: &Sku, except: Option<i64>) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1 AND id IS NOT ?2)")
        .db()?
        .query_row(params![sku.as_str(), except], |r| r.get(0))
        .db()
}

/// A rusqlite failure of a write that sets `sku`: a UNIQUE violation means the SKU is taken.
/// Only a safety net: the SKU is checked first, and the writer is the only one writing.
fn sku_conflict(e: rusqlite::Error, sku: &Sku) -> Error {
    unique_or(e, || Error::DuplicateSku { sku: sku.clone() })
}

/// Creates the product, its level at the default location and its `initial` ledger row there
/// (even for a stock of 0: the ledger of every product starts with it).
pub(crate) fn create_product(conn: &Connection, p: NewProduct, at: i64) -> Result<Product> {
    if sku_taken(conn, p.sku(), None)? {
        return Err(Error::DuplicateSku {
            sku: p.sku().clone(),
        });
    }
    insert_product(conn, p, at)
}

/// Inserts a product whose SKU was found free, with core's [`LevelChange::initial`] (all of its
/// stock on the default location's shelf) and its `initial` ledger row.
fn insert_product(conn: &Connection, p: NewProduct, at: i64) -> Result<Product> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
        )
        .db()?
        .query_row(
            params![
                p.sku().as_str(),
                p.name().as_str(),
                p.price().cents(),
                p.stock().get(),
                at
            ],
            |r| r.get(0),
        )
        .map_err(|e| sku_conflict(e, p.sku()))?;
    let initial = LevelChange::initial(id, p.stock());
    apply_levels(conn, &[initial], MovementKind::Initial, None, None, at)?;
    Ok(p.into_product(id))
}

pub(crate) fn get_product(conn: &Connection, id: i64) -> Result<Product> {
    product_by_id(conn, id)?.ok_or(Error::ProductNotFound { id })
}

pub(crate) fn list_products(conn: &Connection, page: Page) -> Result<Vec<Product>> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM products WHERE id > ?1 ORDER BY id LIMIT ?2 OFFSET ?3"
    );
    let (after, limit, skip) = page_params(page);
    let mut stmt = conn.prepare_cached(sql).db()?;
    let rows = stmt
        .query_map(params![after, limit, skip], ProductRow::read)
        .db()?;
    rows.map(|r| r.db().and_then(ProductRow::into_product))
        .collect()
}

pub(super) fn stock_of(conn: &Connection, id: i64) -> Result<Stock> {
    let stock = conn
        .prepare_cached("SELECT stock FROM products WHERE id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .optional()
        .db()?
        .ok_or(Error::ProductNotFound { id })?;
    stock_from_db(id, stock)
}

/// Writes the product as core's [`ProductPatch::apply_to`] makes it; a new stock is the level
/// change core's [`LevelChange::set_stock`] decides on the product's levels (at the default
/// location, or refused when less than its other locations hold), with its `set` ledger row.
pub(crate) fn update_product(
    conn: &Connection,
    id: i64,
    patch: &ProductPatch,
    at: i64,
) -> Result<Product> {
    // Same order of checks as the reference store: the product first, then the SKU.
    let old = get_product(conn, id)?;
    // Preconditions first (RFC 9110 §13.2.2), then the SKU, as every store.
    let product = patch.apply_to(&old)?;
    if let Some(sku) = patch.sku()
        && sku_taken(conn, sku, Some(id))?
    {
        return Err(Error::DuplicateSku { sku: sku.clone() });
    }
    let set = (product.stock != old.stock)
        .then(|| set_stock(conn, id, old.stock.delta_to(product.stock)))
        .transpose()?;
    write_product(conn, &product, set, at)?;
    Ok(product)
}

/// Core's decision of moving the product's `stock` by `delta`, on its levels as they are (the
/// writer is the only one writing, so they stay so until this command writes).
fn set_stock(conn: &Connection, id: i64, delta: StockDelta) -> Result<LevelChange> {
    LevelChange::set_stock(id, delta, &levels_of(conn, id)?)
}

/// Writes `product` over its row (at the version it carries) and, for a changed stock, core's
/// level change `set` with its `set` ledger row.
fn write_product(
    conn: &Connection,
    product: &Product,
    set: Option<LevelChange>,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE products SET sku = ?1, name = ?2, price_cents = ?3, stock = ?4, updated_at = ?5,
         version = ?7 WHERE id = ?6",
    )
    .db()?
    .execute(params![
        product.sku.as_str(),
        product.name.as_str(),
        product.price.cents(),
        product.stock.get(),
        at,
        product.id,
        product.version.get()
    ])
    .map_err(|e| sku_conflict(e, &product.sku))?;
    apply_levels(conn, set.as_slice(), MovementKind::Set, None, None, at)
}

/// Creates or updates each item of the batch as core's [`NewProduct::upsert_onto`] decides on
/// the row holding its SKU, a `stock_delta` as [`LevelChange::set_stock`] decides. The writer
/// runs the whole batch in one savepoint: any failure (a refused `stock` included) undoes every
/// item.
pub(crate) fn upsert_products(
    conn: &Connection,
    batch: &ProductBatch,
    at: i64,
) -> Result<BatchOutcome> {
    let sql = concat!("SELECT ", columns!(), " FROM products WHERE sku = ?1");
    let mut items = Vec::with_capacity(batch.len());
    for item in batch.items() {
        let existing = conn
            .prepare_cached(sql)
            .db()?
            .query_row([item.sku().as_str()], ProductRow::read)
            .optional()
            .db()?
            .map(ProductRow::into_product)
            .transpose()?;
        let plan = item.upsert_onto(existing.as_ref());
        let created = match &plan {
            UpsertPlan::Create => Some(insert_product(conn, item.clone(), at)?),
            UpsertPlan::Update {
                product,
                stock_delta,
            } => {
                let set = stock_delta
                    .map(|delta| set_stock(conn, product.id, delta))
                    .transpose()?;
                write_product(conn, product, set, at)?;
                None
            }
            UpsertPlan::Unchanged(_) => None,
        };
        items.push(plan.outcome(created)?);
    }
    Ok(BatchOutcome::new(items))
}

/// Deletes a product without orders, its levels and its ledger.
pub(crate) fn delete_product(
    conn: &Connection,
    id: i64,
    precondition: Option<&Precondition>,
) -> Result<()> {
    let product = get_product(conn, id)?;
    if let Some(precondition) = precondition {
        precondition.check(id, product.version)?;
    }
    let has_orders: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM order_lines WHERE product_id = ?1)")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()?;
    if has_orders {
        return Err(Error::ProductHasOrders { id });
    }
    // The foreign keys' ON DELETE CASCADE would do it too, but only with `foreign_keys` on;
    // the ledger and the levels go explicitly, in the same savepoint.
    for sql in [
        "DELETE FROM stock_movements WHERE product_id = ?1",
        "DELETE FROM stock_levels WHERE product_id = ?1",
    ] {
        conn.prepare_cached(sql).db()?.execute([id]).db()?;
    }
    conn.prepare_cached("DELETE FROM products WHERE id = ?1")
        .db()?
        .execute([id])
        .map_err(|e| {
            // The foreign key's RESTRICT is the database's own guard of the same rule.
            if is_foreign_key_violation(&e) {
                Error::ProductHasOrders { id }
            } else {
                crate::error::SqliteError::Sqlite(e).into()
            }
        })?;
    Ok(())
}

/// Applies the adjustments as core's [`Adjustments::plan`] decides on the current stock and the
/// product's levels: the new stock, and each adjustment's level change at its location with an
/// `adjustment` ledger row carrying its reason.
pub(crate) fn adjust_stock(
    conn: &Connection,
    id: i64,
    adjustments: &Adjustments,
    at: i64,
) -> Result<Product> {
    let stock = stock_of(conn, id)?;
    let (new, changes) = adjustments.plan(id, stock, &levels_of(conn, id)?)?;
    let sql = concat!(
        "UPDATE products SET stock = ?1, updated_at = ?2, version = version + 1 WHERE id = ?3 RETURNING ",
        columns!()
    );
    let row = conn
        .prepare_cached(sql)
        .db()?
        .query_row(params![new.get(), at, id], ProductRow::read)
        .db()?;
    for (a, change) in adjustments.as_slice().iter().zip(&changes) {
        let reason = Some(a.reason().as_str());
        let kind = MovementKind::Adjustment;
        apply_levels(conn, std::slice::from_ref(change), kind, reason, None, at)?;
    }
    row.into_product()
}
