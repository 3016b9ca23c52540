//! The records kept beside each change: the stock ledger, order history, expiry of unpaid
//! orders, and idempotency keys.

use std::sync::Arc;

use time::Duration;
use tokio::task::JoinSet;

use super::{StoreExt, adjustment, by_event, new_order, new_product, stock, t0};
use crate::StatusChange;
use crate::clock::ManualClock;
use crate::idempotency::{IdempotencyKey, Idempotent};
use crate::{ChangeSource, Error, Inventory, MovementKind, OrderStatus, Page, ProductPatch, Store};

fn kinds(movements: &[crate::StockMovement]) -> Vec<(MovementKind, i64, Option<i64>)> {
    movements
        .iter()
        .map(|m| (m.kind, m.delta.get(), m.order_id))
        .collect()
}

/// Every stock change writes a ledger row, and the ledger sums to the stock.
pub async fn ledger_records_every_stock_change<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("LED-1", 100, 10))
        .await
        .expect("create");
    store
        .adjust_stock(p.id, &adjustment(-3, "damaged"), t0())
        .await
        .expect("adjust");
    let o = store.order(new_order(p.id, 2)).await.expect("order");
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    store
        .change_status(o.id, &StatusChange::new(cancel, ChangeSource::Api), t0())
        .await
        .expect("cancel");
    let set = ProductPatch::new().with_stock(stock(20));
    store.update_product(p.id, set, t0()).await.expect("set");
    let same = ProductPatch::new().with_stock(stock(20));
    store
        .update_product(p.id, same, t0())
        .await
        .expect("set unchanged");
    assert!(
        store
            .adjust_stock(p.id, &adjustment(-21, "too many"), t0())
            .await
            .is_err()
    );

    let ledger = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger");
    assert_eq!(
        kinds(&ledger),
        vec![
            (MovementKind::Initial, 10, None),
            (MovementKind::Adjustment, -3, None),
            (MovementKind::OrderPlaced, -2, Some(o.id)),
            (MovementKind::OrderCanceled, 2, Some(o.id)),
            (MovementKind::Set, 13, None),
        ]
    );
    assert_eq!(ledger[1].reason, "damaged");
    assert_eq!(ledger[0].reason, "initial");
    assert!(
        ledger.windows(2).all(|w| w[0].id < w[1].id),
        "ledger ordered by id"
    );
    assert_eq!(ledger.iter().map(|m| m.delta.get()).sum::<i64>(), 20);
    let page = store
        .list_movements(p.id, Page::new(0, 2).expect("page").after(ledger[2].id))
        .await;
    assert_eq!(kinds(&page.expect("page")), kinds(&ledger[3..5]));
    assert!(matches!(
        store.list_movements(999, Page::default()).await,
        Err(Error::ProductNotFound { .. })
    ));
    let inv = Inventory::new(store);
    assert_eq!(inv.verify_invariants().await.expect("verify"), vec![]);
}

/// Every status change is in the order's history with its source.
pub async fn history_records_every_status_change<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("HIS-1", 100, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let record = crate::store::EventRecord {
        id: crate::webhook::EventId::parse("his-evt").expect("valid"),
        body_key: None,
        kind: crate::webhook::PAYMENT_SUCCEEDED.into(),
        order_id: Some(o.id),
    };
    let effect = crate::store::EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&record, pay),
    };
    store
        .apply_event(&record, &effect, t0())
        .await
        .expect("pay");
    let noop = OrderStatus::Paid
        .transition_to(OrderStatus::Paid)
        .expect("noop");
    store
        .change_status(o.id, &StatusChange::new(noop, ChangeSource::Api), t0())
        .await
        .expect("noop");
    let ship = OrderStatus::Paid
        .transition_to(OrderStatus::Shipped)
        .expect("allowed");
    let later = t0() + Duration::hours(1);
    store
        .change_status(o.id, &StatusChange::new(ship, ChangeSource::Api), later)
        .await
        .expect("ship");
    let history = store.order_history(o.id).await.expect("history");
    let summary: Vec<_> = history
        .iter()
        .map(|e| (e.from_status, e.to_status, e.source.clone()))
        .collect();
    use OrderStatus::*;
    assert_eq!(
        summary,
        vec![
            (None, Pending, ChangeSource::Api),
            (
                Some(Pending),
                Paid,
                ChangeSource::Webhook {
                    event_id: "his-evt".into()
                }
            ),
            (Some(Paid), Shipped, ChangeSource::Api),
        ]
    );
    assert_eq!(history[2].created_at, later);
    assert!(matches!(
        store.order_history(999).await,
        Err(Error::OrderNotFound { .. })
    ));
}

