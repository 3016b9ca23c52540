//! Cases with many concurrent clients on one store: what must hold whatever the interleaving.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::WebhookHeaders;
use super::{StoreExt, by_event, new_order, new_product, t0};
use crate::store::{EventEffect, EventRecord};
use crate::webhook::EventId;
use crate::webhook::WebhookVerifier;
use crate::{Error, Inventory, OrderFilter, OrderStatus, Page, Store};

/// Checks the invariant for one product: stock = `base` − Σ quantity of its orders that hold
/// stock, and stock ≥ 0. `base` is initial stock plus adjustments.
pub async fn assert_invariant<S: Store>(store: &S, product_id: i64, base: i64) {
    let stock = store.get_product(product_id).await.expect("product").stock;
    let mut held = 0;
    let mut after = None;
    loop {
        let mut page = Page::new(0, Page::MAX_LIMIT).expect("valid page");
        if let Some(a) = after {
            page = page.after(a);
        }
        let filter = OrderFilter {
            status: None,
            product_id: Some(product_id),
            ..OrderFilter::default()
        };
        let orders = store.list_orders(filter, page).await.expect("list");
        let Some(last) = orders.last() else { break };
        after = Some(last.id);
        held += orders
            .iter()
            .filter(|o| o.status.holds_stock())
            .flat_map(|o| &o.lines)
            .filter(|l| l.product_id == product_id)
            .map(|l| l.quantity.get())
            .sum::<i64>();
    }
    assert!(stock >= 0, "negative stock {stock}");
    assert_eq!(
        stock,
        base - held,
        "stock {stock} != base {base} - held {held}"
    );
}

/// 200 concurrent single-unit orders against stock 50: exactly 50 succeed, stock ends at 0.
pub async fn concurrent_orders_never_oversell<S: Store + Clone>(store: S) {
    orders_never_oversell_across(&[store]).await;
}

