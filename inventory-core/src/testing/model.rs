//! Model-based property tests: random operation sequences run against a store and against a
//! plain reference model, compared after every step, with the stock invariant checked throughout.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::WebhookHeaders;
use super::{adjustment, concurrency::assert_invariant, new_product, t0};
use crate::clock::ManualClock;
use crate::webhook::WebhookVerifier;
use crate::{
    Error, Inventory, OrderFilter, OrderStatus, Page, ProductPatch, Store, WebhookOutcome,
};

const SECRET: &[u8] = b"model-secret";

/// One step of a client.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create a product.
    CreateProduct {
        /// Price in cents.
        price_cents: i64,
        /// Initial stock.
        stock: i64,
    },
    /// Add or remove stock.
    Adjust {
        /// Index into the products created so far.
        product: usize,
        /// Units to add (negative: remove).
        delta: i64,
    },
    /// Set the stock level with a product update.
    SetStock {
        /// Index into the products created so far.
        product: usize,
        /// The new level.
        stock: i64,
    },
    /// Place an order: a cart of one or more lines (a product may appear twice).
    PlaceOrder {
        /// `(index into the products created so far, units)` per line.
        lines: Vec<(usize, i64)>,
    },
    /// `PUT /orders/{id}` with a status.
    SetStatus {
        /// Index into the orders placed so far.
        order: usize,
        /// The status asked for.
        status: OrderStatus,
    },
    /// `DELETE /orders/{id}`.
    Cancel {
        /// Index into the orders placed so far.
        order: usize,
    },
    /// A signed `payment.succeeded` webhook.
    Pay {
        /// Index into the orders placed so far.
        order: usize,
        /// Event id suffix; a small range makes replays common.
        event: u8,
        /// Whether `amount` equals the order's total.
        amount_ok: bool,
    },
}

impl Op {
    /// Maps indexes onto what exists (modulo), so that most generated steps apply.
    fn wrap(self, products: usize, orders: usize) -> Op {
        let w = |i: usize, n: usize| if n == 0 { usize::MAX } else { i % n };
        match self {
            Op::Adjust { product, delta } => Op::Adjust {
                product: w(product, products),
                delta,
            },
            Op::SetStock { product, stock } => Op::SetStock {
                product: w(product, products),
                stock,
            },
            Op::PlaceOrder { lines } => Op::PlaceOrder {
                lines: lines
                    .into_iter()
                    .map(|(product, quantity)| (w(product, products), quantity))
                    .collect(),
            },
            Op::SetStatus { order, status } => Op::SetStatus {
                order: w(order, orders),
                status,
            },
            Op::Cancel { order } => Op::Cancel {
                order: w(order, orders),
            },
            Op::Pay {
                order,
                event,
                amount_ok,
            } => Op::Pay {
                order: w(order, orders),
                event,
                amount_ok,
            },
            op @ Op::CreateProduct { .. } => op,
        }
    }
}

fn status() -> impl Strategy<Value = OrderStatus> {
    prop::sample::select(OrderStatus::ALL.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1i64..10_000, 0i64..20).prop_map(|(price_cents, stock)| Op::CreateProduct { price_cents, stock }),
        1 => (0usize..4, -10i64..10).prop_map(|(product, delta)| Op::Adjust {
            product,
            // An adjustment of 0 cannot be built: `Adjustment::new` refuses it.
            delta: if delta == 0 { 1 } else { delta },
        }),
        1 => (0usize..4, 0i64..30).prop_map(|(product, stock)| Op::SetStock { product, stock }),
        // Mostly the seed's one-line order; carts of up to four lines, sharing products often.
        4 => prop::collection::vec((0usize..4, 1i64..8), 1..=4)
            .prop_map(|lines| Op::PlaceOrder { lines }),
        2 => (0usize..12, status()).prop_map(|(order, status)| Op::SetStatus { order, status }),
        1 => (0usize..12).prop_map(|order| Op::Cancel { order }),
        2 => (0usize..12, 0u8..6, prop::bool::weighted(0.85))
            .prop_map(|(order, event, amount_ok)| Op::Pay { order, event, amount_ok }),
    ]
}

#[derive(Debug, Clone)]
struct ModelProduct {
    id: i64,
    price: i64,
    /// Initial stock plus every adjustment (a set counts as the difference).
    base: i64,
}

#[derive(Debug, Clone)]
struct ModelOrder {
    id: i64,
    /// `(product index, units)`, merged: one entry per product.
    lines: Vec<(usize, i64)>,
    status: OrderStatus,
}

