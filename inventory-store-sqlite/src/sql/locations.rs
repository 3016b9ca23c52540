//! Locations, each product's stock level at them, and the one function that writes a level
//! change with its ledger row: every operation that moves units ([`apply_levels`]) calls it with
//! what core decided.

use std::fmt::Display;

use inventory_core::{
    Error, LevelChange, Location, LocationCode, LocationLevel, LocationName, MovementKind,
    NewLocation, Result, Stock, Transfer,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{ledger, products, snapshot};
use crate::error::{DbResult, corrupt, unique_or};

/// The columns [`LocationRow::read`] expects, in order.
macro_rules! columns {
    () => {
        "id, code, name, priority"
    };
}

/// A location row as stored, before the domain types check it.
struct LocationRow {
    id: i64,
    code: String,
    name: String,
    priority: i64,
}

impl LocationRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(LocationRow {
            id: r.get(0)?,
            code: r.get(1)?,
            name: r.get(2)?,
            priority: r.get(3)?,
        })
    }

    fn into_location(self) -> Result<Location> {
        let id = self.id;
        let bad = |what: &str, e: &dyn Display| corrupt(format!("location {id}: {what}: {e}"));
        let code = LocationCode::parse(&self.code).map_err(|e| bad("code", &e))?;
        let name = LocationName::parse(&self.name).map_err(|e| bad("name", &e))?;
        let priority = i32::try_from(self.priority).map_err(|e| bad("priority", &e))?;
        let location = NewLocation::new(code, name, priority).map_err(|e| bad("priority", &e))?;
        Ok(location.into_location(id))
    }
}

/// Creates a location; a taken code is [`Error::DuplicateLocationCode`].
pub(crate) fn create_location(conn: &Connection, location: NewLocation) -> Result<Location> {
    let taken = || Error::DuplicateLocationCode {
        code: location.code().clone(),
    };
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM locations WHERE code = ?1)")
        .db()?
        .query_row([location.code().as_str()], |r| r.get(0))
        .db()?;
    if exists {
        return Err(taken());
    }
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO locations (code, name, priority) VALUES (?1, ?2, ?3) RETURNING id",
        )
        .db()?
        .query_row(
            params![
                location.code().as_str(),
                location.name().as_str(),
                location.priority()
            ],
            |r| r.get(0),
        )
        .map_err(|e| unique_or(e, taken))?;
    Ok(location.into_location(id))
}

/// Every location, by id.
pub(crate) fn list_locations(conn: &Connection) -> Result<Vec<Location>> {
    let sql = concat!("SELECT ", columns!(), " FROM locations ORDER BY id");
    let mut stmt = conn.prepare_cached(sql).db()?;
    let rows = stmt.query_map([], LocationRow::read).db()?;
    rows.map(|r| r.db().and_then(LocationRow::into_location))
        .collect()
}

/// A location, or [`Error::LocationNotFound`].
pub(crate) fn get_location(conn: &Connection, id: i64) -> Result<Location> {
    let sql = concat!("SELECT ", columns!(), " FROM locations WHERE id = ?1");
    conn.prepare_cached(sql)
        .db()?
        .query_row([id], LocationRow::read)
        .optional()
        .db()?
        .ok_or(Error::LocationNotFound { id })?
        .into_location()
}

fn location_exists(conn: &Connection, id: i64) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM locations WHERE id = ?1)")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()
}

