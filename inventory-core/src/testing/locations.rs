//! Stock per location: levels split into on hand and committed, allocation by priority and its
//! record on the order, cancel returning units where they came from, shipping taking them off
//! the shelf, transfers, per-location adjustments, the seed's `stock` at the default location,
//! and racing carts and transfers keeping every location exact.

use tokio::task::JoinSet;

use super::{StoreExt, cart, new_product, t0};
use crate::{
    Adjustment, Adjustments, Allocation, Cart, CartLine, ChangeSource, DEFAULT_LOCATION, Error,
    Inventory, Location, LocationCode, LocationLevel, LocationName, MovementKind, NewLocation,
    OrderStatus, Page, ProductPatch, Quantity, Reason, StatusChange, Stock, StockDelta, Store,
    Transfer,
};

/// A location of `code` at `priority`, named after its code.
pub(crate) fn new_location(code: &str, priority: i32) -> NewLocation {
    NewLocation::new(
        LocationCode::parse(code).expect("code"),
        LocationName::parse(&format!("Location {code}")).expect("name"),
        priority,
    )
    .expect("location")
}

async fn location<S: Store>(store: &S, code: &str, priority: i32) -> Location {
    store
        .create_location(new_location(code, priority))
        .await
        .expect("create location")
}

/// `(location, on_hand, committed)` of each level of the product.
async fn levels<S: Store>(store: &S, product_id: i64) -> Vec<(i64, i64, i64)> {
    store
        .product_levels(product_id)
        .await
        .expect("levels")
        .iter()
        .map(|l| (l.location_id(), l.on_hand().get(), l.committed().get()))
        .collect()
}

async fn adjust_at<S: Store>(store: &S, product_id: i64, location_id: i64, delta: i64) {
    let a = Adjustment::new(
        StockDelta::new(delta).expect("delta"),
        Reason::parse("delivery").expect("reason"),
    )
    .expect("adjustment")
    .at(location_id);
    store
        .adjust_stock(product_id, &Adjustments::from(a), t0())
        .await
        .expect("adjusted");
}

async fn move_to<S: Store>(store: &S, order_id: i64, from: OrderStatus, to: OrderStatus) {
    let change = StatusChange::new(from.transition_to(to).expect("allowed"), ChangeSource::Api);
    store
        .change_status(order_id, &change, t0())
        .await
        .expect("status changed");
}

async fn assert_exact<S: Store + Clone>(store: &S) {
    let violations = Inventory::new(store.clone())
        .verify_invariants()
        .await
        .expect("checked");
    assert!(violations.is_empty(), "{violations:#?}");
}

fn alloc(location_id: i64, n: i64) -> Allocation {
    Allocation {
        location_id,
        quantity: Quantity::new(n).expect("quantity"),
    }
}

/// Every store starts with the default location; codes are unique; locations list by id.
pub async fn locations_are_created_listed_and_unique<S: Store + Clone>(store: S) {
    let all = store.list_locations().await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].id, all[0].code.as_str(), all[0].priority),
        (DEFAULT_LOCATION, "default", 0)
    );
    let east = location(&store, "WH-EAST", 2).await;
    let west = location(&store, "WH-WEST", -1).await;
    assert!(east.id > DEFAULT_LOCATION && west.id > east.id);
    assert_eq!(store.get_location(west.id).await.expect("get"), west);
    let err = store
        .create_location(new_location("WH-EAST", 9))
        .await
        .expect_err("taken code");
    assert!(
        matches!(&err, Error::DuplicateLocationCode { code } if code.as_str() == "WH-EAST"),
        "{err:?}"
    );
    let ids: Vec<i64> = store
        .list_locations()
        .await
        .expect("list")
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, vec![DEFAULT_LOCATION, east.id, west.id]);
    assert!(matches!(
        store.get_location(west.id + 100).await,
        Err(Error::LocationNotFound { .. })
    ));
}

