//! Placing a cart: reading a `POST /orders` body, and the decision every store asks inside the
//! transaction that takes the units: which lines can be served, what each costs, what is left.
//!
//! A store reads each of the cart's products (stock and price) under its lock, in
//! [`Cart::lock_order`], hands them to [`Cart::place`], and writes the [`Placement`] it gets, or
//! returns the refusal with nothing written.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::allocation::{Cart, CartError, CartLine, LocationLevel};
use crate::batch::{list_field, parse_items};
use crate::error::Error;
use crate::location::LevelChange;
use crate::money::{Amount, Money, MoneyError};
use crate::order::{NewOrder, Order, OrderLine, id_field, quantity_field};
use crate::status::OrderStatus;
use crate::units::{Stock, StockDelta};
use crate::validation::{BodyReader, FieldError, PathSegment, Problem, ValidationErrors};
use crate::version::Version;

/// A product as a store read it for a placement: its stock, its price, and its levels at
/// every location it has one (read under its lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockedProduct {
    /// Units available, over every location (the product's `stock`).
    pub stock: Stock,
    /// The price each line of it is charged.
    pub price: Money,
    /// Its levels, any order.
    pub levels: Vec<LocationLevel>,
}

/// One line as placed: the order line (with its allocations), and the product's stock once it
/// is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedLine {
    /// The order line (product, quantity, unit price, total, allocations).
    pub line: OrderLine,
    /// The product's stock after this line (and every earlier line of the same product).
    pub stock_left: Stock,
}

impl PlacedLine {
    /// The ledger delta of taking this line.
    pub fn delta(&self) -> StockDelta {
        StockDelta::taking(self.line.quantity)
    }
}

/// What [`Cart::place`] decided: every line served from where, and the order's total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    lines: Vec<PlacedLine>,
    total: Amount,
}

impl Placement {
    /// The lines, in the cart's order.
    pub fn lines(&self) -> &[PlacedLine] {
        &self.lines
    }

    /// The sum of the lines' totals.
    pub fn total(&self) -> Amount {
        self.total
    }

    /// Each product's stock once every line is taken: what a store writes back (lines of one
    /// product were merged by the cart, so each product appears once).
    pub fn stock_left(&self) -> BTreeMap<i64, Stock> {
        self.lines
            .iter()
            .map(|l| (l.line.product_id, l.stock_left))
            .collect()
    }

    /// The level changes to write, one per allocation, in line order: each allocation's units
    /// committed at its location, with an `order_placed` ledger row of its
    /// [`LevelChange::available`] (minus the units).
    pub fn level_changes(&self) -> Vec<LevelChange> {
        self.lines
            .iter()
            .flat_map(|l| {
                let product_id = l.line.product_id;
                l.line.allocations.iter().map(move |a| LevelChange {
                    product_id,
                    location_id: a.location_id,
                    on_hand: StockDelta::ZERO,
                    committed: StockDelta::returning(a.quantity),
                })
            })
            .collect()
    }

    /// The order a store inserted from this placement, with the id it assigned: PENDING,
    /// version 1, created and updated `at`.
    pub fn into_order(self, id: i64, at: OffsetDateTime) -> Order {
        Order {
            id,
            status: OrderStatus::Pending,
            lines: self.lines.into_iter().map(|l| l.line).collect(),
            total: self.total,
            created_at: at,
            updated_at: at,
            version: Version::FIRST,
        }
    }
}

impl From<NewOrder> for Cart {
    fn from(o: NewOrder) -> Cart {
        Cart::one(CartLine::new(o.product_id(), o.quantity()))
    }
}

