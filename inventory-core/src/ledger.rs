//! The stock ledger: every change to a product's stock is a row, written in the same
//! transaction as the change, saying by how much and why.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::Error;
use crate::history::ChangeSource;
use crate::text::Reason;
use crate::units::{RangeError, Stock, StockDelta};
use crate::validation::{self, BodyReader, Problem, ValidationErrors};

/// Why a product's stock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// The stock the product was created with.
    Initial,
    /// A manual adjustment (`POST /products/{id}/adjustments`), with the caller's reason.
    Adjustment,
    /// A product update that set the stock level (`PUT /products/{id}` with `stock`).
    Set,
    /// An order took units.
    OrderPlaced,
    /// A canceled order returned its units.
    OrderCanceled,
    /// An unpaid order expired and returned its units.
    Expired,
    /// Units left this location for another (`POST /transfers`).
    TransferOut,
    /// Units arrived from another location.
    TransferIn,
}

impl MovementKind {
    /// Every kind.
    pub const ALL: [MovementKind; 8] = [
        MovementKind::Initial,
        MovementKind::Adjustment,
        MovementKind::Set,
        MovementKind::OrderPlaced,
        MovementKind::OrderCanceled,
        MovementKind::Expired,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Initial => "initial",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Set => "set",
            MovementKind::OrderPlaced => "order_placed",
            MovementKind::OrderCanceled => "order_canceled",
            MovementKind::Expired => "expired",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<MovementKind> {
        MovementKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind of the movement that returns a canceled order's units, by what canceled it:
    /// `expired` for the unpaid-order expiry, `order_canceled` otherwise. The one place that
    /// decides it.
    pub fn of_restock(source: &ChangeSource) -> MovementKind {
        match source {
            ChangeSource::Expiry => MovementKind::Expired,
            ChangeSource::Api | ChangeSource::Webhook { .. } => MovementKind::OrderCanceled,
        }
    }

    /// Whether the invariant counts it as "initial + adjustments" (the others follow orders;
    /// a transfer's two rows cancel out over the product's locations).
    pub fn is_manual(self) -> bool {
        matches!(
            self,
            MovementKind::Initial
                | MovementKind::Adjustment
                | MovementKind::Set
                | MovementKind::TransferOut
                | MovementKind::TransferIn
        )
    }

    /// Whether its rows name an order.
    pub fn has_order(self) -> bool {
        matches!(
            self,
            MovementKind::OrderPlaced | MovementKind::OrderCanceled | MovementKind::Expired
        )
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMovement {
    /// Row id, increasing.
    pub id: i64,
    /// The product.
    pub product_id: i64,
    /// Units added (negative: removed).
    pub delta: StockDelta,
    /// Why.
    pub kind: MovementKind,
    /// The caller's reason for a manual adjustment; the kind's name otherwise.
    pub reason: String,
    /// The order, for order movements.
    pub order_id: Option<i64>,
    /// The location whose available units moved ([`crate::DEFAULT_LOCATION`] for every row
    /// written before stock was kept per location).
    #[serde(default = "default_location")]
    pub location_id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn default_location() -> i64 {
    crate::location::DEFAULT_LOCATION
}

/// A manual stock adjustment: `{"delta": -3, "reason": "damaged"}`, at the default location, or
/// at another with `"location_id": 2`.
///
/// ```
/// use inventory_core::{Adjustment, Reason, StockDelta};
/// let damaged = Adjustment::new(StockDelta::new(-3)?, Reason::parse("damaged")?)?;
/// assert_eq!(damaged.delta().get(), -3);
/// assert!(Adjustment::new(StockDelta::new(0)?, Reason::parse("nothing")?).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    delta: StockDelta,
    reason: Reason,
    location_id: Option<i64>,
}

impl Adjustment {
    /// An adjustment of `delta` units (never zero) for `reason`.
    pub fn new(delta: StockDelta, reason: Reason) -> Result<Adjustment, RangeError> {
        if delta.get() == 0 {
            return Err(RangeError::Zero);
        }
        Ok(Adjustment {
            delta,
            reason,
            location_id: None,
        })
    }

    /// The same adjustment at `location_id` instead of the default location.
    pub fn at(mut self, location_id: i64) -> Adjustment {
        self.location_id = Some(location_id);
        self
    }

    /// The location it applies at, as the caller named it.
    pub fn location_id(&self) -> Option<i64> {
        self.location_id
    }

    /// The location it applies at: the one named, else [`crate::DEFAULT_LOCATION`].
    pub fn location(&self) -> i64 {
        self.location_id
            .unwrap_or(crate::location::DEFAULT_LOCATION)
    }

    /// Units to add (negative: remove).
    pub fn delta(&self) -> StockDelta {
        self.delta
    }

    /// Why.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// Decides the adjustment of product `product_id` from its stock `current`: the new stock,
    /// or why it is refused ([`Error::InsufficientStock`] below zero,
    /// [`Error::StockAboveMaximum`] above [`crate::MAX_STOCK`]). Every store asks this inside the
    /// transaction that writes the change.
    pub fn apply_to(&self, product_id: i64, current: Stock) -> Result<Stock, Error> {
        current.apply(self.delta).map_err(|e| match e {
            RangeError::TooLarge { .. } => Error::StockAboveMaximum { product_id },
            _ => Error::InsufficientStock {
                product_id,
                requested: self.delta.removed(),
                available: current,
                shortages: Vec::new(),
            },
        })
    }

    /// Reads a `POST /products/{id}/adjustments` body, listing every problem.
    pub fn from_json(body: &Value) -> Result<Adjustment, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let delta = r.required("delta", |v| {
            let delta = validation::count(v, StockDelta::new)?;
            if delta.get() == 0 {
                return Err(Problem::Range(RangeError::Zero));
            }
            Ok(delta)
        });
        let reason = r.required("reason", |v| Ok(Reason::parse(validation::string(v)?)?));
        let location_id = r.optional("location_id", crate::order::id_field);
        r.finish(&["delta", "reason", "location_id"], false)?;
        match (delta, reason) {
            (Some(delta), Some(reason)) => Ok(Adjustment {
                delta,
                reason,
                location_id,
            }),
            _ => Err(validation::internal_inconsistency()),
        }
    }
}
