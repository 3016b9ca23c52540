//! The payment webhook: signature → replay → body → effect, and failed events stay retryable.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, WEBHOOK_SECRET, id_of, payment_body, sign, spawn_app_with, transition_error,
    validation_locs,
};

both_backends!(
    missing_signature_is_401,
    wrong_signature_is_401,
    valid_signature_pays_the_order,
    replayed_event_id_is_400,
    without_event_id_the_body_hash_is_the_id,
    failed_event_for_unknown_order_is_retryable,
    amount_mismatch_is_409_and_retryable,
    canceled_or_shipped_order_is_409,
    already_paid_is_200_without_change,
    unknown_event_is_ignored_and_recorded,
    malformed_body_is_422_and_retryable,
    checks_run_in_the_contract_order,
);
both_backends!(@backend no_secret_is_503);

/// A product at 49.99 and a PENDING order of two (total 99.98); returns the order id.
async fn pending_order(app: &TestApp) -> i64 {
    let sku = format!(
        "SKU-{}",
        app.get("/products")
            .await
            .json()
            .as_array()
            .map_or(0, Vec::len)
    );
    let product = id_of(&app.create_product(&sku, 49.99, 100).await);
    let order = app.create_order(product, 2).await;
    assert_eq!(order["total"], json!(99.98));
    id_of(&order)
}

fn success(order_id: i64, body: &Value) {
    assert_eq!(body["status"], json!("success"), "{body}");
    assert_eq!(body["order_id"], json!(order_id), "{body}");
    assert_eq!(body["order_status"], json!("PAID"), "{body}");
    assert!(body["message"].is_string(), "a message: {body}");
}

fn replayed(event_id: &str, body: &Value) {
    let detail = &body["detail"];
    assert_eq!(detail["error"], json!("Event already processed"), "{body}");
    assert_eq!(detail["event_id"], json!(event_id), "{body}");
    assert!(detail["message"].is_string(), "a message: {body}");
}

async fn missing_signature_is_401(app: TestApp) {
    let order = pending_order(&app).await;
    let reply = app.webhook(&payment_body(order), None, Some("evt-1")).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
    assert_eq!(app.order_status(order).await, "PENDING");
    // Nothing was recorded: the same event, signed, goes through.
    success(
        order,
        &app.signed_webhook(&payment_body(order), Some("evt-1"))
            .await
            .expect_json(200),
    );
}

async fn wrong_signature_is_401(app: TestApp) {
    let order = pending_order(&app).await;
    let body = payment_body(order);
    let other_body = payment_body(order + 1);
    let wrong = [
        sign("other-secret", &body),
        sign(WEBHOOK_SECRET, &other_body),
        format!("sha256={}", sign("other-secret", &body)),
        "not-hex".to_owned(),
        String::new(),
        sign(WEBHOOK_SECRET, &body)[..63].to_owned(),
        format!("{}00", sign(WEBHOOK_SECRET, &body)),
    ];
    for signature in &wrong {
        let reply = app.webhook(&body, Some(signature), Some("evt-1")).await;
        reply.assert_detail(401, json!("Invalid webhook signature"));
    }
    assert_eq!(app.order_status(order).await, "PENDING");
}

async fn valid_signature_pays_the_order(app: TestApp) {
    let order = pending_order(&app).await;
    let body = format!(
        r#"{{"event": "payment.succeeded", "order_id": {order}, "amount": 99.98, "currency": "USD"}}"#
    );
    let reply = app.signed_webhook(&body, Some("evt-1")).await;
    success(order, &reply.expect_json(200));
    assert_eq!(app.order_status(order).await, "PAID");

    // The `sha256=` prefix is accepted; unknown fields are tolerated; amount and currency are
    // optional.
    let second = pending_order(&app).await;
    let body = format!(
        r#"{{"event": "payment.succeeded", "order_id": {second}, "livemode": false, "data": {{"x": 1}}}}"#
    );
    let signature = format!("sha256={}", sign(WEBHOOK_SECRET, &body));
    let reply = app.webhook(&body, Some(&signature), Some("evt-2")).await;
    success(second, &reply.expect_json(200));
    assert_eq!(app.order_status(second).await, "PAID");
    // A paid order ships.
    let shipped = app
        .set_order_status(second, "SHIPPED")
        .await
        .expect_json(200);
    assert_eq!(shipped["status"], json!("SHIPPED"));
}

async fn replayed_event_id_is_400(app: TestApp) {
    let order = pending_order(&app).await;
    let body = payment_body(order);
    success(
        order,
        &app.signed_webhook(&body, Some("evt-1"))
            .await
            .expect_json(200),
    );
    let reply = app.signed_webhook(&body, Some("evt-1")).await;
    replayed("evt-1", &reply.expect_json(400));

    // The same event id on another body is still a replay, and has no effect.
    let other = pending_order(&app).await;
    let reply = app
        .signed_webhook(&payment_body(other), Some("evt-1"))
        .await;
    replayed("evt-1", &reply.expect_json(400));
    assert_eq!(app.order_status(other).await, "PENDING");

    // Signature comes before replay.
    let reply = app.webhook(&body, Some("bad"), Some("evt-1")).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
    let reply = app.webhook(&body, None, Some("evt-1")).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
}

