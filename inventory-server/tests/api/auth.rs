//! API keys (issue 9): with `API_KEY` set, every write on products and orders needs
//! `Authorization: Bearer <key>` or `X-API-Key: <key>` (401 with `WWW-Authenticate: Bearer`
//! otherwise); reads stay open; the webhook keeps its own signature; several keys rotate.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::extra::{assert_connection_reusable_or_closed, refused_write_then_health};
use crate::helpers::{Api, Backend, Reply, id_of, ids_of, payment_body, spawn_app_with};

both_backends!(
    @backend writes_without_a_key_are_refused_and_change_nothing,
    both_headers_and_every_configured_key_work,
    wrong_keys_are_refused,
    reads_and_the_webhook_need_no_key,
    a_rotated_out_key_is_refused,
    the_key_is_checked_before_the_body,
    refused_large_writes_leave_the_connection_usable,
);

const OLD_KEY: &str = "old-key-0123456789abcdef";
const NEW_KEY: &str = "new-key-0123456789abcdef";

/// Sends `method path` with `body` (if any) and the given headers.
async fn write(
    api: &Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut request = api.request(method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    api.send(request).await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn assert_unauthorized(reply: &Reply) {
    let body = reply.expect_json(401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer"),
        "{}: a 401 must carry WWW-Authenticate: Bearer",
        reply.what
    );
    assert!(
        body["detail"].is_string(),
        "{}: 401 body must be {{\"detail\": \"...\"}}: {body}",
        reply.what
    );
    assert!(
        reply.header("x-request-id").is_some(),
        "{}: every answer carries X-Request-Id",
        reply.what
    );
}

async fn writes_without_a_key_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    let auth = bearer(NEW_KEY);
    let key = [("Authorization", auth.as_str())];
    let product = write(
        &app,
        Method::POST,
        "/products",
        &key,
        Some(&json!({"sku": "P-1", "name": "P", "price": 5.0, "stock": 10})),
    )
    .await
    .expect_json(201);
    let pid = id_of(&product);
    let order = write(
        &app,
        Method::POST,
        "/orders",
        &key,
        Some(&json!({"product_id": pid, "quantity": 2})),
    )
    .await
    .expect_json(201);
    let oid = id_of(&order);

    let new_product = json!({"sku": "P-2", "name": "Q", "price": 1.0, "stock": 1});
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/products".into(), Some(new_product.clone())),
        (Method::POST, "/products/".into(), Some(new_product)),
        (
            Method::PUT,
            format!("/products/{pid}"),
            Some(json!({"stock": 99})),
        ),
        (Method::DELETE, format!("/products/{pid}"), None),
        (
            Method::POST,
            format!("/products/{pid}/adjustments"),
            Some(json!({"delta": -1, "reason": "theft"})),
        ),
        (
            Method::POST,
            "/orders".into(),
            Some(json!({"product_id": pid, "quantity": 1})),
        ),
        (
            Method::PUT,
            format!("/orders/{oid}"),
            Some(json!({"status": "PAID"})),
        ),
        (Method::DELETE, format!("/orders/{oid}"), None),
    ];
    for (method, path, body) in &attempts {
        let reply = write(&app, method.clone(), path, &[], body.as_ref()).await;
        assert_unauthorized(&reply);
    }
    // Nothing moved.
    assert_eq!(
        ids_of(&app.get("/products").await.expect_json(200)),
        vec![pid]
    );
    let mut expected = product.clone();
    expected["stock"] = json!(8);
    assert_eq!(app.product(pid).await, expected, "the product is unchanged");
    assert_eq!(
        ids_of(&app.get("/orders").await.expect_json(200)),
        vec![oid]
    );
    assert_eq!(app.order_status(oid).await, "PENDING");
    assert_eq!(app.stock(pid).await, 8);
    let ledger = app
        .get(&format!("/products/{pid}/adjustments"))
        .await
        .expect_json(200);
    assert_eq!(
        ledger.as_array().map(Vec::len),
        Some(2),
        "only the initial stock and the order are in the ledger: {ledger}"
    );
    app.stop().await;
}

async fn both_headers_and_every_configured_key_work(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.api_keys = vec![OLD_KEY.to_owned(), NEW_KEY.to_owned()];
    })
    .await;
    let old_bearer = bearer(OLD_KEY);
    let lower_bearer = format!("bearer {NEW_KEY}");
    let credentials: [(&str, &str); 4] = [
        ("Authorization", old_bearer.as_str()),
        ("Authorization", lower_bearer.as_str()),
        ("X-API-Key", OLD_KEY),
        ("X-API-Key", NEW_KEY),
    ];
    for (i, credential) in credentials.iter().enumerate() {
        let headers = [*credential];
        let sku = format!("K-{i}");
        let product = write(
            &app,
            Method::POST,
            "/products",
            &headers,
            Some(&json!({"sku": sku, "name": "K", "price": 2.5, "stock": 5})),
        )
        .await
        .expect_json(201);
        let pid = id_of(&product);
        write(
            &app,
            Method::PUT,
            &format!("/products/{pid}"),
            &headers,
            Some(&json!({"name": "Renamed"})),
        )
        .await
        .assert_status(200);
        write(
            &app,
            Method::POST,
            &format!("/products/{pid}/adjustments"),
            &headers,
            Some(&json!({"delta": 1, "reason": "found"})),
        )
        .await
        .assert_status(200);
        let order = write(
            &app,
            Method::POST,
            "/orders",
            &headers,
            Some(&json!({"product_id": pid, "quantity": 2})),
        )
        .await
        .expect_json(201);
        let oid = id_of(&order);
        write(
            &app,
            Method::PUT,
            &format!("/orders/{oid}"),
            &headers,
            Some(&json!({"status": "PAID"})),
        )
        .await
        .assert_status(200);
        write(
            &app,
            Method::DELETE,
            &format!("/orders/{oid}"),
            &headers,
            None,
        )
        .await
        .assert_status(204);
        assert_eq!(app.stock(pid).await, 6, "with credential {credential:?}");
        let spare = write(
            &app,
            Method::POST,
            "/products",
            &headers,
            Some(&json!({"sku": format!("S-{i}"), "name": "S", "price": 1.0, "stock": 0})),
        )
        .await
        .expect_json(201);
        write(
            &app,
            Method::DELETE,
            &format!("/products/{}", id_of(&spare)),
            &headers,
            None,
        )
        .await
        .assert_status(204);
    }
    app.stop().await;
}

