//! Orders: the order shapes, filters and pages.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::money::{Amount, Money};
use crate::status::OrderStatus;
use crate::units::{Quantity, RangeError, within};
use crate::validation::{self, BodyReader, Problem, ValidationErrors};

/// A stored order: its lines, each with the unit price snapshotted when it was placed, and the
/// total of its lines.
///
/// In JSON an order has `lines`; an order of one line also shows that line's `product_id`,
/// `quantity` and `unit_price` at the top, the seed service's shape, so its clients keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    into = "crate::order_json::OrderJson",
    try_from = "crate::order_json::OrderJson"
)]
pub struct Order {
    /// Identifier assigned by the store.
    pub id: i64,
    /// Current status (of the whole order: every line moves together).
    pub status: OrderStatus,
    /// The lines, in the cart's order (after merging), at least one.
    pub lines: Vec<OrderLine>,
    /// The sum of the lines' totals.
    pub total: Amount,
    /// When it was placed (RFC 3339, UTC).
    pub created_at: OffsetDateTime,
    /// When its status last changed (RFC 3339, UTC).
    pub updated_at: OffsetDateTime,
    /// Its version: one more with every status change. Not part of the JSON body; the server
    /// sends it as the `ETag`.
    pub version: crate::version::Version,
}

impl Order {
    /// The order's only line, when it has exactly one (the seed's form of an order).
    pub fn single_line(&self) -> Option<&OrderLine> {
        match self.lines.as_slice() {
            [line] => Some(line),
            _ => None,
        }
    }

    /// Whether a line of the order is for `product_id`.
    pub fn has_product(&self, product_id: i64) -> bool {
        self.lines.iter().any(|l| l.product_id == product_id)
    }
}

/// One line of a stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product ordered.
    pub product_id: i64,
    /// Units ordered.
    pub quantity: Quantity,
    /// The product's price when the order was placed.
    pub unit_price: Money,
    /// `unit_price × quantity` ([`Money::times`]).
    pub total: Amount,
    /// Where its units were taken from, as allocated when it was placed (and where a cancel
    /// returns them), by ascending location id. Empty only in idempotency snapshots taken
    /// before locations existed.
    #[serde(default)]
    pub allocations: Vec<crate::allocation::Allocation>,
}

impl OrderLine {
    /// A line of `quantity` units at `unit_price`, its total computed.
    pub fn new(product_id: i64, quantity: Quantity, unit_price: Money) -> OrderLine {
        OrderLine {
            product_id,
            quantity,
            unit_price,
            total: unit_price.times(quantity),
            allocations: Vec::new(),
        }
    }
}

/// An order of one line, the seed's form: a product and a quantity, both checked. It becomes a
/// one-line [`crate::Cart`] (`Cart::from`), which is what stores place.
///
/// ```
/// use inventory_core::{NewOrder, Quantity};
/// let order = NewOrder::new(1, Quantity::new(3)?);
/// assert_eq!(order.quantity().get(), 3);
/// # Ok::<_, inventory_core::RangeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    product_id: i64,
    quantity: Quantity,
}

impl NewOrder {
    /// An order for `quantity` units of product `product_id`.
    pub fn new(product_id: i64, quantity: Quantity) -> Self {
        NewOrder {
            product_id,
            quantity,
        }
    }

    /// The product to take stock from.
    pub fn product_id(&self) -> i64 {
        self.product_id
    }

    /// Units to take.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// Reads the seed's `POST /orders` body, `{"product_id": 1, "quantity": 3}`, reporting
    /// every invalid, missing or unknown field. [`crate::Cart::from_json`] reads this form and
    /// the form with `lines`.
    pub fn from_json(body: &Value) -> Result<NewOrder, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let product_id = r.required("product_id", id_field);
        let quantity = r.required("quantity", quantity_field);
        r.finish(&["product_id", "quantity"], false)?;
        match (product_id, quantity) {
            (Some(product_id), Some(quantity)) => Ok(NewOrder::new(product_id, quantity)),
            _ => Err(validation::internal_inconsistency()),
        }
    }
}

/// Reads a `PUT /orders/{id}` body: exactly `{"status": ...}`.
pub fn status_update_from_json(body: &Value) -> Result<OrderStatus, ValidationErrors> {
    let mut r = BodyReader::new(body);
    let status = r.required("status", status_field);
    r.finish(&["status"], false)?;
    status.ok_or_else(validation::internal_inconsistency)
}

