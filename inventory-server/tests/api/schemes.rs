//! Webhook signature schemes over HTTP (issue 10): `WEBHOOK_SCHEME=stripe` and `standard`,
//! signed with the core's own signer, on a manual clock so timestamps are exact. Classic
//! mistakes: a timestamp outside the 300 s tolerance, an empty `v1,` signature, a rotated-out
//! secret, the wrong scheme's header.

use inventory_core::clock::{Clock, ManualClock};
use inventory_core::time::Duration;
use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
use inventory_server::{Application, Settings};
use serde_json::json;

use crate::helpers::extra::{manual_clock, spawn_app_on_clock};
use crate::helpers::{Backend, Reply, TestApp, id_of, payment_body, sign};

both_backends!(
    @backend stripe_accepts_a_valid_delivery_and_refuses_a_replay,
    stripe_refuses_stale_future_and_malformed_signatures,
    stripe_rotation_accepts_every_listed_secret,
    standard_accepts_a_valid_delivery_and_its_id_is_the_replay_key,
    standard_refuses_stale_empty_and_rotated_out_signatures,
    standard_rotation_accepts_every_listed_secret,
    a_standard_secret_that_is_not_base64_stops_the_server,
);

const STRIPE_OLD: &str = "whsec_stripe_old_0123456789";
const STRIPE_NEW: &str = "whsec_stripe_new_0123456789";
/// The Standard Webhooks specification's example secret, and another valid one.
const STANDARD_OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STANDARD_NEW: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";

async fn spawn(backend: Backend, scheme: WebhookScheme, secrets: &str) -> (TestApp, ManualClock) {
    let clock = manual_clock();
    let secrets = secrets.to_owned();
    let app = spawn_app_on_clock(backend, clock.clone(), move |s| {
        s.webhook_scheme = scheme;
        s.webhook_secret = Some(secrets);
    })
    .await;
    (app, clock)
}

fn signer(scheme: WebhookScheme, secret: &str) -> SchemeVerifier {
    SchemeVerifier::new(scheme, &[secret]).expect("a valid secret")
}

fn now(clock: &ManualClock) -> i64 {
    Clock::now(clock).unix_timestamp()
}

/// Signs `body` with `secret` in `scheme` at `timestamp` and delivers it.
async fn deliver(
    app: &TestApp,
    scheme: WebhookScheme,
    secret: &str,
    id: Option<&str>,
    timestamp: i64,
    body: &str,
) -> Reply {
    let headers = signer(scheme, secret).sign(id, timestamp, body.as_bytes());
    app.webhook_with(body, &headers).await
}

fn assert_invalid_signature(reply: &Reply) {
    reply.assert_detail(401, json!("Invalid webhook signature"));
}

fn assert_replayed(reply: &Reply, event_id: &str) {
    let body = reply.expect_json(400);
    assert_eq!(
        body["detail"]["error"],
        json!("Event already processed"),
        "{body}"
    );
    assert_eq!(body["detail"]["event_id"], json!(event_id), "{body}");
}

fn assert_paid(reply: &Reply, order: i64) {
    let body = reply.expect_json(200);
    assert_eq!(body["status"], json!("success"), "{body}");
    assert_eq!(body["order_id"], json!(order), "{body}");
    assert_eq!(body["order_status"], json!("PAID"), "{body}");
}

async fn pending_order(app: &TestApp, sku: &str) -> i64 {
    let product = id_of(&app.create_product(sku, 3.0, 10).await);
    id_of(&app.create_order(product, 1).await)
}

async fn stripe_accepts_a_valid_delivery_and_refuses_a_replay(backend: Backend) {
    let stripe = WebhookScheme::Stripe;
    let (app, clock) = spawn(backend, stripe, STRIPE_NEW).await;
    let order = pending_order(&app, "ST-1").await;
    let body = payment_body(order);
    let headers =
        signer(stripe, STRIPE_NEW).sign(Some("evt_stripe_1"), now(&clock), body.as_bytes());
    assert_paid(&app.webhook_with(&body, &headers).await, order);
    // The identical delivery again, and a fresh signature of the same event: replays.
    assert_replayed(&app.webhook_with(&body, &headers).await, "evt_stripe_1");
    clock.advance(Duration::seconds(30));
    let reply = deliver(
        &app,
        stripe,
        STRIPE_NEW,
        Some("evt_stripe_1"),
        now(&clock),
        &body,
    )
    .await;
    assert_replayed(&reply, "evt_stripe_1");
    // Without X-Event-Id the body's hash is the id: a byte-identical body is a replay.
    let other = pending_order(&app, "ST-2").await;
    let body = payment_body(other);
    assert_paid(
        &deliver(&app, stripe, STRIPE_NEW, None, now(&clock), &body).await,
        other,
    );
    clock.advance(Duration::seconds(5));
    let hash = inventory_core::webhook::EventId::from_body(body.as_bytes());
    let reply = deliver(&app, stripe, STRIPE_NEW, None, now(&clock), &body).await;
    assert_replayed(&reply, hash.as_str());
    let events = app
        .get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200);
    assert_eq!(events[1]["event_id"], json!("evt_stripe_1"), "{events}");
    app.stop().await;
}