/// PENDING orders past their time are canceled with their units returned, once.
pub async fn expiry_cancels_old_pending_orders<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("EXP-1", 100, 10))
        .await
        .expect("create");
    let old = store
        .place_order(new_order(p.id, 2), t0(), None)
        .await
        .expect("order");
    let Idempotent::Created(old) = old else {
        panic!("created")
    };
    let paid = store.order(new_order(p.id, 1)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    store
        .change_status(paid.id, &StatusChange::new(pay, ChangeSource::Api), t0())
        .await
        .expect("pay");
    let fresh_at = t0() + Duration::minutes(30);
    let fresh = store
        .place_order(new_order(p.id, 3), fresh_at, None)
        .await
        .expect("order");
    let Idempotent::Created(fresh) = fresh else {
        panic!("created")
    };
    let cutoff = t0() + Duration::minutes(15);
    let now = t0() + Duration::minutes(31);
    let expired = store
        .expire_orders(&StatusChange::expiry(), cutoff, now, 100)
        .await
        .expect("expire");
    assert_eq!(
        expired.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![old.id]
    );
    assert_eq!(expired[0].status, OrderStatus::Canceled);
    assert_eq!(
        store.get_order(paid.id).await.expect("get").status,
        OrderStatus::Paid
    );
    assert_eq!(
        store.get_order(fresh.id).await.expect("get").status,
        OrderStatus::Pending
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 6);
    assert!(
        store
            .expire_orders(&StatusChange::expiry(), cutoff, now, 100)
            .await
            .expect("again")
            .is_empty()
    );
    let ledger = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger");
    assert_eq!(
        ledger.last().map(|m| (m.kind, m.delta.get())),
        Some((MovementKind::Expired, 2))
    );
    let history = store.order_history(old.id).await.expect("history");
    assert_eq!(
        history.last().map(|e| e.source.clone()),
        Some(ChangeSource::Expiry)
    );
}