pub(crate) fn id_field(v: &Value) -> Result<i64, Problem> {
    validation::count(v, |n| within(n, 1, i64::MAX))
}

pub(crate) fn quantity_field(v: &Value) -> Result<Quantity, Problem> {
    validation::count(v, Quantity::new)
}

fn status_field(v: &Value) -> Result<OrderStatus, Problem> {
    Ok(validation::string(v)?.parse::<OrderStatus>()?)
}

/// Which orders to list. Every condition set must hold; build one with struct update syntax:
///
/// ```
/// use inventory_core::{OrderFilter, OrderStatus};
/// use inventory_core::time::macros::datetime;
/// let november_paid = OrderFilter {
///     status: Some(OrderStatus::Paid),
///     created_after: Some(datetime!(2026-11-01 00:00 UTC)),
///     created_before: Some(datetime!(2026-12-01 00:00 UTC)),
///     ..OrderFilter::default()
/// };
/// assert!(november_paid.admits_creation(datetime!(2026-11-30 23:59:59.999999 UTC)));
/// assert!(!november_paid.admits_creation(datetime!(2026-12-01 00:00 UTC)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders with a line of this product.
    pub product_id: Option<i64>,
    /// Only orders created at or after this instant (the interval is half-open).
    pub created_after: Option<OffsetDateTime>,
    /// Only orders created before this instant.
    pub created_before: Option<OffsetDateTime>,
}

impl OrderFilter {
    /// Whether an order created at `created_at` is inside the filter's time interval
    /// `[created_after, created_before)`: the rule every store's query states.
    pub fn admits_creation(&self, created_at: OffsetDateTime) -> bool {
        let filter = self.at_stored_precision();
        filter.created_after.is_none_or(|t| created_at >= t)
            && filter.created_before.is_none_or(|t| created_at < t)
    }

    /// The same filter with its instants at the precision stores keep (microseconds), rounded
    /// up: for a stored `x`, `x >= b` exactly when `x >= ceil(b)`, and `x < b` exactly when
    /// `x < ceil(b)`, so every store answers alike whatever the bounds' nanoseconds (a leap
    /// second `23:59:60` reads as `59.999999999`). [`crate::Inventory::list_orders`] hands
    /// stores this form.
    pub fn at_stored_precision(self) -> OrderFilter {
        OrderFilter {
            created_after: self.created_after.map(ceil_micros),
            created_before: self.created_before.map(ceil_micros),
            ..self
        }
    }
}

/// `t` rounded up to a whole microsecond.
fn ceil_micros(t: OffsetDateTime) -> OffsetDateTime {
    let below = t.nanosecond() % 1_000;
    if below == 0 {
        return t;
    }
    t + time::Duration::nanoseconds(i64::from(1_000 - below))
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

    /// A page; `limit` must be `1 ..= 1000` and `skip` at most `i64::MAX`.
    pub fn new(skip: u64, limit: u32) -> Result<Page, RangeError> {
        within(i64::from(limit), 1, i64::from(Self::MAX_LIMIT))?;
        let skip = i64::try_from(skip).map_err(|_| RangeError::TooLarge { max: i64::MAX })?;
        Ok(Page {
            skip: skip as u64,
            limit,
            after: None,
        })
    }

    /// The largest page from the start, for walking a whole listing.
    pub fn all() -> Page {
        Page {
            skip: 0,
            limit: Self::MAX_LIMIT,
            after: None,
        }
    }

    /// Only rows whose id is greater than `after` (cursor pagination, stable under inserts).
    pub fn after(mut self, after: i64) -> Page {
        self.after = Some(after);
        self
    }

    /// This page and one row more: a listing reads it to learn, in the same query, whether
    /// another page follows; [`Page::split`] then drops the extra row.
    ///
    /// ```
    /// use inventory_core::Page;
    /// let page = Page::new(0, 2)?;
    /// let rows = vec![1, 2, 3]; // what a store returned for `page.and_one_more()`
    /// assert_eq!(page.and_one_more().limit(), 3);
    /// assert_eq!(page.split(rows), (vec![1, 2], true));
    /// assert_eq!(page.split(vec![1, 2]), (vec![1, 2], false));
    /// # Ok::<_, inventory_core::RangeError>(())
    /// ```
    pub fn and_one_more(mut self) -> Page {
        // At most MAX_LIMIT + 1: no overflow.
        self.limit = self.limit.saturating_add(1);
        self
    }

    /// The rows of this page from what [`Page::and_one_more`] read, and whether there were more.
    pub fn split<T>(self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        (rows, more)
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