/// The seed's `stock` lives at the default location: create and PUT write it there, and a
/// product's stock never goes below what its other locations hold.
pub async fn seed_stock_is_the_default_location<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("LOC-SEED", 100, 5))
        .await
        .expect("create");
    assert_eq!(levels(&store, p.id).await, vec![(DEFAULT_LOCATION, 5, 0)]);
    let other = location(&store, "LOC-SEED-B", 1).await;
    adjust_at(&store, p.id, other.id, 4).await;
    assert_eq!(store.get_product(p.id).await.expect("get").stock.get(), 9);
    let set = |n| ProductPatch::default().with_stock(Stock::new(n).expect("stock"));
    let err = store
        .update_product(p.id, set(3), t0())
        .await
        .expect_err("4 are elsewhere, only 5 here");
    assert!(
        matches!(err, Error::StockAtOtherLocations { elsewhere, .. } if elsewhere.get() == 4),
        "{err:?}"
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock.get(), 9);
    store.update_product(p.id, set(6), t0()).await.expect("set");
    assert_eq!(
        levels(&store, p.id).await,
        vec![(DEFAULT_LOCATION, 2, 0), (other.id, 4, 0)]
    );
    let ledger = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger");
    let rows: Vec<_> = ledger
        .iter()
        .map(|m| (m.kind, m.location_id, m.delta.get()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (MovementKind::Initial, DEFAULT_LOCATION, 5),
            (MovementKind::Adjustment, other.id, 4),
            (MovementKind::Set, DEFAULT_LOCATION, -3),
        ]
    );
    assert!(matches!(
        store.product_levels(p.id + 100).await,
        Err(Error::ProductNotFound { .. })
    ));
    assert_exact(&store).await;
}

/// Placing commits, shipping takes the units off the shelf, cancelling and the expiry release
/// them.
pub async fn orders_commit_ship_and_release<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("LOC-LIFE", 100, 10))
        .await
        .expect("create");
    let shipped = store.order(cart(&[(p.id, 3)])).await.expect("placed");
    assert_eq!(
        shipped.lines[0].allocations,
        vec![alloc(DEFAULT_LOCATION, 3)]
    );
    assert_eq!(store.get_order(shipped.id).await.expect("get"), shipped);
    assert_eq!(levels(&store, p.id).await, vec![(DEFAULT_LOCATION, 10, 3)]);
    let canceled = store.order(cart(&[(p.id, 2)])).await.expect("placed");
    move_to(&store, shipped.id, OrderStatus::Pending, OrderStatus::Paid).await;
    assert_eq!(levels(&store, p.id).await, vec![(DEFAULT_LOCATION, 10, 5)]);
    move_to(&store, shipped.id, OrderStatus::Paid, OrderStatus::Shipped).await;
    assert_eq!(levels(&store, p.id).await, vec![(DEFAULT_LOCATION, 7, 2)]);
    move_to(
        &store,
        canceled.id,
        OrderStatus::Pending,
        OrderStatus::Canceled,
    )
    .await;
    assert_eq!(levels(&store, p.id).await, vec![(DEFAULT_LOCATION, 7, 0)]);
    assert_eq!(store.get_product(p.id).await.expect("get").stock.get(), 7);
    assert_exact(&store).await;
}

