//! Webhook events: the event id is recorded in the same transaction as its effect.

use inventory_core::Order;
use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::webhook::EventId;
use time::OffsetDateTime;

use crate::PostgresStore;
use crate::error::OpResult;
use crate::orders::change_status_on;

const PROCESSED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM webhook_events WHERE event_id = $1)";

/// Records the event unless its id is already there. The primary key decides who applies: a
/// second delivery running concurrently (on this instance or another) blocks on the first one's
/// uncommitted row, then sees the conflict once the first commits (0 rows), or inserts if the
/// first rolled back.
const RECORD_SQL: &str = "INSERT INTO webhook_events (event_id, kind, order_id, processed_at) \
                          VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING";

impl PostgresStore {
    pub(crate) async fn event_processed_once(&self, id: &EventId) -> OpResult<bool> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(PROCESSED_SQL).await?;
        let row = client.query_one(&stmt, &[&id.as_str()]).await?;
        Ok(row.try_get(0)?)
    }

    /// One transaction: record the id, then apply the effect. Lock order: the event's key first,
    /// then the order row, then the product row, as everywhere else.
    pub(crate) async fn apply_event_once(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> OpResult<Option<Order>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let record = tx.prepare_cached(RECORD_SQL).await?;
        for key in event.keys() {
            let inserted = tx
                .execute(&record, &[&key.as_str(), &event.kind, &event.order_id, &at])
                .await?;
            if inserted == 0 {
                // Nothing stays written; a failed rollback (lost connection) ends the
                // transaction on the server just the same, so the answer stays "already
                // processed".
                let _ = tx.rollback().await;
                return Err(EventRecord::already_processed(key).into());
            }
        }
        let order = match effect {
            EventEffect::RecordOnly => None,
            EventEffect::ChangeStatus { order_id, change } => {
                match change_status_on(&tx, *order_id, change, at).await {
                    Ok(order) => Some(order),
                    Err(e) => {
                        // A failed effect must leave no trace, so the sender's retry can
                        // succeed: the event row goes with the rollback, and a concurrent
                        // delivery waiting on it goes on. If the rollback itself fails the
                        // connection is gone, and the server discards the transaction anyway;
                        // the effect's error is the answer.
                        let _ = tx.rollback().await;
                        return Err(e);
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(order)
    }
}