async fn stripe_refuses_stale_future_and_malformed_signatures(backend: Backend) {
    let stripe = WebhookScheme::Stripe;
    let (app, clock) = spawn(backend, stripe, STRIPE_NEW).await;
    let order = pending_order(&app, "ST-3").await;
    let body = payment_body(order);
    let t = now(&clock);
    let valid = signer(stripe, STRIPE_NEW).sign(None, t, body.as_bytes());
    let header = valid[0].1.clone();
    let v1 = header.split_once(",v1=").expect("t=…,v1=…").1.to_owned();
    let refused: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "ten minutes old",
            signer(stripe, STRIPE_NEW).sign(None, t - 600, body.as_bytes()),
        ),
        (
            "ten minutes ahead",
            signer(stripe, STRIPE_NEW).sign(None, t + 600, body.as_bytes()),
        ),
        (
            "another secret",
            signer(stripe, STRIPE_OLD).sign(None, t, body.as_bytes()),
        ),
        ("empty v1", vec![("stripe-signature", format!("t={t},v1="))]),
        ("no v1", vec![("stripe-signature", format!("t={t}"))]),
        ("no t", vec![("stripe-signature", format!("v1={v1}"))]),
        (
            "t changed",
            vec![("stripe-signature", format!("t={},v1={v1}", t + 1))],
        ),
        (
            "two t",
            vec![("stripe-signature", format!("t={t},t={t},v1={v1}"))],
        ),
        (
            "hex scheme header",
            vec![("x-webhook-signature", sign(STRIPE_NEW, &body))],
        ),
        ("no header", vec![]),
    ];
    for (what, headers) in &refused {
        let reply = app.webhook_with(&body, headers).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_invalid_signature(&reply);
    }
    // Within the tolerance either way is fine, and a wrong v1 next to the right one too.
    let near = deliver(
        &app,
        stripe,
        STRIPE_NEW,
        Some("evt_near"),
        t - 290,
        &format!(r#"{{"event": "invoice.created", "order_id": {order}}}"#),
    )
    .await;
    assert_eq!(near.status, 200, "{}", near.text);
    let several = format!("t={t},v1={},v0=abc,v1={v1}", "0".repeat(64));
    let reply = app
        .webhook_with(&body, &[("stripe-signature", several)])
        .await;
    assert_paid(&reply, order);
    app.stop().await;
}

async fn stripe_rotation_accepts_every_listed_secret(backend: Backend) {
    let stripe = WebhookScheme::Stripe;
    let (app, clock) = spawn(backend, stripe, &format!("{STRIPE_OLD},{STRIPE_NEW}")).await;
    for (secret, sku) in [(STRIPE_OLD, "ROT-OLD"), (STRIPE_NEW, "ROT-NEW")] {
        let order = pending_order(&app, sku).await;
        let reply = deliver(
            &app,
            stripe,
            secret,
            None,
            now(&clock),
            &payment_body(order),
        )
        .await;
        assert_paid(&reply, order);
    }
    let order = pending_order(&app, "ROT-X").await;
    let reply = deliver(
        &app,
        stripe,
        "whsec_someone_else",
        None,
        now(&clock),
        &payment_body(order),
    )
    .await;
    assert_invalid_signature(&reply);
    app.stop().await;
}

async fn standard_accepts_a_valid_delivery_and_its_id_is_the_replay_key(backend: Backend) {
    let standard = WebhookScheme::Standard;
    let (app, clock) = spawn(backend, standard, STANDARD_OLD).await;
    let order = pending_order(&app, "SW-1").await;
    let body = payment_body(order);
    let headers =
        signer(standard, STANDARD_OLD).sign(Some("msg_first"), now(&clock), body.as_bytes());
    assert_paid(&app.webhook_with(&body, &headers).await, order);
    let events = app
        .get(&format!("/orders/{order}/events"))
        .await
        .expect_json(200);
    assert_eq!(events[1]["source"], json!("webhook"), "{events}");
    assert_eq!(events[1]["event_id"], json!("msg_first"), "{events}");
    // Same delivery: replay.
    assert_replayed(&app.webhook_with(&body, &headers).await, "msg_first");
    // Same webhook-id, another body, correctly signed: still a replay (the id is the key).
    let other = pending_order(&app, "SW-2").await;
    clock.advance(Duration::seconds(10));
    let reply = deliver(
        &app,
        standard,
        STANDARD_OLD,
        Some("msg_first"),
        now(&clock),
        &payment_body(other),
    )
    .await;
    assert_replayed(&reply, "msg_first");
    assert_eq!(
        app.order_status(other).await,
        "PENDING",
        "the replayed id paid nothing"
    );
    // The same body under a new webhook-id is a new event (the order is already paid: 200).
    let reply = deliver(
        &app,
        standard,
        STANDARD_OLD,
        Some("msg_second"),
        now(&clock),
        &body,
    )
    .await;
    assert_paid(&reply, order);
    // The ids are case-sensitive strings taken from the signed header, also for `other`.
    let reply = deliver(
        &app,
        standard,
        STANDARD_OLD,
        Some("MSG_FIRST"),
        now(&clock),
        &payment_body(other),
    )
    .await;
    assert_paid(&reply, other);
    // An X-Event-Id does not override the signed webhook-id.
    let third = pending_order(&app, "SW-3").await;
    let body = payment_body(third);
    let mut headers =
        signer(standard, STANDARD_OLD).sign(Some("msg_third"), now(&clock), body.as_bytes());
    headers.push(("x-event-id", "msg_first".to_owned()));
    assert_paid(&app.webhook_with(&body, &headers).await, third);
    app.stop().await;
}

