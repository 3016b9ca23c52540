//! Webhook event ids (issue 14): a sent but unreadable `X-Event-Id` is a 422, never "absent";
//! with the schemes that do not sign the id, a captured signed body applies at most once
//! whatever id it carries; `WEBHOOK_SECRET` is used byte for byte.

use inventory_core::webhook::{EventId, SchemeVerifier, WebhookScheme};
use inventory_server::{Application, Settings};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{
    Backend, TestApp, WEBHOOK_SECRET, assert_validation_error, id_of, payment_body, sign,
    spawn_app_with,
};

both_backends!(
    a_non_ascii_event_id_is_422_not_absent,
    a_signed_body_applies_once_whatever_id_it_carries,
    concurrent_deliveries_of_one_body_under_fresh_ids_apply_once,
);
both_backends!(@backend
    stripe_bodies_apply_once_whatever_id_they_carry,
    webhook_secrets_are_used_byte_for_byte,
);

async fn pending_order(app: &TestApp, sku: &str) -> i64 {
    let product = id_of(&app.create_product(sku, 5.0, 100).await);
    id_of(&app.create_order(product, 1).await)
}

fn replayed_as(body: &Value, event_id: &str) {
    assert_eq!(
        body["detail"]["error"],
        json!("Event already processed"),
        "{body}"
    );
    assert_eq!(body["detail"]["event_id"], json!(event_id), "{body}");
}

async fn a_non_ascii_event_id_is_422_not_absent(app: TestApp) {
    let order = pending_order(&app, "ID-1").await;
    let body = payment_body(order);
    for id in [&b"evt-caf\xc3\xa9"[..], b"\xff\xfe", b"evt-\x80"] {
        let value = reqwest::header::HeaderValue::from_bytes(id).expect("obs-text is a value");
        let request = app
            .request(Method::POST, "/webhooks/payment")
            .header("Content-Type", "application/json")
            .header("X-Webhook-Signature", sign(WEBHOOK_SECRET, &body))
            .header("X-Event-Id", value)
            .body(body.clone());
        let reply = app.send(request).await;
        assert_validation_error(&reply, &[&["header", "x-event-id"]]);
    }
    assert_eq!(app.order_status(order).await, "PENDING");
    // Nothing was recorded, not even the body's hash: the delivery with a valid id applies.
    let reply = app.signed_webhook(&body, Some("evt-ascii")).await;
    assert_eq!(reply.expect_json(200)["order_status"], json!("PAID"));
}

