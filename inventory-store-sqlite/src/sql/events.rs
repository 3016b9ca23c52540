//! Processed webhook events: recorded in the same savepoint as their effect, which the order's
//! history attributes to the event.

use inventory_core::{ChangeSource, Error, EventEffect, EventRecord, Order, Result};
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
    effect: EventEffect,
    at: i64,
) -> Result<Option<Order>> {
    // The body key too, when there is one: in the same savepoint, so both or neither.
    for key in std::iter::once(&event.id).chain(&event.body_key) {
        let inserted = conn
            .prepare_cached(
                "INSERT INTO webhook_events (event_id, kind, order_id, processed_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING",
            )
            .db()?
            .execute(params![key.as_str(), event.kind, event.order_id, at])
            .db()?;
        if inserted == 0 {
            return Err(Error::EventAlreadyProcessed {
                event_id: key.as_str().to_owned(),
            });
        }
    }
    match effect {
        EventEffect::RecordOnly => Ok(None),
        EventEffect::ChangeStatus {
            order_id,
            transition,
        } => {
            let source = ChangeSource::Webhook {
                event_id: event.id.as_str().to_owned(),
            };
            change_status(conn, order_id, transition, &source, at).map(Some)
        }
    }
}
