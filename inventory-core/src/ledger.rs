//! The stock ledger: every change to a product's stock is a row, written in the same
//! transaction as the change, saying by how much and why.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::validation::{self, BodyReader, ValidationErrors};

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
}

impl MovementKind {
    /// Every kind.
    pub const ALL: [MovementKind; 6] = [
        MovementKind::Initial,
        MovementKind::Adjustment,
        MovementKind::Set,
        MovementKind::OrderPlaced,
        MovementKind::OrderCanceled,
        MovementKind::Expired,
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
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<MovementKind> {
        MovementKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the invariant counts it as "initial + adjustments" (the others follow orders).
    pub fn is_manual(self) -> bool {
        matches!(
            self,
            MovementKind::Initial | MovementKind::Adjustment | MovementKind::Set
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
    pub delta: i64,
    /// Why.
    pub kind: MovementKind,
    /// The caller's reason for a manual adjustment; the kind's name otherwise.
    pub reason: String,
    /// The order, for order movements.
    pub order_id: Option<i64>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A manual stock adjustment: `{"delta": -3, "reason": "damaged"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// Units to add (negative: remove); never zero.
    pub delta: i64,
    /// Why, 1–200 characters.
    pub reason: String,
}

impl Adjustment {
    /// The most characters a reason may have.
    pub const MAX_REASON_CHARS: usize = 200;

    /// Reads a `POST /products/{id}/adjustments` body, listing every problem.
    pub fn from_json(body: &Value) -> Result<Adjustment, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let delta = r.required("delta", |v| {
            let n = validation::integer(v, -crate::MAX_STOCK, crate::MAX_STOCK)?;
            if n == 0 {
                return Err(("Input should not be 0".into(), "value_error"));
            }
            Ok(n)
        });
        let reason = r.required("reason", |v| {
            let s = validation::string(v)?;
            let n = s.chars().count();
            if n == 0 || s.trim().is_empty() {
                return Err((
                    "String should have at least 1 character".into(),
                    "string_too_short",
                ));
            }
            if n > Self::MAX_REASON_CHARS {
                return Err((
                    format!(
                        "String should have at most {} characters",
                        Self::MAX_REASON_CHARS
                    ),
                    "string_too_long",
                ));
            }
            if s.chars().any(char::is_control) {
                return Err(("must not contain control characters".into(), "value_error"));
            }
            Ok(s.to_owned())
        });
        r.finish(&["delta", "reason"], false)?;
        match (delta, reason) {
            (Some(delta), Some(reason)) => Ok(Adjustment { delta, reason }),
            _ => Err(crate::product::internal_inconsistency()),
        }
    }
}