impl Cart {
    /// Reads a `POST /orders` body: `{"lines": [{"product_id": 1, "quantity": 2}, ...]}` (1 to
    /// [`Cart::MAX_LINES`] lines, each optionally naming the `location_id` to take it from;
    /// lines of the same product and location are merged, quantities summed), or
    /// the seed's one-line form `{"product_id": 1, "quantity": 3}`. Every invalid, missing or
    /// unknown field is reported, lines by index (`lines.2.quantity`).
    ///
    /// ```
    /// use inventory_core::Cart;
    /// let body = serde_json::json!({"lines": [
    ///     {"product_id": 1, "quantity": 2},
    ///     {"product_id": 2, "quantity": 1},
    ///     {"product_id": 1, "quantity": 3},
    /// ]});
    /// let cart = Cart::from_json(&body)?;
    /// assert_eq!(cart.lines().len(), 2);
    /// assert_eq!(cart.lines()[0].quantity().get(), 5);
    ///
    /// let seed = serde_json::json!({"product_id": 1, "quantity": 3});
    /// assert_eq!(Cart::from_json(&seed)?.lines().len(), 1);
    /// # Ok::<_, inventory_core::ValidationErrors>(())
    /// ```
    pub fn from_json(body: &Value) -> Result<Cart, ValidationErrors> {
        if body.get("lines").is_none() {
            return NewOrder::from_json(body).map(Cart::from);
        }
        let list = list_field(body, "lines", Cart::MAX_LINES)?;
        let lines = parse_items(list, "lines", line_from_json)?;
        Cart::new(lines).map_err(|e| match e {
            CartError::MergedQuantity { line, source } => {
                ValidationErrors::single(FieldError::new(
                    vec![
                        PathSegment::Field("lines".to_owned()),
                        PathSegment::Index(line),
                        PathSegment::Field("quantity".to_owned()),
                    ],
                    Problem::Range(source),
                ))
            }
            // `list_field` has checked the length.
            CartError::Lines { .. } => crate::validation::internal_inconsistency(),
        })
    }

    /// Decides the placement from `products` (each of the cart's products, read under its
    /// lock, with its levels): every line priced at its product's price and allocated by
    /// [`Cart::allocate`], so two lines of one product draw on the same units; or, with nothing
    /// to write:
    ///
    /// - [`Error::ProductNotFound`] for the first line whose product is not in `products`;
    /// - [`Error::InsufficientStock`], its fields naming the first short line and, for a cart
    ///   of more than one line, `shortages` listing every short line;
    /// - a validation error on `lines` when the total would exceed [`Amount::MAX_CENTS`].
    ///
    /// A line naming a location the product has no level at is short (nothing there); whether
    /// the location exists at all is [`crate::Inventory`]'s check, before the store is asked.
    pub fn place(&self, products: &BTreeMap<i64, StockedProduct>) -> Result<Placement, Error> {
        for line in self.lines() {
            let id = line.product_id();
            if !products.contains_key(&id) {
                return Err(Error::ProductNotFound { id });
            }
        }
        let levels: BTreeMap<i64, Vec<LocationLevel>> = products
            .iter()
            .map(|(id, p)| (*id, p.levels.clone()))
            .collect();
        let allocations = match self.allocate(&levels) {
            Ok(allocations) => allocations,
            Err(mut short) => {
                let first = short[0];
                // A one-line order's refusal is the seed's: its fields say it all.
                if self.lines().len() == 1 {
                    short.clear();
                }
                return Err(Error::InsufficientStock {
                    product_id: first.product_id,
                    requested: Stock::new(first.requested).unwrap_or(Stock::ZERO),
                    available: Stock::new(first.available).unwrap_or(Stock::ZERO),
                    shortages: short,
                });
            }
        };
        let mut left: BTreeMap<i64, Stock> = BTreeMap::new();
        let mut placed = Vec::with_capacity(self.lines().len());
        let mut total = 0i64;
        for (line, allocations) in self.lines().iter().zip(allocations) {
            let id = line.product_id();
            let p = &products[&id];
            let stock = left.entry(id).or_insert(p.stock);
            // The levels served it, so the product's stock (their sum) must too.
            *stock = stock
                .apply(StockDelta::taking(line.quantity()))
                .map_err(|_| {
                    Error::backend(format!(
                        "product {id}: stock {} disagrees with its levels",
                        p.stock
                    ))
                })?;
            let mut order_line = OrderLine::new(id, line.quantity(), p.price);
            // By location id: the order a store reads them back in (its key's).
            let mut allocations = allocations;
            allocations.sort_by_key(|a| a.location_id);
            order_line.allocations = allocations;
            total = total.saturating_add(order_line.total.cents());
            placed.push(PlacedLine {
                line: order_line,
                stock_left: *stock,
            });
        }
        let total = Amount::from_cents(total).map_err(|e: MoneyError| {
            Error::Validation(ValidationErrors::single(FieldError::field("lines", e)))
        })?;
        Ok(Placement {
            lines: placed,
            total,
        })
    }
}

