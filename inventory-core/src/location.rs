//! Locations, the stock kept at each, and the changes to it that core decides: what a store
//! writes to its `stock_levels` for every operation that moves units.
//!
//! A product's `stock` (the seed's number) is its available units summed over locations. Every
//! change of a level is a [`LevelChange`] of `on_hand` (on the shelf) and `committed` (held by
//! PENDING and PAID orders); its change of `available` is the ledger row a store writes with it
//! (none when it is zero, as when an order ships). So per product and location:
//! `available = Σ ledger deltas there`, `committed = Σ allocations of PENDING and PAID lines
//! there`, `on_hand = available + committed`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::allocation::LocationLevel;
use crate::error::Error;
use crate::ledger::MovementKind;
use crate::order::{Order, id_field, quantity_field};
use crate::status::{OrderStatus, StatusChange};
use crate::text::{TextRule, text_newtype};
use crate::units::{Quantity, RangeError, Stock, StockDelta, within};
use crate::validation::{self, BodyReader, FieldError, Problem, ValidationErrors};

/// The location every database has from its first migration on: where the seed's `stock`
/// lives (create and `PUT` write it here), and where an adjustment without `location_id` goes.
pub const DEFAULT_LOCATION: i64 = 1;

/// A location's unique code, e.g. `WH-EAST`: 1–64 characters, no whitespace.
///
/// ```
/// use inventory_core::LocationCode;
/// assert!(LocationCode::parse("WH-EAST").is_ok());
/// assert!(LocationCode::parse("WH EAST").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LocationCode(String);

impl LocationCode {
    /// The most characters a code may have.
    pub const MAX_CHARS: usize = 64;

    const RULE: TextRule = TextRule {
        max: Self::MAX_CHARS,
        whitespace: false,
        ascii: false,
        invisible: false,
    };
}

text_newtype!(LocationCode);

/// A location's display name: 1–200 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LocationName(String);

impl LocationName {
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 200;

    const RULE: TextRule = TextRule {
        max: Self::MAX_CHARS,
        whitespace: true,
        ascii: false,
        invisible: true,
    };
}

text_newtype!(LocationName);

/// The allocation priority bounds: lower numbers are tried first.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i32> = -1_000_000..=1_000_000;

/// A stored location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Identifier assigned by the store; [`DEFAULT_LOCATION`] is the migration's.
    pub id: i64,
    /// Unique code.
    pub code: LocationCode,
    /// Display name.
    pub name: LocationName,
    /// Allocation priority: lower is tried first, ties by lower id.
    pub priority: i32,
}

/// A location to create: `{"code": "WH-EAST", "name": "East warehouse", "priority": 1}`
/// (`priority` defaults to 0, the default location's; ties go to the lower id).
///
/// ```
/// use inventory_core::NewLocation;
/// let east = NewLocation::from_json(&serde_json::json!({"code": "WH-EAST", "name": "East"}))?;
/// assert_eq!((east.code().as_str(), east.priority()), ("WH-EAST", 0));
/// assert!(NewLocation::from_json(&serde_json::json!({"code": "X", "name": "X",
///                                                     "priority": 2_000_000})).is_err());
/// # Ok::<_, inventory_core::ValidationErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocation {
    code: LocationCode,
    name: LocationName,
    priority: i32,
}

impl NewLocation {
    /// A location of `code` and `name` at `priority` (within [`PRIORITY_RANGE`]).
    pub fn new(
        code: LocationCode,
        name: LocationName,
        priority: i32,
    ) -> Result<NewLocation, RangeError> {
        within(
            i64::from(priority),
            i64::from(*PRIORITY_RANGE.start()),
            i64::from(*PRIORITY_RANGE.end()),
        )?;
        Ok(NewLocation {
            code,
            name,
            priority,
        })
    }

    /// The code.
    pub fn code(&self) -> &LocationCode {
        &self.code
    }

    /// The name.
    pub fn name(&self) -> &LocationName {
        &self.name
    }

    /// The priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// The stored location, with the id its store assigned.
    pub fn into_location(self, id: i64) -> Location {
        Location {
            id,
            code: self.code,
            name: self.name,
            priority: self.priority,
        }
    }

    /// Reads a `POST /locations` body, reporting every problem.
    pub fn from_json(body: &Value) -> Result<NewLocation, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let code = r.required("code", |v| Ok(LocationCode::parse(validation::string(v)?)?));
        let name = r.required("name", |v| Ok(LocationName::parse(validation::string(v)?)?));
        let priority = r.optional("priority", priority_field);
        r.finish(&["code", "name", "priority"], false)?;
        match (code, name) {
            (Some(code), Some(name)) => Ok(NewLocation {
                code,
                name,
                priority: priority.unwrap_or(0),
            }),
            _ => Err(validation::internal_inconsistency()),
        }
    }
}

