//! Orders of many lines: all or nothing, every line priced and ledgered, every line's units back
//! on cancel, and overlapping carts racing without oversell or deadlock.

use std::collections::BTreeMap;

use tokio::task::JoinSet;

use super::concurrency::assert_invariant;
use super::{StoreExt, cart, new_product, t0};
use crate::{
    Cart, Error, Inventory, MovementKind, OrderFilter, OrderStatus, Page, Product, ProductPatch,
    Store,
};

async fn products<S: Store>(store: &S, specs: &[(&str, i64, i64)]) -> Vec<Product> {
    let mut out = Vec::new();
    for &(sku, price, stock) in specs {
        out.push(
            store
                .create(new_product(sku, price, stock))
                .await
                .expect("create"),
        );
    }
    out
}

async fn stock_of<S: Store>(store: &S, id: i64) -> i64 {
    store.get_product(id).await.expect("product").stock.get()
}

/// A three-line cart (one product named twice, merged) takes every line's units at its price,
/// totals the lines, writes one `order_placed` ledger row per line, and is found by each of its
/// products.
pub async fn a_cart_takes_every_line_at_its_price<S: Store + Clone>(store: S) {
    let p = products(&store, &[("CART-A", 250, 10), ("CART-B", 1000, 3)]).await;
    let (a, b) = (p[0].id, p[1].id);
    let o = store
        .order(cart(&[(a, 2), (b, 3), (a, 1)]))
        .await
        .expect("placed");
    let lines: Vec<_> = o
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id,
                l.quantity.get(),
                l.unit_price.cents(),
                l.total.cents(),
            )
        })
        .collect();
    assert_eq!(lines, vec![(a, 3, 250, 750), (b, 3, 1000, 3000)]);
    assert_eq!(o.total.cents(), 3750);
    assert_eq!(o.status, OrderStatus::Pending);
    assert_eq!(o.single_line(), None);
    assert_eq!(
        (stock_of(&store, a).await, stock_of(&store, b).await),
        (7, 0)
    );
    assert_eq!(store.get_order(o.id).await.expect("get"), o);
    for id in [a, b] {
        let filter = OrderFilter {
            product_id: Some(id),
            ..OrderFilter::default()
        };
        let found = store
            .list_orders(filter, Page::default())
            .await
            .expect("list");
        assert_eq!(found, vec![o.clone()], "listed by product {id}");
        let ledger = store
            .list_movements(id, Page::default())
            .await
            .expect("ledger");
        let placed: Vec<_> = ledger
            .iter()
            .filter(|m| m.kind == MovementKind::OrderPlaced)
            .map(|m| (m.order_id, m.delta.get()))
            .collect();
        assert_eq!(placed, vec![(Some(o.id), -3)], "ledger of {id}");
    }
    // The prices were snapshotted: a later price change leaves the order as it was.
    let patch = ProductPatch::new().with_price("9.99".parse().expect("price"));
    store.update_product(a, patch, t0()).await.expect("reprice");
    assert_eq!(store.get_order(o.id).await.expect("get"), o);
}

/// A cart with short lines takes nothing, not even from the lines that could be served, and
/// the refusal names every short line with what it asked and what was left for it.
pub async fn a_short_cart_takes_nothing_and_names_every_short_line<S: Store + Clone>(store: S) {
    let p = products(
        &store,
        &[
            ("SHORT-A", 100, 5),
            ("SHORT-B", 100, 1),
            ("SHORT-C", 100, 0),
        ],
    )
    .await;
    let (a, b, c) = (p[0].id, p[1].id, p[2].id);
    let err = store
        .order(cart(&[(a, 5), (b, 2), (c, 1)]))
        .await
        .expect_err("short");
    let Error::InsufficientStock {
        product_id,
        requested,
        available,
        shortages,
    } = err
    else {
        panic!("expected InsufficientStock, got {err:?}");
    };
    assert_eq!((product_id, requested.get(), available.get()), (b, 2, 1));
    let short: Vec<_> = shortages
        .iter()
        .map(|s| (s.line, s.product_id, s.requested, s.available))
        .collect();
    assert_eq!(short, vec![(1, b, 2, 1), (2, c, 1, 0)]);
    for (id, stock) in [(a, 5), (b, 1), (c, 0)] {
        assert_eq!(stock_of(&store, id).await, stock, "stock of {id}");
        let ledger = store
            .list_movements(id, Page::default())
            .await
            .expect("ledger");
        assert_eq!(ledger.len(), 1, "only the initial row for {id}");
    }
    let none = store
        .list_orders(OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert!(none.is_empty());
    // An unknown product among the lines is not found, and takes nothing either.
    let err = store
        .order(cart(&[(a, 1), (i64::MAX, 1)]))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, Error::ProductNotFound { id } if id == i64::MAX),
        "{err:?}"
    );
    assert_eq!(stock_of(&store, a).await, 5);
}

