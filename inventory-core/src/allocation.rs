//! Carts and allocation: which location's units serve which line of an order (issue 15's
//! decision, made here once for every store).
//!
//! A store locks the cart's products' location rows in [`Cart::lock_order`], reads their
//! levels, and asks [`Cart::allocate`]; it writes the allocations it is given, or refuses the
//! whole cart with every short line. The rules, which the property tests below hold it to:
//!
//! - a line naming a location is served from that location only;
//! - otherwise from **one** location when one can serve the whole line — the first by
//!   priority (lower number first, then lower id) — else split across locations in that order;
//! - lines naming a location are served before the others, so a free line never takes the units
//!   a pinned line needs;
//! - two lines of one product draw on the same units: what the first takes, the second cannot
//!   (the oversell of Medusa's #16502);
//! - all or nothing: if any line is short, nothing is allocated and every short line is listed.

use std::collections::{BTreeMap, BTreeSet};

use crate::units::{Quantity, RangeError, Stock};

/// A product's stock at one location: what is on the shelf and what PENDING and PAID orders
/// hold of it. `available = on_hand − committed`, never negative by construction. In JSON
/// (`GET /products/{id}/levels`): `location_id`, `priority`, `on_hand`, `committed`, `available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationLevel {
    location_id: i64,
    priority: i32,
    on_hand: Stock,
    committed: Stock,
}

impl serde::Serialize for LocationLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LocationLevel", 5)?;
        st.serialize_field("location_id", &self.location_id)?;
        st.serialize_field("priority", &self.priority)?;
        st.serialize_field("on_hand", &self.on_hand)?;
        st.serialize_field("committed", &self.committed)?;
        st.serialize_field("available", &self.available())?;
        st.end()
    }
}

/// Why a level cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LevelError {
    /// More committed than on the shelf.
    #[error("committed {committed} exceeds on hand {on_hand}")]
    OverCommitted {
        /// On the shelf.
        on_hand: Stock,
        /// Held by orders.
        committed: Stock,
    },
}

impl LocationLevel {
    /// A level as read from a store; `committed` may not exceed `on_hand`.
    pub fn new(
        location_id: i64,
        priority: i32,
        on_hand: Stock,
        committed: Stock,
    ) -> Result<LocationLevel, LevelError> {
        if committed > on_hand {
            return Err(LevelError::OverCommitted { on_hand, committed });
        }
        Ok(LocationLevel {
            location_id,
            priority,
            on_hand,
            committed,
        })
    }

    /// The location.
    pub fn location_id(&self) -> i64 {
        self.location_id
    }

    /// Its allocation priority: lower is tried first.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// On the shelf.
    pub fn on_hand(&self) -> Stock {
        self.on_hand
    }

    /// Held by PENDING and PAID orders.
    pub fn committed(&self) -> Stock {
        self.committed
    }

    /// What a new order may take: on hand minus committed.
    pub fn available(&self) -> i64 {
        self.on_hand.get() - self.committed.get()
    }
}

/// One line of a cart: a product, how many, and optionally the location to take them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartLine {
    product_id: i64,
    quantity: Quantity,
    location_id: Option<i64>,
}

impl CartLine {
    /// A line for `quantity` units of `product_id`, allocated by the engine.
    pub fn new(product_id: i64, quantity: Quantity) -> CartLine {
        CartLine {
            product_id,
            quantity,
            location_id: None,
        }
    }

    /// The same line, served from `location_id` only.
    pub fn at(mut self, location_id: i64) -> CartLine {
        self.location_id = Some(location_id);
        self
    }

    /// The product.
    pub fn product_id(&self) -> i64 {
        self.product_id
    }

    /// Units.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The location the caller named, if any.
    pub fn location_id(&self) -> Option<i64> {
        self.location_id
    }
}

/// Why lines cannot be a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CartError {
    /// No line, or more than [`Cart::MAX_LINES`].
    #[error("a cart holds 1 to {max} lines, not {len}")]
    Lines {
        /// The most lines allowed.
        max: usize,
        /// How many there were.
        len: usize,
    },
    /// Lines of one product and location whose merged quantity is out of range.
    #[error("line {line}: the product's merged quantity is out of range: {source}")]
    MergedQuantity {
        /// The index of the line that took it out of range.
        line: usize,
        /// The bound.
        source: RangeError,
    },
}

