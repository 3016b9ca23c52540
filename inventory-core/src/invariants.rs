//! The stock invariant, checked from the outside: what `inventory-server check` and the test
//! suites run against a store.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::inventory::Inventory;
use crate::order::{OrderFilter, Page};
use crate::status::OrderStatus;
use crate::store::Store;
use crate::units::Stock;

/// A product whose stock disagrees with its ledger or its orders, or one of its levels with the
/// ledger rows and allocations at its location.
///
/// The sums are plain integers on purpose: they are what a broken database adds up to, which
/// need not be a valid stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantViolation {
    /// The location whose level disagrees, if the violation is one location's.
    pub location: Option<LevelViolation>,
    /// The product.
    pub product_id: i64,
    /// Its stock.
    pub stock: Stock,
    /// The sum of its ledger.
    pub ledger_sum: i64,
    /// Initial stock plus manual adjustments, minus the units its live orders hold.
    pub from_orders: i64,
}

/// One location's level against its ledger rows and the allocations of live orders there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelViolation {
    /// The location.
    pub location_id: i64,
    /// Its available units (`on_hand − committed`; 0 without a level row).
    pub available: i64,
    /// The sum of the product's ledger rows at the location.
    pub ledger_sum: i64,
    /// Its committed units.
    pub committed: i64,
    /// Units allocated there to PENDING and PAID orders.
    pub held: i64,
}

impl std::fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.location {
            return write!(
                f,
                "product {} at location {}: available {} but ledger sums to {}; committed {} but live orders hold {}",
                self.product_id, l.location_id, l.available, l.ledger_sum, l.committed, l.held
            );
        }
        write!(
            f,
            "product {}: stock {} but ledger sums to {} and initial + adjustments - held orders = {}",
            self.product_id, self.stock, self.ledger_sum, self.from_orders
        )
    }
}

impl<S: Store> Inventory<S> {
    /// Checks every product: its stock must equal the sum of its ledger, and equal its initial
    /// stock plus manual adjustments minus the units held by its PENDING, PAID and SHIPPED
    /// orders, and the sum of its levels' available units; at each location, the available
    /// units must equal the ledger rows there and the committed units the allocations of its
    /// PENDING and PAID orders there. Returns each violation (none on a healthy store).
    pub async fn verify_invariants(&self) -> Result<Vec<InvariantViolation>> {
        let mut violations = Vec::new();
        let full = Page::all();
        let mut after = 0;
        loop {
            let products = self.store.list_products(full.after(after)).await?;
            let Some(last) = products.last() else { break };
            after = last.id;
            for p in &products {
                // Per location: (ledger sum, units held by live orders).
                let mut at: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
                let (mut ledger_sum, mut manual) = (0i64, 0i64);
                let mut cursor = 0;
                loop {
                    let rows = self.store.list_movements(p.id, full.after(cursor)).await?;
                    let Some(last) = rows.last() else { break };
                    cursor = last.id;
                    for m in &rows {
                        at.entry(m.location_id).or_default().0 += m.delta.get();
                        ledger_sum += m.delta.get();
                        if m.kind.is_manual() {
                            manual += m.delta.get();
                        }
                    }
                }
                let mut held = 0i64;
                let mut cursor = 0;
                let filter = OrderFilter {
                    status: None,
                    product_id: Some(p.id),
                    ..OrderFilter::default()
                };
                loop {
                    let orders = self.store.list_orders(filter, full.after(cursor)).await?;
                    let Some(last) = orders.last() else { break };
                    cursor = last.id;
                    held += orders
                        .iter()
                        .filter(|o| o.status.holds_stock())
                        .flat_map(|o| &o.lines)
                        .filter(|l| l.product_id == p.id)
                        .map(|l| l.quantity.get())
                        .sum::<i64>();
                    let live = orders
                        .iter()
                        .filter(|o| matches!(o.status, OrderStatus::Pending | OrderStatus::Paid));
                    for line in live.flat_map(|o| &o.lines).filter(|l| l.product_id == p.id) {
                        for a in &line.allocations {
                            at.entry(a.location_id).or_default().1 += a.quantity.get();
                        }
                    }
                }
                let from_orders = manual - held;
                let levels = self.store.product_levels(p.id).await?;
                let summed: i64 = levels.iter().map(|l| l.available()).sum();
                if p.stock.get() != ledger_sum
                    || p.stock.get() != from_orders
                    || p.stock.get() != summed
                {
                    violations.push(InvariantViolation {
                        location: None,
                        product_id: p.id,
                        stock: p.stock,
                        ledger_sum,
                        from_orders,
                    });
                }
                for l in &levels {
                    at.entry(l.location_id()).or_default();
                }
                for (location_id, (ledger_at, held_at)) in at {
                    let level = levels.iter().find(|l| l.location_id() == location_id);
                    let available = level.map_or(0, |l| l.available());
                    let committed = level.map_or(0, |l| l.committed().get());
                    if available != ledger_at || committed != held_at {
                        violations.push(InvariantViolation {
                            location: Some(LevelViolation {
                                location_id,
                                available,
                                ledger_sum: ledger_at,
                                committed,
                                held: held_at,
                            }),
                            product_id: p.id,
                            stock: p.stock,
                            ledger_sum,
                            from_orders,
                        });
                    }
                }
            }
        }
        Ok(violations)
    }
}
