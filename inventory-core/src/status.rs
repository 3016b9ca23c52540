//! The order status machine: the one place that says which moves are allowed and which return
//! stock.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::history::ChangeSource;
use crate::ledger::MovementKind;

/// An order's status. On the wire: `PENDING`, `PAID`, `SHIPPED`, `CANCELED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    /// Placed, stock taken, not paid yet.
    Pending,
    /// Paid; stock still held.
    Paid,
    /// Shipped; final.
    Shipped,
    /// Canceled; final. Stock was returned if the order had not shipped.
    Canceled,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Canceled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Paid => "PAID",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Canceled => "CANCELED",
        }
    }

    /// Whether the order's units count as taken from stock in this status (the invariant sums
    /// the quantities of PENDING, PAID and SHIPPED orders).
    pub fn holds_stock(self) -> bool {
        !matches!(self, OrderStatus::Canceled)
    }

    /// Whether the table of CONTRACT.md allows `self → to` as a real move (not a no-op).
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Paid) | (Pending, Canceled) | (Paid, Shipped) | (Paid, Canceled)
        )
    }

    /// Plans the move from `self` to `to`.
    ///
    /// Asking for the current status is a no-op transition (PUT is idempotent); a move the table
    /// forbids is an error naming both ends.
    ///
    /// ```
    /// use inventory_core::OrderStatus::*;
    /// let t = Paid.transition_to(Canceled).unwrap();
    /// assert!(t.restores_stock());
    /// assert!(Shipped.transition_to(Paid).is_err());
    /// assert!(Shipped.transition_to(Shipped).unwrap().is_noop());
    /// ```
    pub fn transition_to(self, to: OrderStatus) -> Result<Transition, InvalidTransition> {
        if self == to || self.can_move_to(to) {
            Ok(Transition { from: self, to })
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A text that names no [`OrderStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Input should be 'PENDING', 'PAID', 'SHIPPED' or 'CANCELED'")]
pub struct UnknownStatus;

/// A move the status table forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Cannot transition from {from} to {to}")]
pub struct InvalidTransition {
    /// The order's status.
    pub from: OrderStatus,
    /// The status asked for.
    pub to: OrderStatus,
}

/// An allowed status change, planned by [`OrderStatus::transition_to`] and nowhere else.
///
/// A store applies it only if the order is still in [`from`](Self::from) (compare-and-set), and
/// returns the order's units to stock in the same atomic step when
/// [`restores_stock`](Self::restores_stock) says so. Its fields are private, so a backend cannot
/// invent a move the table forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    from: OrderStatus,
    to: OrderStatus,
}

impl Transition {
    /// The status the order must still have.
    pub fn from(self) -> OrderStatus {
        self.from
    }

    /// The status it gets.
    pub fn to(self) -> OrderStatus {
        self.to
    }

    /// Same status: nothing to write, but the store still checks the order is in it.
    pub fn is_noop(self) -> bool {
        self.from == self.to
    }

    /// Whether the order's units go back to stock: canceling an order whose goods never left
    /// (PENDING or PAID). CONTRACT.md differs from the seed here on purpose.
    pub fn restores_stock(self) -> bool {
        self.to == OrderStatus::Canceled
            && matches!(self.from, OrderStatus::Pending | OrderStatus::Paid)
    }
}

/// A status change as core decided it: the [`Transition`], what caused it, and whether (and
/// under which ledger kind) the order's units go back to stock. A store applies it as a
/// compare-and-set and writes exactly what it says: the history row with [`source`](Self::source),
/// and, when [`restock`](Self::restock) is set, the units back with a ledger row of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    transition: Transition,
    source: ChangeSource,
    restock: Option<MovementKind>,
}

impl StatusChange {
    /// Decides the change: `transition`, caused by `source`.
    pub fn new(transition: Transition, source: ChangeSource) -> StatusChange {
        let restock = transition
            .restores_stock()
            .then(|| MovementKind::of_restock(&source));
        StatusChange {
            transition,
            source,
            restock,
        }
    }

    /// The expiry's change: PENDING to CANCELED, units back as `expired`.
    pub fn expiry() -> StatusChange {
        let cancel = Transition {
            from: OrderStatus::Pending,
            to: OrderStatus::Canceled,
        };
        StatusChange::new(cancel, ChangeSource::Expiry)
    }

    /// The planned move.
    pub fn transition(&self) -> Transition {
        self.transition
    }

    /// What caused it, for the history row.
    pub fn source(&self) -> &ChangeSource {
        &self.source
    }

    /// The ledger kind under which the order's units go back to stock, if they do.
    pub fn restock(&self) -> Option<MovementKind> {
        self.restock
    }

    /// The refusal when the order is no longer in the status the change was planned from.
    pub fn conflict(&self, order_id: i64, current: OrderStatus) -> crate::Error {
        crate::Error::StatusConflict {
            id: order_id,
            expected: self.transition.from,
            current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn table_matches_the_contract() {
        let allowed = [
            (Pending, Paid),
            (Pending, Canceled),
            (Paid, Shipped),
            (Paid, Canceled),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let result = from.transition_to(to);
                if from == to {
                    assert!(result.expect("same status is allowed").is_noop());
                } else if allowed.contains(&(from, to)) {
                    let t = result.expect("allowed move");
                    assert_eq!(t.restores_stock(), to == Canceled, "{from} -> {to}");
                } else {
                    let e = result.expect_err("forbidden move");
                    assert_eq!((e.from, e.to), (from, to));
                    assert_eq!(
                        e.to_string(),
                        format!("Cannot transition from {from} to {to}")
                    );
                }
            }
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).expect("serializes"),
                format!("\"{s}\"")
            );
        }
        assert!("paid".parse::<OrderStatus>().is_err());
    }
}
