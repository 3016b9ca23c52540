//! An order's JSON shape: `lines` always, and for an order of one line that line's
//! `product_id`, `quantity` and `unit_price` at the top, as the seed service answered. Reading
//! accepts the seed's shape without `lines` too (idempotency snapshots stored before orders had
//! lines are read back this way).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::money::{Amount, Money};
use crate::order::{Order, OrderLine};
use crate::status::OrderStatus;
use crate::units::Quantity;
use crate::version::Version;

/// [`Order`] as JSON.
#[derive(Serialize, Deserialize)]
pub(crate) struct OrderJson {
    id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quantity: Option<Quantity>,
    status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit_price: Option<Money>,
    total: Amount,
    #[serde(default)]
    lines: Vec<OrderLine>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<Order> for OrderJson {
    fn from(o: Order) -> Self {
        let single = o.single_line().cloned();
        OrderJson {
            id: o.id,
            product_id: single.as_ref().map(|l| l.product_id),
            quantity: single.as_ref().map(|l| l.quantity),
            status: o.status,
            unit_price: single.map(|l| l.unit_price),
            total: o.total,
            lines: o.lines,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// Why a JSON order is not one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OrderJsonError {
    /// Neither `lines` nor the seed's one-line fields.
    #[error("an order needs lines, or product_id, quantity and unit_price")]
    NoLines,
}

impl TryFrom<OrderJson> for Order {
    type Error = OrderJsonError;

    fn try_from(j: OrderJson) -> Result<Self, Self::Error> {
        let lines = if j.lines.is_empty() {
            match (j.product_id, j.quantity, j.unit_price) {
                (Some(p), Some(q), Some(price)) => vec![OrderLine::new(p, q, price)],
                _ => return Err(OrderJsonError::NoLines),
            }
        } else {
            j.lines
        };
        Ok(Order {
            id: j.id,
            status: j.status,
            lines,
            total: j.total,
            created_at: j.created_at,
            updated_at: j.updated_at,
            version: Version::default(),
        })
    }
}
