//! Order history (issue 10): `GET /orders/{id}/events` lists every status change oldest first,
//! with its source (`api`, `webhook` with the event id, `expiry`) and time.

use inventory_core::time::OffsetDateTime;
use inventory_core::time::format_description::well_known::Rfc3339;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, payment_body};

both_backends!(
    a_paid_and_shipped_order_tells_its_story,
    cancels_are_recorded_with_their_source,
    refused_and_no_op_changes_are_not_recorded,
    an_unnamed_webhook_event_is_recorded_by_its_body_hash,
    unknown_orders_are_404,
);

async fn events(app: &TestApp, order: i64) -> Vec<Value> {
    app.get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200)
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("the events of order {order} are not a list"))
}

/// `(from_status, to_status, source, event_id)` of each entry, checking times and ids.
fn story(order: i64, events: &[Value]) -> Vec<(Value, String, String, Option<String>)> {
    let mut previous: Option<OffsetDateTime> = None;
    events
        .iter()
        .map(|e| {
            assert_eq!(e["order_id"], json!(order), "{e}");
            let at = e["created_at"].as_str().expect("created_at");
            let at = OffsetDateTime::parse(at, &Rfc3339)
                .unwrap_or_else(|err| panic!("created_at {at:?} is not RFC 3339: {err}"));
            assert!(previous.is_none_or(|p| p <= at), "oldest first: {events:?}");
            previous = Some(at);
            let source = e["source"].as_str().expect("a source").to_owned();
            let event_id = match e.get("event_id") {
                None | Some(Value::Null) => None,
                Some(id) => Some(id.as_str().expect("a string event_id").to_owned()),
            };
            if source != "webhook" {
                assert_eq!(
                    event_id, None,
                    "only webhook entries carry an event id: {e}"
                );
            }
            (
                e["from_status"].clone(),
                e["to_status"].as_str().expect("to_status").to_owned(),
                source,
                event_id,
            )
        })
        .collect()
}

fn entry(
    from: Option<&str>,
    to: &str,
    source: &str,
    event: Option<&str>,
) -> (Value, String, String, Option<String>) {
    (
        from.map_or(Value::Null, |f| json!(f)),
        to.to_owned(),
        source.to_owned(),
        event.map(str::to_owned),
    )
}

async fn a_paid_and_shipped_order_tells_its_story(app: TestApp) {
    let product = id_of(&app.create_product("HIST-1", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 2).await);
    assert_eq!(
        story(order, &events(&app, order).await),
        vec![entry(None, "PENDING", "api", None)]
    );
    app.signed_webhook(&payment_body(order), Some("evt-hist-1"))
        .await
        .assert_status(200);
    app.set_order_status(order, "SHIPPED")
        .await
        .assert_status(200);
    let events = events(&app, order).await;
    assert_eq!(
        story(order, &events),
        vec![
            entry(None, "PENDING", "api", None),
            entry(Some("PENDING"), "PAID", "webhook", Some("evt-hist-1")),
            entry(Some("PAID"), "SHIPPED", "api", None),
        ]
    );
    let ids: Vec<i64> = events.iter().map(id_of).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // With a trailing slash too.
    let again = app
        .get(&format!("/orders/{order}/events/"))
        .await
        .expect_json(200);
    assert_eq!(again, json!(events));
}

async fn cancels_are_recorded_with_their_source(app: TestApp) {
    let product = id_of(&app.create_product("HIST-2", 5.0, 10).await);
    let by_delete = id_of(&app.create_order(product, 1).await);
    app.delete(&format!("/orders/{by_delete}"))
        .await
        .assert_status(204);
    assert_eq!(
        story(by_delete, &events(&app, by_delete).await),
        vec![
            entry(None, "PENDING", "api", None),
            entry(Some("PENDING"), "CANCELED", "api", None),
        ]
    );
    let paid_by_put = id_of(&app.create_order(product, 1).await);
    app.set_order_status(paid_by_put, "PAID")
        .await
        .assert_status(200);
    app.set_order_status(paid_by_put, "CANCELED")
        .await
        .assert_status(200);
    assert_eq!(
        story(paid_by_put, &events(&app, paid_by_put).await),
        vec![
            entry(None, "PENDING", "api", None),
            entry(Some("PENDING"), "PAID", "api", None),
            entry(Some("PAID"), "CANCELED", "api", None),
        ]
    );
}

async fn refused_and_no_op_changes_are_not_recorded(app: TestApp) {
    let product = id_of(&app.create_product("HIST-3", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 1).await);
    app.set_order_status(order, "SHIPPED")
        .await
        .assert_status(400);
    app.set_order_status(order, "PENDING")
        .await
        .assert_status(200);
    app.signed_webhook(&payment_body(order), Some("evt-a"))
        .await
        .assert_status(200);
    // Paid again under another event id (another body: the same one would be a replay): 200,
    // nothing changes.
    let again = format!(r#"{{"event": "payment.succeeded", "order_id": {order}}}"#);
    app.signed_webhook(&again, Some("evt-b"))
        .await
        .assert_status(200);
    // A replay, an ignored event type and a refused amount change nothing either.
    app.signed_webhook(&payment_body(order), Some("evt-a"))
        .await
        .assert_status(400);
    let refund = format!(r#"{{"event": "payment.refunded", "order_id": {order}}}"#);
    app.signed_webhook(&refund, Some("evt-c"))
        .await
        .assert_status(200);
    app.set_order_status(order, "PAID").await.assert_status(200);
    app.set_order_status(order, "SHIPPED")
        .await
        .assert_status(200);
    app.delete(&format!("/orders/{order}"))
        .await
        .assert_status(400);
    app.set_order_status(order, "CANCELED")
        .await
        .assert_status(400);
    assert_eq!(
        story(order, &events(&app, order).await),
        vec![
            entry(None, "PENDING", "api", None),
            entry(Some("PENDING"), "PAID", "webhook", Some("evt-a")),
            entry(Some("PAID"), "SHIPPED", "api", None),
        ]
    );
    // An amount that does not match leaves the order, and its history, as they were.
    let other = id_of(&app.create_order(product, 1).await);
    let wrong = format!(r#"{{"event": "payment.succeeded", "order_id": {other}, "amount": 1.0}}"#);
    app.signed_webhook(&wrong, Some("evt-d"))
        .await
        .assert_status(409);
    assert_eq!(
        story(other, &events(&app, other).await),
        vec![entry(None, "PENDING", "api", None)]
    );
}

async fn an_unnamed_webhook_event_is_recorded_by_its_body_hash(app: TestApp) {
    let product = id_of(&app.create_product("HIST-4", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 1).await);
    let body = payment_body(order);
    app.signed_webhook(&body, None).await.assert_status(200);
    let hash = inventory_core::webhook::EventId::from_body(body.as_bytes());
    assert_eq!(
        story(order, &events(&app, order).await),
        vec![
            entry(None, "PENDING", "api", None),
            entry(Some("PENDING"), "PAID", "webhook", Some(hash.as_str())),
        ]
    );
}

async fn unknown_orders_are_404(app: TestApp) {
    app.get("/orders/999/events")
        .await
        .assert_detail(404, json!("Order with ID 999 not found"));
    let reply = app.get("/orders/x/events").await;
    assert_validation_error(&reply, &[&["path", "order_id"]]);
    // Read-only route.
    let reply = app.post_json("/orders/1/events", &json!({})).await;
    reply.assert_detail(405, json!("Method Not Allowed"));
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
}