fn priority_field(v: &Value) -> Result<i32, Problem> {
    let n = validation::count(v, |n| {
        within(
            n,
            i64::from(*PRIORITY_RANGE.start()),
            i64::from(*PRIORITY_RANGE.end()),
        )
    })?;
    i32::try_from(n).map_err(|_| Problem::Range(RangeError::TooLarge { max: 1_000_000 }))
}

/// One change of one product's level at one location, as core decided it: a store adds
/// `on_hand` and `committed` to the row (creating it at zero first), and writes a ledger row of
/// [`LevelChange::available`] when that is not zero. The schema's checks (`committed ≤ on_hand`,
/// both ≥ 0) are a backstop: core only decides changes that keep them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelChange {
    /// The product.
    pub product_id: i64,
    /// The location.
    pub location_id: i64,
    /// Units put on (negative: taken off) the shelf.
    pub on_hand: StockDelta,
    /// Units committed to (negative: released by) orders.
    pub committed: StockDelta,
}

impl LevelChange {
    /// The change of the available units: the ledger row's delta.
    pub fn available(&self) -> i64 {
        self.on_hand.get() - self.committed.get()
    }

    /// The ledger row's delta: the change of the available units. `None` for a change that
    /// moves the shelf and the commitments together (shipping), which the ledger of available
    /// units does not see; a product created with no stock still has its `initial` row of 0.
    pub fn ledger_delta(&self) -> Option<StockDelta> {
        let ships = self.on_hand == self.committed && self.on_hand.get() != 0;
        if ships {
            return None;
        }
        StockDelta::new(self.available()).ok()
    }

    fn shelf(product_id: i64, location_id: i64, delta: StockDelta) -> LevelChange {
        LevelChange {
            product_id,
            location_id,
            on_hand: delta,
            committed: StockDelta::ZERO,
        }
    }

    fn commit(product_id: i64, location_id: i64, delta: StockDelta) -> LevelChange {
        LevelChange {
            product_id,
            location_id,
            on_hand: StockDelta::ZERO,
            committed: delta,
        }
    }

    /// The level row as it is once this change is applied to `level` (or to an empty row).
    pub fn apply_to(
        &self,
        level: Option<&LocationLevel>,
        priority: i32,
    ) -> Result<LocationLevel, Error> {
        let (on_hand, committed) =
            level.map_or((0, 0), |l| (l.on_hand().get(), l.committed().get()));
        let bad = || {
            Error::backend(format!(
                "product {} at location {}: a level change out of range",
                self.product_id, self.location_id
            ))
        };
        let on_hand = Stock::new(on_hand + self.on_hand.get()).map_err(|_| bad())?;
        let committed = Stock::new(committed + self.committed.get()).map_err(|_| bad())?;
        LocationLevel::new(self.location_id, priority, on_hand, committed).map_err(|_| bad())
    }

    /// The level change of writing the seed's `stock` (create, `PUT`, a batch item): the
    /// product's stock moves by `delta`, all of it at [`DEFAULT_LOCATION`] (whose level is in
    /// `levels`, or absent). Refused when the default location's available units would go
    /// below zero (the stock asked for is less than what is available elsewhere), or its shelf
    /// above [`crate::MAX_STOCK`] ([`Error::StockAboveMaximum`]).
    pub fn set_stock(
        product_id: i64,
        delta: StockDelta,
        levels: &[LocationLevel],
    ) -> Result<LevelChange, Error> {
        let at_default = available_at(levels, DEFAULT_LOCATION);
        if at_default + delta.get() < 0 {
            let total: i64 = levels.iter().map(LocationLevel::available).sum();
            let elsewhere = Stock::new(total - at_default).unwrap_or(Stock::ZERO);
            return Err(Error::StockAtOtherLocations {
                product_id,
                elsewhere,
            });
        }
        // Units promised to orders are on the shelf too: the shelf has the stock's maximum.
        let on_hand = levels
            .iter()
            .find(|l| l.location_id() == DEFAULT_LOCATION)
            .map_or(0, |l| l.on_hand().get());
        if on_hand + delta.get() > crate::MAX_STOCK {
            return Err(Error::StockAboveMaximum { product_id });
        }
        Ok(LevelChange::shelf(product_id, DEFAULT_LOCATION, delta))
    }

    /// The level of a product created with `stock`: all of it on the default location's shelf.
    pub fn initial(product_id: i64, stock: Stock) -> LevelChange {
        LevelChange::shelf(product_id, DEFAULT_LOCATION, StockDelta::initial(stock))
    }
}

/// Units available at `location` among `levels` (0 without a row).
pub(crate) fn available_at(levels: &[LocationLevel], location: i64) -> i64 {
    levels
        .iter()
        .find(|l| l.location_id() == location)
        .map_or(0, LocationLevel::available)
}

