//! HTTP details of issue 14: the `Bearer` scheme in any case, `X-Forwarded-For` over several
//! header lines, `HEAD` answered like `GET`, and `Link: rel="next"` only while rows remain.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Reply, TestApp, id_of, ids_of, spawn_app_with};

both_backends!(
    head_answers_like_get_without_a_body,
    order_and_ledger_links_stop_at_the_last_row,
);
both_backends!(@backend
    the_bearer_scheme_is_case_insensitive,
    forwarded_for_over_two_lines_is_keyed_on_the_last_entry,
);

const KEY: &str = "hardening-key-0123456789";

async fn the_bearer_scheme_is_case_insensitive(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.api_keys = vec![KEY.to_owned()]).await;
    for (i, scheme) in ["Bearer", "bearer", "BEARER", "bEaReR"].iter().enumerate() {
        let body = json!({"sku": format!("AUTH-{i}"), "name": "A", "price": 1.0, "stock": 1});
        let request = app
            .request(Method::POST, "/products")
            .header("Authorization", format!("{scheme} {KEY}"))
            .json(&body);
        let reply = app.send(request).await;
        assert_eq!(reply.status, 201, "{scheme}: {}", reply.text);
    }
    for value in [
        format!("Basic {KEY}"),
        format!("Bearer{KEY}"),
        KEY.to_owned(),
    ] {
        let request = app
            .request(Method::DELETE, "/products/1")
            .header("Authorization", value.as_str());
        app.send(request).await.assert_status(401);
    }
    app.stop().await;
}

async fn forwarded_for_over_two_lines_is_keyed_on_the_last_entry(backend: Backend) {
    let burst = 3;
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = burst;
        s.trust_proxy = true;
    })
    .await;
    // The client sends its own X-Forwarded-For line, a new address each time; the proxy appends
    // its line, the client's real address, last.
    let send = |own: String, proxy: &'static str| {
        let request = app
            .request(Method::GET, "/products")
            .header("X-Forwarded-For", own)
            .header("X-Forwarded-For", proxy);
        app.send(request)
    };
    let mut statuses = Vec::new();
    for i in 0..burst + 5 {
        statuses.push(
            send(format!("198.51.100.{i}, 10.1.1.{i}"), "203.0.113.9")
                .await
                .status,
        );
    }
    assert!(
        statuses[..burst as usize].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "spoofed first lines must not give new budgets: {statuses:?}"
    );
    // Another real client (another last entry) has its own budget.
    let other = send("203.0.113.9".to_owned(), "203.0.113.10").await;
    other.assert_status(200);
    app.stop().await;
}

fn assert_head_like_get(head: &Reply, get: &Reply) {
    assert_eq!(head.status, get.status, "{}", head.what);
    assert_eq!(head.text, "", "{}: HEAD sends no body", head.what);
    assert_eq!(
        head.header("content-length"),
        Some(get.text.len().to_string().as_str()),
        "{}: the length GET would send",
        head.what
    );
    assert_eq!(
        head.header("content-type"),
        get.header("content-type"),
        "{}",
        head.what
    );
}

async fn head_answers_like_get_without_a_body(app: TestApp) {
    let id = id_of(&app.create_product("HEAD-1", 1.0, 1).await);
    for path in [
        "/products".to_owned(),
        format!("/products/{id}"),
        "/products/999".to_owned(),
        "/health".to_owned(),
        "/openapi.json".to_owned(),
        "/orders?limit=0".to_owned(),
    ] {
        let head = app.send(app.request(Method::HEAD, &path)).await;
        let get = app.get(&path).await;
        assert_head_like_get(&head, &get);
    }
    // A route without GET has no HEAD either; GET routes list HEAD as allowed.
    let reply = app
        .send(app.request(Method::HEAD, "/webhooks/payment"))
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = app.send(app.request(Method::PATCH, "/products")).await;
    assert_eq!(reply.header("allow"), Some("GET, POST, HEAD"));
    // HEAD changes nothing and needs no key.
    assert_eq!(app.stock(id).await, 1);
}

async fn order_and_ledger_links_stop_at_the_last_row(app: TestApp) {
    let product = id_of(&app.create_product("LINK-1", 1.0, 100).await);
    let mut orders = Vec::new();
    for _ in 0..4 {
        let order = id_of(&app.create_order(product, 1).await);
        app.set_order_status(order, "PAID").await.assert_status(200);
        orders.push(order);
    }
    // Four PAID orders in pages of two: the second page is full and the last.
    let first = app.get("/orders?status=PAID&limit=2").await;
    assert_eq!(ids_of(&first.expect_json(200)), orders[..2]);
    assert!(first.header("link").is_some(), "more rows remain");
    let last = app
        .get(&format!("/orders?status=PAID&limit=2&after={}", orders[1]))
        .await;
    assert_eq!(ids_of(&last.expect_json(200)), orders[2..]);
    assert_eq!(last.header("link"), None, "no row after the last page");
    // The ledger: `initial` and four `order_placed` rows, then one adjustment: six rows.
    app.post_json(
        &format!("/products/{product}/adjustments"),
        &json!({"delta": 1, "reason": "found"}),
    )
    .await
    .expect_json(200);
    let ledger = format!("/products/{product}/adjustments");
    let page = app.get(&format!("{ledger}?limit=3")).await;
    let rows = ids_of(&page.expect_json(200));
    assert!(page.header("link").is_some());
    let last = app
        .get(&format!("{ledger}?limit=3&after={}", rows[2]))
        .await;
    assert_eq!(ids_of(&last.expect_json(200)).len(), 3);
    assert_eq!(last.header("link"), None);
    let all = app.get(&format!("{ledger}?limit=6")).await;
    assert_eq!(all.header("link"), None, "a full page holding every row");
}
