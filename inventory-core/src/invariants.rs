//! The stock invariant, checked from the outside: what `inventory-server check` and the test
//! suites run against a store.

use crate::error::Result;
use crate::inventory::Inventory;
use crate::order::{OrderFilter, Page};
use crate::store::Store;
use crate::units::Stock;

/// A product whose stock disagrees with its ledger or its orders.
///
/// The two sums are plain integers on purpose: they are what a broken database adds up to,
/// which need not be a valid stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantViolation {
    /// The product.
    pub product_id: i64,
    /// Its stock.
    pub stock: Stock,
    /// The sum of its ledger.
    pub ledger_sum: i64,
    /// Initial stock plus manual adjustments, minus the units its live orders hold.
    pub from_orders: i64,
}

impl std::fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
    /// orders. Returns each violation (none on a healthy store).
    pub async fn verify_invariants(&self) -> Result<Vec<InvariantViolation>> {
        let mut violations = Vec::new();
        let full = Page::all();
        let mut after = 0;
        loop {
            let products = self.store.list_products(full.after(after)).await?;
            let Some(last) = products.last() else { break };
            after = last.id;
            for p in &products {
                let (mut ledger_sum, mut manual) = (0i64, 0i64);
                let mut cursor = 0;
                loop {
                    let rows = self.store.list_movements(p.id, full.after(cursor)).await?;
                    let Some(last) = rows.last() else { break };
                    cursor = last.id;
                    for m in &rows {
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
                }
                let from_orders = manual - held;
                if p.stock.get() != ledger_sum || p.stock.get() != from_orders {
                    violations.push(InvariantViolation {
                        product_id: p.id,
                        stock: p.stock,
                        ledger_sum,
                        from_orders,
                    });
                }
            }
        }
        Ok(violations)
    }
}