async fn without_event_id_the_body_hash_is_the_id(app: TestApp) {
    let order = pending_order(&app).await;
    let body = payment_body(order);
    success(
        order,
        &app.signed_webhook(&body, None).await.expect_json(200),
    );
    let reply = app.signed_webhook(&body, None).await;
    let hash = inventory_core::webhook::EventId::from_header_or_body(None, body.as_bytes())
        .expect("a body hash is always an event id");
    replayed(hash.as_str(), &reply.expect_json(400));

    // A different byte sequence is a different event: the order is already PAID, same 200.
    let respaced = format!(r#"{{"event":"payment.succeeded","order_id":{order}}}"#);
    success(
        order,
        &app.signed_webhook(&respaced, None).await.expect_json(200),
    );
    // The id is not signed in this scheme: the same bytes under an explicit id are still a
    // replay of the body-hash event.
    let third = pending_order(&app).await;
    let body = payment_body(third);
    success(
        third,
        &app.signed_webhook(&body, None).await.expect_json(200),
    );
    let hash = inventory_core::webhook::EventId::from_body(body.as_bytes());
    replayed(
        hash.as_str(),
        &app.signed_webhook(&body, Some("evt-new"))
            .await
            .expect_json(400),
    );
}

async fn failed_event_for_unknown_order_is_retryable(app: TestApp) {
    let order = pending_order(&app).await;
    let missing = order + 1000;
    let reply = app
        .signed_webhook(&payment_body(missing), Some("evt-1"))
        .await;
    let body = reply.expect_json(404);
    assert!(body["detail"].is_string(), "{body}");
    // The failure left no trace: the sender's retry (fixed to the right order) succeeds.
    let reply = app
        .signed_webhook(&payment_body(order), Some("evt-1"))
        .await;
    success(order, &reply.expect_json(200));
    assert_eq!(app.order_status(order).await, "PAID");
    // Now it is recorded.
    let reply = app
        .signed_webhook(&payment_body(order), Some("evt-1"))
        .await;
    replayed("evt-1", &reply.expect_json(400));

    // Without an event id the same holds for the body hash: a byte-identical resend of a failed
    // event fails the same way again (404), never "already processed".
    let unknown = payment_body(missing);
    for _ in 0..2 {
        app.signed_webhook(&unknown, None).await.expect_json(404);
    }
}

async fn amount_mismatch_is_409_and_retryable(app: TestApp) {
    let order = pending_order(&app).await;
    let with_amount = |amount: &str| {
        format!(r#"{{"event": "payment.succeeded", "order_id": {order}, "amount": {amount}}}"#)
    };
    for (amount, event) in [("100.0", "evt-1"), ("99.97", "evt-1"), ("0", "evt-2")] {
        let reply = app.signed_webhook(&with_amount(amount), Some(event)).await;
        let body = reply.expect_json(409);
        assert!(!body["detail"].is_null(), "{body}");
        assert_eq!(
            app.order_status(order).await,
            "PENDING",
            "the order stays unpaid"
        );
    }
    // Without an event id, a byte-identical resend is refused for the same reason, not replayed.
    let wrong = with_amount("100");
    app.signed_webhook(&wrong, None).await.expect_json(409);
    app.signed_webhook(&wrong, None).await.expect_json(409);

    // The sender fixes the amount and retries under the same event id.
    let reply = app
        .signed_webhook(&with_amount("99.98"), Some("evt-1"))
        .await;
    success(order, &reply.expect_json(200));
    assert_eq!(app.order_status(order).await, "PAID");
    // Amounts are compared exactly, not as text: 99.980 is 99.98.
    let other = pending_order(&app).await;
    let body =
        format!(r#"{{"event": "payment.succeeded", "order_id": {other}, "amount": 99.980}}"#);
    success(
        other,
        &app.signed_webhook(&body, Some("evt-3"))
            .await
            .expect_json(200),
    );
}

async fn canceled_or_shipped_order_is_409(app: TestApp) {
    let canceled = pending_order(&app).await;
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    let reply = app
        .signed_webhook(&payment_body(canceled), Some("evt-1"))
        .await;
    reply.assert_detail(409, transition_error("CANCELED", "PAID"));
    assert_eq!(app.order_status(canceled).await, "CANCELED");

    let shipped = pending_order(&app).await;
    app.set_order_status(shipped, "PAID").await.expect_json(200);
    app.set_order_status(shipped, "SHIPPED")
        .await
        .expect_json(200);
    let reply = app
        .signed_webhook(&payment_body(shipped), Some("evt-2"))
        .await;
    reply.assert_detail(409, transition_error("SHIPPED", "PAID"));
    assert_eq!(app.order_status(shipped).await, "SHIPPED");

    // A refused event was not recorded: the id is free for a payment that applies.
    let pending = pending_order(&app).await;
    let reply = app
        .signed_webhook(&payment_body(pending), Some("evt-1"))
        .await;
    success(pending, &reply.expect_json(200));
}

async fn already_paid_is_200_without_change(app: TestApp) {
    let order = pending_order(&app).await;
    success(
        order,
        &app.signed_webhook(&payment_body(order), Some("evt-1"))
            .await
            .expect_json(200),
    );
    let paid = app.order(order).await;
    // Another delivery paying it (another body: the same bytes would be a replay).
    let again = format!(r#"{{"event": "payment.succeeded", "order_id": {order}}}"#);
    let reply = app.signed_webhook(&again, Some("evt-2")).await;
    success(order, &reply.expect_json(200));
    assert_eq!(
        app.order(order).await,
        paid,
        "no change to an already PAID order"
    );

    // Paid by PUT, then by webhook: the same.
    let by_put = pending_order(&app).await;
    app.set_order_status(by_put, "PAID").await.expect_json(200);
    let before = app.order(by_put).await;
    success(
        by_put,
        &app.signed_webhook(&payment_body(by_put), Some("evt-3"))
            .await
            .expect_json(200),
    );
    assert_eq!(app.order(by_put).await, before);
}

async fn unknown_event_is_ignored_and_recorded(app: TestApp) {
    let order = pending_order(&app).await;
    let before = app.order(order).await;
    let body = format!(r#"{{"event": "payment.refunded", "order_id": {order}}}"#);
    let reply = app.signed_webhook(&body, Some("evt-1")).await;
    let answer = reply.expect_json(200);
    assert_eq!(answer["status"], json!("ignored"), "{answer}");
    assert!(answer["message"].is_string(), "{answer}");
    assert_eq!(
        app.order(order).await,
        before,
        "an ignored event changes nothing"
    );
    // Recorded: its id cannot be used again.
    replayed(
        "evt-1",
        &app.signed_webhook(&body, Some("evt-1"))
            .await
            .expect_json(400),
    );
    let reply = app
        .signed_webhook(&payment_body(order), Some("evt-1"))
        .await;
    replayed("evt-1", &reply.expect_json(400));
    assert_eq!(app.order_status(order).await, "PENDING");

    // An unknown event needs no order at all.
    let bare = r#"{"event": "customer.created"}"#;
    let answer = app
        .signed_webhook(bare, Some("evt-2"))
        .await
        .expect_json(200);
    assert_eq!(answer["status"], json!("ignored"), "{answer}");
}

async fn malformed_body_is_422_and_retryable(app: TestApp) {
    let order = pending_order(&app).await;
    for (body, field) in [
        ("not json".to_owned(), None),
        (format!(r#"{{"order_id": {order}}}"#), Some("event")),
        (
            r#"{"event": "payment.succeeded"}"#.to_owned(),
            Some("order_id"),
        ),
        (
            format!(r#"{{"event": "payment.succeeded", "order_id": "{order}x"}}"#),
            Some("order_id"),
        ),
        (
            format!(r#"{{"event": "payment.succeeded", "order_id": {order}, "amount": "lots"}}"#),
            Some("amount"),
        ),
    ] {
        let reply = app.signed_webhook(&body, Some("evt-1")).await;
        let locs = validation_locs(&reply);
        assert!(
            locs.iter().all(|loc| loc[0] == "body"),
            "{}: {locs:?}",
            reply.what
        );
        if let Some(field) = field {
            assert_eq!(locs, [["body", field]], "{}", reply.what);
        }
    }
    assert_eq!(app.order_status(order).await, "PENDING");
    // None of those recorded evt-1.
    success(
        order,
        &app.signed_webhook(&payment_body(order), Some("evt-1"))
            .await
            .expect_json(200),
    );
}

async fn checks_run_in_the_contract_order(app: TestApp) {
    let order = pending_order(&app).await;
    let malformed = "{\"event\": ";
    // Signature before body: a malformed body with a bad signature is 401, not 422.
    let reply = app.webhook(malformed, Some("0000"), Some("evt-1")).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
    let reply = app.webhook(malformed, None, None).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));

    // Replay before body: a processed id with a malformed (signed) body is 400, not 422.
    success(
        order,
        &app.signed_webhook(&payment_body(order), Some("evt-1"))
            .await
            .expect_json(200),
    );
    replayed(
        "evt-1",
        &app.signed_webhook(malformed, Some("evt-1"))
            .await
            .expect_json(400),
    );

    // Body before effect: a malformed body about a canceled order is 422, not 409.
    let canceled = pending_order(&app).await;
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    let body =
        format!(r#"{{"event": "payment.succeeded", "order_id": {canceled}, "amount": "lots"}}"#);
    validation_locs(&app.signed_webhook(&body, Some("evt-2")).await);
}

async fn no_secret_is_503(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.webhook_secret = None).await;
    let order = pending_order(&app).await;
    let body = payment_body(order);
    for reply in [
        app.signed_webhook(&body, Some("evt-1")).await,
        app.webhook(&body, None, Some("evt-1")).await,
        app.signed_webhook("not json", None).await,
    ] {
        let answer = reply.expect_json(503);
        assert!(answer["detail"].is_string(), "{}: {answer}", reply.what);
    }
    assert_eq!(app.order_status(order).await, "PENDING");
    app.stop().await;
}
