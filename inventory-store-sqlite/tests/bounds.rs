//! The stock bounds core decides on the statements that read and write stock in one go: a
//! refusal leaves no trace.

use inventory_core::testing::{StoreExt, adjustment, new_order, new_product, t0};
use inventory_core::{
    ChangeSource, Error, MAX_STOCK, OrderStatus, Page, StatusChange, StockDelta, Store,
};
use inventory_store_sqlite::SqliteStore;

#[tokio::test]
async fn a_cancel_that_would_exceed_the_maximum_changes_nothing() {
    let store = SqliteStore::open_in_memory().await.expect("open");
    let p = store
        .create(new_product("MAX", 100, 5))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    store
        .adjust_stock(p.id, &adjustment(MAX_STOCK - 4, "fill up"), t0())
        .await
        .expect("up to the maximum");
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    let cancel = StatusChange::new(cancel, ChangeSource::Api);
    match store.change_status(o.id, &cancel, t0()).await {
        Err(Error::StockAboveMaximum { product_id }) => assert_eq!(product_id, p.id),
        other => panic!("cancel above the maximum: {other:?}"),
    }
    assert_eq!(store.get_product(p.id).await.expect("get").stock, MAX_STOCK);
    let order = store.get_order(o.id).await.expect("order");
    assert_eq!(order.status, OrderStatus::Pending);
    let ledger = store.list_movements(p.id, Page::default()).await;
    assert_eq!(
        ledger.expect("ledger").len(),
        3,
        "initial, order, adjustment"
    );
    assert_eq!(store.order_history(o.id).await.expect("history").len(), 1);

    // Once there is room, the same change applies.
    store
        .adjust_stock(p.id, &adjustment(-1, "room"), t0())
        .await
        .expect("down");
    let canceled = store.change_status(o.id, &cancel, t0()).await;
    assert_eq!(canceled.expect("cancel").status, OrderStatus::Canceled);
    let ledger = store.list_movements(p.id, Page::default()).await;
    let last = ledger.expect("ledger").pop().expect("a row");
    assert_eq!(last.delta, StockDelta::returning(o.lines[0].quantity));
    assert_eq!(store.get_product(p.id).await.expect("get").stock, MAX_STOCK);
}
