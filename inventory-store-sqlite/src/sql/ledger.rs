//! The stock ledger: one row per stock change, written by the operation that makes the change.

use inventory_core::{Error, MovementKind, Page, Result, StockDelta, StockMovement};
use rusqlite::{Connection, Row, params};

use super::{from_db_time, page_params, products, snapshot};
use crate::error::{DbResult, corrupt};

/// Appends a ledger row of the available units of `product_id` at `location_id` moving by
/// `delta`. `reason` is the caller's for a manual adjustment; the other kinds carry their own
/// name, as the reference store does. Only [`super::locations::apply_levels`] calls it: every
/// ledger row is a level change's.
#[allow(clippy::too_many_arguments)]
pub(super) fn record(
    conn: &Connection,
    product_id: i64,
    location_id: i64,
    delta: StockDelta,
    kind: MovementKind,
    reason: Option<&str>,
    order_id: Option<i64>,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at,
                                      location_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .db()?
    .execute(params![
        product_id,
        delta.get(),
        kind.as_str(),
        reason.unwrap_or(kind.as_str()),
        order_id,
        at,
        location_id
    ])
    .db()?;
    Ok(())
}

/// A ledger row as stored, before the domain types check it.
struct MovementRow {
    id: i64,
    product_id: i64,
    delta: i64,
    kind: String,
    reason: String,
    order_id: Option<i64>,
    created_at: i64,
    location_id: i64,
}

impl MovementRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(MovementRow {
            id: r.get(0)?,
            product_id: r.get(1)?,
            delta: r.get(2)?,
            kind: r.get(3)?,
            reason: r.get(4)?,
            order_id: r.get(5)?,
            created_at: r.get(6)?,
            location_id: r.get(7)?,
        })
    }

    fn into_movement(self) -> Result<StockMovement> {
        let id = self.id;
        let kind = MovementKind::parse(&self.kind)
            .ok_or_else(|| corrupt(format!("ledger row {id}: kind {:?}", self.kind)))?;
        let delta = StockDelta::new(self.delta)
            .map_err(|e| corrupt(format!("ledger row {id}: delta {}: {e}", self.delta)))?;
        Ok(StockMovement {
            id,
            product_id: self.product_id,
            delta,
            kind,
            reason: self.reason,
            order_id: self.order_id,
            location_id: self.location_id,
            created_at: from_db_time(self.created_at)?,
        })
    }
}

/// A product's ledger by id, or `ProductNotFound`. Two statements, so they read one snapshot:
/// a product deleted in between must not read as an existing product with an empty ledger.
pub(crate) fn list_movements(
    conn: &Connection,
    product_id: i64,
    page: Page,
) -> Result<Vec<StockMovement>> {
    snapshot(conn, |conn| {
        if !products::exists(conn, product_id)? {
            return Err(Error::ProductNotFound { id: product_id });
        }
        let (after, limit, skip) = page_params(page);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, product_id, delta, kind, reason, order_id, created_at, location_id
                 FROM stock_movements WHERE product_id = ?1 AND id > ?2
                 ORDER BY id LIMIT ?3 OFFSET ?4",
            )
            .db()?;
        let rows = stmt
            .query_map(params![product_id, after, limit, skip], MovementRow::read)
            .db()?;
        rows.map(|r| r.db().and_then(MovementRow::into_movement))
            .collect()
    })
}