/// 1 to [`Cart::MAX_LINES`] lines. Lines naming the same product and the same location (or both
/// none) are merged into the first of them, quantities summed: a cart never asks twice for the
/// same units under two names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<CartLine>,
}

/// Units taken from one location for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allocation {
    /// The location.
    pub location_id: i64,
    /// Units taken there.
    pub quantity: Quantity,
}

/// A line the stock cannot serve: what it asked, and what was left for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    /// The line's index in [`Cart::lines`].
    pub line: usize,
    /// The product.
    pub product_id: i64,
    /// The location the line named, if any.
    pub location_id: Option<i64>,
    /// Units asked for.
    pub requested: i64,
    /// Units left for this line, after the lines served before it (pinned lines first).
    pub available: i64,
}

impl Cart {
    /// The most lines a cart may hold.
    pub const MAX_LINES: usize = 100;

    /// A cart of `lines`, merged as described above.
    pub fn new(lines: Vec<CartLine>) -> Result<Cart, CartError> {
        if !(1..=Self::MAX_LINES).contains(&lines.len()) {
            return Err(CartError::Lines {
                max: Self::MAX_LINES,
                len: lines.len(),
            });
        }
        let mut merged: Vec<CartLine> = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let same = |l: &&mut CartLine| {
                l.product_id == line.product_id && l.location_id == line.location_id
            };
            match merged.iter_mut().find(same) {
                Some(earlier) => {
                    earlier.quantity = Quantity::new(earlier.quantity.get() + line.quantity.get())
                        .map_err(|source| CartError::MergedQuantity { line: i, source })?;
                }
                None => merged.push(line),
            }
        }
        Ok(Cart { lines: merged })
    }

    /// A cart of one line.
    pub fn one(line: CartLine) -> Cart {
        Cart { lines: vec![line] }
    }

    /// The lines, merged, in the caller's order.
    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    /// The cart's products, ascending: the one global order every store locks their rows in,
    /// so that two carts over the same products wait for one another instead of deadlocking
    /// (Medusa's PR #11403).
    pub fn lock_order(&self) -> Vec<i64> {
        let ids: BTreeSet<i64> = self.lines.iter().map(|l| l.product_id).collect();
        ids.into_iter().collect()
    }

    /// Decides every line's allocations from `levels` (each product's levels, as read under
    /// the locks of [`Cart::lock_order`]): one list per line, in line order, or every short
    /// line. A product without levels has nothing available.
    pub fn allocate(
        &self,
        levels: &BTreeMap<i64, Vec<LocationLevel>>,
    ) -> Result<Vec<Vec<Allocation>>, Vec<Shortage>> {
        // What is left, per product and location, as lines take it.
        let mut left: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        for (product, product_levels) in levels {
            for l in product_levels {
                left.insert((*product, l.location_id), l.available());
            }
        }
        let mut out: Vec<Vec<Allocation>> = vec![Vec::new(); self.lines.len()];
        let mut short = Vec::new();
        let pinned_first = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.location_id.is_some())
            .chain(
                self.lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.location_id.is_none()),
            );
        for (i, line) in pinned_first {
            let order = by_priority(levels.get(&line.product_id).map(Vec::as_slice));
            match serve(line, &order, &mut left) {
                Ok(allocations) => out[i] = allocations,
                Err(available) => short.push(Shortage {
                    line: i,
                    product_id: line.product_id,
                    location_id: line.location_id,
                    requested: line.quantity.get(),
                    available,
                }),
            }
        }
        if short.is_empty() {
            Ok(out)
        } else {
            short.sort_by_key(|s| s.line);
            Err(short)
        }
    }
}

/// A product's location ids, lower priority number first, then lower id.
fn by_priority(levels: Option<&[LocationLevel]>) -> Vec<i64> {
    let mut levels: Vec<&LocationLevel> = levels.unwrap_or_default().iter().collect();
    levels.sort_by_key(|l| (l.priority, l.location_id));
    levels.iter().map(|l| l.location_id).collect()
}

