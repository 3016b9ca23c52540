//! Input every backend must refuse alike, at the edge: texts no store can hold (NUL, control
//! characters), ambiguous JSON (a key twice), look-alike SKUs, and a body made to amplify its
//! own error list.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, payment_body, validation_locs};

both_backends!(
    control_characters_in_stored_texts_are_422_naming_the_field,
    control_characters_in_stored_headers_are_422_naming_the_header,
    duplicate_keys_are_422_at_any_depth,
    long_error_lists_are_capped,
    look_alike_skus_are_refused,
);

/// A product and a PENDING order of it; returns (product, order).
async fn product_and_order(app: &TestApp, sku: &str) -> (i64, i64) {
    let product = id_of(&app.create_product(sku, 10.0, 100).await);
    let order = id_of(&app.create_order(product, 1).await);
    (product, order)
}

async fn control_characters_in_stored_texts_are_422_naming_the_field(app: TestApp) {
    let (product, order) = product_and_order(&app, "CTL-1").await;
    // Webhook texts: the event type (stored with the event) and the currency. PostgreSQL cannot
    // store NUL in `text`; that must not become a 500 there and a 200 on SQLite.
    for (body, field) in [
        (
            format!(r#"{{"event": "payment.succeeded\u0000", "order_id": {order}}}"#),
            "event",
        ),
        (
            format!(r#"{{"event": "payment.refunded\u001b[2J", "order_id": {order}}}"#),
            "event",
        ),
        (r#"{"event": "refund\u0000"}"#.to_owned(), "event"),
        (
            format!(
                r#"{{"event": "payment.succeeded", "order_id": {order}, "currency": "US\u0000"}}"#
            ),
            "currency",
        ),
    ] {
        let reply = app.signed_webhook(&body, Some("evt-ctl")).await;
        assert_validation_error(&reply, &[&["body", field]]);
    }
    assert_eq!(app.order_status(order).await, "PENDING");
    // Nothing was recorded: the event id is still free.
    let reply = app
        .signed_webhook(&payment_body(order), Some("evt-ctl"))
        .await;
    assert_eq!(reply.expect_json(200)["order_status"], json!("PAID"));

    // Product texts, on create and on update, and the adjustment reason.
    for (field, value) in [
        ("sku", "CTL\u{0}2"),
        ("sku", "CTL\u{7}2"),
        ("name", "Widget\u{0}"),
        ("name", "Widget\u{85}"),
    ] {
        let mut body = json!({"sku": "CTL-2", "name": "Widget", "price": 1.0, "stock": 1});
        body[field] = json!(value);
        let reply = app.post_json("/products", &body).await;
        assert_validation_error(&reply, &[&["body", field]]);
        let patch = json!({ field: value });
        let reply = app.put_json(&format!("/products/{product}"), &patch).await;
        assert_validation_error(&reply, &[&["body", field]]);
    }
    for reason in ["damaged\u{0}", "lost\u{1b}[31m", "\u{0}"] {
        let reply = app
            .post_json(
                &format!("/products/{product}/adjustments"),
                &json!({"delta": -1, "reason": reason}),
            )
            .await;
        assert_validation_error(&reply, &[&["body", "reason"]]);
    }
    assert_eq!(app.stock(product).await, 99, "nothing was adjusted");
    assert_eq!(
        app.get("/products")
            .await
            .expect_json(200)
            .as_array()
            .map(Vec::len),
        Some(1),
        "nothing was created"
    );
}

async fn control_characters_in_stored_headers_are_422_naming_the_header(app: TestApp) {
    let (product, order) = product_and_order(&app, "CTL-H").await;
    // HTTP carries no NUL in a header, but a tab or obs-text can come; neither is stored.
    let body = json!({"product_id": product, "quantity": 1});
    for key in ["tab\tkey", "caf\u{e9}-key"] {
        let value = reqwest::header::HeaderValue::from_bytes(key.as_bytes()).expect("a value");
        let request = app
            .request(Method::POST, "/orders")
            .header("Idempotency-Key", value)
            .json(&body);
        let reply = app.send(request).await;
        assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
    }
    let body = payment_body(order);
    let signature = crate::helpers::sign(crate::helpers::WEBHOOK_SECRET, &body);
    let request = app
        .request(Method::POST, "/webhooks/payment")
        .header("Content-Type", "application/json")
        .header("X-Webhook-Signature", signature)
        .header("X-Event-Id", "evt\tone")
        .body(body);
    let reply = app.send(request).await;
    assert_validation_error(&reply, &[&["header", "x-event-id"]]);
    assert_eq!(app.order_status(order).await, "PENDING");
    assert_eq!(app.stock(product).await, 99);
}

async fn duplicate_keys_are_422_at_any_depth(app: TestApp) {
    let (product, order) = product_and_order(&app, "DUP-1").await;
    let raw = |body: String| {
        let app = &app;
        async move {
            app.send_raw(Method::POST, "/orders", "application/json", body)
                .await
        }
    };
    // The issue's example: the last key would have won, ordering a million units.
    let reply = raw(format!(
        r#"{{"product_id": {product}, "quantity": 1, "quantity": 1000000}}"#
    ))
    .await;
    assert_validation_error(&reply, &[&["body", "quantity"]]);
    let entry = &reply.json()["detail"][0];
    assert_eq!(entry["type"], json!("duplicate_key"), "{entry}");
    // Spelled differently, the same key.
    let reply = raw(format!(
        r#"{{"product_id": {product}, "quantity": 1, "quanti\u0074y": 2}}"#
    ))
    .await;
    assert_validation_error(&reply, &[&["body", "quantity"]]);
    // Nested (refused for the duplicate, not only as an unknown field).
    let reply = app
        .send_raw(
            Method::POST,
            "/products",
            "application/json",
            r#"{"sku": "DUP-2", "name": "n", "price": 1, "stock": 1, "x": [{"a": 1, "a": 2}]}"#,
        )
        .await;
    assert_validation_error(&reply, &[&["body", "x", "0", "a"]]);
    let reply = app
        .send_raw(
            Method::PUT,
            &format!("/orders/{order}"),
            "application/json",
            r#"{"status": "PAID", "status": "CANCELED"}"#,
        )
        .await;
    assert_validation_error(&reply, &[&["body", "status"]]);
    assert_eq!(app.order_status(order).await, "PENDING");
    assert_eq!(app.stock(product).await, 99, "no order was placed");
    // The webhook body as well, after its signature: a 422, and nothing recorded.
    let body = format!(
        r#"{{"event": "payment.succeeded", "order_id": {order}, "order_id": {}}}"#,
        order + 1
    );
    let reply = app.signed_webhook(&body, Some("evt-dup")).await;
    assert_validation_error(&reply, &[&["body", "order_id"]]);
    assert_eq!(app.order_status(order).await, "PENDING");
    let reply = app.webhook(&body, Some("bad"), Some("evt-dup")).await;
    reply.assert_detail(401, json!("Invalid webhook signature"));
    // A query parameter sent twice is as ambiguous as a key twice; a padded one is no integer.
    let reply = app.get("/products?limit=1&limit=1000").await;
    assert_validation_error(&reply, &[&["query", "limit"]]);
    let reply = app.get("/orders?status=PAID&status=PENDING").await;
    assert_validation_error(&reply, &[&["query", "status"]]);
    let reply = app.get("/products?skip=5%C2%85").await;
    assert_validation_error(&reply, &[&["query", "skip"]]);
}

async fn long_error_lists_are_capped(app: TestApp) {
    // 6,000 unknown fields in about 58 KB: the answer used to list all of them (533 KB).
    let fields: Vec<String> = (0..6000).map(|i| format!(r#""f{i}": 1"#)).collect();
    let body = format!("{{{}}}", fields.join(","));
    assert!(body.len() < 65_536, "{} bytes", body.len());
    let reply = app
        .send_raw(Method::POST, "/products", "application/json", body)
        .await;
    let locs = validation_locs(&reply);
    let cap = inventory_server::fastapi::MAX_LISTED_ERRORS;
    assert_eq!(
        locs.len(),
        cap + 1,
        "{cap} errors and one saying how many more"
    );
    // The four missing fields come first, then the unknown ones.
    assert_eq!(locs[0], ["body", "sku"]);
    let detail = reply.json()["detail"].clone();
    let last = &detail[cap];
    assert_eq!(last["type"], json!("too_many_errors"), "{last}");
    let more = 6000 + 4 - cap;
    assert_eq!(last["msg"], json!(format!("{more} more errors not shown")));
    assert!(reply.text.len() < 4096, "{} bytes", reply.text.len());
    // At or under the cap, every error is listed as before.
    let reply = app.post_json("/products", &json!({"stok": 1})).await;
    let listed: Vec<Value> = reply.json()["detail"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 5, "{listed:?}");
}

async fn look_alike_skus_are_refused(app: TestApp) {
    let id = id_of(&app.create_product("PROD-001", 1.0, 1).await);
    for (sku, what) in [
        ("PROD-001\u{200B}", "zero-width space"),
        ("\u{202E}100-DORP", "right-to-left override"),
        ("\u{FEFF}PROD-001", "byte-order mark"),
        ("PROD\u{2060}-001", "word joiner"),
        ("PROD-\u{E0030}01", "tag character"),
    ] {
        let body = json!({"sku": sku, "name": "Look-alike", "price": 1.0, "stock": 1});
        let reply = app.post_json("/products", &body).await;
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
        assert_validation_error(&reply, &[&["body", "sku"]]);
        let reply = app
            .put_json(&format!("/products/{id}"), &json!({ "sku": sku }))
            .await;
        assert_validation_error(&reply, &[&["body", "sku"]]);
    }
    let all = app.get("/products").await.expect_json(200);
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    // Letters of any script are fine.
    app.create_product("ÜBER-商品-1", 1.0, 1).await;
}
