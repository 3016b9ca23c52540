//! The stock bounds core decides on the statements that read and write stock in one go: a
//! refusal leaves no trace.

use inventory_core::testing::{StoreExt, new_order, new_product, t0};
use inventory_core::{
    Adjustment, Adjustments, ChangeSource, DEFAULT_LOCATION, Error, LocationCode, LocationLevel,
    LocationName, MAX_STOCK, NewLocation, OrderStatus, Page, Reason, StatusChange, StockDelta,
    Store,
};
use inventory_store_sqlite::SqliteStore;

/// One adjustment of `delta` at `location`.
fn at(delta: i64, reason: &str, location: i64) -> Adjustments {
    let a = Adjustment::new(
        StockDelta::new(delta).expect("delta"),
        Reason::parse(reason).expect("reason"),
    )
    .expect("non-zero");
    Adjustments::from(a.at(location))
}

/// A cancel returns its units to the product's stock, which must stay within the maximum. With
/// stock per location the product's stock is the sum of its locations' available units, so it
/// can reach the maximum at one location while an order holds units at another.
#[tokio::test]
async fn a_cancel_that_would_exceed_the_maximum_changes_nothing() {
    let store = SqliteStore::open_in_memory().await.expect("open");
    let p = store
        .create(new_product("MAX", 100, 1))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let east = NewLocation::new(
        LocationCode::parse("MAX-EAST").expect("code"),
        LocationName::parse("East").expect("name"),
        0,
    )
    .expect("location");
    let east = store.create_location(east).await.expect("location");
    store
        .adjust_stock(p.id, &at(MAX_STOCK, "fill up", east.id), t0())
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
    let levels = |levels: Vec<LocationLevel>| {
        levels
            .iter()
            .map(|l| (l.location_id(), l.on_hand().get(), l.committed().get()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        levels(store.product_levels(p.id).await.expect("levels")),
        vec![(DEFAULT_LOCATION, 1, 1), (east.id, MAX_STOCK, 0)],
        "the units stay committed"
    );

    // Once there is room, the same change applies.
    let room = at(-1, "room", east.id);
    store.adjust_stock(p.id, &room, t0()).await.expect("down");
    let canceled = store.change_status(o.id, &cancel, t0()).await;
    assert_eq!(canceled.expect("cancel").status, OrderStatus::Canceled);
    let ledger = store.list_movements(p.id, Page::default()).await;
    let last = ledger.expect("ledger").pop().expect("a row");
    assert_eq!(last.delta, StockDelta::returning(o.lines[0].quantity));
    assert_eq!(last.location_id, DEFAULT_LOCATION);
    assert_eq!(store.get_product(p.id).await.expect("get").stock, MAX_STOCK);
    assert_eq!(
        levels(store.product_levels(p.id).await.expect("levels")),
        vec![(DEFAULT_LOCATION, 1, 0), (east.id, MAX_STOCK - 1, 0)]
    );
}
