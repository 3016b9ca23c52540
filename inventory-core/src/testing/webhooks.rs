//! Webhook events in the store: recorded with their effect, applied once, and the whole
//! webhook path of `Inventory` in the contract's order of checks.

use super::WebhookHeaders;
use super::{StoreExt, by_event, new_order, new_product, t0};
use crate::clock::ManualClock;
use crate::store::{EventEffect, EventRecord};
use crate::webhook::EventId;
use crate::webhook::WebhookVerifier;
use crate::{Error, Inventory, OrderStatus, Store, WebhookOutcome};

pub(super) fn event(id: &str, order_id: Option<i64>) -> EventRecord {
    EventRecord {
        id: EventId::parse(id).expect("valid id"),
        body_key: None,
        kind: crate::webhook::PAYMENT_SUCCEEDED.into(),
        order_id,
    }
}

/// An event id is recorded with its effect and never applies twice.
pub async fn webhook_event_applies_once<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("EVT-1", 100, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let record = event("evt-once", Some(o.id));
    assert!(!store.event_processed(&record.id).await.expect("read"));
    let effect = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&record, pay),
    };
    let after = store
        .apply_event(&record, &effect, t0())
        .await
        .expect("apply");
    assert_eq!(after.map(|o| o.status), Some(OrderStatus::Paid));
    assert!(store.event_processed(&record.id).await.expect("read"));
    let noop = OrderStatus::Paid
        .transition_to(OrderStatus::Paid)
        .expect("noop");
    let again = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&record, noop),
    };
    assert!(matches!(
        store.apply_event(&record, &again, t0()).await,
        Err(Error::EventAlreadyProcessed { event_id }) if event_id == "evt-once"
    ));
    let ignored = event("evt-ignored", None);
    assert_eq!(
        store
            .apply_event(&ignored, &EventEffect::RecordOnly, t0())
            .await
            .expect("record"),
        None
    );
    assert!(store.event_processed(&ignored.id).await.expect("read"));
    assert!(matches!(
        store
            .apply_event(&ignored, &EventEffect::RecordOnly, t0())
            .await,
        Err(Error::EventAlreadyProcessed { .. })
    ));
}

/// An event's body key is recorded with its id: either one already recorded refuses the event
/// (naming the key), and a refused event records neither.
pub async fn body_key_applies_once_under_any_id<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("EVT-BODY", 100, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let body = EventId::from_body(b"the signed body");
    let keyed = |id: &str| EventRecord {
        body_key: Some(body.clone()),
        ..event(id, Some(o.id))
    };
    let first = keyed("evt-first");
    let effect = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&first, pay),
    };
    store
        .apply_event(&first, &effect, t0())
        .await
        .expect("first delivery");
    assert!(store.event_processed(&body).await.expect("read"));
    // The same body under a fresh id: refused on the body key, and the fresh id stays free.
    let fresh_record = keyed("evt-fresh");
    let noop = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(
            &fresh_record,
            OrderStatus::Paid
                .transition_to(OrderStatus::Paid)
                .expect("noop"),
        ),
    };
    assert!(matches!(
        store.apply_event(&fresh_record, &noop, t0()).await,
        Err(Error::EventAlreadyProcessed { event_id }) if event_id == body.as_str()
    ));
    let fresh = EventId::parse("evt-fresh").expect("valid");
    assert!(!store.event_processed(&fresh).await.expect("read"));
    // A body key that is an id already recorded refuses the event too.
    let other = EventRecord {
        body_key: Some(EventId::parse("evt-first").expect("valid")),
        ..event("evt-other", None)
    };
    assert!(matches!(
        store.apply_event(&other, &EventEffect::RecordOnly, t0()).await,
        Err(Error::EventAlreadyProcessed { event_id }) if event_id == "evt-first"
    ));
    let other_id = EventId::parse("evt-other").expect("valid");
    assert!(!store.event_processed(&other_id).await.expect("read"));
}

/// A failed effect records nothing, so the sender's retry can still succeed.
pub async fn failed_webhook_event_leaves_no_trace<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("EVT-2", 100, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let record = event("evt-retry", Some(o.id));
    let stale = OrderStatus::Paid
        .transition_to(OrderStatus::Shipped)
        .expect("allowed");
    let effect = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&record, stale),
    };
    assert!(matches!(
        store.apply_event(&record, &effect, t0()).await,
        Err(Error::StatusConflict { .. })
    ));
    assert!(
        !store.event_processed(&record.id).await.expect("read"),
        "failed event was recorded"
    );
    assert_eq!(
        store.get_order(o.id).await.expect("get").status,
        OrderStatus::Pending
    );
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let effect = EventEffect::ChangeStatus {
        order_id: o.id,
        change: by_event(&record, pay),
    };
    store
        .apply_event(&record, &effect, t0())
        .await
        .expect("retry succeeds");
    assert_eq!(
        store.get_order(o.id).await.expect("get").status,
        OrderStatus::Paid
    );
}