/// One location serves a whole line when one can (by priority), else the line is split; the
/// order records where, and a cancel returns each unit exactly there.
pub async fn allocation_by_priority_is_recorded_and_returned<S: Store + Clone>(store: S) {
    let first = location(&store, "LOC-ALLOC-1", -1).await;
    let last = location(&store, "LOC-ALLOC-3", 5).await;
    let p = store
        .create(new_product("LOC-ALLOC", 100, 1))
        .await
        .expect("create");
    adjust_at(&store, p.id, first.id, 4).await;
    adjust_at(&store, p.id, last.id, 6).await;
    // 5: neither the first (4) nor the default (1) can serve it whole; the last can.
    let whole = store.order(cart(&[(p.id, 5)])).await.expect("placed");
    assert_eq!(whole.lines[0].allocations, vec![alloc(last.id, 5)]);
    // 6 over what is left (4, 1, 1): split by priority (listed by location id).
    let split = store.order(cart(&[(p.id, 6)])).await.expect("placed");
    assert_eq!(
        split.lines[0].allocations,
        vec![
            alloc(DEFAULT_LOCATION, 1),
            alloc(first.id, 4),
            alloc(last.id, 1)
        ]
    );
    assert_eq!(store.get_order(split.id).await.expect("get"), split);
    move_to(
        &store,
        whole.id,
        OrderStatus::Pending,
        OrderStatus::Canceled,
    )
    .await;
    assert_eq!(
        levels(&store, p.id).await,
        vec![(DEFAULT_LOCATION, 1, 1), (first.id, 4, 4), (last.id, 6, 1)]
    );
    let released: Vec<_> = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger")
        .iter()
        .filter(|m| m.kind == MovementKind::OrderCanceled)
        .map(|m| (m.location_id, m.delta.get(), m.order_id))
        .collect();
    assert_eq!(released, vec![(last.id, 5, Some(whole.id))]);
    assert_exact(&store).await;
}

/// A line naming a location is served there only; a short one is listed with its location.
pub async fn pinned_lines_are_served_where_they_say<S: Store + Clone>(store: S) {
    let east = location(&store, "LOC-PIN-E", 1).await;
    let a = store
        .create(new_product("LOC-PIN-A", 100, 5))
        .await
        .expect("create");
    let b = store
        .create(new_product("LOC-PIN-B", 200, 5))
        .await
        .expect("create");
    adjust_at(&store, a.id, east.id, 2).await;
    let q = |n| Quantity::new(n).expect("quantity");
    let pinned = Cart::new(vec![
        CartLine::new(a.id, q(2)).at(east.id),
        CartLine::new(b.id, q(1)),
    ])
    .expect("cart");
    let o = store.order(pinned).await.expect("placed");
    assert_eq!(o.lines[0].allocations, vec![alloc(east.id, 2)]);
    let short = Cart::new(vec![
        CartLine::new(a.id, q(1)).at(east.id),
        CartLine::new(b.id, q(9)),
    ])
    .expect("cart");
    let err = store.order(short).await.expect_err("east is empty");
    let Error::InsufficientStock { shortages, .. } = err else {
        panic!("expected InsufficientStock, got {err:?}");
    };
    let listed: Vec<_> = shortages
        .iter()
        .map(|s| (s.line, s.location_id, s.requested, s.available))
        .collect();
    assert_eq!(listed, vec![(0, Some(east.id), 1, 0), (1, None, 9, 4)]);
    assert_eq!(
        levels(&store, a.id).await,
        vec![(DEFAULT_LOCATION, 5, 0), (east.id, 2, 2)]
    );
    assert_exact(&store).await;
}

