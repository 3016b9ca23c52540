//! `Idempotency-Key` on `POST /orders` and `POST /products` (issue 9): a replay answers the
//! original status and bytes with `Idempotent-Replayed: true` and creates nothing; another body
//! under the same key is 422; a failed create leaves the key unused; concurrent duplicates (on
//! one or two instances) create exactly one row; keys expire after `IDEMPOTENCY_TTL`.

use inventory_core::time::Duration;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::extra::{manual_clock, spawn_app_on_clock};
use crate::helpers::{Api, Backend, Reply, TestApp, assert_validation_error, id_of, ids_of};

both_backends!(
    an_order_replay_answers_the_same_bytes_and_places_nothing,
    a_product_replay_answers_the_same_bytes_and_creates_nothing,
    the_same_key_with_another_body_is_422,
    a_failed_create_leaves_the_key_unused,
    invalid_keys_are_422,
    concurrent_duplicates_place_one_order,
    concurrent_duplicates_on_two_instances_place_one_order,
    keys_survive_a_restart,
);
both_backends!(@backend keys_expire_after_the_ttl);

fn order_body(product: i64, quantity: i64) -> Value {
    json!({"product_id": product, "quantity": quantity})
}

fn replayed(reply: &Reply) -> Option<&str> {
    reply.header("idempotent-replayed")
}

/// Asserts `replay` is a replay of `original`: same status, same bytes, marked replayed.
fn assert_replay_of(replay: &Reply, original: &Reply) {
    assert_eq!(
        replay.status, original.status,
        "{}: a replay answers the original status; body {}",
        replay.what, replay.text
    );
    assert_eq!(
        replay.text, original.text,
        "{}: a replay answers the original bytes",
        replay.what
    );
    assert_eq!(replayed(replay), Some("true"), "{}", replay.what);
    let content_type = replay.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
}

async fn order_count(api: &Api) -> usize {
    ids_of(&api.get("/orders?limit=1000").await.expect_json(200)).len()
}

async fn an_order_replay_answers_the_same_bytes_and_places_nothing(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-1", 10.0, 10).await);
    let body = order_body(product, 3);
    let first = app.post_with_key("/orders", "order-key-1", &body).await;
    let order = first.expect_json(201);
    assert_eq!(replayed(&first), None, "a first answer is not a replay");
    assert_eq!(app.stock(product).await, 7);

    for _ in 0..3 {
        let again = app.post_with_key("/orders", "order-key-1", &body).await;
        assert_replay_of(&again, &first);
    }
    assert_eq!(app.stock(product).await, 7, "a replay takes no stock");
    assert_eq!(order_count(&app).await, 1, "a replay places no order");

    // The replay is the original answer even after the order has moved on.
    app.set_order_status(id_of(&order), "PAID")
        .await
        .assert_status(200);
    let later = app.post_with_key("/orders", "order-key-1", &body).await;
    assert_replay_of(&later, &first);
    assert_eq!(later.json()["status"], json!("PENDING"));

    // Another key is another order; no key is always a new order.
    let other = app.post_with_key("/orders", "order-key-2", &body).await;
    assert_ne!(id_of(&other.expect_json(201)), id_of(&order));
    app.create_order(product, 1).await;
    assert_eq!(app.stock(product).await, 3);
    assert_eq!(order_count(&app).await, 3);
    // The ledger holds one movement per order placed, none for replays.
    let ledger = app
        .get(&format!("/products/{product}/adjustments"))
        .await
        .expect_json(200);
    let placed = ledger
        .as_array()
        .expect("a list")
        .iter()
        .filter(|m| m["kind"] == json!("order_placed"))
        .count();
    assert_eq!(placed, 3, "{ledger}");
}

async fn a_product_replay_answers_the_same_bytes_and_creates_nothing(app: TestApp) {
    let body = json!({"sku": "IDEM-P", "name": "Idempotent", "price": 12.34, "stock": 5});
    let first = app.post_with_key("/products", "product-key-1", &body).await;
    let product = first.expect_json(201);
    assert_eq!(replayed(&first), None);
    let again = app.post_with_key("/products", "product-key-1", &body).await;
    assert_replay_of(&again, &first);
    let list = app.get("/products").await.expect_json(200);
    assert_eq!(ids_of(&list), vec![id_of(&product)]);
    // Without the key the same SKU is a duplicate: the replay did not hide a second insert.
    let duplicate = app.post_json("/products", &body).await;
    duplicate.assert_detail(409, json!("Product with SKU 'IDEM-P' already exists"));
    // With a new key too (the key does not turn a conflict into a replay).
    let other_key = app.post_with_key("/products", "product-key-2", &body).await;
    other_key.assert_detail(409, json!("Product with SKU 'IDEM-P' already exists"));
}

