//! One client's random sequence, checked step by step against the model.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::super::{WebhookHeaders, concurrency::assert_invariant, new_product, t0};
use super::{
    LOCATIONS, Model, ModelOrder, ModelProduct, Op, Outcome, SECRET, merged, outcome, pay_body,
};
use crate::clock::ManualClock;
use crate::webhook::WebhookVerifier;
use crate::{Inventory, OrderStatus, ProductPatch, Store, WebhookOutcome};

/// A line as compared: product id, units, `(location id, units)` by location id.
type LineSeen = (i64, i64, Vec<(i64, i64)>);

/// Runs one sequence against `store` and the model; errors describe the first divergence.
pub(super) async fn run_sequence<S: Store + Clone>(
    store: S,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let inv = Inventory::new(store.clone())
        .with_clock(ManualClock::new(t0()))
        .with_webhook_secret(SECRET);
    let signer = WebhookVerifier::new(SECRET);
    let mut m = Model {
        location_ids: [crate::DEFAULT_LOCATION, 0, 0],
        ..Model::default()
    };
    for (i, (code, priority)) in LOCATIONS.iter().enumerate().skip(1) {
        m.location_ids[i] = inv
            .create_location(super::super::locations::new_location(code, *priority))
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .id;
    }
    for (step, op) in ops.into_iter().enumerate() {
        let op = op.wrap(m.products.len(), m.orders.len());
        let (got, want) = match op.clone() {
            Op::CreateProduct { price_cents, stock } => {
                let r = inv
                    .create_product(new_product(&format!("M-{step}"), price_cents, stock))
                    .await;
                if let Ok(p) = &r {
                    m.products.push(ModelProduct {
                        id: p.id,
                        price: price_cents,
                        base: stock,
                        on_hand: [stock, 0, 0],
                        committed: [0; 3],
                    });
                }
                (outcome(&r), Outcome::Ok)
            }
            Op::Adjust {
                product,
                delta,
                location,
            } if product < m.products.len() => {
                let mut adj = crate::Adjustment::new(
                    crate::StockDelta::new(delta).expect("delta"),
                    crate::Reason::parse("model").expect("reason"),
                )
                .expect("adjustment");
                if let Some(at) = location {
                    adj = adj.at(m.location_ids[at]);
                }
                let r = inv
                    .adjust_stock(m.products[product].id, &crate::Adjustments::from(adj))
                    .await;
                let at = location.unwrap_or(0);
                let p = &mut m.products[product];
                let want = if p.available(at) + delta >= 0 {
                    p.base += delta;
                    p.on_hand[at] += delta;
                    Outcome::Ok
                } else {
                    Outcome::Err("insufficient")
                };
                (outcome(&r), want)
            }
            Op::Transfer {
                product,
                from,
                to,
                quantity,
            } if product < m.products.len() => {
                let t = crate::Transfer::new(
                    m.products[product].id,
                    m.location_ids[from],
                    m.location_ids[to],
                    crate::Quantity::new(quantity).expect("quantity"),
                )
                .expect("two locations");
                let r = inv.transfer_stock(&t).await;
                let p = &mut m.products[product];
                let want = if p.available(from) >= quantity {
                    p.on_hand[from] -= quantity;
                    p.on_hand[to] += quantity;
                    Outcome::Ok
                } else {
                    Outcome::Err("insufficient")
                };
                (outcome(&r), want)
            }
            Op::SetStock { product, stock } if product < m.products.len() => {
                let patch = ProductPatch::new().with_stock(super::super::stock(stock));
                let r = inv.update_product(m.products[product].id, patch).await;
                let p = &mut m.products[product];
                let delta = stock - p.stock();
                let want = if p.available(0) + delta >= 0 {
                    p.base += delta;
                    p.on_hand[0] += delta;
                    Outcome::Ok
                } else {
                    Outcome::Err("elsewhere")
                };
                (outcome(&r), want)
            }
            Op::PlaceOrder { lines } if lines.iter().all(|(p, _, _)| *p < m.products.len()) => {
                let cart_lines = lines
                    .iter()
                    .map(|&(p, q, at)| {
                        let line = crate::CartLine::new(
                            m.products[p].id,
                            crate::Quantity::new(q).expect("quantity"),
                        );
                        at.map_or(line, |a| line.at(m.location_ids[a]))
                    })
                    .collect();
                let r = inv
                    .place_order(crate::Cart::new(cart_lines).expect("cart"))
                    .await;
                let lines = merged(&lines);
                let allocated = m.allocate(&lines);
                let want = if allocated.is_some() {
                    Outcome::Ok
                } else {
                    Outcome::Err("insufficient")
                };
                if let (Ok(o), Some(allocations)) = (&r, allocated) {
                    let got: Vec<LineSeen> = o
                        .lines
                        .iter()
                        .map(|l| {
                            let at = l.allocations.iter();
                            let at = at.map(|a| (a.location_id, a.quantity.get())).collect();
                            (l.product_id, l.quantity.get(), at)
                        })
                        .collect();
                    let expected: Vec<LineSeen> = lines
                        .iter()
                        .zip(&allocations)
                        .map(|(&(p, q, _), a)| {
                            let mut at: Vec<(i64, i64)> =
                                a.iter().map(|&(l, n)| (m.location_ids[l], n)).collect();
                            at.sort_unstable();
                            (m.products[p].id, q, at)
                        })
                        .collect();
                    prop_assert_eq!(got, expected, "step {}: the order's lines", step);
                    prop_assert_eq!(o.total.cents(), m.total(&lines));
                    for (&(p, _, _), a) in lines.iter().zip(&allocations) {
                        for &(at, q) in a {
                            m.products[p].committed[at] += q;
                        }
                    }
                    m.orders.push(ModelOrder {
                        id: o.id,
                        lines,
                        allocations,
                        status: OrderStatus::Pending,
                    });
                }
                (outcome(&r), want)
            }
            Op::SetStatus { order, status } if order < m.orders.len() => {
                let r = inv.set_order_status(m.orders[order].id, status).await;
                let from = m.orders[order].status;
                let want = if from == status || from.can_move_to(status) {
                    m.move_order(order, status);
                    Outcome::Ok
                } else {
                    Outcome::Err("transition")
                };
                (outcome(&r), want)
            }
            Op::Cancel { order } if order < m.orders.len() => {
                let r = inv.cancel_order(m.orders[order].id).await;
                let from = m.orders[order].status;
                let want = if from.can_move_to(OrderStatus::Canceled) {
                    m.move_order(order, OrderStatus::Canceled);
                    Outcome::Ok
                } else {
                    Outcome::Err("transition")
                };
                (outcome(&r), want)
            }
            Op::Pay {
                order,
                event,
                amount_ok,
            } if order < m.orders.len() => {
                let o = &m.orders[order];
                let total = m.total(&o.lines);
                let body = pay_body(o.id, if amount_ok { total } else { total + 1 });
                let sig = signer.sign(body.as_bytes());
                let event_id = format!("model-{event}");
                let h = WebhookHeaders {
                    signature: Some(&sig),
                    event_id: Some(&event_id),
                };
                let r = inv.process_webhook(h, body.as_bytes()).await;
                let want = if m.events.contains(&event) || m.bodies.contains(&body) {
                    Outcome::Err("replay")
                } else if !amount_ok {
                    Outcome::Err("amount")
                } else if matches!(o.status, OrderStatus::Pending | OrderStatus::Paid) {
                    m.events.insert(event);
                    m.bodies.insert(body.clone());
                    m.move_order(order, OrderStatus::Paid);
                    Outcome::Ok
                } else {
                    Outcome::Err("transition")
                };
                if let Ok(WebhookOutcome::Paid { order }) = &r {
                    prop_assert_eq!(order.status, OrderStatus::Paid);
                }
                (outcome(&r), want)
            }
            // An index past what exists: the operation does not apply to this sequence.
            _ => continue,
        };
        prop_assert_eq!(&got, &want, "step {}: {:?}", step, op);
        for p in &m.products {
            let stock = store
                .get_product(p.id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .stock;
            prop_assert_eq!(
                stock.get(),
                p.stock(),
                "step {}: stock of product {}",
                step,
                p.id
            );
            let mut levels: Vec<(i64, i64, i64)> = store
                .product_levels(p.id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .iter()
                .map(|l| (l.location_id(), l.on_hand().get(), l.committed().get()))
                .filter(|&(_, on_hand, _)| on_hand != 0)
                .collect();
            levels.sort_unstable();
            let mut expected: Vec<(i64, i64, i64)> = (0..3)
                .map(|at| (m.location_ids[at], p.on_hand[at], p.committed[at]))
                .filter(|&(_, on_hand, _)| on_hand != 0)
                .collect();
            expected.sort_unstable();
            prop_assert_eq!(
                levels,
                expected,
                "step {}: levels of product {}",
                step,
                p.id
            );
        }
        for o in &m.orders {
            let got = store
                .get_order(o.id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .status;
            prop_assert_eq!(got, o.status, "step {}: status of order {}", step, o.id);
        }
    }
    for p in &m.products {
        assert_invariant(&store, p.id, p.base).await;
    }
    let violations = inv
        .verify_invariants()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        violations.is_empty(),
        "ledger or invariant violated: {:?}",
        violations
    );
    Ok(())
}
