//! Order history: one row per status change, written by the operation that makes the change.

use inventory_core::{ChangeSource, Error, OrderEvent, OrderStatus, Result};
use rusqlite::{Connection, Row, params};

use super::orders::parse_status;
use super::{from_db_time, snapshot};
use crate::error::{DbResult, corrupt};

/// Appends a history row; `from` is `None` for the order's placement.
pub(crate) fn record(
    conn: &Connection,
    order_id: i64,
    from: Option<OrderStatus>,
    to: OrderStatus,
    source: &ChangeSource,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO order_events (order_id, from_status, to_status, source, event_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(params![
        order_id,
        from.map(OrderStatus::as_str),
        to.as_str(),
        source.kind(),
        source.event_id(),
        at
    ])
    .db()?;
    Ok(())
}

/// A history row as stored, before the domain types check it.
struct EventRow {
    id: i64,
    order_id: i64,
    from_status: Option<String>,
    to_status: String,
    source: String,
    event_id: Option<String>,
    created_at: i64,
}

impl EventRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(EventRow {
            id: r.get(0)?,
            order_id: r.get(1)?,
            from_status: r.get(2)?,
            to_status: r.get(3)?,
            source: r.get(4)?,
            event_id: r.get(5)?,
            created_at: r.get(6)?,
        })
    }

    fn into_event(self) -> Result<OrderEvent> {
        let order_id = self.order_id;
        let from_status = self
            .from_status
            .map(|s| parse_status(order_id, &s))
            .transpose()?;
        let source = ChangeSource::from_parts(&self.source, self.event_id).ok_or_else(|| {
            corrupt(format!(
                "history row {}: source {:?} without its event id",
                self.id, self.source
            ))
        })?;
        Ok(OrderEvent {
            id: self.id,
            order_id,
            from_status,
            to_status: parse_status(order_id, &self.to_status)?,
            source,
            created_at: from_db_time(self.created_at)?,
        })
    }
}

/// An order's history by id, or `OrderNotFound` (both read from one snapshot).
pub(crate) fn order_history(conn: &Connection, order_id: i64) -> Result<Vec<OrderEvent>> {
    snapshot(conn, |conn| {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM orders WHERE id = ?1)")
            .db()?
            .query_row([order_id], |r| r.get(0))
            .db()?;
        if !exists {
            return Err(Error::OrderNotFound { id: order_id });
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, order_id, from_status, to_status, source, event_id, created_at
                 FROM order_events WHERE order_id = ?1 ORDER BY id",
            )
            .db()?;
        let rows = stmt.query_map([order_id], EventRow::read).db()?;
        rows.map(|r| r.db().and_then(EventRow::into_event))
            .collect()
    })
}
