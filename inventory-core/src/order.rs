//! Orders: `Quantity`, the order shapes, filters and pages.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::money::{Money, serialize_cents};
use crate::status::OrderStatus;
use crate::validation::{self, BodyReader, Refusal, ValidationErrors};

/// A number of units in one order: `1 ..= Quantity::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    /// The most units one order may take; with [`crate::money::MAX_CENTS`] it keeps a total within
    /// `i64` cents.
    pub const MAX: i64 = 100_000_000;

    /// Checks and wraps a quantity.
    pub fn new(n: i64) -> Result<Quantity, String> {
        if n <= 0 {
            Err("Input should be greater than 0".into())
        } else if n > Self::MAX {
            Err(format!(
                "Input should be less than or equal to {}",
                Self::MAX
            ))
        } else {
            Ok(Quantity(n))
        }
    }

    /// The number of units.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Quantity::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A stored order. `unit_price` and `total` are snapshots taken when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Identifier assigned by the store.
    pub id: i64,
    /// The product ordered.
    pub product_id: i64,
    /// Units ordered.
    pub quantity: Quantity,
    /// Current status.
    pub status: OrderStatus,
    /// The product's price when the order was placed.
    pub unit_price: Money,
    /// `unit_price × quantity`, in cents, written as a JSON number.
    #[serde(
        serialize_with = "serialize_total",
        deserialize_with = "deserialize_total"
    )]
    pub total: i64,
    /// When it was placed (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its status last changed (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn serialize_total<S: serde::Serializer>(cents: &i64, s: S) -> Result<S::Ok, S::Error> {
    serialize_cents(*cents, s)
}

fn deserialize_total<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    crate::money::parse_cents(&n.to_string()).map_err(serde::de::Error::custom)
}

/// An order to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// The product to take stock from.
    pub product_id: i64,
    /// Units to take.
    pub quantity: Quantity,
}

impl NewOrder {
    /// Reads a `POST /orders` body, reporting every invalid, missing or unknown field.
    pub fn from_json(body: &Value) -> Result<NewOrder, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let product_id = r.required("product_id", id_field);
        let quantity = r.required("quantity", quantity_field);
        r.finish(&["product_id", "quantity"], false)?;
        match (product_id, quantity) {
            (Some(product_id), Some(quantity)) => Ok(NewOrder {
                product_id,
                quantity,
            }),
            _ => Err(crate::product::internal_inconsistency()),
        }
    }
}

/// Reads a `PUT /orders/{id}` body: exactly `{"status": ...}`.
pub fn status_update_from_json(body: &Value) -> Result<OrderStatus, ValidationErrors> {
    let mut r = BodyReader::new(body);
    let status = r.required("status", status_field);
    r.finish(&["status"], false)?;
    status.ok_or_else(crate::product::internal_inconsistency)
}

pub(crate) fn id_field(v: &Value) -> Result<i64, Refusal> {
    validation::integer(v, 1, i64::MAX)
}

fn quantity_field(v: &Value) -> Result<Quantity, Refusal> {
    let n = validation::integer(v, 1, Quantity::MAX)?;
    Quantity::new(n).map_err(|m| (m, "greater_than"))
}

fn status_field(v: &Value) -> Result<OrderStatus, Refusal> {
    validation::string(v)?.parse().map_err(|m| (m, "enum"))
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders of this product.
    pub product_id: Option<i64>,
}

/// A page of a listing ordered by id: rows with `id > after` (when set), skipping `skip`, at most
/// `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: u64,
    limit: u32,
    after: Option<i64>,
}

impl Page {
    /// The largest `limit` accepted.
    pub const MAX_LIMIT: u32 = 1000;
    /// The `limit` when none is given.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// A page; `limit` must be `1 ..= 1000`.
    pub fn new(skip: u64, limit: u32) -> Result<Page, String> {
        if limit == 0 {
            return Err("Input should be greater than or equal to 1".into());
        }
        if limit > Self::MAX_LIMIT {
            return Err(format!(
                "Input should be less than or equal to {}",
                Self::MAX_LIMIT
            ));
        }
        if skip > i64::MAX as u64 {
            return Err("Input should be less than or equal to 9223372036854775807".into());
        }
        Ok(Page {
            skip,
            limit,
            after: None,
        })
    }

    /// Only rows whose id is greater than `after` (cursor pagination, stable under inserts).
    pub fn after(mut self, after: i64) -> Page {
        self.after = Some(after);
        self
    }

    /// Rows skipped.
    pub fn skip(self) -> u64 {
        self.skip
    }

    /// Most rows returned.
    pub fn limit(self) -> u32 {
        self.limit
    }

    /// The cursor: rows with a greater id only.
    pub fn after_id(self) -> Option<i64> {
        self.after
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            skip: 0,
            limit: Self::DEFAULT_LIMIT,
            after: None,
        }
    }
}
