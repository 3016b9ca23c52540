//! Concurrency over HTTP: never oversell, never apply a payment twice — also across two server
//! instances on one database.

use std::collections::BTreeMap;

use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{Api, Reply, TestApp, WEBHOOK_SECRET, id_of, ids_of, payment_body, sign};

both_backends!(
    concurrent_orders_never_oversell,
    two_instances_never_oversell,
    concurrent_replays_apply_once,
    two_instances_apply_an_event_once,
    concurrent_cancels_return_stock_once,
    payment_racing_a_cancel_keeps_stock_consistent,
);

/// Sends `count` single-unit orders at once, spread over `apis`; returns every answer.
async fn order_storm(apis: &[Api], product: i64, count: usize) -> Vec<Reply> {
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let api = apis[i % apis.len()].clone();
        tasks.spawn(async move {
            api.post_json("/orders", &json!({"product_id": product, "quantity": 1}))
                .await
        });
    }
    let mut replies = Vec::with_capacity(count);
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("an order task panicked"));
    }
    replies
}

/// status → how many answers had it.
fn tally(replies: &[Reply]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status).or_insert(0) += 1;
    }
    counts
}

async fn assert_sold_out(app: &TestApp, replies: &[Reply], product: i64, stock: usize) {
    let counts = tally(replies);
    let expected = BTreeMap::from([(201, stock), (409, replies.len() - stock)]);
    let unexpected: Vec<&str> = replies
        .iter()
        .filter(|r| r.status != 201 && r.status != 409)
        .map(|r| r.text.as_str())
        .take(3)
        .collect();
    assert_eq!(
        counts, expected,
        "answers by status; other bodies: {unexpected:?}"
    );
    for reply in replies.iter().filter(|r| r.status == 409) {
        let detail = json!({"error": "Insufficient stock", "requested": 1, "available": 0, "product_id": product});
        reply.assert_detail(409, detail);
    }
    assert_eq!(app.stock(product).await, 0);
    let orders = app
        .get(&format!("/orders?product_id={product}&limit=1000"))
        .await
        .expect_json(200);
    let mut ids = ids_of(&orders);
    assert_eq!(ids.len(), stock, "one order per 201");
    ids.dedup();
    assert_eq!(ids.len(), stock, "distinct order ids");
    let mut created: Vec<i64> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| id_of(&r.json()))
        .collect();
    created.sort_unstable();
    assert_eq!(created, ids, "the orders listed are the ones answered 201");
}

async fn concurrent_orders_never_oversell(app: TestApp) {
    let product = id_of(&app.create_product("HOT", 9.99, 20).await);
    let replies = order_storm(std::slice::from_ref(&app.api), product, 100).await;
    assert_sold_out(&app, &replies, product, 20).await;
}

async fn two_instances_never_oversell(app: TestApp) {
    let second = app.another_instance().await;
    let product = id_of(&app.create_product("HOT", 9.99, 20).await);
    // The second instance sees the first one's product.
    assert_eq!(second.stock(product).await, 20);
    let replies = order_storm(&[app.api.clone(), second.api.clone()], product, 60).await;
    assert_sold_out(&app, &replies, product, 20).await;
    assert_eq!(second.stock(product).await, 0);
    second.stop().await;
}

/// Sends the same signed event `count` times at once, spread over `apis`.
async fn event_storm(apis: &[Api], body: &str, event_id: Option<&str>, count: usize) -> Vec<Reply> {
    let signature = sign(WEBHOOK_SECRET, body);
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let api = apis[i % apis.len()].clone();
        let (body, signature) = (body.to_owned(), signature.clone());
        let event_id = event_id.map(str::to_owned);
        tasks.spawn(async move {
            api.webhook(&body, Some(&signature), event_id.as_deref())
                .await
        });
    }
    let mut replies = Vec::with_capacity(count);
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("a webhook task panicked"));
    }
    replies
}