/// Serves one line from `left`, taking what it allocates; or the units that were left for it.
fn serve(
    line: &CartLine,
    order: &[i64],
    left: &mut BTreeMap<(i64, i64), i64>,
) -> Result<Vec<Allocation>, i64> {
    let want = line.quantity.get();
    let p = line.product_id;
    let left_at = |left: &BTreeMap<(i64, i64), i64>, loc: i64| *left.get(&(p, loc)).unwrap_or(&0);
    let candidates: Vec<i64> = match line.location_id {
        Some(loc) => vec![loc],
        None => order.to_vec(),
    };
    let total: i64 = candidates.iter().map(|loc| left_at(left, *loc)).sum();
    if total < want {
        return Err(total);
    }
    // One location that can serve the whole line, by priority; else split in that order.
    let plan: Vec<(i64, i64)> = match candidates.iter().find(|loc| left_at(left, **loc) >= want) {
        Some(loc) => vec![(*loc, want)],
        None => {
            let mut rest = want;
            let mut plan = Vec::new();
            for loc in &candidates {
                let take = rest.min(left_at(left, *loc));
                if take > 0 {
                    plan.push((*loc, take));
                    rest -= take;
                }
            }
            plan
        }
    };
    let mut allocations = Vec::with_capacity(plan.len());
    for (loc, take) in plan {
        if let Some(units) = left.get_mut(&(p, loc)) {
            *units -= take;
        }
        // `take` is within 1 ..= the line's quantity, itself a valid quantity.
        let quantity = Quantity::new(take).map_err(|_| total)?;
        allocations.push(Allocation {
            location_id: loc,
            quantity,
        });
    }
    Ok(allocations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(n: i64) -> Quantity {
        Quantity::new(n).expect("quantity")
    }

    fn level(loc: i64, priority: i32, on_hand: i64, committed: i64) -> LocationLevel {
        let s = |n| Stock::new(n).expect("stock");
        LocationLevel::new(loc, priority, s(on_hand), s(committed)).expect("level")
    }

    fn alloc(loc: i64, n: i64) -> Allocation {
        Allocation {
            location_id: loc,
            quantity: q(n),
        }
    }

    #[test]
    fn one_location_by_priority_when_one_can_serve_the_line() {
        let levels = BTreeMap::from([(1, vec![level(10, 2, 9, 0), level(11, 1, 4, 0)])]);
        let cart = Cart::new(vec![CartLine::new(1, q(3))]).expect("cart");
        assert_eq!(cart.allocate(&levels), Ok(vec![vec![alloc(11, 3)]]));
        // Priority 1 cannot serve 5 whole; priority 2 can: one location, not a split.
        let cart = Cart::new(vec![CartLine::new(1, q(5))]).expect("cart");
        assert_eq!(cart.allocate(&levels), Ok(vec![vec![alloc(10, 5)]]));
        // Neither can serve 12 alone: split, by priority.
        let cart = Cart::new(vec![CartLine::new(1, q(12))]).expect("cart");
        assert_eq!(
            cart.allocate(&levels),
            Ok(vec![vec![alloc(11, 4), alloc(10, 8)]])
        );
    }

    #[test]
    fn lines_sharing_a_product_share_its_units() {
        let levels = BTreeMap::from([(1, vec![level(10, 0, 5, 1)])]);
        let cart =
            Cart::new(vec![CartLine::new(1, q(3)), CartLine::new(1, q(2)).at(10)]).expect("cart");
        // The pinned line is served first (2 of 4), leaving 2 for the free line's 3.
        assert_eq!(
            cart.allocate(&levels),
            Err(vec![Shortage {
                line: 0,
                product_id: 1,
                location_id: None,
                requested: 3,
                available: 2,
            }])
        );
    }

    #[test]
    fn every_short_line_is_listed_and_merges_are_bounded() {
        let levels = BTreeMap::from([(1, vec![level(10, 0, 1, 0)]), (2, vec![])]);
        let cart = Cart::new(vec![
            CartLine::new(1, q(2)),
            CartLine::new(3, q(1)),
            CartLine::new(2, q(1)),
        ])
        .expect("cart");
        let short = cart.allocate(&levels).expect_err("short");
        assert_eq!(
            short
                .iter()
                .map(|s| (s.line, s.available))
                .collect::<Vec<_>>(),
            [(0, 1), (1, 0), (2, 0)]
        );
        let merged = Cart::new(vec![CartLine::new(1, q(2)), CartLine::new(1, q(3))]).expect("c");
        assert_eq!(merged.lines(), [CartLine::new(1, q(5))]);
        assert!(matches!(
            Cart::new(vec![
                CartLine::new(1, q(Quantity::MAX)),
                CartLine::new(1, q(1))
            ]),
            Err(CartError::MergedQuantity { line: 1, .. })
        ));
        assert!(Cart::new(vec![]).is_err());
        assert_eq!(merged.lock_order(), [1]);
    }

    fn levels_strategy() -> impl Strategy<Value = BTreeMap<i64, Vec<LocationLevel>>> {
        // Three products over up to three locations each.
        prop::collection::vec(prop::collection::vec((0i32..3, 0i64..8, 0i64..4), 0..=3), 3)
            .prop_map(|products| {
                products
                    .into_iter()
                    .enumerate()
                    .map(|(p, locs)| {
                        let levels = locs
                            .into_iter()
                            .enumerate()
                            .map(|(l, (priority, on_hand, committed))| {
                                level(l as i64 + 1, priority, on_hand, committed.min(on_hand))
                            })
                            .collect();
                        (p as i64, levels)
                    })
                    .collect()
            })
    }

    fn lines_strategy() -> impl Strategy<Value = Vec<CartLine>> {
        prop::collection::vec((0i64..3, 1i64..8, prop::option::of(1i64..4)), 1..6).prop_map(
            |lines| {
                lines
                    .into_iter()
                    .map(|(p, n, loc)| match loc {
                        Some(loc) => CartLine::new(p, q(n)).at(loc),
                        None => CartLine::new(p, q(n)),
                    })
                    .collect()
            },
        )
    }

    proptest! {
        /// Whatever the levels and lines: an allocation serves each line exactly, from its named
        /// location if it has one, never takes more than a location has available, and prefers
        /// one location; a refusal lists only lines that really were short.
        #[test]
        fn allocations_never_oversell(levels in levels_strategy(), lines in lines_strategy()) {
            let cart = Cart::new(lines).expect("cart");
            let available = |p: i64, loc: i64| {
                levels.get(&p).and_then(|ls| ls.iter().find(|l| l.location_id() == loc))
                    .map_or(0, LocationLevel::available)
            };
            match cart.allocate(&levels) {
                Ok(all) => {
                    let mut taken: BTreeMap<(i64, i64), i64> = BTreeMap::new();
                    for (line, allocations) in cart.lines().iter().zip(&all) {
                        let sum: i64 = allocations.iter().map(|a| a.quantity.get()).sum();
                        prop_assert_eq!(sum, line.quantity().get());
                        if let Some(loc) = line.location_id() {
                            prop_assert!(allocations.iter().all(|a| a.location_id == loc));
                        }
                        for a in allocations {
                            *taken.entry((line.product_id(), a.location_id)).or_default() +=
                                a.quantity.get();
                        }
                    }
                    for ((p, loc), n) in taken {
                        prop_assert!(n <= available(p, loc), "oversold {p}@{loc}: {n}");
                    }
                }
                Err(short) => {
                    prop_assert!(!short.is_empty());
                    for s in short {
                        prop_assert!(s.available < s.requested);
                    }
                }
            }
        }

        /// Carts without pinned lines are refused only when some product's demand exceeds what
        /// all its locations have; and a lone line that one location can serve is served there.
        #[test]
        fn free_carts_are_served_whenever_the_stock_suffices(
            levels in levels_strategy(),
            lines in prop::collection::vec((0i64..3, 1i64..8), 1..6),
        ) {
            let lines: Vec<CartLine> = lines.into_iter().map(|(p, n)| CartLine::new(p, q(n))).collect();
            let cart = Cart::new(lines).expect("cart");
            let enough = cart.lines().iter().all(|line| {
                let total: i64 = levels.get(&line.product_id()).map_or(0, |ls| ls.iter().map(LocationLevel::available).sum());
                total >= line.quantity().get()
            });
            prop_assert_eq!(cart.allocate(&levels).is_ok(), enough);
            if let [line] = cart.lines()
                && let Some(ls) = levels.get(&line.product_id())
                && ls.iter().any(|l| l.available() >= line.quantity().get())
            {
                let all = cart.allocate(&levels).expect("served");
                prop_assert_eq!(all[0].len(), 1, "one location when one suffices");
            }
        }
    }
}