/// Cancelling a cart returns every line's units, with one ledger row per line; shipping one
/// keeps them taken.
pub async fn cancelling_a_cart_returns_every_line<S: Store + Clone>(store: S) {
    let p = products(&store, &[("BACK-A", 100, 10), ("BACK-B", 100, 10)]).await;
    let (a, b) = (p[0].id, p[1].id);
    let inv = Inventory::new(store.clone());
    let canceled = inv
        .place_order(cart(&[(b, 4), (a, 3)]))
        .await
        .expect("placed");
    let shipped = inv
        .place_order(cart(&[(a, 1), (b, 1)]))
        .await
        .expect("placed");
    assert_eq!(
        (stock_of(&store, a).await, stock_of(&store, b).await),
        (6, 5)
    );
    inv.cancel_order(canceled.id).await.expect("cancel");
    inv.set_order_status(shipped.id, OrderStatus::Paid)
        .await
        .expect("pay");
    inv.set_order_status(shipped.id, OrderStatus::Shipped)
        .await
        .expect("ship");
    assert_eq!(
        (stock_of(&store, a).await, stock_of(&store, b).await),
        (9, 9)
    );
    for (id, back) in [(a, 3), (b, 4)] {
        let ledger = store
            .list_movements(id, Page::default())
            .await
            .expect("ledger");
        let returned: Vec<_> = ledger
            .iter()
            .filter(|m| m.kind == MovementKind::OrderCanceled)
            .map(|m| (m.order_id, m.delta.get()))
            .collect();
        assert_eq!(returned, vec![(Some(canceled.id), back)], "ledger of {id}");
        assert_invariant(&store, id, 10).await;
    }
}

/// [`overlapping_carts_never_oversell_across`] on one handle.
pub async fn overlapping_carts_never_oversell<S: Store + Clone>(store: S) {
    let report = overlapping_carts_never_oversell_across(&[store]).await;
    assert!(report.placed > 0 && report.refused > 0, "{report:?}");
}

/// What [`overlapping_carts_never_oversell_across`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartRace {
    /// Carts placed.
    pub placed: usize,
    /// Carts refused for short stock.
    pub refused: usize,
    /// Placed carts cancelled while the others raced.
    pub canceled: usize,
    /// Transfers between the two locations that raced the carts and went through.
    pub transfers: usize,
}

