//! The decisions are core's: for the same operations every store writes the same records and
//! refuses with the same typed errors. A store that re-decided anything (a ledger kind, a
//! history source, a bound, a refusal's numbers) fails here.

use time::Duration;

use super::webhooks::event;
use super::{StoreExt, adjustment, by_event, new_order, new_product, stock, t0};
use crate::idempotency::IdempotencyKey;
use crate::store::EventEffect;
use crate::{
    ChangeSource, Error, MAX_STOCK, MovementKind, OrderStatus, Page, ProductPatch, Sku,
    StatusChange, Store,
};

/// One fixed sequence (adjustments, a stock set, orders canceled by the API, by a webhook's
/// payment then the API, and by the expiry) must leave exactly this ledger and this history.
pub async fn same_operations_write_the_same_records<S: Store + Clone>(store: S) {
    use MovementKind::*;
    use OrderStatus::*;
    let p = store
        .create(new_product("REC-1", 250, 10))
        .await
        .expect("create");
    for (delta, reason) in [(-3, "damaged"), (5, "found on shelf")] {
        store
            .adjust_stock(p.id, &adjustment(delta, reason), t0())
            .await
            .expect("adjust");
    }
    let patch = ProductPatch::new().with_stock(stock(20));
    store.update_product(p.id, patch, t0()).await.expect("set");
    let api = store.order(new_order(p.id, 2)).await.expect("order");
    let cancel = Pending.transition_to(Canceled).expect("allowed");
    let by_api = StatusChange::new(cancel, ChangeSource::Api);
    store
        .change_status(api.id, &by_api, t0())
        .await
        .expect("cancel");
    let paid = store.order(new_order(p.id, 3)).await.expect("order");
    let record = event("rec-pay", Some(paid.id));
    let pay = EventEffect::ChangeStatus {
        order_id: paid.id,
        change: by_event(&record, Pending.transition_to(Paid).expect("allowed")),
    };
    store.apply_event(&record, &pay, t0()).await.expect("pay");
    let refund = StatusChange::new(
        Paid.transition_to(Canceled).expect("allowed"),
        ChangeSource::Api,
    );
    store
        .change_status(paid.id, &refund, t0())
        .await
        .expect("cancel paid");
    let late = store.order(new_order(p.id, 4)).await.expect("order");
    let expired = store
        .expire_orders(
            &StatusChange::expiry(),
            t0() + Duration::seconds(1),
            t0(),
            10,
        )
        .await
        .expect("expire");
    assert_eq!(expired.iter().map(|o| o.id).collect::<Vec<_>>(), [late.id]);

    let ledger: Vec<_> = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger")
        .into_iter()
        .map(|m| (m.kind, m.delta.get(), m.reason, m.order_id))
        .collect();
    let own = |kind: MovementKind| kind.as_str().to_owned();
    assert_eq!(
        ledger,
        [
            (Initial, 10, own(Initial), None),
            (Adjustment, -3, "damaged".to_owned(), None),
            (Adjustment, 5, "found on shelf".to_owned(), None),
            (Set, 8, own(Set), None),
            (OrderPlaced, -2, own(OrderPlaced), Some(api.id)),
            (OrderCanceled, 2, own(OrderCanceled), Some(api.id)),
            (OrderPlaced, -3, own(OrderPlaced), Some(paid.id)),
            (OrderCanceled, 3, own(OrderCanceled), Some(paid.id)),
            (OrderPlaced, -4, own(OrderPlaced), Some(late.id)),
            (Expired, 4, own(Expired), Some(late.id)),
        ]
    );
    let webhook = ChangeSource::Webhook {
        event_id: "rec-pay".into(),
    };
    for (order, want) in [
        (
            api.id,
            vec![
                (None, Pending, ChangeSource::Api),
                (Some(Pending), Canceled, ChangeSource::Api),
            ],
        ),
        (
            paid.id,
            vec![
                (None, Pending, ChangeSource::Api),
                (Some(Pending), Paid, webhook.clone()),
                (Some(Paid), Canceled, ChangeSource::Api),
            ],
        ),
        (
            late.id,
            vec![
                (None, Pending, ChangeSource::Api),
                (Some(Pending), Canceled, ChangeSource::Expiry),
            ],
        ),
    ] {
        let got: Vec<_> = store
            .order_history(order)
            .await
            .expect("history")
            .into_iter()
            .map(|e| (e.from_status, e.to_status, e.source))
            .collect();
        assert_eq!(got, want, "history of order {order}");
    }
    assert_eq!(
        store.get_product(p.id).await.expect("get").stock,
        20,
        "every unit came back"
    );
}

