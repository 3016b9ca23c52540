//! Row versions and preconditions (`ETag` / `If-Match`), the same on every store: every change
//! of a row makes its version one larger, a stale precondition or stock compare-and-set
//! changes nothing, and of two writers holding the same version exactly one wins.

use time::Duration;

use super::{StoreExt, adjustment, new_order, new_product, stock, t0};
use crate::{
    Error, Inventory, OrderStatus, Precondition, ProductPatch, Store, Version, clock::ManualClock,
};

fn v(n: i64) -> Version {
    Version::new(n).expect("valid test version")
}

/// Create, adjust, order, pay, cancel, patch, expire: each change of a row is one version more,
/// and the row as read carries the version the write returned.
pub async fn versions_follow_every_change_of_the_row<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("VER-1", 100, 10))
        .await
        .expect("create");
    assert_eq!(p.version, Version::FIRST);
    let p = store
        .adjust_stock(p.id, &adjustment(5, "found"), t0())
        .await
        .expect("adjust");
    assert_eq!(p.version, v(2));
    let o = store.order(new_order(p.id, 3)).await.expect("order");
    assert_eq!(o.version, Version::FIRST);
    assert_eq!(store.get_product(p.id).await.expect("get").version, v(3));
    let inventory = Inventory::new(store.clone()).with_clock(ManualClock::new(t0()));
    let paid = inventory
        .set_order_status(o.id, OrderStatus::Paid)
        .await
        .expect("pay");
    assert_eq!(paid.version, v(2));
    // Paying takes no stock back: the product row is unchanged.
    assert_eq!(store.get_product(p.id).await.expect("get").version, v(3));
    // A no-op move writes nothing.
    let again = inventory
        .set_order_status(o.id, OrderStatus::Paid)
        .await
        .expect("noop");
    assert_eq!(again.version, v(2));
    let canceled = inventory.cancel_order(o.id).await.expect("cancel");
    assert_eq!(canceled.version, v(3));
    assert_eq!(store.get_order(o.id).await.expect("get").version, v(3));
    assert_eq!(store.get_product(p.id).await.expect("get").version, v(4));
    let patched = store
        .update_product(p.id, ProductPatch::new().with_stock(stock(40)), t0())
        .await
        .expect("patch");
    assert_eq!(patched.version, v(5));
    assert_eq!(store.get_product(p.id).await.expect("get"), patched);
    // Expiry changes the order and returns its units: both rows move on.
    let due = store.order(new_order(p.id, 1)).await.expect("order");
    let expired = store
        .expire_orders(
            &crate::StatusChange::expiry(),
            t0() + Duration::minutes(1),
            t0() + Duration::minutes(2),
            10,
        )
        .await
        .expect("expire");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].version, v(2));
    assert_eq!(store.get_order(due.id).await.expect("get").version, v(2));
    assert_eq!(store.get_product(p.id).await.expect("get").version, v(7));
}

/// A stale precondition or stock expectation is refused with the row's current state, and the
/// refused write leaves no trace (no change, no ledger row, no version step).
pub async fn stale_preconditions_change_nothing<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("VER-2", 100, 10))
        .await
        .expect("create");
    let p = store
        .adjust_stock(p.id, &adjustment(1, "recount"), t0())
        .await
        .expect("adjust");
    let ledger_before = store
        .list_movements(p.id, crate::Page::default())
        .await
        .expect("ledger")
        .len();
    let stale = ProductPatch::new()
        .with_stock(stock(99))
        .with_precondition(Precondition::at(Version::FIRST));
    assert!(matches!(
        store.update_product(p.id, stale, t0()).await,
        Err(Error::PreconditionFailed { id, current }) if id == p.id && current == v(2)
    ));
    let cas = ProductPatch::new().with_stock_if_current(stock(40), stock(10));
    assert!(matches!(
        store.update_product(p.id, cas, t0()).await,
        Err(Error::StockChanged { product_id, expected, current })
            if product_id == p.id && expected == 10 && current == 11
    ));
    assert_eq!(store.get_product(p.id).await.expect("get"), p);
    let ledger = store
        .list_movements(p.id, crate::Page::default())
        .await
        .expect("ledger");
    assert_eq!(ledger.len(), ledger_before);
    assert!(matches!(
        store.delete_product(p.id, Some(&Precondition::at(Version::FIRST))).await,
        Err(Error::PreconditionFailed { current, .. }) if current == v(2)
    ));
    store.get_product(p.id).await.expect("still there");
    // The current version, `*`, and the expected stock all go through.
    let fresh = ProductPatch::new()
        .with_stock_if_current(stock(40), stock(11))
        .with_precondition(Precondition::OneOf(vec![Version::FIRST, v(2)]));
    let p = store
        .update_product(p.id, fresh, t0())
        .await
        .expect("fresh");
    assert_eq!((p.stock.get(), p.version), (40, v(3)));
    store
        .delete_product(p.id, Some(&Precondition::Exists))
        .await
        .expect("delete");
    assert!(matches!(
        store
            .delete_product(p.id, Some(&Precondition::Exists))
            .await,
        Err(Error::ProductNotFound { .. })
    ));
}

/// Two writers that read the same version: exactly one write lands, the other is refused with
/// the version the winner made, for a product (the store's transaction) and for an order (the
/// engine's compare-and-set).
pub async fn one_of_two_writers_on_a_version_wins<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("VER-3", 100, 10))
        .await
        .expect("create");
    let write = |n: i64| {
        let store = store.clone();
        let patch = ProductPatch::new()
            .with_stock(stock(n))
            .with_precondition(Precondition::at(Version::FIRST));
        async move { store.update_product(p.id, patch, t0()).await }
    };
    let (a, b) = tokio::join!(write(20), write(30));
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected exactly one winner: {other:?}"),
    };
    assert_eq!(won.version, v(2));
    assert!(matches!(lost, Error::PreconditionFailed { current, .. } if current == v(2)));
    assert_eq!(store.get_product(p.id).await.expect("get"), won);

    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let inventory = Inventory::new(store.clone()).with_clock(ManualClock::new(t0()));
    let at_first = Precondition::at(Version::FIRST);
    let (pay, cancel) = tokio::join!(
        inventory.set_order_status_if(o.id, OrderStatus::Paid, Some(&at_first)),
        inventory.cancel_order_if(o.id, Some(&at_first)),
    );
    let winner = match (pay, cancel) {
        (Ok(w), Err(Error::PreconditionFailed { .. }))
        | (Err(Error::PreconditionFailed { .. }), Ok(w)) => w,
        other => panic!("expected exactly one winner: {other:?}"),
    };
    assert_eq!(winner.version, v(2));
    assert_eq!(store.get_order(o.id).await.expect("get"), winner);
    let history = store.order_history(o.id).await.expect("history");
    assert_eq!(history.len(), 2, "one change recorded: {history:?}");
}