/// 200 concurrent carts of 1 to 5 lines over 6 products with limited stock held at two
/// locations, their lines in every order (so lock order is the store's, not the caller's), some
/// naming a location, spread over `instances` (handles on one database), while a quarter of the
/// placed carts are cancelled and 40 transfers move units between the locations as the race
/// goes on: each cart is placed whole or refused for short stock, each transfer moved or refused
/// for short stock, nothing else (no deadlock, no backend error), and every product's units are
/// accounted for exactly, per product and per location.
pub async fn overlapping_carts_never_oversell_across<S: Store + Clone>(
    instances: &[S],
) -> CartRace {
    let first = &instances[0];
    let specs: Vec<(String, i64)> = (0..6).map(|i| (format!("OVER-{i}"), 40 + 10 * i)).collect();
    let mut ids = Vec::new();
    for (sku, stock) in &specs {
        let p = first
            .create(new_product(sku, 100, *stock))
            .await
            .expect("create");
        ids.push((p.id, *stock));
    }
    let east = first
        .create_location(
            crate::NewLocation::new(
                crate::LocationCode::parse("OVER-EAST").expect("code"),
                crate::LocationName::parse("East").expect("name"),
                1,
            )
            .expect("location"),
        )
        .await
        .expect("create location")
        .id;
    let quantity = |n: i64| crate::Quantity::new(n).expect("quantity");
    for (id, stock) in &ids {
        let half = crate::Transfer::new(*id, crate::DEFAULT_LOCATION, east, quantity(stock / 2))
            .expect("transfer");
        first.transfer_stock(&half, t0()).await.expect("moved");
    }
    let mut moves = JoinSet::new();
    for i in 0..40usize {
        let store = instances[i % instances.len()].clone();
        let (from, to) = if i % 2 == 0 {
            (crate::DEFAULT_LOCATION, east)
        } else {
            (east, crate::DEFAULT_LOCATION)
        };
        let t = crate::Transfer::new(ids[i % ids.len()].0, from, to, quantity(i as i64 % 3 + 1))
            .expect("transfer");
        moves.spawn(async move { Inventory::new(store).transfer_stock(&t).await });
    }
    let mut tasks = JoinSet::new();
    for i in 0..200usize {
        let store = instances[i % instances.len()].clone();
        let n = i % 5 + 1;
        // Lines rotate and reverse through the products, so carts name them in every order.
        let mut lines: Vec<(i64, i64)> = (0..n)
            .map(|k| (ids[(i + k * 5) % ids.len()].0, (i % 3 + k) as i64 % 4 + 1))
            .collect();
        if i % 2 == 1 {
            lines.reverse();
        }
        let mut lines: Vec<crate::CartLine> = lines
            .into_iter()
            .map(|(p, q)| crate::CartLine::new(p, quantity(q)))
            .collect();
        if i % 7 == 0 {
            lines[0] = lines[0].at(east);
        }
        let order = Cart::new(lines).expect("cart");
        tasks.spawn(async move {
            let inv = Inventory::new(store);
            let placed = inv.place_order(order).await;
            match placed {
                Ok(o) if i % 4 == 0 => inv.cancel_order(o.id).await.map(|_| (true, true)),
                Ok(_) => Ok((true, false)),
                Err(e) => Err(e),
            }
        });
    }
    let mut report = CartRace {
        placed: 0,
        refused: 0,
        canceled: 0,
        transfers: 0,
    };
    while let Some(r) = moves.join_next().await {
        match r.expect("task") {
            Ok(_) => report.transfers += 1,
            Err(Error::InsufficientStock { .. }) => {}
            Err(e) => panic!("unexpected transfer error {e:?}"),
        }
    }
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok((_, canceled)) => {
                report.placed += 1;
                report.canceled += usize::from(canceled);
            }
            Err(Error::InsufficientStock { .. }) => report.refused += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(report.placed + report.refused, 200);
    let orders = all_orders(first).await;
    let mut held: BTreeMap<i64, i64> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.status.holds_stock()) {
        for l in &o.lines {
            *held.entry(l.product_id).or_default() += l.quantity.get();
        }
    }
    for (id, initial) in ids {
        let stock = stock_of(first, id).await;
        assert!(stock >= 0);
        assert_eq!(
            stock,
            initial - held.get(&id).copied().unwrap_or(0),
            "product {id}"
        );
        assert_invariant(first, id, initial).await;
    }
    let violations = Inventory::new(first.clone())
        .verify_invariants()
        .await
        .expect("checked");
    assert!(violations.is_empty(), "{violations:#?}");
    report
}

async fn all_orders<S: Store>(store: &S) -> Vec<crate::Order> {
    let mut out = Vec::new();
    let mut page = Page::all();
    loop {
        let orders = store
            .list_orders(OrderFilter::default(), page)
            .await
            .expect("list");
        let Some(last) = orders.last() else { break };
        page = Page::all().after(last.id);
        out.extend(orders);
    }
    out
}
