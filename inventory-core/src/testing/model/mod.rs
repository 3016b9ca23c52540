//! Model-based property tests: random operation sequences run against a store and against a
//! plain reference model, compared after every step, with the stock invariant checked throughout.
//! The model keeps stock per location and allocates on its own, independently of core's code.

mod clients;
mod sequence;

use clients::run_clients;
use sequence::run_sequence;

use std::collections::HashSet;
use std::future::Future;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::{Error, OrderStatus, Store};

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
    /// Add or remove stock, at a location (index into [`LOCATIONS`]) or the default one.
    Adjust {
        /// Index into the products created so far.
        product: usize,
        /// Units to add (negative: remove).
        delta: i64,
        /// The location named, if any.
        location: Option<usize>,
    },
    /// Move units of a product between two locations (indexes into [`LOCATIONS`]).
    Transfer {
        /// Index into the products created so far.
        product: usize,
        /// Source.
        from: usize,
        /// Destination.
        to: usize,
        /// Units.
        quantity: i64,
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
        /// `(index into the products created so far, units, location named)` per line.
        lines: Vec<(usize, i64, Option<usize>)>,
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
            Op::Adjust {
                product,
                delta,
                location,
            } => Op::Adjust {
                product: w(product, products),
                delta,
                location,
            },
            Op::Transfer {
                product,
                from,
                to,
                quantity,
            } => Op::Transfer {
                product: w(product, products),
                from,
                to,
                quantity,
            },
            Op::SetStock { product, stock } => Op::SetStock {
                product: w(product, products),
                stock,
            },
            Op::PlaceOrder { lines } => Op::PlaceOrder {
                lines: lines
                    .into_iter()
                    .map(|(product, quantity, at)| (w(product, products), quantity, at))
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

/// A location named by an adjustment: mostly none (the default location).
fn location() -> impl Strategy<Value = Option<usize>> {
    prop::option::weighted(0.6, 0usize..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1i64..10_000, 0i64..20).prop_map(|(price_cents, stock)| Op::CreateProduct { price_cents, stock }),
        2 => (0usize..4, -10i64..10, location()).prop_map(|(product, delta, location)| Op::Adjust {
            product,
            // An adjustment of 0 cannot be built: `Adjustment::new` refuses it.
            delta: if delta == 0 { 1 } else { delta },
            location,
        }),
        2 => (0usize..4, 0usize..3, 1usize..3, 1i64..8).prop_map(|(product, from, step, quantity)| {
            Op::Transfer { product, from, to: (from + step) % 3, quantity }
        }),
        1 => (0usize..4, 0i64..30).prop_map(|(product, stock)| Op::SetStock { product, stock }),
        // Mostly the seed's one-line order; carts of up to four lines, sharing products often.
        4 => prop::collection::vec((0usize..4, 1i64..8, prop::option::weighted(0.2, 0usize..3)), 1..=4)
            .prop_map(|lines| Op::PlaceOrder { lines }),
        2 => (0usize..12, status()).prop_map(|(order, status)| Op::SetStatus { order, status }),
        1 => (0usize..12).prop_map(|order| Op::Cancel { order }),
        2 => (0usize..12, 0u8..6, prop::bool::weighted(0.85))
            .prop_map(|(order, event, amount_ok)| Op::Pay { order, event, amount_ok }),
    ]
}

/// The model's locations: the default one (priority 0) and two created per run, one tried
/// before it (priority -1) and one after (priority 5). Their allocation order, by priority.
const LOCATIONS: [(&str, i32); 3] = [("default", 0), ("M-FIRST", -1), ("M-LAST", 5)];
const BY_PRIORITY: [usize; 3] = [1, 0, 2];

#[derive(Debug, Clone)]
struct ModelProduct {
    id: i64,
    price: i64,
    /// Initial stock plus every adjustment (a set counts as the difference; transfers net 0).
    base: i64,
    /// Per location (index into [`LOCATIONS`]): on the shelf, and committed to live orders.
    on_hand: [i64; 3],
    committed: [i64; 3],
}

impl ModelProduct {
    fn available(&self, at: usize) -> i64 {
        self.on_hand[at] - self.committed[at]
    }

    fn stock(&self) -> i64 {
        (0..3).map(|at| self.available(at)).sum()
    }
}

#[derive(Debug, Clone)]
struct ModelOrder {
    id: i64,
    /// `(product index, units, location named)`, merged by product and location.
    lines: Vec<(usize, i64, Option<usize>)>,
    /// Per line: `(location index, units)`.
    allocations: Vec<Vec<(usize, i64)>>,
    status: OrderStatus,
}

/// A cart's lines with the units of each product and location summed, in first-appearance order.
fn merged(lines: &[(usize, i64, Option<usize>)]) -> Vec<(usize, i64, Option<usize>)> {
    let mut out: Vec<(usize, i64, Option<usize>)> = Vec::new();
    for &(product, quantity, at) in lines {
        match out.iter_mut().find(|(p, _, a)| *p == product && *a == at) {
            Some((_, q, _)) => *q += quantity,
            None => out.push((product, quantity, at)),
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
    /// Each model location's id in the store.
    location_ids: [i64; 3],
}

impl Model {
    /// What `lines` cost at the products' prices, in cents.
    fn total(&self, lines: &[(usize, i64, Option<usize>)]) -> i64 {
        lines
            .iter()
            .map(|&(p, q, _)| self.products[p].price * q)
            .sum()
    }

    /// The allocation of merged `lines`, written independently of core's: lines naming a
    /// location first, each served there, the others from the first location by priority that
    /// can serve the whole line, else split in priority order; `None` if any line is short.
    fn allocate(&self, lines: &[(usize, i64, Option<usize>)]) -> Option<Vec<Vec<(usize, i64)>>> {
        let mut left: Vec<[i64; 3]> = self
            .products
            .iter()
            .map(|p| [p.available(0), p.available(1), p.available(2)])
            .collect();
        let mut out = vec![Vec::new(); lines.len()];
        let mut short = false;
        let order = (0..lines.len())
            .filter(|i| lines[*i].2.is_some())
            .chain((0..lines.len()).filter(|i| lines[*i].2.is_none()));
        for i in order {
            let (p, q, at) = lines[i];
            let candidates: Vec<usize> = at.map_or(BY_PRIORITY.to_vec(), |a| vec![a]);
            if candidates.iter().map(|c| left[p][*c]).sum::<i64>() < q {
                short = true;
                continue;
            }
            let plan: Vec<(usize, i64)> = match candidates.iter().find(|c| left[p][**c] >= q) {
                Some(c) => vec![(*c, q)],
                None => {
                    let mut rest = q;
                    let mut plan = Vec::new();
                    for c in candidates {
                        let take = rest.min(left[p][c]);
                        if take > 0 {
                            plan.push((c, take));
                            rest -= take;
                        }
                    }
                    plan
                }
            };
            for &(c, take) in &plan {
                left[p][c] -= take;
            }
            out[i] = plan;
        }
        (!short).then_some(out)
    }

    /// An order's units as `(product, location, units)`.
    fn held(&self, order: usize) -> Vec<(usize, usize, i64)> {
        let o = &self.orders[order];
        o.lines
            .iter()
            .zip(&o.allocations)
            .flat_map(|((p, _, _), a)| a.iter().map(move |&(at, q)| (*p, at, q)))
            .collect()
    }

    /// Moves order `order` to `to`, with its level changes: a cancel before shipping releases
    /// what it committed, shipping takes it off the shelf.
    fn move_order(&mut self, order: usize, to: OrderStatus) {
        let from = self.orders[order].status;
        let releases =
            to == OrderStatus::Canceled && from.holds_stock() && from != OrderStatus::Shipped;
        let ships = from == OrderStatus::Paid && to == OrderStatus::Shipped;
        for (p, at, q) in self.held(order) {
            if releases || ships {
                self.products[p].committed[at] -= q;
            }
            if ships {
                self.products[p].on_hand[at] -= q;
            }
        }
        self.orders[order].status = to;
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
        Err(Error::StockAtOtherLocations { .. }) => Outcome::Err("elsewhere"),
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