/// Decides `carts` one after another on the same locked products, as if each were its own
/// transaction in that order (a store's group commit): each cart is placed on the stock the
/// earlier ones left, and a refused cart takes nothing. Returns each cart's decision, in order,
/// and the stock each product taken from is left with once every placement is written.
///
/// ```
/// use std::collections::BTreeMap;
/// use inventory_core::{Cart, CartLine, LocationLevel, Quantity, Stock, StockedProduct,
///                      place_in_turn};
/// let one = |q| Cart::one(CartLine::new(1, Quantity::new(q).unwrap()));
/// let shelf = LocationLevel::new(1, 0, Stock::new(5)?, Stock::ZERO)?;
/// let stocked = StockedProduct { stock: Stock::new(5)?, price: "2.50".parse()?,
///                                levels: vec![shelf] };
/// let products = BTreeMap::from([(1, stocked)]);
/// let (decisions, left) = place_in_turn(&[one(3), one(3), one(2)], &products);
/// assert!(decisions[0].is_ok() && decisions[1].is_err() && decisions[2].is_ok());
/// assert_eq!(left[&1].get(), 0);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn place_in_turn<'a>(
    carts: impl IntoIterator<Item = &'a Cart>,
    products: &BTreeMap<i64, StockedProduct>,
) -> (Vec<Result<Placement, Error>>, BTreeMap<i64, Stock>) {
    let mut now = products.clone();
    let mut left = BTreeMap::new();
    let decisions = carts
        .into_iter()
        .map(|cart| {
            let decision = cart.place(&now);
            if let Ok(placement) = &decision {
                for (id, stock) in placement.stock_left() {
                    if let Some(p) = now.get_mut(&id) {
                        p.stock = stock;
                    }
                    left.insert(id, stock);
                }
                for change in placement.level_changes() {
                    if let Some(p) = now.get_mut(&change.product_id) {
                        commit_at(&mut p.levels, &change);
                    }
                }
            }
            decision
        })
        .collect();
    (decisions, left)
}

/// `levels` once `change` (a commitment core decided on them) is applied.
fn commit_at(levels: &mut [LocationLevel], change: &LevelChange) {
    if let Some(l) = levels
        .iter_mut()
        .find(|l| l.location_id() == change.location_id)
        && let Ok(after) = change.apply_to(Some(l), l.priority())
    {
        *l = after;
    }
}