fn assert_applied_once(replies: &[Reply]) {
    let counts = tally(replies);
    let expected = BTreeMap::from([(200, 1), (400, replies.len() - 1)]);
    let others: Vec<&str> = replies
        .iter()
        .filter(|r| r.status != 200 && r.status != 400)
        .map(|r| r.text.as_str())
        .take(3)
        .collect();
    assert_eq!(
        counts, expected,
        "one success, the rest replays; other bodies: {others:?}"
    );
    for reply in replies.iter().filter(|r| r.status == 400) {
        let body = reply.expect_json(400);
        assert_eq!(
            body["detail"]["error"],
            json!("Event already processed"),
            "{body}"
        );
    }
}

async fn concurrent_replays_apply_once(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 1).await);
    let replies = event_storm(
        std::slice::from_ref(&app.api),
        &payment_body(order),
        Some("evt-storm"),
        20,
    )
    .await;
    assert_applied_once(&replies);
    assert_eq!(app.order_status(order).await, "PAID");

    // Without an X-Event-Id the body hash decides, just as firmly.
    let second = id_of(&app.create_order(product, 1).await);
    let replies = event_storm(
        std::slice::from_ref(&app.api),
        &payment_body(second),
        None,
        20,
    )
    .await;
    assert_applied_once(&replies);
    assert_eq!(app.order_status(second).await, "PAID");
}

async fn two_instances_apply_an_event_once(app: TestApp) {
    let second = app.another_instance().await;
    let product = id_of(&app.create_product("PROD", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 1).await);
    let apis = [app.api.clone(), second.api.clone()];
    let replies = event_storm(&apis, &payment_body(order), Some("evt-shared"), 20).await;
    assert_applied_once(&replies);
    assert_eq!(second.order_status(order).await, "PAID");
    // Either instance refuses it afterwards.
    for api in &apis {
        let reply = api
            .signed_webhook(&payment_body(order), Some("evt-shared"))
            .await;
        reply.assert_status(400);
    }
    second.stop().await;
}

async fn concurrent_cancels_return_stock_once(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 5.0, 10).await);
    let order = id_of(&app.create_order(product, 4).await);
    app.set_order_status(order, "PAID").await.expect_json(200);
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let api = app.api.clone();
        let path = format!("/orders/{order}");
        tasks.spawn(async move {
            if i % 2 == 0 {
                api.delete(&path).await
            } else {
                api.put_json(&path, &json!({"status": "CANCELED"})).await
            }
        });
    }
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("a cancel task panicked"));
    }
    // DELETE answers 204 (first) or 400 (already CANCELED); PUT answers 200 either way.
    for reply in &replies {
        let ok = match reply.what.split(' ').next() {
            Some("DELETE") => reply.status == 204 || reply.status == 400,
            _ => reply.status == 200,
        };
        assert!(ok, "{}: {} {}", reply.what, reply.status, reply.text);
    }
    assert_eq!(app.order_status(order).await, "CANCELED");
    assert_eq!(
        app.stock(product).await,
        10,
        "the units came back exactly once"
    );
}

async fn payment_racing_a_cancel_keeps_stock_consistent(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 5.0, 100).await);
    let mut orders = Vec::new();
    for _ in 0..10 {
        orders.push(id_of(&app.create_order(product, 3).await));
    }
    assert_eq!(app.stock(product).await, 70);
    let mut tasks = JoinSet::new();
    for &order in &orders {
        let (pay, cancel) = (app.api.clone(), app.api.clone());
        let body = payment_body(order);
        tasks.spawn(async move { pay.signed_webhook(&body, None).await });
        tasks.spawn(async move { cancel.delete(&format!("/orders/{order}")).await });
    }
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("a task panicked");
        let expected: &[u16] = if reply.what.starts_with("DELETE") {
            &[204]
        } else {
            &[200, 409]
        };
        assert!(
            expected.contains(&reply.status),
            "{}: {} {}",
            reply.what,
            reply.status,
            reply.text
        );
    }
    // Paid then canceled, or canceled then refused: canceled either way, all units back.
    for &order in &orders {
        assert_eq!(app.order_status(order).await, "CANCELED");
    }
    assert_eq!(app.stock(product).await, 100);
}
