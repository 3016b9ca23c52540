//! Unpaid-order expiry (issue 10) with `ORDER_TTL` = 15 minutes, on a manual clock: a PENDING
//! order past the TTL reads as CANCELED with its stock back, can no longer be paid (409 "Order
//! expired", event id not recorded), and its history says `expiry` — independently of the
//! background sweeper, whose timing these tests never depend on.

use inventory_core::clock::ManualClock;
use inventory_core::time::Duration;
use serde_json::{Value, json};

use crate::helpers::extra::{manual_clock, spawn_app_on_clock};
use crate::helpers::{Backend, TestApp, id_of, ids_of, payment_body};

both_backends!(
    @backend nothing_changes_before_the_ttl,
    a_read_after_the_ttl_shows_canceled_and_the_stock_back,
    an_expired_order_cannot_be_paid_and_its_event_stays_unrecorded,
    paid_and_canceled_orders_never_expire,
    listing_shows_expired_orders_canceled,
    a_status_filtered_listing_skips_no_pending_order,
    expired_orders_are_listed_as_canceled,
    expiry_is_off_without_a_ttl,
);

const TTL_MINUTES: i64 = 15;

async fn spawn(backend: Backend) -> (TestApp, ManualClock) {
    let clock = manual_clock();
    let app = spawn_app_on_clock(backend, clock.clone(), |s| {
        s.order_ttl = Some(std::time::Duration::from_secs(TTL_MINUTES as u64 * 60));
    })
    .await;
    (app, clock)
}

fn sources(events: &Value) -> Vec<(Value, String, String)> {
    events
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|e| {
            (
                e["from_status"].clone(),
                e["to_status"].as_str().expect("to_status").to_owned(),
                e["source"].as_str().expect("source").to_owned(),
            )
        })
        .collect()
}

fn placed_then_expired() -> Vec<(Value, String, String)> {
    vec![
        (Value::Null, "PENDING".into(), "api".into()),
        (json!("PENDING"), "CANCELED".into(), "expiry".into()),
    ]
}

async fn nothing_changes_before_the_ttl(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-1", 4.0, 10).await);
    let order = app.create_order(product, 3).await;
    let id = id_of(&order);
    clock.advance(Duration::minutes(TTL_MINUTES) - Duration::seconds(1));
    assert_eq!(
        app.order(id).await,
        order,
        "unchanged one second before the TTL"
    );
    assert_eq!(app.stock(product).await, 7);
    let events = app
        .get(&format!("/orders/{id}/events"))
        .await
        .expect_json(200);
    assert_eq!(sources(&events).len(), 1, "{events}");
    // It can still be paid, and a paid order stays paid past the TTL.
    app.signed_webhook(&payment_body(id), Some("evt-in-time"))
        .await
        .assert_status(200);
    clock.advance(Duration::hours(2));
    assert_eq!(app.order_status(id).await, "PAID");
    assert_eq!(app.stock(product).await, 7);
    app.stop().await;
}

async fn a_read_after_the_ttl_shows_canceled_and_the_stock_back(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-2", 4.0, 10).await);
    let order = id_of(&app.create_order(product, 3).await);
    assert_eq!(app.stock(product).await, 7);
    clock.advance(Duration::minutes(TTL_MINUTES) + Duration::seconds(1));
    assert_eq!(app.order_status(order).await, "CANCELED");
    assert_eq!(
        app.stock(product).await,
        10,
        "the expired order's units are back"
    );
    let events = app
        .get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200);
    assert_eq!(sources(&events), placed_then_expired());
    // The ledger records the return as an expiry.
    let ledger = app
        .get(&format!("/products/{product}/adjustments"))
        .await
        .expect_json(200);
    let last = ledger
        .as_array()
        .and_then(|l| l.last())
        .expect("ledger rows");
    assert_eq!(
        (&last["kind"], &last["delta"], &last["order_id"]),
        (&json!("expired"), &json!(3), &json!(order)),
        "{ledger}"
    );
    // Reading again changes nothing more.
    clock.advance(Duration::hours(1));
    assert_eq!(app.order_status(order).await, "CANCELED");
    assert_eq!(app.stock(product).await, 10);
    let again = app
        .get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200);
    assert_eq!(sources(&again), placed_then_expired());
    // An expired order cannot be canceled again.
    app.delete(&format!("/orders/{order}"))
        .await
        .assert_status(400);
    app.stop().await;
}

fn assert_expired(reply: &crate::helpers::Reply, order: i64) {
    let body = reply.expect_json(409);
    assert_eq!(body["detail"]["error"], json!("Order expired"), "{body}");
    assert_eq!(body["detail"]["order_id"], json!(order), "{body}");
}