impl StatusChange {
    /// Whether this change moves units at the order's locations: a cancel that returns them
    /// (releasing what is committed), or shipping (taking them off the shelf).
    pub fn moves_stock(&self) -> bool {
        let t = self.transition();
        self.restock().is_some()
            || (t.from() == OrderStatus::Paid && t.to() == OrderStatus::Shipped)
    }

    /// The kind of the ledger rows that come with [`StatusChange::level_changes`]: the
    /// restock's. Shipping moves no available units, so its changes write no ledger row
    /// ([`LevelChange::ledger_delta`] is `None`) and the kind returned for it is never stored.
    pub fn ledger_kind(&self) -> MovementKind {
        self.restock().unwrap_or(MovementKind::OrderPlaced)
    }

    /// The level changes of applying this change to `order`, allocation by allocation in line
    /// order: a restock releases each allocation's units (`committed` down, so they are
    /// available again, with a ledger row of [`StatusChange::restock`]'s kind); shipping takes
    /// them off the shelf (`on_hand` and `committed` down, available unchanged, no ledger row).
    pub fn level_changes(&self, order: &Order) -> Vec<LevelChange> {
        let t = self.transition();
        let ships = t.from() == OrderStatus::Paid && t.to() == OrderStatus::Shipped;
        if self.restock().is_none() && !ships {
            return Vec::new();
        }
        order
            .lines
            .iter()
            .flat_map(|line| line.allocations.iter().map(move |a| (line.product_id, a)))
            .map(|(product_id, a)| {
                let released = StockDelta::taking(a.quantity);
                if ships {
                    LevelChange {
                        product_id,
                        location_id: a.location_id,
                        on_hand: released,
                        committed: released,
                    }
                } else {
                    LevelChange::commit(product_id, a.location_id, released)
                }
            })
            .collect()
    }
}

/// Units moved between two locations of one product (`POST /transfers`):
/// `{"product_id": 1, "from_location_id": 1, "to_location_id": 2, "quantity": 5}`.
///
/// ```
/// use inventory_core::{LocationLevel, Stock, Transfer};
/// let body = serde_json::json!({"product_id": 1, "from_location_id": 1, "to_location_id": 2,
///                               "quantity": 5});
/// let transfer = Transfer::from_json(&body)?;
/// let at = |loc, on_hand, committed| {
///     LocationLevel::new(loc, 0, Stock::new(on_hand).unwrap(), Stock::new(committed).unwrap())
/// };
/// let [out, into] = transfer.plan(&[at(1, 8, 2)?])?;
/// assert_eq!((out.on_hand.get(), into.on_hand.get()), (-5, 5));
/// // Only the available units can leave: 8 on the shelf, 2 promised, so 6.
/// let too_many = Transfer::new(1, 1, 2, inventory_core::Quantity::new(7)?)?;
/// assert!(too_many.plan(&[at(1, 8, 2)?]).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    product_id: i64,
    from: i64,
    to: i64,
    quantity: Quantity,
}

/// Why a transfer cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// From a location to itself.
    #[error("a transfer moves units between two different locations")]
    SameLocation,
}

impl Transfer {
    /// `quantity` units of `product_id` from location `from` to location `to` (not `from`).
    pub fn new(
        product_id: i64,
        from: i64,
        to: i64,
        quantity: Quantity,
    ) -> Result<Transfer, TransferError> {
        if from == to {
            return Err(TransferError::SameLocation);
        }
        Ok(Transfer {
            product_id,
            from,
            to,
            quantity,
        })
    }

    /// The product.
    pub fn product_id(&self) -> i64 {
        self.product_id
    }

    /// The location the units leave.
    pub fn from_location(&self) -> i64 {
        self.from
    }

    /// The location they arrive at.
    pub fn to_location(&self) -> i64 {
        self.to
    }

    /// Units moved.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// Decides the transfer on the product's `levels` (read under its lock): the source's
    /// shelf down and the destination's up, or [`Error::InsufficientStock`] when more than the
    /// source's available units would leave (units promised to orders stay), or
    /// [`Error::StockAboveMaximum`] at the destination.
    pub fn plan(&self, levels: &[LocationLevel]) -> Result<[LevelChange; 2], Error> {
        let available = available_at(levels, self.from);
        let q = self.quantity.get();
        if available < q {
            return Err(Error::InsufficientStock {
                product_id: self.product_id,
                requested: Stock::of(self.quantity),
                available: Stock::new(available).unwrap_or(Stock::ZERO),
                shortages: Vec::new(),
            });
        }
        let to = levels.iter().find(|l| l.location_id() == self.to);
        let on_hand = to.map_or(0, |l| l.on_hand().get());
        Stock::new(on_hand + q).map_err(|_| Error::StockAboveMaximum {
            product_id: self.product_id,
        })?;
        Ok([
            LevelChange::shelf(
                self.product_id,
                self.from,
                StockDelta::taking(self.quantity),
            ),
            LevelChange::shelf(
                self.product_id,
                self.to,
                StockDelta::returning(self.quantity),
            ),
        ])
    }