/// The whole webhook path of [`Inventory`] over this store, in the contract's order of checks.
pub async fn webhook_through_inventory<S: Store + Clone>(store: S) {
    let secret = b"conformance-secret";
    let inv = Inventory::new(store)
        .with_clock(ManualClock::new(t0()))
        .with_webhook_secret(secret);
    let signer = WebhookVerifier::new(secret);
    let p = inv
        .create_product(new_product("WH-1", 1000, 10))
        .await
        .expect("create");
    let o = inv.place_order(new_order(p.id, 2)).await.expect("order");
    let body = format!(
        r#"{{"event":"payment.succeeded","order_id":{},"amount":20.00}}"#,
        o.id
    );
    let sig = signer.sign(body.as_bytes());
    let headers = WebhookHeaders {
        signature: Some(&sig),
        event_id: Some("wh-evt-1"),
    };
    let bad = WebhookHeaders {
        signature: Some("00"),
        event_id: Some("wh-evt-1"),
    };
    assert!(matches!(
        inv.process_webhook(bad, body.as_bytes()).await,
        Err(Error::InvalidSignature)
    ));
    let wrong = format!(
        r#"{{"event":"payment.succeeded","order_id":{},"amount":19.99}}"#,
        o.id
    );
    let wrong_sig = signer.sign(wrong.as_bytes());
    let h = WebhookHeaders {
        signature: Some(&wrong_sig),
        event_id: Some("wh-evt-1"),
    };
    assert!(matches!(
        inv.process_webhook(h, wrong.as_bytes()).await,
        Err(Error::AmountMismatch { .. })
    ));
    assert_eq!(
        inv.get_order(o.id).await.expect("get").status,
        OrderStatus::Pending
    );
    match inv.process_webhook(headers, body.as_bytes()).await {
        Ok(WebhookOutcome::Paid { order }) => assert_eq!(order.status, OrderStatus::Paid),
        other => panic!("expected Paid, got {other:?}"),
    }
    assert!(matches!(
        inv.process_webhook(headers, body.as_bytes()).await,
        Err(Error::EventAlreadyProcessed { .. })
    ));
    // The hex scheme does not sign the id: the same body under a fresh id is a replay.
    let h2 = WebhookHeaders {
        signature: Some(&sig),
        event_id: Some("wh-evt-2"),
    };
    assert!(matches!(
        inv.process_webhook(h2, body.as_bytes()).await,
        Err(Error::EventAlreadyProcessed { event_id }) if event_id == EventId::from_body(body.as_bytes()).as_str()
    ));
    // Another body (the same payment, written differently) is another event.
    let again = format!(
        r#"{{"event":"payment.succeeded","order_id":{},"amount":20.0}}"#,
        o.id
    );
    let again_sig = signer.sign(again.as_bytes());
    let h2 = WebhookHeaders {
        signature: Some(&again_sig),
        event_id: Some("wh-evt-2"),
    };
    assert!(matches!(
        inv.process_webhook(h2, again.as_bytes()).await,
        Ok(WebhookOutcome::AlreadyPaid { .. })
    ));
    inv.cancel_order(o.id).await.expect("cancel paid");
    assert_eq!(inv.get_product(p.id).await.expect("get").stock, 10);
    let late = format!(r#"{{"event":"payment.succeeded","order_id":{}}}"#, o.id);
    let late_sig = signer.sign(late.as_bytes());
    let h3 = WebhookHeaders {
        signature: Some(&late_sig),
        event_id: Some("wh-evt-3"),
    };
    assert!(matches!(
        inv.process_webhook(h3, late.as_bytes()).await,
        Err(Error::InvalidTransition(_))
    ));
    let other = br#"{"event":"refund.created","order_id":1}"#;
    let osig = signer.sign(other);
    let h4 = WebhookHeaders {
        signature: Some(&osig),
        event_id: None,
    };
    assert!(matches!(
        inv.process_webhook(h4, other).await,
        Ok(WebhookOutcome::Ignored { .. })
    ));
    assert!(matches!(
        inv.process_webhook(h4, other).await,
        Err(Error::EventAlreadyProcessed { .. })
    ));
}