/// Through `Inventory` with an order TTL: expired orders read as CANCELED and cannot be paid,
/// with no sweeper running.
pub async fn expired_orders_cannot_be_paid<S: Store + Clone>(store: S) {
    let clock = ManualClock::new(t0());
    let secret = b"expiry-secret";
    let inv = Inventory::new(store.clone())
        .with_clock(clock.clone())
        .with_order_ttl(Duration::minutes(15))
        .with_webhook_secret(secret);
    let p = inv
        .create_product(new_product("EXP-2", 100, 5))
        .await
        .expect("create");
    let o = inv.place_order(new_order(p.id, 5)).await.expect("order");
    clock.advance(Duration::minutes(14));
    assert_eq!(
        inv.get_order(o.id).await.expect("get").status,
        OrderStatus::Pending
    );
    clock.advance(Duration::minutes(1));
    assert_eq!(
        inv.get_order(o.id).await.expect("get").status,
        OrderStatus::Canceled
    );
    assert_eq!(inv.get_product(p.id).await.expect("get").stock, 5);
    let body = format!(r#"{{"event":"payment.succeeded","order_id":{}}}"#, o.id);
    let sig = crate::webhook::WebhookVerifier::new(secret).sign(body.as_bytes());
    let h = super::WebhookHeaders {
        signature: Some(&sig),
        event_id: Some("late-pay"),
    };
    assert!(matches!(
        inv.process_webhook(h, body.as_bytes()).await,
        Err(Error::OrderExpired { .. })
    ));
    assert!(
        !store
            .event_processed(&crate::webhook::EventId::parse("late-pay").expect("id"))
            .await
            .expect("read")
    );
    let listed = inv
        .list_orders(crate::OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert_eq!(listed[0].status, OrderStatus::Canceled);
    assert_eq!(inv.expire_due_orders().await.expect("sweep"), vec![]);
    assert_eq!(inv.verify_invariants().await.expect("verify"), vec![]);
}

fn key(k: &str, body: &str) -> IdempotencyKey {
    IdempotencyKey::new(
        "POST /orders",
        k,
        body.as_bytes(),
        t0() - Duration::hours(24),
    )
    .expect("key")
}

/// A repeated key replays the stored answer and creates nothing; another body is refused.
pub async fn idempotency_key_replays_and_refuses_other_bodies<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("IDEM-1", 100, 10))
        .await
        .expect("create");
    let k = key("order-1", "body-a");
    let first = store
        .place_order(new_order(p.id, 2), t0(), Some(&k))
        .await
        .expect("order");
    let Idempotent::Created(order) = first else {
        panic!("first call creates")
    };
    let again = store
        .place_order(new_order(p.id, 2), t0(), Some(&k))
        .await
        .expect("replay");
    match again {
        Idempotent::Replayed(replayed) => assert_eq!(replayed, order, "the first answer"),
        Idempotent::Created(_) => panic!("replay created a second order"),
    }
    assert_eq!(
        store.get_product(p.id).await.expect("get").stock,
        8,
        "replay took stock"
    );
    let other = key("order-1", "body-b");
    assert!(matches!(
        store
            .place_order(new_order(p.id, 3), t0(), Some(&other))
            .await,
        Err(Error::IdempotencyKeyReused { .. })
    ));
    // Scopes are separate: the same key on products is a different key.
    let pk = IdempotencyKey::new("POST /products", "order-1", b"p", t0()).expect("key");
    let made = store
        .create_product(new_product("IDEM-2", 100, 1), t0(), Some(&pk))
        .await;
    assert!(matches!(made, Ok(Idempotent::Created(_))));
    let replay = store
        .create_product(new_product("IDEM-2", 100, 1), t0(), Some(&pk))
        .await;
    assert!(matches!(replay, Ok(Idempotent::Replayed(_))), "{replay:?}");
    // A failed create stores nothing: the retry runs again.
    let k2 = key("order-2", "too-many");
    assert!(
        store
            .place_order(new_order(p.id, 100), t0(), Some(&k2))
            .await
            .is_err()
    );
    assert!(matches!(
        store.place_order(new_order(p.id, 1), t0(), Some(&k2)).await,
        Ok(Idempotent::Created(_))
    ));
}

/// Keys older than their window are forgotten, and purged.
pub async fn idempotency_keys_expire<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("IDEM-3", 100, 10))
        .await
        .expect("create");
    let k = key("order-x", "body");
    store
        .place_order(new_order(p.id, 1), t0(), Some(&k))
        .await
        .expect("order");
    let later = t0() + Duration::hours(25);
    let k_later = IdempotencyKey::new(
        "POST /orders",
        "order-x",
        b"body",
        later - Duration::hours(24),
    )
    .expect("key");
    let r = store
        .place_order(new_order(p.id, 1), later, Some(&k_later))
        .await
        .expect("order");
    assert!(
        matches!(r, Idempotent::Created(_)),
        "an expired key must not replay"
    );
    let k3 = key("order-y", "body");
    store
        .place_order(new_order(p.id, 1), t0(), Some(&k3))
        .await
        .expect("order");
    assert_eq!(
        store
            .purge_idempotency_keys(t0() + Duration::seconds(1))
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 7);
}

/// 20 concurrent requests with one key create exactly one order; the rest replay it.
pub async fn concurrent_idempotent_requests_create_once<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("IDEM-4", 100, 100))
        .await
        .expect("create");
    let k = Arc::new(key("same-key", "same-body"));
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let (store, k) = (store.clone(), k.clone());
        tasks.spawn(async move { store.place_order(new_order(p.id, 1), t0(), Some(&k)).await });
    }
    let (mut created, mut replayed) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("task").expect("no error") {
            Idempotent::Created(_) => created += 1,
            Idempotent::Replayed(_) => replayed += 1,
        }
    }
    assert_eq!((created, replayed), (1, 19));
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 99);
}