    /// Reads a `POST /transfers` body, reporting every problem.
    pub fn from_json(body: &Value) -> Result<Transfer, ValidationErrors> {
        let mut r = BodyReader::new(body);
        let product_id = r.required("product_id", id_field);
        let from = r.required("from_location_id", id_field);
        let to = r.required("to_location_id", id_field);
        let quantity = r.required("quantity", quantity_field);
        r.finish(
            &[
                "product_id",
                "from_location_id",
                "to_location_id",
                "quantity",
            ],
            false,
        )?;
        match (product_id, from, to, quantity) {
            (Some(p), Some(from), Some(to), Some(q)) => {
                Transfer::new(p, from, to, q).map_err(|e| {
                    ValidationErrors::single(FieldError::field(
                        "to_location_id",
                        Problem::Transfer(e),
                    ))
                })
            }
            _ => Err(validation::internal_inconsistency()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::Allocation;
    use crate::history::ChangeSource;
    use crate::money::Money;
    use crate::order::OrderLine;

    fn level(loc: i64, on_hand: i64, committed: i64) -> LocationLevel {
        let s = |n| Stock::new(n).expect("stock");
        LocationLevel::new(loc, 0, s(on_hand), s(committed)).expect("level")
    }

    #[test]
    fn setting_the_stock_moves_the_default_location_only_as_far_as_it_can() {
        let levels = [level(1, 5, 2), level(2, 4, 0)];
        let down = LevelChange::set_stock(7, StockDelta::new(-3).expect("delta"), &levels);
        assert_eq!(down.expect("3 available at default").on_hand.get(), -3);
        let err = LevelChange::set_stock(7, StockDelta::new(-4).expect("delta"), &levels)
            .expect_err("only 3 available at the default location");
        assert!(
            matches!(err, Error::StockAtOtherLocations { product_id: 7, elsewhere } if elsewhere.get() == 4),
            "{err:?}"
        );
    }

    #[test]
    fn cancel_releases_and_shipping_takes_off_the_shelf_where_the_units_were() {
        let mut line = OrderLine::new(
            1,
            Quantity::new(5).expect("q"),
            Money::from_cents(100).expect("m"),
        );
        line.allocations = vec![
            Allocation {
                location_id: 1,
                quantity: Quantity::new(2).expect("q"),
            },
            Allocation {
                location_id: 3,
                quantity: Quantity::new(3).expect("q"),
            },
        ];
        let order = Order {
            id: 9,
            status: OrderStatus::Paid,
            total: line.total,
            lines: vec![line],
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            version: crate::version::Version::FIRST,
        };
        let cancel = StatusChange::new(
            OrderStatus::Paid
                .transition_to(OrderStatus::Canceled)
                .expect("allowed"),
            ChangeSource::Api,
        );
        let released: Vec<_> = cancel
            .level_changes(&order)
            .iter()
            .map(|c| {
                (
                    c.location_id,
                    c.on_hand.get(),
                    c.committed.get(),
                    c.available(),
                )
            })
            .collect();
        assert_eq!(released, [(1, 0, -2, 2), (3, 0, -3, 3)]);
        let ship = StatusChange::new(
            OrderStatus::Paid
                .transition_to(OrderStatus::Shipped)
                .expect("allowed"),
            ChangeSource::Api,
        );
        assert!(ship.moves_stock());
        let shipped: Vec<_> = ship
            .level_changes(&order)
            .iter()
            .map(|c| {
                (
                    c.location_id,
                    c.on_hand.get(),
                    c.committed.get(),
                    c.ledger_delta(),
                )
            })
            .collect();
        assert_eq!(shipped, [(1, -2, -2, None), (3, -3, -3, None)]);
        let pay = StatusChange::new(
            OrderStatus::Pending
                .transition_to(OrderStatus::Paid)
                .expect("allowed"),
            ChangeSource::Api,
        );
        assert!(!pay.moves_stock() && pay.level_changes(&order).is_empty());
    }

    #[test]
    fn a_transfer_needs_two_locations_and_a_known_body() {
        let same = serde_json::json!({"product_id": 1, "from_location_id": 2,
                                      "to_location_id": 2, "quantity": 1});
        let errors = Transfer::from_json(&same).expect_err("same location");
        assert!(
            errors.errors()[0].to_string().starts_with("to_location_id"),
            "{errors}"
        );
        let missing = serde_json::json!({"product_id": 1, "quantity": 0, "extra": true});
        assert_eq!(
            Transfer::from_json(&missing)
                .expect_err("bad")
                .errors()
                .len(),
            4
        );
    }
}