async fn wrong_keys_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    let body = json!({"sku": "W-1", "name": "W", "price": 1.0, "stock": 1});
    let almost = &NEW_KEY[..NEW_KEY.len() - 1];
    let longer = format!("{NEW_KEY}x");
    let basic = format!("Basic {NEW_KEY}");
    let bare = NEW_KEY.to_owned();
    let bearer_almost = bearer(almost);
    let bearer_empty = "Bearer ".to_owned();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("X-API-Key", almost)],
        vec![("X-API-Key", longer.as_str())],
        vec![("X-API-Key", "")],
        vec![("Authorization", basic.as_str())],
        vec![("Authorization", bare.as_str())],
        vec![("Authorization", bearer_almost.as_str())],
        vec![("Authorization", bearer_empty.as_str())],
        vec![("Api-Key", NEW_KEY)],
    ];
    for headers in &cases {
        let reply = write(&app, Method::POST, "/products", headers, Some(&body)).await;
        assert_unauthorized(&reply);
    }
    assert_eq!(app.get("/products").await.expect_json(200), json!([]));
    app.stop().await;
}

async fn reads_and_the_webhook_need_no_key(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    let headers = [("X-API-Key", NEW_KEY)];
    let pid = id_of(
        &write(
            &app,
            Method::POST,
            "/products",
            &headers,
            Some(&json!({"sku": "R-1", "name": "R", "price": 3.0, "stock": 4})),
        )
        .await
        .expect_json(201),
    );
    let oid = id_of(
        &write(
            &app,
            Method::POST,
            "/orders",
            &headers,
            Some(&json!({"product_id": pid, "quantity": 1})),
        )
        .await
        .expect_json(201),
    );
    for path in [
        "/products".to_owned(),
        format!("/products/{pid}"),
        format!("/products/{pid}/adjustments"),
        "/orders".to_owned(),
        format!("/orders/{oid}"),
        format!("/orders/{oid}/events"),
        "/health".to_owned(),
        "/openapi.json".to_owned(),
    ] {
        app.get(&path).await.assert_status(200);
    }
    // The webhook is authenticated by its signature alone.
    let paid = app
        .signed_webhook(&payment_body(oid), Some("evt-auth-1"))
        .await
        .expect_json(200);
    assert_eq!(paid["order_status"], json!("PAID"), "{paid}");
    // And an API key does not stand in for the signature.
    let reply = write(
        &app,
        Method::POST,
        "/webhooks/payment",
        &headers,
        Some(&json!({"event": "payment.succeeded", "order_id": oid})),
    )
    .await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
    app.stop().await;
}

async fn a_rotated_out_key_is_refused(backend: Backend) {
    // After rotation the server is configured with the new key only.
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    let body = json!({"sku": "ROT", "name": "R", "price": 1.0, "stock": 1});
    let old = bearer(OLD_KEY);
    assert_unauthorized(
        &write(
            &app,
            Method::POST,
            "/products",
            &[("Authorization", old.as_str())],
            Some(&body),
        )
        .await,
    );
    assert_unauthorized(
        &write(
            &app,
            Method::POST,
            "/products",
            &[("X-API-Key", OLD_KEY)],
            Some(&body),
        )
        .await,
    );
    write(
        &app,
        Method::POST,
        "/products",
        &[("X-API-Key", NEW_KEY)],
        Some(&body),
    )
    .await
    .assert_status(201);
    app.stop().await;
}

async fn the_key_is_checked_before_the_body(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    // Invalid, unsupported or oversized bodies from a client without a key are all 401: an
    // anonymous client learns nothing about the validation rules.
    let reply = write(
        &app,
        Method::POST,
        "/products",
        &[],
        Some(&json!({"stok": 1})),
    )
    .await;
    assert_unauthorized(&reply);
    let reply = app
        .send_raw(Method::POST, "/orders", "text/plain", "quantity=1")
        .await;
    assert_unauthorized(&reply);
    // With the key the same bodies reach validation.
    let reply = write(
        &app,
        Method::POST,
        "/products",
        &[("X-API-Key", NEW_KEY)],
        Some(&json!({"stok": 1})),
    )
    .await;
    assert_eq!(reply.status, 422, "{}: {}", reply.what, reply.text);
    app.stop().await;
}

async fn refused_large_writes_leave_the_connection_usable(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![NEW_KEY.to_owned()]).await;
    // Controls: a small refused body, and an oversized keyed one (413 says `Connection: close`).
    let transcript = refused_write_then_health(app.port, "", 100).await;
    assert_connection_reusable_or_closed(&transcript, "401 Unauthorized");
    let key = format!("X-API-Key: {NEW_KEY}\r\n");
    let transcript = refused_write_then_health(app.port, &key, 70_000).await;
    assert_connection_reusable_or_closed(&transcript, "413 Payload Too Large");
    // A body just under the 64 KiB limit, refused (401) before it is read.
    let transcript = refused_write_then_health(app.port, "", 60_000).await;
    assert_connection_reusable_or_closed(&transcript, "401 Unauthorized");
    app.stop().await;
}
