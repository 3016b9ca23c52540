//! HTTP-level rules shared by every route: trailing slashes, 404, 405, 413, 415, X-Request-Id.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Reply, TestApp, id_of};

both_backends!(
    trailing_slash_gives_the_same_answer,
    unknown_route_is_404,
    wrong_method_is_405_with_allow,
    body_over_the_limit_is_413,
    non_json_content_type_is_415,
    request_id_is_echoed_or_generated,
);

async fn trailing_slash_gives_the_same_answer(app: TestApp) {
    // The seed's own curl examples post to `/products/` and `/orders/`.
    let body = json!({"sku": "CURL-001", "name": "Test", "price": 49.99, "stock": 50});
    let product = app.post_json("/products/", &body).await.expect_json(201);
    let id = id_of(&product);
    let item = format!("/products/{id}");

    let without = app.get("/products").await.expect_json(200);
    let with = app.get("/products/").await.expect_json(200);
    assert_eq!(with, without);
    assert_eq!(without, json!([product]));
    assert_eq!(app.get(&format!("{item}/")).await.expect_json(200), product);
    let paged = app.get("/products/?skip=0&limit=1").await.expect_json(200);
    assert_eq!(paged, json!([product]));

    let updated = app
        .put_json(&format!("{item}/"), &json!({"stock": 40}))
        .await
        .expect_json(200);
    assert_eq!(updated["stock"], json!(40));

    let order = app
        .post_json("/orders/", &json!({"product_id": id, "quantity": 3}))
        .await
        .expect_json(201);
    let order_id = id_of(&order);
    assert_eq!(app.get("/orders/").await.expect_json(200), json!([order]));
    let order_item = format!("/orders/{order_id}/");
    assert_eq!(app.get(&order_item).await.expect_json(200), order);
    let paid = app
        .put_json(&order_item, &json!({"status": "PAID"}))
        .await
        .expect_json(200);
    assert_eq!(paid["status"], json!("PAID"));
    app.delete(&order_item).await.assert_status(204);
    assert_eq!(app.order_status(order_id).await, "CANCELED");

    let other = id_of(&app.create_product("OTHER", 1.0, 1).await);
    app.delete(&format!("/products/{other}/"))
        .await
        .assert_status(204);
    app.get(&format!("/products/{other}"))
        .await
        .assert_status(404);

    assert_eq!(
        app.get("/health/").await.expect_json(200),
        json!({"status": "ok"})
    );
    let unknown = app.get("/products/999/").await;
    unknown.assert_detail(404, json!("Product with ID 999 not found"));
}

async fn unknown_route_is_404(app: TestApp) {
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::GET, "/"),
        (Method::GET, "/products/1/reviews"),
        (Method::DELETE, "/nope"),
        (Method::POST, "/webhooks/refund"),
        (Method::GET, "/productsx"),
    ] {
        let reply = app.send(app.request(method, path)).await;
        reply.assert_detail(404, json!("Not Found"));
    }
}

/// The methods an `Allow` header lists, upper-cased, HEAD and OPTIONS left out.
fn allowed(reply: &Reply) -> BTreeSet<String> {
    let allow = reply
        .header("allow")
        .unwrap_or_else(|| panic!("{}: 405 without an Allow header", reply.what));
    allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty() && m != "HEAD" && m != "OPTIONS")
        .collect()
}

async fn wrong_method_is_405_with_allow(app: TestApp) {
    let id = id_of(&app.create_product("PROD", 1.0, 5).await);
    let item = format!("/products/{id}");
    let order = id_of(&app.create_order(id, 1).await);
    let order_item = format!("/orders/{order}");
    let cases: [(Method, &str, &[&str]); 9] = [
        (Method::PATCH, "/products", &["GET", "POST"]),
        (Method::DELETE, "/products", &["GET", "POST"]),
        (Method::PUT, "/products/", &["GET", "POST"]),
        (Method::POST, &item, &["GET", "PUT", "DELETE"]),
        (Method::PATCH, &item, &["GET", "PUT", "DELETE"]),
        (Method::PATCH, &order_item, &["GET", "PUT", "DELETE"]),
        (Method::PUT, "/orders", &["GET", "POST"]),
        (Method::GET, "/webhooks/payment", &["POST"]),
        (Method::POST, "/health", &["GET"]),
    ];
    for (method, path, methods) in cases {
        let reply = app.send(app.request(method, path)).await;
        reply.assert_detail(405, json!("Method Not Allowed"));
        let expected: BTreeSet<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(allowed(&reply), expected, "{}: Allow header", reply.what);
    }
    // Nothing was changed by the refused requests.
    assert_eq!(app.stock(id).await, 4);
    assert_eq!(app.order_status(order).await, "PENDING");
}