/// Each refusal is the same typed error, with the same numbers, from every store.
pub async fn refusals_are_the_same_typed_errors<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("REF-1", 100, 5))
        .await
        .expect("create");
    let q = store
        .create(new_product("REF-2", 100, 5))
        .await
        .expect("create");
    match store.create(new_product("REF-1", 1, 1)).await {
        Err(Error::DuplicateSku { sku }) => assert_eq!(sku.as_str(), "REF-1"),
        other => panic!("duplicate SKU on create: {other:?}"),
    }
    let taken = ProductPatch::new().with_sku(Sku::parse("REF-1").expect("valid"));
    match store.update_product(q.id, taken, t0()).await {
        Err(Error::DuplicateSku { sku }) => assert_eq!(sku.as_str(), "REF-1"),
        other => panic!("duplicate SKU on update: {other:?}"),
    }
    match store.order(new_order(p.id, 6)).await {
        Err(Error::InsufficientStock {
            product_id,
            requested,
            available,
            ..
        }) => assert_eq!((product_id, requested.get(), available.get()), (p.id, 6, 5)),
        other => panic!("short order: {other:?}"),
    }
    match store
        .adjust_stock(p.id, &adjustment(-7, "too many"), t0())
        .await
    {
        Err(Error::InsufficientStock {
            product_id,
            requested,
            available,
            ..
        }) => assert_eq!((product_id, requested.get(), available.get()), (p.id, 7, 5)),
        other => panic!("short adjustment: {other:?}"),
    }
    match store
        .adjust_stock(p.id, &adjustment(MAX_STOCK, "too much"), t0())
        .await
    {
        Err(Error::StockAboveMaximum { product_id }) => assert_eq!(product_id, p.id),
        other => panic!("adjustment above the maximum: {other:?}"),
    }
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let ship = StatusChange::new(
        OrderStatus::Paid
            .transition_to(OrderStatus::Shipped)
            .expect("allowed"),
        ChangeSource::Api,
    );
    match store.change_status(o.id, &ship, t0()).await {
        Err(Error::StatusConflict {
            id,
            expected,
            current,
        }) => assert_eq!(
            (id, expected, current),
            (o.id, OrderStatus::Paid, OrderStatus::Pending)
        ),
        other => panic!("stale compare-and-set: {other:?}"),
    }
    match store.delete_product(p.id, None).await {
        Err(Error::ProductHasOrders { id }) => assert_eq!(id, p.id),
        other => panic!("delete with orders: {other:?}"),
    }
    let record = event("ref-evt", None);
    store
        .apply_event(&record, &EventEffect::RecordOnly, t0())
        .await
        .expect("record");
    match store
        .apply_event(&record, &EventEffect::RecordOnly, t0())
        .await
    {
        Err(Error::EventAlreadyProcessed { event_id }) => assert_eq!(event_id, "ref-evt"),
        other => panic!("duplicate event: {other:?}"),
    }
    let key = |body: &[u8]| {
        IdempotencyKey::new("POST /orders", "ref-key", body, t0()).expect("valid key")
    };
    store
        .place_order(new_order(q.id, 1), t0(), Some(&key(b"a")))
        .await
        .expect("keyed order");
    match store
        .place_order(new_order(q.id, 1), t0(), Some(&key(b"b")))
        .await
    {
        Err(Error::IdempotencyKeyReused { key }) => assert_eq!(key, "ref-key"),
        other => panic!("reused key: {other:?}"),
    }
    for missing in [
        store.get_product(999).await.map(drop),
        store.delete_product(999, None).await,
        store
            .adjust_stock(999, &adjustment(1, "x"), t0())
            .await
            .map(drop),
        store.order(new_order(999, 1)).await.map(drop),
        store.list_movements(999, Page::default()).await.map(drop),
    ] {
        assert!(
            matches!(missing, Err(Error::ProductNotFound { id: 999 })),
            "{missing:?}"
        );
    }
    for missing in [
        store.get_order(999).await.map(drop),
        store.change_status(999, &ship, t0()).await.map(drop),
        store.order_history(999).await.map(drop),
    ] {
        assert!(
            matches!(missing, Err(Error::OrderNotFound { id: 999 })),
            "{missing:?}"
        );
    }
    assert_eq!(
        store.get_product(p.id).await.expect("get").stock,
        4,
        "refusals took nothing"
    );
}