/// The product's levels by location id, each with its location's priority (none for a product
/// that does not exist): what core decides a placement, an adjustment, a `stock` write or a
/// transfer on. The writer is the only one writing, so on the writer they are current until
/// the command writes.
pub(super) fn levels_of(conn: &Connection, product_id: i64) -> Result<Vec<LocationLevel>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.location_id, l.priority, s.on_hand, s.committed
             FROM stock_levels AS s JOIN locations AS l ON l.id = s.location_id
             WHERE s.product_id = ?1 ORDER BY s.location_id",
        )
        .db()?;
    let rows = stmt
        .query_map([product_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .db()?;
    rows.map(|row| {
        let (location_id, priority, on_hand, committed) = row.db()?;
        let bad = |what: &str, e: &dyn Display| {
            corrupt(format!(
                "product {product_id} at location {location_id}: {what}: {e}"
            ))
        };
        let priority = i32::try_from(priority).map_err(|e| bad("priority", &e))?;
        let on_hand = Stock::new(on_hand).map_err(|e| bad("on hand", &e))?;
        let committed = Stock::new(committed).map_err(|e| bad("committed", &e))?;
        LocationLevel::new(location_id, priority, on_hand, committed).map_err(|e| bad("level", &e))
    })
    .collect()
}

/// A product's levels, or [`Error::ProductNotFound`]; both read from one snapshot, so a product
/// deleted in between does not read as an existing product without levels.
pub(crate) fn product_levels(conn: &Connection, product_id: i64) -> Result<Vec<LocationLevel>> {
    snapshot(conn, |conn| {
        if !products::exists(conn, product_id)? {
            return Err(Error::ProductNotFound { id: product_id });
        }
        levels_of(conn, product_id)
    })
}

/// Writes core's level changes, in order: each is added to its row (created at zero first),
/// with a ledger row of `kind` (its `reason`, its `order_id`) at its location when
/// its available units move ([`LevelChange::ledger_delta`]). Every operation that moves units
/// writes them through here. The schema's CHECKs (both ≥ 0, committed ≤ on hand) are a
/// backstop: core decided the changes on the levels this command read.
pub(super) fn apply_levels(
    conn: &Connection,
    changes: &[LevelChange],
    kind: MovementKind,
    reason: Option<&str>,
    order_id: Option<i64>,
    at: i64,
) -> Result<()> {
    for c in changes {
        // The row is added to in place; only a level that does not exist yet is inserted, with
        // the change as its first value (not one upsert: SQLite checks a row's CHECKs before
        // its conflict, so inserting a change like "0 on hand, 2 committed" would be refused
        // even where the row exists). Placements, cancels and shipping always find their row.
        let moved = conn
            .prepare_cached(
                "UPDATE stock_levels SET on_hand = on_hand + ?3, committed = committed + ?4
                 WHERE product_id = ?1 AND location_id = ?2",
            )
            .db()?
            .execute(params![
                c.product_id,
                c.location_id,
                c.on_hand.get(),
                c.committed.get()
            ])
            .db()?;
        if moved == 0 {
            conn.prepare_cached(
                "INSERT INTO stock_levels (product_id, location_id, on_hand, committed)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?
            .execute(params![
                c.product_id,
                c.location_id,
                c.on_hand.get(),
                c.committed.get()
            ])
            .db()?;
        }
        if let Some(delta) = c.ledger_delta() {
            ledger::record(
                conn,
                c.product_id,
                c.location_id,
                delta,
                kind,
                reason,
                order_id,
                at,
            )?;
        }
    }
    Ok(())
}

/// Moves units of one product between two of its locations as core's [`Transfer::plan`]
/// decides on its levels: the source's shelf down with a `transfer_out` row, the
/// destination's up with a `transfer_in` row. The product's `stock` (available units over
/// every location) does not change. Returns the levels after.
pub(crate) fn transfer_stock(
    conn: &Connection,
    transfer: &Transfer,
    at: i64,
) -> Result<Vec<LocationLevel>> {
    let id = transfer.product_id();
    if !products::exists(conn, id)? {
        return Err(Error::ProductNotFound { id });
    }
    for location in [transfer.from_location(), transfer.to_location()] {
        if !location_exists(conn, location)? {
            return Err(Error::LocationNotFound { id: location });
        }
    }
    let [out, into] = transfer.plan(&levels_of(conn, id)?)?;
    apply_levels(conn, &[out], MovementKind::TransferOut, None, None, at)?;
    apply_levels(conn, &[into], MovementKind::TransferIn, None, None, at)?;
    levels_of(conn, id)
}