/// A valid product body padded with trailing spaces to exactly `len` bytes.
fn padded_product(sku: &str, len: usize) -> String {
    let mut body = json!({"sku": sku, "name": "Big", "price": 1.0, "stock": 1}).to_string();
    assert!(body.len() <= len);
    body.push_str(&" ".repeat(len - body.len()));
    body
}

async fn body_over_the_limit_is_413(app: TestApp) {
    const LIMIT: usize = 64 * 1024;
    let at_limit = app
        .send_raw(
            Method::POST,
            "/products",
            "application/json",
            padded_product("AT", LIMIT),
        )
        .await;
    at_limit.expect_json(201);

    let over = padded_product("OVER", LIMIT + 1);
    let reply = app
        .send_raw(Method::POST, "/products", "application/json", over)
        .await;
    let body = reply.expect_json(413);
    assert!(body["detail"].is_string(), "{}: {body}", reply.what);

    let huge = padded_product("HUGE", 100 * 1024);
    let reply = app
        .send_raw(Method::POST, "/orders", "application/json", huge)
        .await;
    reply.expect_json(413);
    // The webhook too, signed or not: the limit comes first.
    let signed = padded_product("HOOK", LIMIT + 1);
    let reply = app.signed_webhook(&signed, Some("evt-big")).await;
    reply.expect_json(413);
    let products = app.get("/products").await.expect_json(200);
    assert_eq!(
        products.as_array().map(Vec::len),
        Some(1),
        "only the body at the limit: {products}"
    );
}

async fn non_json_content_type_is_415(app: TestApp) {
    let body = json!({"sku": "PROD", "name": "Widget", "price": 1.0, "stock": 1}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let reply = app
            .send_raw(Method::POST, "/products", content_type, body.clone())
            .await;
        let answer = reply.expect_json(415);
        assert!(answer["detail"].is_string(), "{}: {answer}", reply.what);
    }
    assert_eq!(app.get("/products").await.expect_json(200), json!([]));

    let id = id_of(
        &app.send_raw(
            Method::POST,
            "/products",
            "application/json; charset=utf-8",
            body,
        )
        .await
        .expect_json(201),
    );
    let update = json!({"stock": 9}).to_string();
    let path = format!("/products/{id}");
    let reply = app.send_raw(Method::PUT, &path, "text/plain", update).await;
    reply.expect_json(415);
    let order = json!({"product_id": id, "quantity": 1}).to_string();
    let reply = app
        .send_raw(Method::POST, "/orders", "text/plain", order)
        .await;
    reply.expect_json(415);
    assert_eq!(app.stock(id).await, 1, "refused requests change nothing");
}

async fn request_id_is_echoed_or_generated(app: TestApp) {
    let id = id_of(&app.create_product("PROD", 1.0, 1).await);
    let product = format!("/products/{id}");
    let big = padded_product("BIG", 70_000);
    let requests = || {
        let json_body = json!({"sku": "NEW", "name": "New", "price": 1.0, "stock": 1});
        vec![
            (200, app.request(Method::GET, "/health")),
            (201, app.request(Method::POST, "/products").json(&json_body)),
            (404, app.request(Method::GET, "/products/999")),
            (404, app.request(Method::GET, "/nope")),
            (405, app.request(Method::PATCH, "/products")),
            (422, app.request(Method::GET, "/products/abc")),
            (422, app.request(Method::POST, "/products").json(&json!({}))),
            (
                415,
                app.request(Method::POST, "/products")
                    .header("Content-Type", "text/plain")
                    .body("{}"),
            ),
            (
                413,
                app.request(Method::POST, "/products")
                    .header("Content-Type", "application/json")
                    .body(big.clone()),
            ),
            (
                401,
                app.request(Method::POST, "/webhooks/payment")
                    .header("Content-Type", "application/json")
                    .body("{}"),
            ),
            (204, app.request(Method::DELETE, &product)),
        ]
    };

    let mut generated = BTreeSet::new();
    let first_round = requests();
    let count = first_round.len();
    for (status, request) in first_round {
        let reply = app.send(request).await;
        reply.assert_status(status);
        let id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{}: no X-Request-Id in the answer", reply.what));
        assert!(!id.trim().is_empty(), "{}: empty X-Request-Id", reply.what);
        generated.insert(id.to_owned());
    }
    assert_eq!(
        generated.len(),
        count,
        "generated request ids are unique: {generated:?}"
    );

    app.create_product("PROD", 1.0, 1).await;
    for (n, (_, request)) in requests().into_iter().enumerate() {
        let sent = format!("client-chosen-{n}");
        let reply = app
            .send(request.header("X-Request-Id", sent.as_str()))
            .await;
        assert_eq!(
            reply.header("x-request-id"),
            Some(sent.as_str()),
            "{}: the client's X-Request-Id is echoed (status {})",
            reply.what,
            reply.status
        );
    }
}
