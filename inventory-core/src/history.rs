//! Order history: every status change, when, and what caused it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::status::OrderStatus;

/// What caused a status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ChangeSource {
    /// A client of the API (or an embedding program).
    Api,
    /// A payment webhook, with its event id.
    Webhook {
        /// The event id.
        event_id: String,
    },
    /// The unpaid-order expiry.
    Expiry,
}

impl ChangeSource {
    /// The stored name: `api`, `webhook`, `expiry`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChangeSource::Api => "api",
            ChangeSource::Webhook { .. } => "webhook",
            ChangeSource::Expiry => "expiry",
        }
    }

    /// The event id, for webhook changes.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            ChangeSource::Webhook { event_id } => Some(event_id),
            _ => None,
        }
    }

    /// Rebuilds a source from its stored parts.
    pub fn from_parts(kind: &str, event_id: Option<String>) -> Option<ChangeSource> {
        match (kind, event_id) {
            ("api", _) => Some(ChangeSource::Api),
            ("expiry", _) => Some(ChangeSource::Expiry),
            ("webhook", Some(event_id)) => Some(ChangeSource::Webhook { event_id }),
            _ => None,
        }
    }
}

/// One entry of an order's history. (Serialize only: `flatten` cannot read numbers back under
/// serde_json's `arbitrary_precision`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEvent {
    /// Row id, increasing.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// The status before (`None` when the order was placed).
    pub from_status: Option<OrderStatus>,
    /// The status after.
    pub to_status: OrderStatus,
    /// What caused it.
    #[serde(flatten)]
    pub source: ChangeSource,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