async fn the_same_key_with_another_body_is_422(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-2", 10.0, 10).await);
    let first = app
        .post_with_key("/orders", "reused", &order_body(product, 1))
        .await;
    first.assert_status(201);
    let reply = app
        .post_with_key("/orders", "reused", &order_body(product, 2))
        .await;
    assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
    assert_eq!(
        app.stock(product).await,
        9,
        "the refused request took nothing"
    );
    assert_eq!(order_count(&app).await, 1);
    // The first request still replays.
    let again = app
        .post_with_key("/orders", "reused", &order_body(product, 1))
        .await;
    assert_replay_of(&again, &first);

    // Same on products.
    let p = json!({"sku": "IDEM-3", "name": "A", "price": 1.0, "stock": 1});
    app.post_with_key("/products", "p-reused", &p)
        .await
        .assert_status(201);
    let q = json!({"sku": "IDEM-4", "name": "A", "price": 1.0, "stock": 1});
    let reply = app.post_with_key("/products", "p-reused", &q).await;
    assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
    app.get("/products/")
        .await
        .expect_json(200)
        .as_array()
        .expect("a list")
        .iter()
        .for_each(|p| assert_ne!(p["sku"], json!("IDEM-4"), "IDEM-4 must not exist"));
}

async fn a_failed_create_leaves_the_key_unused(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-5", 10.0, 2).await);
    let body = order_body(product, 5);
    // Not enough stock: 409, and the key is not consumed...
    let reply = app.post_with_key("/orders", "retry-me", &body).await;
    let detail = json!({"error": "Insufficient stock", "requested": 5, "available": 2, "product_id": product});
    reply.assert_detail(409, detail.clone());
    let reply = app.post_with_key("/orders", "retry-me", &body).await;
    reply.assert_detail(409, detail);
    assert_eq!(replayed(&reply), None, "a failure is never stored");
    // ...so after a restock the same retry succeeds.
    app.post_json(
        &format!("/products/{product}/adjustments"),
        &json!({"delta": 8, "reason": "restock"}),
    )
    .await
    .assert_status(200);
    let placed = app.post_with_key("/orders", "retry-me", &body).await;
    placed.assert_status(201);
    assert_eq!(replayed(&placed), None);
    assert_eq!(app.stock(product).await, 5);
    assert_replay_of(
        &app.post_with_key("/orders", "retry-me", &body).await,
        &placed,
    );

    // A body that fails validation does not consume the key either.
    let bad = app
        .post_with_key("/orders", "valid-later", &json!({"product_id": product}))
        .await;
    assert_validation_error(&bad, &[&["body", "quantity"]]);
    let unknown = app
        .post_with_key("/orders", "valid-later", &order_body(999_999, 1))
        .await;
    unknown.assert_detail(404, json!("Product with ID 999999 not found"));
    // The key was not bound to either body: a third body is accepted under it.
    app.post_with_key("/orders", "valid-later", &order_body(product, 1))
        .await
        .assert_status(201);
    assert_eq!(app.stock(product).await, 4);
}

async fn invalid_keys_are_422(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-6", 10.0, 10).await);
    let long = "k".repeat(300);
    let at_limit = "k".repeat(255);
    for key in [long.as_str(), "has space", "tab\there"] {
        let reply = app
            .post_with_key("/orders", key, &order_body(product, 1))
            .await;
        assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
        let reply = app
            .post_with_key(
                "/products",
                key,
                &json!({"sku": "X", "name": "X", "price": 1.0, "stock": 1}),
            )
            .await;
        assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
    }
    assert_eq!(order_count(&app).await, 0);
    assert_eq!(app.stock(product).await, 10);
    assert_eq!(
        ids_of(&app.get("/products").await.expect_json(200)),
        vec![product]
    );
    // 255 visible characters is the longest valid key.
    let first = app
        .post_with_key("/orders", &at_limit, &order_body(product, 1))
        .await;
    first.assert_status(201);
    assert_replay_of(
        &app.post_with_key("/orders", &at_limit, &order_body(product, 1))
            .await,
        &first,
    );
}

/// Sends `count` identical keyed orders at once, spread over `apis`.
async fn keyed_storm(apis: &[Api], key: &str, body: &Value, count: usize) -> Vec<Reply> {
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let api = apis[i % apis.len()].clone();
        let (key, body) = (key.to_owned(), body.clone());
        tasks.spawn(async move { api.post_with_key("/orders", &key, &body).await });
    }
    let mut replies = Vec::with_capacity(count);
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("an order task panicked"));
    }
    replies
}