async fn a_signed_body_applies_once_whatever_id_it_carries(app: TestApp) {
    let order = pending_order(&app, "ID-2").await;
    let body = payment_body(order);
    let hash = EventId::from_body(body.as_bytes());
    app.signed_webhook(&body, Some("evt-1"))
        .await
        .expect_json(200);
    // Captured and replayed under fresh ids, or none: refused, the body's hash named.
    for id in [Some("evt-2"), Some("fresh-id-3"), None] {
        let reply = app.signed_webhook(&body, id).await;
        replayed_as(&reply.expect_json(400), hash.as_str());
    }
    // The original id stays taken for any other body, as before.
    let other = pending_order(&app, "ID-3").await;
    let reply = app
        .signed_webhook(&payment_body(other), Some("evt-1"))
        .await;
    replayed_as(&reply.expect_json(400), "evt-1");
    assert_eq!(app.order_status(other).await, "PENDING");

    // Once canceled, a replay under a fresh id cannot even reach the transition check.
    app.delete(&format!("/orders/{order}"))
        .await
        .assert_status(204);
    let reply = app.signed_webhook(&body, Some("evt-after-cancel")).await;
    replayed_as(&reply.expect_json(400), hash.as_str());

    // An ignored event type is recorded the same way.
    let refund = format!(r#"{{"event": "payment.refunded", "order_id": {other}}}"#);
    app.signed_webhook(&refund, Some("evt-r1"))
        .await
        .expect_json(200);
    let reply = app.signed_webhook(&refund, Some("evt-r2")).await;
    replayed_as(
        &reply.expect_json(400),
        EventId::from_body(refund.as_bytes()).as_str(),
    );
    // A failed delivery records neither key: its retry under another id applies.
    let third = pending_order(&app, "ID-4").await;
    let wrong = format!(r#"{{"event": "payment.succeeded", "order_id": {third}, "amount": 1.23}}"#);
    app.signed_webhook(&wrong, Some("evt-w1"))
        .await
        .expect_json(409);
    let right = format!(r#"{{"event": "payment.succeeded", "order_id": {third}, "amount": 5.00}}"#);
    app.signed_webhook(&right, Some("evt-w1"))
        .await
        .expect_json(200);
}

async fn concurrent_deliveries_of_one_body_under_fresh_ids_apply_once(app: TestApp) {
    let order = pending_order(&app, "ID-5").await;
    let body = payment_body(order);
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (api, body) = (app.api.clone(), body.clone());
        tasks.spawn(async move {
            let id = format!("evt-race-{i}");
            api.signed_webhook(&body, Some(&id)).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.expect("a delivery task"));
    }
    statuses.sort_unstable();
    let applied = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(applied, 1, "exactly one delivery applies: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
    let history = app
        .get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200);
    let paid = history.as_array().map_or(0, |h| {
        h.iter().filter(|e| e["to_status"] == json!("PAID")).count()
    });
    assert_eq!(paid, 1, "{history}");
}

async fn stripe_bodies_apply_once_whatever_id_they_carry(backend: Backend) {
    let secret = "whsec_stripe_byte_for_byte";
    let app = spawn_app_with(backend, |s| {
        s.webhook_scheme = WebhookScheme::Stripe;
        s.webhook_secret = Some(secret.to_owned());
    })
    .await;
    let order = pending_order(&app, "ID-S").await;
    let body = payment_body(order);
    let signer = SchemeVerifier::new(WebhookScheme::Stripe, &[secret]).expect("a secret");
    let now = inventory_core::time::OffsetDateTime::now_utc().unix_timestamp();
    let signed = signer.sign(None, now, body.as_bytes());
    let with_id = |id: &str| {
        let mut headers = signed.clone();
        headers.push(("x-event-id", id.to_owned()));
        headers
    };
    app.webhook_with(&body, &with_id("evt_1"))
        .await
        .expect_json(200);
    let reply = app.webhook_with(&body, &with_id("evt_2")).await;
    replayed_as(
        &reply.expect_json(400),
        EventId::from_body(body.as_bytes()).as_str(),
    );
    app.stop().await;
}

async fn webhook_secrets_are_used_byte_for_byte(backend: Backend) {
    // Inner spaces and other bytes are part of the key; commas separate rotated secrets.
    let app = spawn_app_with(backend, |s| {
        s.webhook_secret = Some("old secret=1,new secret=2".to_owned());
    })
    .await;
    for (secret, sku) in [("old secret=1", "B4B-1"), ("new secret=2", "B4B-2")] {
        let order = pending_order(&app, sku).await;
        let body = payment_body(order);
        let reply = app
            .webhook(&body, Some(&sign(secret, &body)), Some(sku))
            .await;
        assert_eq!(reply.expect_json(200)["order_status"], json!("PAID"));
    }
    let order = pending_order(&app, "B4B-3").await;
    let body = payment_body(order);
    for trimmed in ["oldsecret=1", "old secret=1,new secret=2", " old secret=1"] {
        let reply = app.webhook(&body, Some(&sign(trimmed, &body)), None).await;
        reply.assert_detail(401, json!("Invalid webhook signature"));
    }
    app.stop().await;

    // Whitespace around a secret, or an empty one, would silently change the key: refused at
    // start, naming the variable and not the secret.
    for value in [" padded", "trailing ", "old,", "old, new", ",new"] {
        let dir = tempfile::tempdir().expect("a directory");
        let mut settings =
            Settings::for_database(format!("sqlite://{}/never.db", dir.path().display()));
        settings.webhook_secret = Some(value.to_owned());
        let error = match Application::build(settings).await {
            Ok(_) => panic!("WEBHOOK_SECRET={value:?} must stop the server"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("WEBHOOK_SECRET"), "{error}");
        assert!(
            !error.contains(value.trim()),
            "the secret is not shown: {error}"
        );
        let vars =
            std::collections::HashMap::from([("WEBHOOK_SECRET".to_owned(), value.to_owned())]);
        let refused = Settings::from_vars(vars).expect_err("refused when read");
        assert_eq!(refused.variable, "WEBHOOK_SECRET");
    }
}
