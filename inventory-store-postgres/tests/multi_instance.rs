//! Several `PostgresStore`s, each with its own pool, on one database: what several server
//! instances behind a load balancer do. They must be exactly as correct as one.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{TestDb, test_options};
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::testing::carts;
use inventory_core::testing::concurrency::{self, assert_invariant};
use inventory_core::testing::{StoreExt, adjustment, new_order, new_product, stock, t0};
use inventory_core::time::Duration;
use inventory_core::webhook::{EventId, PAYMENT_SUCCEEDED, SchemeVerifier, WebhookScheme};
use inventory_core::{
    ChangeSource, Error, Inventory, MovementKind, OrderStatus, Page, ProductPatch, StatusChange,
    Store, WebhookOutcome,
};
use inventory_store_postgres::PostgresStore;
use tokio::task::JoinSet;

/// Two instances on one new database, connected at the same moment (so their migrations race).
async fn two_instances() -> (PostgresStore, PostgresStore, TestDb) {
    let db = TestDb::create().await;
    let (a, b) = tokio::join!(
        PostgresStore::connect_with(&db.url, test_options()),
        PostgresStore::connect_with(&db.url, test_options()),
    );
    (a.expect("instance A"), b.expect("instance B"), db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_split_across_instances_never_oversell() {
    let (a, b, _db) = two_instances().await;
    concurrency::orders_never_oversell_across(&[a, b]).await;
}

/// 200 overlapping carts (1 to 5 lines, in every order) over two pools on one database, a
/// quarter cancelled as they race: no deadlock or backend error reaches a caller, and every
/// unit is accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_carts_across_instances_never_oversell_nor_deadlock() {
    let (a, b, _db) = two_instances().await;
    let report = carts::overlapping_carts_never_oversell_across(&[a, b]).await;
    eprintln!("two instances, 200 carts: {report:?}");
    assert!(report.placed > 0 && report.refused > 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_through_both_instances_applies_once() {
    let (a, b, _db) = two_instances().await;
    concurrency::duplicate_events_apply_once_across(&[a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_webhook_delivered_to_both_instances_pays_once() {
    let (a, b, _db) = two_instances().await;
    let secret = "multi-instance-secret";
    let inv_a = Arc::new(Inventory::new(a).with_webhook_secret(secret.as_bytes()));
    let inv_b = Arc::new(Inventory::new(b).with_webhook_secret(secret.as_bytes()));
    let p = inv_a
        .create_product(new_product("MI-3", 1250, 10))
        .await
        .expect("create");
    let o = inv_b.place_order(new_order(p.id, 2)).await.expect("order");
    let body = format!(
        r#"{{"event":"payment.succeeded","order_id":{},"amount":25.00}}"#,
        o.id
    );
    let headers = SchemeVerifier::new(WebhookScheme::Hex, &[secret])
        .expect("verifier")
        .sign(Some("mi-pay-1"), 0, body.as_bytes());
    let mut tasks = JoinSet::new();
    for i in 0..10 {
        let inv = if i % 2 == 0 {
            inv_a.clone()
        } else {
            inv_b.clone()
        };
        let (body, headers) = (body.clone(), headers.clone());
        tasks.spawn(async move { inv.process_webhook(headers, body.as_bytes()).await });
    }
    let mut paid = 0;
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok(WebhookOutcome::Paid { .. }) => paid += 1,
            Err(Error::EventAlreadyProcessed { .. }) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(
        inv_b.get_order(o.id).await.expect("get").status,
        OrderStatus::Paid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_cancels_across_instances_restore_stock_once() {
    let (a, b, _db) = two_instances().await;
    let p = a
        .create(new_product("MI-4", 100, 30))
        .await
        .expect("create");
    let inv_a = Arc::new(Inventory::new(a.clone()));
    let inv_b = Arc::new(Inventory::new(b.clone()));
    let mut orders = Vec::new();
    for _ in 0..10 {
        orders.push(inv_a.place_order(new_order(p.id, 3)).await.expect("order"));
    }
    let mut tasks = JoinSet::new();
    for o in &orders {
        for inv in [&inv_a, &inv_b, &inv_a, &inv_b] {
            let (inv, id) = (inv.clone(), o.id);
            tasks.spawn(async move { inv.cancel_order(id).await.map(|_| ()) });
        }
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok(()) => ok += 1,
            Err(Error::InvalidTransition(_)) => refused += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((ok, refused), (10, 30), "each order canceled exactly once");
    assert_eq!(b.get_product(p.id).await.expect("get").stock, 30);
    assert_invariant(&b, p.id, 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_connects_migrate_once() {
    let db = TestDb::create().await;
    let mut tasks = JoinSet::new();
    for _ in 0..4 {
        let url = db.url.clone();
        tasks.spawn(async move {
            PostgresStore::connect_with(&url, common::test_options().pool_size(2)).await
        });
    }
    let mut stores = Vec::new();
    while let Some(r) = tasks.join_next().await {
        stores.push(r.expect("task").expect("every instance connects"));
    }
    let client = db.client().await;
    let applied: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .expect("schema history")
        .get(0);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("the migrations folder")
        .count() as i64;
    assert_eq!(applied, migrations, "every migration applied exactly once");
    for s in &stores {
        s.ping().await.expect("ping");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_a_restart() {
    let db = TestDb::create().await;
    let store = PostgresStore::connect_with(&db.url, test_options())
        .await
        .expect("connect");
    let p = store
        .create(new_product("RST-1", 4999, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 3)).await.expect("order");
    let record = EventRecord {
        id: EventId::parse("rst-evt").expect("valid"),
        body_key: None,
        kind: PAYMENT_SUCCEEDED.into(),
        order_id: Some(o.id),
    };
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let source = ChangeSource::Webhook {
        event_id: record.id.as_str().to_owned(),
    };
    let effect = EventEffect::ChangeStatus {
        order_id: o.id,
        change: StatusChange::new(pay, source),
    };
    store
        .apply_event(&record, &effect, t0())
        .await
        .expect("apply");
    store.close().await.expect("close");
    drop(store);

    let store = PostgresStore::connect_with(&db.url, test_options())
        .await
        .expect("reconnect");
    assert_eq!(store.get_product(p.id).await.expect("product").stock, 7);
    let again = store.get_order(o.id).await.expect("order");
    assert_eq!(again.status, OrderStatus::Paid);
    assert_eq!(
        (again.created_at, again.lines[0].unit_price.cents()),
        (t0(), 4999)
    );
    assert!(store.event_processed(&record.id).await.expect("read"));
    assert!(matches!(
        store.apply_event(&record, &effect, t0()).await,
        Err(Error::EventAlreadyProcessed { .. })
    ));
    let next = store.order(new_order(p.id, 1)).await.expect("order");
    assert!(next.id > o.id, "ids are never reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_racing_an_order_on_another_instance_never_orphans_it() {
    let (a, b, _db) = two_instances().await;
    for i in 0..30 {
        let p = a
            .create(new_product(&format!("DR-{i}"), 100, 5))
            .await
            .expect("create");
        let (ordered, deleted) =
            tokio::join!(a.order(new_order(p.id, 1)), b.delete_product(p.id, None),);
        match (&ordered, &deleted) {
            // The order came first: the product stays, with its order.
            (Ok(o), Err(Error::ProductHasOrders { id })) => {
                assert_eq!(*id, p.id);
                assert_eq!(
                    b.get_order(o.id).await.expect("order kept").lines[0].product_id,
                    p.id
                );
            }
            // The delete came first: there was nothing to order.
            (Err(Error::ProductNotFound { id }), Ok(())) => assert_eq!(*id, p.id),
            other => panic!("impossible outcome {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_through_both_instances_creates_once() {
    let (a, b, db) = two_instances().await;
    let p = a
        .create(new_product("MI-IDEM", 100, 100))
        .await
        .expect("create");
    let key = |body: &str| {
        IdempotencyKey::new(
            "POST /orders",
            "mi-key",
            body.as_bytes(),
            t0() - Duration::hours(24),
        )
        .expect("key")
    };
    let k = Arc::new(key("body"));
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let k = k.clone();
        tasks.spawn(async move { store.place_order(new_order(p.id, 1), t0(), Some(&k)).await });
    }
    let (mut created, mut replayed) = (Vec::new(), Vec::new());
    while let Some(r) = tasks.join_next().await {
        match r.expect("task").expect("no error") {
            Idempotent::Created(o) => created.push(o),
            Idempotent::Replayed(stored) => replayed.push(stored),
        }
    }
    assert_eq!((created.len(), replayed.len()), (1, 19));
    for stored in &replayed {
        assert_eq!(
            stored, &created[0],
            "every replay answers the first response"
        );
    }
    // The schema's status column is still written, for schema compatibility.
    let status: i16 = db
        .client()
        .await
        .query_one(
            "SELECT status FROM idempotency_keys WHERE key = 'mi-key'",
            &[],
        )
        .await
        .expect("key row")
        .get(0);
    assert_eq!(status, 201);
    assert_eq!(b.get_product(p.id).await.expect("get").stock, 99);
    assert!(matches!(
        b.place_order(new_order(p.id, 2), t0(), Some(&key("other body")))
            .await,
        Err(Error::IdempotencyKeyReused { .. })
    ));
    assert_eq!(
        Inventory::new(a).verify_invariants().await.expect("verify"),
        vec![]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweeps_on_both_instances_expire_each_order_once() {
    let (a, b, _db) = two_instances().await;
    // Several products, so that concurrent sweeps lock overlapping sets of products.
    let mut products = Vec::new();
    for i in 0..4 {
        let p = a
            .create(new_product(&format!("MI-EXP-{i}"), 100, 1000))
            .await
            .expect("create");
        products.push(p.id);
    }
    let mut orders = Vec::new();
    for i in 0..120 {
        let product = products[i % products.len()];
        orders.push(
            a.order(new_order(product, 1 + (i as i64 % 3)))
                .await
                .expect("order"),
        );
    }
    // Payments race the sweeps: each order ends either PAID or expired, never both.
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let pay = Arc::new(StatusChange::new(pay, ChangeSource::Api));
    let mut payments = JoinSet::new();
    for o in orders.iter().step_by(5) {
        let (store, id, pay) = (b.clone(), o.id, pay.clone());
        payments.spawn(async move {
            let paid = store.change_status(id, &pay, t0()).await;
            (id, paid)
        });
    }
    let cutoff = t0() + Duration::minutes(1);
    let mut sweeps = JoinSet::new();
    for i in 0..6 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        sweeps.spawn(async move {
            let mut expired = Vec::new();
            loop {
                let batch = store
                    .expire_orders(&StatusChange::expiry(), cutoff, cutoff, 7)
                    .await
                    .expect("sweep");
                if batch.is_empty() {
                    return expired;
                }
                expired.extend(batch.into_iter().map(|o| o.id));
            }
        });
    }
    let mut paid = HashSet::new();
    while let Some(r) = payments.join_next().await {
        match r.expect("task") {
            (id, Ok(_)) => assert!(paid.insert(id)),
            (_, Err(Error::StatusConflict { .. })) => {}
            (_, Err(e)) => panic!("unexpected error {e:?}"),
        }
    }
    let mut expired = Vec::new();
    while let Some(r) = sweeps.join_next().await {
        expired.extend(r.expect("task"));
    }
    let expired_set: HashSet<i64> = expired.iter().copied().collect();
    assert_eq!(expired.len(), expired_set.len(), "an order expired twice");
    assert!(expired_set.is_disjoint(&paid), "a paid order expired");
    assert_eq!(
        expired.len() + paid.len(),
        orders.len(),
        "every order decided"
    );
    for o in &orders {
        let status = a.get_order(o.id).await.expect("get").status;
        let want = if paid.contains(&o.id) {
            OrderStatus::Paid
        } else {
            OrderStatus::Canceled
        };
        assert_eq!(status, want, "order {}", o.id);
        let history = b.order_history(o.id).await.expect("history");
        assert_eq!(history.len(), 2, "placed, then paid or expired once");
    }
    let mut expired_rows = 0;
    for id in &products {
        let ledger = a
            .list_movements(*id, Page::default())
            .await
            .expect("ledger");
        expired_rows += ledger
            .iter()
            .filter(|m| m.kind == MovementKind::Expired)
            .count();
    }
    assert_eq!(expired_rows, expired.len(), "stock restored once per order");
    assert_eq!(
        Inventory::new(b).verify_invariants().await.expect("verify"),
        vec![]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sets_adjustments_and_orders_keep_the_ledger_exact() {
    let (a, b, _db) = two_instances().await;
    let p = a
        .create(new_product("MI-LEDGER", 100, 50))
        .await
        .expect("create");
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    let cancel = Arc::new(StatusChange::new(cancel, ChangeSource::Api));
    let mut tasks = JoinSet::new();
    for i in 0..90i64 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let cancel = cancel.clone();
        tasks.spawn(async move {
            // Each writer's ledger row must carry exactly its own change, whatever ran between
            // its read of the stock and its write.
            match i % 3 {
                0 => {
                    let patch = ProductPatch::new().with_stock(stock(40 + i % 7));
                    store.update_product(p.id, patch, t0()).await.map(drop)
                }
                1 => {
                    let change = adjustment(if i % 2 == 0 { 3 } else { -2 }, "race");
                    store.adjust_stock(p.id, &change, t0()).await.map(drop)
                }
                _ => {
                    let o = store.order(new_order(p.id, 2)).await?;
                    if i % 4 == 0 {
                        store.change_status(o.id, &cancel, t0()).await?;
                    }
                    Ok(())
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok(()) | Err(Error::InsufficientStock { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(
        Inventory::new(a).verify_invariants().await.expect("verify"),
        vec![]
    );
}