/// A transfer moves available units (never promised ones) with a ledger row on each side; an
/// adjustment is bounded by its own location's available units.
pub async fn transfers_and_adjustments_stay_at_their_locations<S: Store + Clone>(store: S) {
    let east = location(&store, "LOC-MOVE-E", 1).await;
    let p = store
        .create(new_product("LOC-MOVE", 100, 8))
        .await
        .expect("create");
    store.order(cart(&[(p.id, 2)])).await.expect("placed");
    let q = |n| Quantity::new(n).expect("quantity");
    let too_many = Transfer::new(p.id, DEFAULT_LOCATION, east.id, q(7)).expect("transfer");
    let err = store
        .transfer_stock(&too_many, t0())
        .await
        .expect_err("2 promised");
    assert!(
        matches!(err, Error::InsufficientStock { available, .. } if available.get() == 6),
        "{err:?}"
    );
    let ok = Transfer::new(p.id, DEFAULT_LOCATION, east.id, q(5)).expect("transfer");
    let after = store.transfer_stock(&ok, t0()).await.expect("moved");
    let after: Vec<_> = after.iter().map(LocationLevel::available).collect();
    assert_eq!(after, vec![1, 5]);
    assert_eq!(
        levels(&store, p.id).await,
        vec![(DEFAULT_LOCATION, 3, 2), (east.id, 5, 0)]
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock.get(), 6);
    let rows: Vec<_> = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger")
        .iter()
        .filter(|m| matches!(m.kind, MovementKind::TransferOut | MovementKind::TransferIn))
        .map(|m| (m.kind, m.location_id, m.delta.get(), m.order_id))
        .collect();
    assert_eq!(
        rows,
        vec![
            (MovementKind::TransferOut, DEFAULT_LOCATION, -5, None),
            (MovementKind::TransferIn, east.id, 5, None),
        ]
    );
    let nowhere = Transfer::new(p.id, east.id, east.id + 100, q(1)).expect("transfer");
    assert!(matches!(
        store.transfer_stock(&nowhere, t0()).await,
        Err(Error::LocationNotFound { .. })
    ));
    // 6 available in all, but only 1 at the default location.
    let a = Adjustment::new(
        StockDelta::new(-2).expect("delta"),
        Reason::parse("damaged").expect("reason"),
    )
    .expect("adjustment");
    let err = store
        .adjust_stock(p.id, &Adjustments::from(a), t0())
        .await
        .expect_err("only 1 available here");
    assert!(
        matches!(err, Error::InsufficientStock { available, .. } if available.get() == 1),
        "{err:?}"
    );
    assert_eq!(
        levels(&store, p.id).await,
        vec![(DEFAULT_LOCATION, 3, 2), (east.id, 5, 0)]
    );
    assert_exact(&store).await;
}

/// Carts of one to three lines over overlapping products, transfers between two locations and
/// cancels, all at once: nothing but a typed refusal fails, and every product and location
/// adds up exactly.
pub async fn racing_carts_and_transfers_keep_every_location_exact<S: Store + Clone>(store: S) {
    let east = location(&store, "LOC-RACE-E", 1).await;
    let mut ids = Vec::new();
    for (i, stock) in [6, 9, 4].into_iter().enumerate() {
        let p = store
            .create(new_product(&format!("LOC-RACE-{i}"), 100, stock))
            .await
            .expect("create");
        adjust_at(&store, p.id, east.id, 5).await;
        ids.push(p.id);
    }
    let mut tasks = JoinSet::new();
    for n in 0..48usize {
        let store = store.clone();
        let ids = ids.clone();
        let east = east.id;
        tasks.spawn(async move {
            let q = |n: usize| Quantity::new(n as i64 + 1).expect("quantity");
            match n % 4 {
                3 => {
                    let (from, to) = if n % 8 == 3 {
                        (DEFAULT_LOCATION, east)
                    } else {
                        (east, DEFAULT_LOCATION)
                    };
                    let t = Transfer::new(ids[n % 3], from, to, q(n % 2)).expect("transfer");
                    store.transfer_stock(&t, t0()).await.map(|_| ())
                }
                k => {
                    let lines = (0..=k)
                        .map(|j| CartLine::new(ids[(n + j) % 3], q((n + j) % 3)))
                        .collect();
                    let o = store.order(Cart::new(lines).expect("cart")).await?;
                    if n % 5 == 0 {
                        let cancel = StatusChange::new(
                            OrderStatus::Pending
                                .transition_to(OrderStatus::Canceled)
                                .expect("allowed"),
                            ChangeSource::Api,
                        );
                        store.change_status(o.id, &cancel, t0()).await?;
                    }
                    Ok(())
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done.expect("task") {
            Ok(()) | Err(Error::InsufficientStock { .. }) => {}
            Err(e) => panic!("only a shortage may refuse: {e:?}"),
        }
    }
    for id in &ids {
        let total: i64 = store
            .product_levels(*id)
            .await
            .expect("levels")
            .iter()
            .map(LocationLevel::available)
            .sum();
        assert_eq!(
            store.get_product(*id).await.expect("get").stock.get(),
            total
        );
    }
    assert_exact(&store).await;
}