async fn standard_refuses_stale_empty_and_rotated_out_signatures(backend: Backend) {
    let standard = WebhookScheme::Standard;
    // Rotated: only the new secret is configured.
    let (app, clock) = spawn(backend, standard, STANDARD_NEW).await;
    let order = pending_order(&app, "SW-4").await;
    let body = payment_body(order);
    let t = now(&clock);
    let valid = signer(standard, STANDARD_NEW).sign(Some("msg_ok"), t, body.as_bytes());
    let signature = valid[2].1.clone();
    let with_signature = |sig: &str| {
        vec![
            ("webhook-id", "msg_ok".to_owned()),
            ("webhook-timestamp", t.to_string()),
            ("webhook-signature", sig.to_owned()),
        ]
    };
    let mut wrong_id = valid.clone();
    wrong_id[0].1 = "msg_other".to_owned();
    let refused: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "rotated-out secret",
            signer(standard, STANDARD_OLD).sign(Some("msg_ok"), t, body.as_bytes()),
        ),
        (
            "ten minutes old",
            signer(standard, STANDARD_NEW).sign(Some("msg_ok"), t - 600, body.as_bytes()),
        ),
        (
            "ten minutes ahead",
            signer(standard, STANDARD_NEW).sign(Some("msg_ok"), t + 600, body.as_bytes()),
        ),
        ("empty after v1,", with_signature("v1,")),
        (
            "unversioned",
            with_signature(signature.trim_start_matches("v1,")),
        ),
        (
            "v2 entry",
            with_signature(&signature.replacen("v1,", "v2,", 1)),
        ),
        ("id not the signed one", wrong_id),
        ("no webhook-id", valid[1..].to_vec()),
        (
            "hex scheme header",
            vec![("x-webhook-signature", sign(STANDARD_NEW, &body))],
        ),
    ];
    for (what, headers) in &refused {
        let reply = app.webhook_with(&body, headers).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_invalid_signature(&reply);
    }
    assert_eq!(app.order_status(order).await, "PENDING");
    // A list with an empty and a wrong entry before the right one is accepted.
    let listed = format!("v1, v1,{}= {signature}", "A".repeat(43));
    assert_paid(
        &app.webhook_with(&body, &with_signature(&listed)).await,
        order,
    );
    app.stop().await;
}

async fn standard_rotation_accepts_every_listed_secret(backend: Backend) {
    let standard = WebhookScheme::Standard;
    let (app, clock) = spawn(backend, standard, &format!("{STANDARD_NEW},{STANDARD_OLD}")).await;
    for (i, secret) in [STANDARD_OLD, STANDARD_NEW].into_iter().enumerate() {
        let order = pending_order(&app, &format!("SWR-{i}")).await;
        let id = format!("msg_rot_{i}");
        let reply = deliver(
            &app,
            standard,
            secret,
            Some(&id),
            now(&clock),
            &payment_body(order),
        )
        .await;
        assert_paid(&reply, order);
    }
    app.stop().await;
}

async fn a_standard_secret_that_is_not_base64_stops_the_server(backend: Backend) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}/never.db", dir.path().display()),
        // Never reached: the secret is checked before the database is opened.
        Backend::Postgres => "postgres://nobody@127.0.0.1:1/none".to_owned(),
    };
    let mut settings = Settings::for_database(url);
    settings.webhook_scheme = WebhookScheme::Standard;
    settings.webhook_secret = Some("whsec_not base64!".to_owned());
    let started = Application::build_with_clock(settings, manual_clock()).await;
    let error = match started {
        Ok(_) => panic!("a standard secret that is not base64 must stop the server"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("WEBHOOK_SECRET"), "{error}");
    assert!(
        !error.contains("not base64!"),
        "the secret must not be shown: {error}"
    );
}