/// A cart's lines with each product's units summed, in first-appearance order.
fn merged(lines: &[(usize, i64)]) -> Vec<(usize, i64)> {
    let mut out: Vec<(usize, i64)> = Vec::new();
    for &(product, quantity) in lines {
        match out.iter_mut().find(|(p, _)| *p == product) {
            Some((_, q)) => *q += quantity,
            None => out.push((product, quantity)),
        }
    }
    out
}

#[derive(Debug, Default)]
struct Model {
    products: Vec<ModelProduct>,
    orders: Vec<ModelOrder>,
    events: HashSet<u8>,
    /// Bodies applied: with the hex scheme a byte-identical body is a replay under any id.
    bodies: HashSet<String>,
}

impl Model {
    fn stock(&self, product: usize) -> i64 {
        let held: i64 = self
            .orders
            .iter()
            .filter(|o| o.status.holds_stock())
            .flat_map(|o| o.lines.iter())
            .filter(|(p, _)| *p == product)
            .map(|(_, q)| q)
            .sum();
        self.products[product].base - held
    }

    /// What `lines` cost at the products' prices, in cents.
    fn total(&self, lines: &[(usize, i64)]) -> i64 {
        lines.iter().map(|&(p, q)| self.products[p].price * q).sum()
    }
}

/// What an operation answered, reduced to what the model predicts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Err(&'static str),
}

fn outcome<T>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::InsufficientStock { .. }) => Outcome::Err("insufficient"),
        Err(Error::InvalidTransition(_)) => Outcome::Err("transition"),
        Err(Error::EventAlreadyProcessed { .. }) => Outcome::Err("replay"),
        Err(Error::AmountMismatch { .. }) => Outcome::Err("amount"),
        Err(Error::ProductNotFound { .. }) => Outcome::Err("no-product"),
        Err(Error::OrderNotFound { .. }) => Outcome::Err("no-order"),
        Err(e) => panic!("store failed unexpectedly: {e:?}"),
    }
}

fn pay_body(order_id: i64, total: i64) -> String {
    format!(
        r#"{{"event":"payment.succeeded","order_id":{order_id},"amount":{}.{:02}}}"#,
        total / 100,
        total % 100
    )
}

