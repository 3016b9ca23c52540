//! Processed webhook events: recorded in the same savepoint as their effect (a status change
//! whose source, the event, core has already set).

use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::{Order, Result};
use rusqlite::{Connection, params};

use super::change_status;
use crate::error::DbResult;

pub(crate) fn event_processed(conn: &Connection, id: &str) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM webhook_events WHERE event_id = ?1)")
        .db()?
        .query_row([id], |r| r.get(0))
        .db()
}

/// Records the event, then applies its effect. If the effect fails, the error makes the writer
/// roll the savepoint back, insert included, so the sender's retry can still succeed.
pub(crate) fn apply_event(
    conn: &Connection,
    event: &EventRecord,
    effect: &EventEffect,
    at: i64,
) -> Result<Option<Order>> {
    // Every key, in the same savepoint: all or none.
    for key in event.keys() {
        let inserted = conn
            .prepare_cached(
                "INSERT INTO webhook_events (event_id, kind, order_id, processed_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING",
            )
            .db()?
            .execute(params![key.as_str(), event.kind, event.order_id, at])
            .db()?;
        if inserted == 0 {
            return Err(EventRecord::already_processed(key));
        }
    }
    match effect {
        EventEffect::RecordOnly => Ok(None),
        EventEffect::ChangeStatus { order_id, change } => {
            change_status(conn, *order_id, change, at).map(Some)
        }
    }
}