async fn an_expired_order_cannot_be_paid_and_its_event_stays_unrecorded(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-3", 4.0, 10).await);
    let unread = id_of(&app.create_order(product, 2).await);
    let read = id_of(&app.create_order(product, 1).await);
    clock.advance(Duration::minutes(TTL_MINUTES + 1));
    // Read first: canceled by the read, then the payment is refused.
    assert_eq!(app.order_status(read).await, "CANCELED");
    assert_expired(
        &app.signed_webhook(&payment_body(read), Some("evt-late-1"))
            .await,
        read,
    );
    // Never read: the payment itself finds it expired.
    let reply = app
        .signed_webhook(&payment_body(unread), Some("evt-late-2"))
        .await;
    assert_expired(&reply, unread);
    // The event ids were not recorded: the sender's retries get the same 409, not a 400 replay.
    for (order, event) in [(read, "evt-late-1"), (unread, "evt-late-2")] {
        let retry = app.signed_webhook(&payment_body(order), Some(event)).await;
        assert_expired(&retry, order);
    }
    // Without an X-Event-Id (the body hash stands in) likewise.
    assert_expired(
        &app.signed_webhook(&payment_body(unread), None).await,
        unread,
    );
    assert_expired(
        &app.signed_webhook(&payment_body(unread), None).await,
        unread,
    );
    for order in [read, unread] {
        assert_eq!(app.order_status(order).await, "CANCELED");
        let events = app
            .get(&format!("/orders/{order}/events"))
            .await
            .expect_json(200);
        assert_eq!(sources(&events), placed_then_expired(), "order {order}");
    }
    assert_eq!(app.stock(product).await, 10);
    // An order canceled by the API is refused with the transition body, not as expired.
    let canceled = id_of(&app.create_order(product, 1).await);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    let reply = app
        .signed_webhook(&payment_body(canceled), Some("evt-canceled"))
        .await;
    let body = reply.expect_json(409);
    assert_eq!(
        body["detail"]["error"],
        json!("Invalid status transition"),
        "{body}"
    );
    app.stop().await;
}

async fn paid_and_canceled_orders_never_expire(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-4", 4.0, 10).await);
    let paid = id_of(&app.create_order(product, 1).await);
    let shipped = id_of(&app.create_order(product, 2).await);
    let canceled = id_of(&app.create_order(product, 3).await);
    app.set_order_status(paid, "PAID").await.assert_status(200);
    app.set_order_status(shipped, "PAID")
        .await
        .assert_status(200);
    app.set_order_status(shipped, "SHIPPED")
        .await
        .assert_status(200);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    clock.advance(Duration::days(2));
    assert_eq!(app.order_status(paid).await, "PAID");
    assert_eq!(app.order_status(shipped).await, "SHIPPED");
    assert_eq!(app.order_status(canceled).await, "CANCELED");
    assert_eq!(
        app.stock(product).await,
        7,
        "canceled units returned once, only once"
    );
    for order in [paid, shipped, canceled] {
        let events = app
            .get(&format!("/orders/{order}/events"))
            .await
            .expect_json(200);
        assert!(
            sources(&events)
                .iter()
                .all(|(_, _, source)| source == "api"),
            "order {order}: {events}"
        );
    }
    app.stop().await;
}

async fn listing_shows_expired_orders_canceled(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-5", 4.0, 10).await);
    let old = id_of(&app.create_order(product, 2).await);
    clock.advance(Duration::minutes(10));
    let young = id_of(&app.create_order(product, 3).await);
    clock.advance(Duration::minutes(6));
    let list = app.get("/orders").await.expect_json(200);
    let statuses: Vec<(i64, Value)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| (id_of(o), o["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![(old, json!("CANCELED")), (young, json!("PENDING"))]
    );
    assert_eq!(app.stock(product).await, 7);
    app.stop().await;
}

/// `GET /orders?status=PENDING&limit=2` when the two oldest PENDING orders have expired: the
/// answer must not end the walk while PENDING orders remain.
async fn a_status_filtered_listing_skips_no_pending_order(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-6", 4.0, 10).await);
    let _old = [
        id_of(&app.create_order(product, 1).await),
        id_of(&app.create_order(product, 1).await),
    ];
    clock.advance(Duration::minutes(10));
    let young = vec![
        id_of(&app.create_order(product, 1).await),
        id_of(&app.create_order(product, 1).await),
    ];
    clock.advance(Duration::minutes(6));
    // Follow the Links as a client does, collecting every PENDING order.
    let mut seen = Vec::new();
    let mut next = Some("/orders?status=PENDING&limit=2".to_owned());
    while let Some(path) = next.take() {
        let reply = app.get(&path).await;
        let page = reply.expect_json(200);
        assert!(
            page.as_array()
                .expect("a list")
                .iter()
                .all(|o| o["status"] == json!("PENDING")),
            "{page}"
        );
        seen.extend(ids_of(&page));
        next = reply.header("link").map(|link| {
            link.trim_start_matches('<')
                .split('>')
                .next()
                .expect("a link target")
                .to_owned()
        });
        assert!(seen.len() <= 10, "the walk does not end");
    }
    assert_eq!(
        seen, young,
        "every PENDING order is listed once the expired ones are gone"
    );
    app.stop().await;
}

/// Reads show an expired order CANCELED: also a listing filtered on CANCELED.
async fn expired_orders_are_listed_as_canceled(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let product = id_of(&app.create_product("TTL-7", 4.0, 10).await);
    let expired = id_of(&app.create_order(product, 2).await);
    clock.advance(Duration::minutes(TTL_MINUTES + 1));
    let canceled = app.get("/orders?status=CANCELED").await.expect_json(200);
    assert_eq!(ids_of(&canceled), vec![expired], "{canceled}");
    let by_product = app
        .get(&format!("/orders?product_id={product}&status=CANCELED"))
        .await
        .expect_json(200);
    assert_eq!(ids_of(&by_product), vec![expired], "{by_product}");
    app.stop().await;
}

async fn expiry_is_off_without_a_ttl(backend: Backend) {
    let clock = manual_clock();
    let app = spawn_app_on_clock(backend, clock.clone(), |_| {}).await;
    let product = id_of(&app.create_product("TTL-OFF", 4.0, 10).await);
    let order = id_of(&app.create_order(product, 3).await);
    clock.advance(Duration::days(30));
    assert_eq!(app.order_status(order).await, "PENDING");
    assert_eq!(app.stock(product).await, 7);
    app.signed_webhook(&payment_body(order), Some("evt-month-late"))
        .await
        .assert_status(200);
    app.stop().await;
}