/// One line of a `lines` list.
fn line_from_json(v: &Value) -> Result<CartLine, ValidationErrors> {
    let mut r = BodyReader::new(v);
    let product_id = r.required("product_id", id_field);
    let quantity = r.required("quantity", quantity_field);
    let location_id = r.optional("location_id", id_field);
    r.finish(&["product_id", "quantity", "location_id"], false)?;
    match (product_id, quantity) {
        (Some(p), Some(q)) => {
            let line = CartLine::new(p, q);
            Ok(location_id.map_or(line, |loc| line.at(loc)))
        }
        _ => Err(crate::validation::internal_inconsistency()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Quantity;

    fn stocked(stock: i64, price: &str) -> StockedProduct {
        let stock = Stock::new(stock).expect("stock");
        StockedProduct {
            stock,
            price: price.parse().expect("price"),
            levels: vec![LocationLevel::new(1, 0, stock, Stock::ZERO).expect("level")],
        }
    }

    fn cart(lines: &[(i64, i64)]) -> Cart {
        let lines = lines
            .iter()
            .map(|&(p, q)| CartLine::new(p, Quantity::new(q).expect("quantity")))
            .collect();
        Cart::new(lines).expect("cart")
    }

    #[test]
    fn every_line_is_priced_and_the_total_is_their_sum() {
        let products = BTreeMap::from([(1, stocked(10, "2.50")), (2, stocked(1, "10"))]);
        let placement = cart(&[(1, 3), (2, 1)]).place(&products).expect("served");
        let lines = placement.lines();
        assert_eq!(lines[0].stock_left.get(), 7);
        assert_eq!(lines[0].line.total.cents(), 750);
        assert_eq!(lines[1].stock_left.get(), 0);
        assert_eq!(placement.total().cents(), 1750);
    }

    #[test]
    fn every_short_line_is_listed_and_nothing_is_served() {
        let products = BTreeMap::from([
            (1, stocked(1, "1")),
            (2, stocked(5, "1")),
            (3, stocked(0, "1")),
        ]);
        let err = cart(&[(1, 2), (2, 5), (3, 1)])
            .place(&products)
            .unwrap_err();
        let Error::InsufficientStock {
            product_id,
            requested,
            available,
            shortages,
        } = err
        else {
            panic!("expected InsufficientStock, got {err:?}");
        };
        assert_eq!((product_id, requested.get(), available.get()), (1, 2, 1));
        let lines: Vec<_> = shortages
            .iter()
            .map(|s| (s.line, s.product_id, s.requested, s.available))
            .collect();
        assert_eq!(lines, vec![(0, 1, 2, 1), (2, 3, 1, 0)]);
    }

    #[test]
    fn carts_in_turn_see_what_the_earlier_ones_left() {
        let products = BTreeMap::from([(1, stocked(4, "1")), (2, stocked(1, "1"))]);
        let carts = [
            cart(&[(1, 2), (2, 1)]),
            cart(&[(2, 1)]),
            cart(&[(1, 2)]),
            cart(&[(1, 1)]),
        ];
        let (decisions, left) = place_in_turn(&carts, &products);
        let served: Vec<bool> = decisions.iter().map(Result::is_ok).collect();
        assert_eq!(served, vec![true, false, true, false]);
        assert!(matches!(
            decisions[1],
            Err(Error::InsufficientStock { product_id: 2, .. })
        ));
        assert_eq!(left, BTreeMap::from([(1, Stock::ZERO), (2, Stock::ZERO)]));
        // Nothing served, nothing left to write.
        let (_, left) = place_in_turn(&carts[1..2], &BTreeMap::from([(2, stocked(0, "1"))]));
        assert!(left.is_empty());
    }

    #[test]
    fn an_unknown_product_is_not_found() {
        let products = BTreeMap::from([(1, stocked(10, "1"))]);
        let err = cart(&[(1, 1), (9, 1)]).place(&products).unwrap_err();
        assert!(matches!(err, Error::ProductNotFound { id: 9 }), "{err:?}");
    }

    #[test]
    fn a_total_beyond_the_maximum_is_refused() {
        let products = BTreeMap::from([
            (1, stocked(Quantity::MAX, "99999999.99")),
            (2, stocked(Quantity::MAX, "99999999.99")),
        ]);
        let err = cart(&[(1, Quantity::MAX), (2, Quantity::MAX)])
            .place(&products)
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{err:?}");
    }

    #[test]
    fn the_body_reports_each_bad_line_by_index() {
        let body = serde_json::json!({"lines": [
            {"product_id": 1, "quantity": 0},
            {"product_id": 2},
        ]});
        let errors = Cart::from_json(&body).unwrap_err();
        let paths: Vec<String> = errors.errors().iter().map(|e| e.to_string()).collect();
        assert!(paths[0].starts_with("lines.0.quantity"), "{paths:?}");
        assert!(paths[1].starts_with("lines.1.quantity"), "{paths:?}");
        assert!(Cart::from_json(&serde_json::json!({"lines": []})).is_err());
        assert!(Cart::from_json(&serde_json::json!({"lines": [], "product_id": 1})).is_err());
    }
}