/// [`concurrent_orders_never_oversell`] with the orders spread round-robin over several
/// handles on one database — separate pools or processes, as several server instances are.
pub async fn orders_never_oversell_across<S: Store + Clone>(instances: &[S]) {
    let first = &instances[0];
    let p = first
        .create(new_product("RACE-1", 100, 50))
        .await
        .expect("create");
    let mut tasks = JoinSet::new();
    for i in 0..200 {
        let store = instances[i % instances.len()].clone();
        tasks.spawn(async move { store.order(new_order(p.id, 1)).await });
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok(_) => ok += 1,
            Err(Error::InsufficientStock {
                available,
                requested,
                ..
            }) if available == 0 && requested == 1 => refused += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((ok, refused), (50, 150));
    for store in instances {
        assert_eq!(store.get_product(p.id).await.expect("get").stock, 0);
    }
    assert_invariant(first, p.id, 50).await;
}

/// Concurrent pay, cancel and ship on the same orders: every order ends in a reachable state,
/// no stock is restored twice, and the invariant holds.
pub async fn concurrent_status_changes_keep_invariant<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("RACE-2", 100, 100))
        .await
        .expect("create");
    let inv = Arc::new(Inventory::new(store.clone()));
    let mut orders = Vec::new();
    for q in 1..=20 {
        orders.push(
            inv.place_order(new_order(p.id, q % 4 + 1))
                .await
                .expect("order")
                .id,
        );
    }
    let mut tasks = JoinSet::new();
    for (i, id) in orders.iter().copied().enumerate() {
        for target in [
            OrderStatus::Paid,
            OrderStatus::Canceled,
            OrderStatus::Shipped,
            OrderStatus::Canceled,
        ] {
            let inv = inv.clone();
            tasks.spawn(async move {
                let r = if i % 2 == 0 {
                    inv.set_order_status(id, target).await
                } else {
                    inv.cancel_order(id).await
                };
                match r {
                    Ok(_) | Err(Error::InvalidTransition(_)) => {}
                    Err(e) => panic!("unexpected error {e:?}"),
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    for id in orders {
        let o = store.get_order(id).await.expect("get");
        assert!(
            matches!(
                o.status,
                OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Canceled
            ),
            "order {id} ended {}",
            o.status
        );
    }
    assert_invariant(&store, p.id, 100).await;
}

/// The same event id delivered 20 times concurrently applies exactly once.
pub async fn concurrent_duplicate_events_apply_once<S: Store + Clone>(store: S) {
    duplicate_events_apply_once_across(&[store]).await;
}

/// [`concurrent_duplicate_events_apply_once`] with the deliveries spread round-robin over
/// several handles on one database.
pub async fn duplicate_events_apply_once_across<S: Store + Clone>(instances: &[S]) {
    let first = &instances[0];
    let p = first
        .create(new_product("RACE-3", 100, 10))
        .await
        .expect("create");
    let o = first.order(new_order(p.id, 1)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let record = EventRecord {
        id: EventId::parse("evt-concurrent").expect("valid"),
        body_key: None,
        kind: crate::webhook::PAYMENT_SUCCEEDED.into(),
        order_id: Some(o.id),
    };
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (store, record) = (instances[i % instances.len()].clone(), record.clone());
        let effect = EventEffect::ChangeStatus {
            order_id: o.id,
            change: by_event(&record, pay),
        };
        tasks.spawn(async move { store.apply_event(&record, &effect, t0()).await });
    }
    let (mut applied, mut replayed) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            Ok(after) => {
                assert_eq!(after.map(|o| o.status), Some(OrderStatus::Paid));
                applied += 1;
            }
            // A loser that reads PAID before seeing the event row fails its compare-and-set.
            Err(Error::EventAlreadyProcessed { .. } | Error::StatusConflict { .. }) => {
                replayed += 1
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((applied, replayed), (1, 19));
    for store in instances {
        assert!(store.event_processed(&record.id).await.expect("read"));
        assert_eq!(
            store.get_order(o.id).await.expect("get").status,
            OrderStatus::Paid
        );
    }
}

/// Signed payments racing cancellations through [`Inventory`]: each order is paid or canceled,
/// every distinct event applies at most once, and the invariant holds.
pub async fn concurrent_webhooks_and_cancels_keep_invariant<S: Store + Clone>(store: S) {
    let secret = b"race-secret";
    let inv = Arc::new(Inventory::new(store.clone()).with_webhook_secret(secret));
    let signer = WebhookVerifier::new(secret);
    let p = inv
        .create_product(new_product("RACE-4", 250, 60))
        .await
        .expect("create");
    let mut tasks = JoinSet::new();
    for _ in 0..15 {
        let o = inv.place_order(new_order(p.id, 2)).await.expect("order");
        let body = format!(
            r#"{{"event":"payment.succeeded","order_id":{},"amount":5.00}}"#,
            o.id
        );
        let sig = signer.sign(body.as_bytes());
        for delivery in 0..3 {
            let (inv, body, sig) = (inv.clone(), body.clone(), sig.clone());
            tasks.spawn(async move {
                let event_id = format!("pay-{}", o.id);
                let h = WebhookHeaders {
                    signature: Some(&sig),
                    event_id: Some(&event_id),
                };
                match inv.process_webhook(h, body.as_bytes()).await {
                    Ok(_)
                    | Err(Error::EventAlreadyProcessed { .. } | Error::InvalidTransition(_)) => {}
                    Err(e) => panic!("delivery {delivery}: unexpected {e:?}"),
                }
            });
        }
        let inv = inv.clone();
        tasks.spawn(async move {
            match inv.cancel_order(o.id).await {
                Ok(_) | Err(Error::InvalidTransition(_)) => {}
                Err(e) => panic!("cancel: unexpected {e:?}"),
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    assert_invariant(&store, p.id, 60).await;
}