/// Runs one sequence against `store` and the model; errors describe the first divergence.
async fn run_sequence<S: Store + Clone>(store: S, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let inv = Inventory::new(store.clone())
        .with_clock(ManualClock::new(t0()))
        .with_webhook_secret(SECRET);
    let signer = WebhookVerifier::new(SECRET);
    let mut m = Model::default();
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
                    });
                }
                (outcome(&r), Outcome::Ok)
            }
            Op::Adjust { product, delta } if product < m.products.len() => {
                let adj = adjustment(delta, "model");
                let r = inv.adjust_stock(m.products[product].id, &adj).await;
                let want = if m.stock(product) + delta >= 0 {
                    Outcome::Ok
                } else {
                    Outcome::Err("insufficient")
                };
                if want == Outcome::Ok {
                    m.products[product].base += delta;
                }
                (outcome(&r), want)
            }
            Op::SetStock { product, stock } if product < m.products.len() => {
                let patch = ProductPatch::new().with_stock(super::stock(stock));
                let r = inv.update_product(m.products[product].id, patch).await;
                let current = m.stock(product);
                m.products[product].base += stock - current;
                (outcome(&r), Outcome::Ok)
            }
            Op::PlaceOrder { lines } if lines.iter().all(|(p, _)| *p < m.products.len()) => {
                let ids: Vec<(i64, i64)> =
                    lines.iter().map(|&(p, q)| (m.products[p].id, q)).collect();
                let r = inv.place_order(super::cart(&ids)).await;
                let lines = merged(&lines);
                let want = if lines.iter().all(|&(p, q)| m.stock(p) >= q) {
                    Outcome::Ok
                } else {
                    Outcome::Err("insufficient")
                };
                if let Ok(o) = &r {
                    let got: Vec<(i64, i64)> = o
                        .lines
                        .iter()
                        .map(|l| (l.product_id, l.quantity.get()))
                        .collect();
                    let expected: Vec<(i64, i64)> =
                        lines.iter().map(|&(p, q)| (m.products[p].id, q)).collect();
                    prop_assert_eq!(got, expected, "step {}: the order's lines", step);
                    prop_assert_eq!(o.total.cents(), m.total(&lines));
                    m.orders.push(ModelOrder {
                        id: o.id,
                        lines,
                        status: OrderStatus::Pending,
                    });
                }
                (outcome(&r), want)
            }
            Op::SetStatus { order, status } if order < m.orders.len() => {
                let r = inv.set_order_status(m.orders[order].id, status).await;
                let from = m.orders[order].status;
                let want = if from == status || from.can_move_to(status) {
                    m.orders[order].status = status;
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
                    m.orders[order].status = OrderStatus::Canceled;
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
                    m.orders[order].status = OrderStatus::Paid;
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
        for (i, p) in m.products.iter().enumerate() {
            let stock = store
                .get_product(p.id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .stock;
            prop_assert_eq!(
                stock,
                m.stock(i),
                "step {}: stock of product {}",
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
    for (i, p) in m.products.iter().enumerate() {
        assert_invariant(&store, p.id, m.products[i].base).await;
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

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Random sequences of up to 40 operations, each on a fresh store, against the model.
pub fn check_sequences<S, G, F, Fut>(fresh: F)
where
    S: Store + Clone,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    let rt = runtime();
    let config = Config {
        cases: cases(48),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = prop::collection::vec(op(), 1..40);
    let result = runner.run(&strategy, |ops| {
        rt.block_on(async {
            let (store, guard) = fresh().await;
            let r = run_sequence(store, ops).await;
            drop(guard);
            r
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Several clients run random operations concurrently on shared products; at the end every
/// product satisfies the invariant, counting only the adjustments that succeeded.
pub fn check_concurrent_clients<S, G, F, Fut>(fresh: F)
where
    S: Store + Clone,
    F: Fn() -> Fut,
    Fut: Future<Output = (S, G)>,
{
    let rt = runtime();
    let config = Config {
        cases: cases(16),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = prop::collection::vec(prop::collection::vec(op(), 1..25), 2..6);
    let result = runner.run(&strategy, |clients| {
        rt.block_on(async {
            let (store, guard) = fresh().await;
            run_clients(store, clients).await;
            drop(guard);
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn run_clients<S: Store + Clone>(store: S, clients: Vec<Vec<Op>>) {
    let inv = Arc::new(Inventory::new(store.clone()).with_webhook_secret(SECRET));
    let mut products = Vec::new();
    for i in 0..3 {
        products.push(
            inv.create_product(new_product(&format!("C-{i}"), 150, 20))
                .await
                .expect("create")
                .id,
        );
    }
    let products = Arc::new(products);
    let adjustments = Arc::new(std::sync::Mutex::new(vec![0i64; 3]));
    let mut tasks = tokio::task::JoinSet::new();
    for ops in clients {
        let (inv, products, adjustments) = (inv.clone(), products.clone(), adjustments.clone());
        tasks.spawn(async move {
            let signer = WebhookVerifier::new(SECRET);
            for op in ops {
                match op {
                    Op::Adjust { product, delta } => {
                        let i = product % 3;
                        let adj = adjustment(delta, "client");
                        if inv.adjust_stock(products[i], &adj).await.is_ok() {
                            adjustments.lock().expect("lock")[i] += delta;
                        }
                    }
                    Op::PlaceOrder { lines } => {
                        let ids: Vec<(i64, i64)> =
                            lines.iter().map(|&(p, q)| (products[p % 3], q)).collect();
                        let _ = inv.place_order(super::cart(&ids)).await;
                    }
                    Op::SetStatus { order, status } => {
                        let _ = inv.set_order_status(order as i64 + 1, status).await;
                    }
                    Op::Cancel { order } => {
                        let _ = inv.cancel_order(order as i64 + 1).await;
                    }
                    Op::Pay { order, event, .. } => {
                        let id = order as i64 + 1;
                        let Ok(o) = inv.get_order(id).await else {
                            continue;
                        };
                        let body = pay_body(id, o.total.cents());
                        let sig = signer.sign(body.as_bytes());
                        let event_id = format!("c-{event}");
                        let h = WebhookHeaders {
                            signature: Some(&sig),
                            event_id: Some(&event_id),
                        };
                        let _ = inv.process_webhook(h, body.as_bytes()).await;
                    }
                    // Creating products and setting stock are covered by the sequential model.
                    Op::CreateProduct { .. } | Op::SetStock { .. } => {}
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client task panicked");
    }
    let adjustments = adjustments.lock().expect("lock").clone();
    for (i, id) in products.iter().enumerate() {
        assert_invariant(&store, *id, 20 + adjustments[i]).await;
    }
    let all = store
        .list_orders(OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert!(all.iter().all(|o| !o.lines.is_empty()));
}