/// Exactly one order exists for `product`; every answer is 201 with it (one original, the rest
/// replays of the same bytes) or, as issue 9 allows while the first is in flight, 409 with
/// `Retry-After`; a retry of each 409 then replays the original.
async fn assert_one_order(apis: &[Api], replies: &[Reply], key: &str, body: &Value, product: i64) {
    let orders = apis[0]
        .get(&format!("/orders?product_id={product}"))
        .await
        .expect_json(200);
    let ids = ids_of(&orders);
    assert_eq!(ids.len(), 1, "exactly one order for one key: {orders}");
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty(), "no 201 among the answers");
    let originals: Vec<&&Reply> = created.iter().filter(|r| replayed(r).is_none()).collect();
    assert_eq!(originals.len(), 1, "exactly one answer is the original");
    for reply in &created {
        assert_eq!(id_of(&reply.json()), ids[0], "{}", reply.text);
        assert_eq!(reply.text, originals[0].text, "replays are byte-identical");
    }
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            reply.status, 409,
            "{}: only 201 or 409 (in flight); body {}",
            reply.what, reply.text
        );
        let detail = reply.expect_json(409);
        assert!(detail["detail"].is_string(), "{detail}");
        assert!(reply.header("retry-after").is_some(), "{}", reply.what);
    }
    for (i, _) in replies.iter().enumerate().filter(|(_, r)| r.status == 409) {
        let api = &apis[i % apis.len()];
        let retry = api.post_with_key("/orders", key, body).await;
        assert_replay_of(&retry, originals[0]);
    }
}

async fn concurrent_duplicates_place_one_order(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-HOT", 5.0, 100).await);
    let body = order_body(product, 2);
    let apis = [app.api.clone()];
    let replies = keyed_storm(&apis, "storm-key", &body, 50).await;
    assert_one_order(&apis, &replies, "storm-key", &body, product).await;
    assert_eq!(app.stock(product).await, 98, "stock taken once");
}

async fn concurrent_duplicates_on_two_instances_place_one_order(app: TestApp) {
    let second = app.another_instance().await;
    let product = id_of(&app.create_product("IDEM-TWO", 5.0, 100).await);
    let body = order_body(product, 3);
    let apis = [app.api.clone(), second.api.clone()];
    let replies = keyed_storm(&apis, "two-instance-key", &body, 50).await;
    assert_one_order(&apis, &replies, "two-instance-key", &body, product).await;
    assert_eq!(app.stock(product).await, 97);
    assert_eq!(second.stock(product).await, 97);
    second.stop().await;
}

async fn keys_survive_a_restart(app: TestApp) {
    let product = id_of(&app.create_product("IDEM-R", 5.0, 10).await);
    let body = order_body(product, 4);
    let first = app.post_with_key("/orders", "durable", &body).await;
    first.assert_status(201);
    let app = app.restart().await;
    assert_replay_of(
        &app.post_with_key("/orders", "durable", &body).await,
        &first,
    );
    assert_eq!(app.stock(product).await, 6);
    // And on another instance.
    let second = app.another_instance().await;
    assert_replay_of(
        &second.post_with_key("/orders", "durable", &body).await,
        &first,
    );
    second.stop().await;
    app.stop().await;
}

async fn keys_expire_after_the_ttl(backend: Backend) {
    let clock = manual_clock();
    let app = spawn_app_on_clock(backend, clock.clone(), |s| {
        s.idempotency_ttl = std::time::Duration::from_secs(3600);
    })
    .await;
    let product = id_of(&app.create_product("IDEM-TTL", 5.0, 10).await);
    let body = order_body(product, 1);
    let first = app.post_with_key("/orders", "aging", &body).await;
    let first_id = id_of(&first.expect_json(201));
    let p_body = json!({"sku": "IDEM-TTL-P", "name": "P", "price": 1.0, "stock": 1});
    let p_first = app.post_with_key("/products", "aging-p", &p_body).await;
    p_first.assert_status(201);

    // Within the hour: replayed.
    clock.advance(Duration::minutes(59));
    assert_replay_of(&app.post_with_key("/orders", "aging", &body).await, &first);
    assert_replay_of(
        &app.post_with_key("/products", "aging-p", &p_body).await,
        &p_first,
    );
    assert_eq!(app.stock(product).await, 9);

    // Past the hour: forgotten, so the same request creates anew.
    clock.advance(Duration::minutes(2));
    let second = app.post_with_key("/orders", "aging", &body).await;
    let second_id = id_of(&second.expect_json(201));
    assert_eq!(replayed(&second), None, "an expired key is not replayed");
    assert_ne!(second_id, first_id);
    assert_eq!(app.stock(product).await, 8);
    // The key now stands for the new order, with another body refused again.
    assert_replay_of(&app.post_with_key("/orders", "aging", &body).await, &second);
    let reply = app
        .post_with_key("/orders", "aging", &order_body(product, 2))
        .await;
    assert_validation_error(&reply, &[&["header", "idempotency-key"]]);
    // An expired product key: the SKU exists, so the fresh create is a duplicate, not a replay.
    let p_again = app.post_with_key("/products", "aging-p", &p_body).await;
    p_again.assert_detail(409, json!("Product with SKU 'IDEM-TTL-P' already exists"));
    // Once expired, a key can also carry another body.
    let other = json!({"sku": "IDEM-TTL-Q", "name": "Q", "price": 1.0, "stock": 1});
    app.post_with_key("/products", "aging-p", &other)
        .await
        .assert_status(201);
    assert_eq!(order_count(&app).await, 2);
    app.stop().await;
}
