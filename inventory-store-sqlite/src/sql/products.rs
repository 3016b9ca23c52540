//! Products.

use inventory_core::{
    Error, MAX_STOCK, Money, MovementKind, NewProduct, Page, Product, ProductName, ProductPatch,
    Result, Sku,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{ledger, page_params};
use crate::error::{DbResult, corrupt, is_foreign_key_violation, is_unique_violation};

/// The columns [`ProductRow::read`] expects, in order; a macro so statements are `concat!`ed
/// at compile time.
macro_rules! columns {
    () => {
        "id, sku, name, price_cents, stock"
    };
}

/// A product row as stored, before the domain types check it.
struct ProductRow {
    id: i64,
    sku: String,
    name: String,
    price_cents: i64,
    stock: i64,
}

impl ProductRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ProductRow {
            id: r.get(0)?,
            sku: r.get(1)?,
            name: r.get(2)?,
            price_cents: r.get(3)?,
            stock: r.get(4)?,
        })
    }

    fn into_product(self) -> Result<Product> {
        let id = self.id;
        let bad = |what: &str, e: String| corrupt(format!("product {id}: {what}: {e}"));
        Ok(Product {
            id,
            sku: Sku::parse(&self.sku).map_err(|e| bad("sku", e))?,
            name: ProductName::parse(&self.name).map_err(|e| bad("name", e))?,
            price: Money::from_cents(self.price_cents).map_err(|e| bad("price", e.to_string()))?,
            stock: self.stock,
        })
    }
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
    if is_unique_violation(&e) {
        Error::DuplicateSku { sku: sku.clone() }
    } else {
        crate::error::SqliteError::Sqlite(e).into()
    }
}

/// Creates the product and its `initial` ledger row (even for a stock of 0: the ledger of every
/// product starts with it).
pub(crate) fn create_product(conn: &Connection, p: &NewProduct, at: i64) -> Result<Product> {
    if sku_taken(conn, &p.sku, None)? {
        return Err(Error::DuplicateSku { sku: p.sku.clone() });
    }
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
        )
        .db()?
        .query_row(
            params![
                p.sku.as_str(),
                p.name.as_str(),
                p.price.cents(),
                p.stock,
                at
            ],
            |r| r.get(0),
        )
        .map_err(|e| sku_conflict(e, &p.sku))?;
    ledger::record(conn, id, p.stock, MovementKind::Initial, None, None, at)?;
    Ok(Product {
        id,
        sku: p.sku.clone(),
        name: p.name.clone(),
        price: p.price,
        stock: p.stock,
    })
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

fn stock_of(conn: &Connection, id: i64) -> Result<i64> {
    conn.prepare_cached("SELECT stock FROM products WHERE id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .optional()
        .db()?
        .ok_or(Error::ProductNotFound { id })
}

/// Applies the patch; a new stock level is a `set` ledger row with the difference.
pub(crate) fn update_product(
    conn: &Connection,
    id: i64,
    patch: &ProductPatch,
    at: i64,
) -> Result<Product> {
    // Same order of checks as the reference store: the product first, then the SKU.
    let old_stock = stock_of(conn, id)?;
    if let Some(sku) = &patch.sku
        && sku_taken(conn, sku, Some(id))?
    {
        return Err(Error::DuplicateSku { sku: sku.clone() });
    }
    let sql = concat!(
        "UPDATE products SET sku = coalesce(?1, sku), name = coalesce(?2, name),
             price_cents = coalesce(?3, price_cents), stock = coalesce(?4, stock), updated_at = ?5
         WHERE id = ?6 RETURNING ",
        columns!()
    );
    let row = conn
        .prepare_cached(sql)
        .db()?
        .query_row(
            params![
                patch.sku.as_ref().map(Sku::as_str),
                patch.name.as_ref().map(ProductName::as_str),
                patch.price.map(Money::cents),
                patch.stock,
                at,
                id
            ],
            ProductRow::read,
        )
        .optional()
        .map_err(|e| match &patch.sku {
            Some(sku) => sku_conflict(e, sku),
            None => crate::error::SqliteError::Sqlite(e).into(),
        })?;
    let product = row.ok_or(Error::ProductNotFound { id })?.into_product()?;
    if product.stock != old_stock {
        let delta = product.stock - old_stock;
        ledger::record(conn, id, delta, MovementKind::Set, None, None, at)?;
    }
    Ok(product)
}

/// Deletes a product without orders, and its ledger.
pub(crate) fn delete_product(conn: &Connection, id: i64) -> Result<()> {
    if !exists(conn, id)? {
        return Err(Error::ProductNotFound { id });
    }
    let has_orders: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM orders WHERE product_id = ?1)")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()?;
    if has_orders {
        return Err(Error::ProductHasOrders { id });
    }
    // The foreign key's ON DELETE CASCADE would do it too, but only with `foreign_keys` on;
    // the ledger goes explicitly, in the same savepoint.
    conn.prepare_cached("DELETE FROM stock_movements WHERE product_id = ?1")
        .db()?
        .execute([id])
        .db()?;
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

/// Adds `delta` with an `adjustment` ledger row carrying `reason`.
pub(crate) fn adjust_stock(
    conn: &Connection,
    id: i64,
    delta: i64,
    reason: &str,
    at: i64,
) -> Result<Product> {
    let stock = stock_of(conn, id)?;
    match stock.checked_add(delta).filter(|n| *n <= MAX_STOCK) {
        Some(new) if new >= 0 => {
            let sql = concat!(
                "UPDATE products SET stock = ?1, updated_at = ?2 WHERE id = ?3 RETURNING ",
                columns!()
            );
            let row = conn
                .prepare_cached(sql)
                .db()?
                .query_row(params![new, at, id], ProductRow::read)
                .db()?;
            ledger::record(
                conn,
                id,
                delta,
                MovementKind::Adjustment,
                Some(reason),
                None,
                at,
            )?;
            row.into_product()
        }
        Some(_) => Err(Error::InsufficientStock {
            product_id: id,
            requested: delta.saturating_neg(),
            available: stock,
        }),
        None => Err(Error::stock_above_maximum()),
    }
}
