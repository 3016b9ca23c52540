//! Bulk writes: `POST /products/bulk` creates and updates up to 1,000 products by SKU in one
//! transaction (all or nothing, a 422 listing each bad item by index, a SKU twice refused,
//! `Idempotency-Key` honoured), and `POST /products/{id}/adjustments` takes a list.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, ids_of, validation_locs};

both_backends!(
    a_batch_creates_and_updates_by_sku,
    every_bad_item_is_listed_by_index_and_nothing_is_written,
    a_sku_twice_in_one_batch_is_refused,
    batch_length_is_bounded,
    a_batch_key_replays_the_first_answer,
    a_thousand_products_fit_in_one_request,
    adjustments_take_a_list_applied_all_or_none,
);

fn item(sku: &str, price: f64, stock: i64) -> Value {
    json!({"sku": sku, "name": format!("Product {sku}"), "price": price, "stock": stock})
}

async fn product_count(app: &TestApp) -> usize {
    ids_of(&app.get("/products?limit=1000").await.expect_json(200)).len()
}

async fn a_batch_creates_and_updates_by_sku(app: TestApp) {
    let known = id_of(&app.create_product("BULK-1", 10.0, 5).await);
    let body = json!({"products": [
        item("BULK-2", 2.5, 3),
        item("BULK-1", 12.0, 9),
    ]});
    let reply = app.post_json("/v1/products/bulk", &body).await;
    let outcome = reply.expect_json(200);
    assert_eq!(
        (
            &outcome["created"],
            &outcome["updated"],
            &outcome["unchanged"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
    assert_eq!(outcome["items"][0]["result"], "created");
    assert_eq!(outcome["items"][1]["result"], "updated");
    assert_eq!(id_of(&outcome["items"][1]["product"]), known);
    assert_eq!(app.product(known).await, outcome["items"][1]["product"]);
    assert_eq!(app.product(known).await["price"], json!(12.0));
    let created = id_of(&outcome["items"][0]["product"]);
    assert_eq!(app.product(created).await, outcome["items"][0]["product"]);
    // The overwritten stock is a `set` movement, as a PUT writes it.
    let ledger = app
        .get(&format!("/products/{known}/adjustments"))
        .await
        .expect_json(200);
    let kinds: Vec<(&str, i64)> = ledger
        .as_array()
        .expect("list")
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or(""),
                m["delta"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(kinds, [("initial", 5), ("set", 4)]);
    // The same batch again changes nothing.
    let again = app
        .post_json("/products/bulk", &body)
        .await
        .expect_json(200);
    assert_eq!(again["unchanged"], json!(2));
    // Only POST is served there.
    let reply = app.get("/products/bulk").await;
    reply.assert_status(405);
    assert_eq!(reply.header("allow"), Some("POST"));
}

async fn every_bad_item_is_listed_by_index_and_nothing_is_written(app: TestApp) {
    let body = json!({"products": [
        item("OK-1", 1.0, 1),
        {"sku": "BAD-1", "name": "x", "price": 0, "stock": 1},
        item("OK-2", 1.0, 1),
        {"sku": "has space", "name": "y", "price": 1.0, "stock": -1, "colour": "red"},
    ]});
    let reply = app.post_json("/v1/products/bulk", &body).await;
    assert_validation_error(
        &reply,
        &[
            &["body", "products", "1", "price"],
            &["body", "products", "3", "sku"],
            &["body", "products", "3", "stock"],
            &["body", "products", "3", "colour"],
        ],
    );
    assert_eq!(
        product_count(&app).await,
        0,
        "a refused batch writes nothing"
    );
    // Not a list, and an unknown top-level field.
    let reply = app
        .post_json("/products/bulk", &json!({"products": item("X", 1.0, 1)}))
        .await;
    assert_validation_error(&reply, &[&["body", "products"]]);
    assert_eq!(reply.json()["detail"][0]["type"], "list_type");
    let reply = app
        .post_json(
            "/products/bulk",
            &json!({"products": [item("X", 1.0, 1)], "x": 1}),
        )
        .await;
    assert_validation_error(&reply, &[&["body", "x"]]);
    assert_eq!(product_count(&app).await, 0);
}

async fn a_sku_twice_in_one_batch_is_refused(app: TestApp) {
    let body = json!({"products": [
        item("DUP-1", 1.0, 1),
        item("DUP-2", 1.0, 1),
        item("DUP-1", 2.0, 2),
    ]});
    let reply = app.post_json("/products/bulk", &body).await;
    assert_validation_error(&reply, &[&["body", "products", "2", "sku"]]);
    let entry = &reply.json()["detail"][0];
    assert_eq!(entry["type"], "duplicate_sku");
    assert_eq!(
        entry["msg"],
        "Duplicate SKU: item 0 of the list has the same one"
    );
    assert_eq!(product_count(&app).await, 0);
}

async fn batch_length_is_bounded(app: TestApp) {
    let reply = app
        .post_json("/products/bulk", &json!({"products": []}))
        .await;
    assert_eq!(validation_locs(&reply), [["body", "products"]]);
    assert_eq!(reply.json()["detail"][0]["type"], "too_short");
    let many: Vec<Value> = (0..1001).map(|i| item(&format!("M-{i}"), 1.0, 1)).collect();
    let reply = app
        .post_json("/products/bulk", &json!({ "products": many }))
        .await;
    assert_eq!(validation_locs(&reply), [["body", "products"]]);
    let entry = &reply.json()["detail"][0];
    assert_eq!(entry["type"], "too_long");
    assert_eq!(
        entry["msg"],
        "List should have at most 1000 items after validation, not 1001"
    );
    assert_eq!(product_count(&app).await, 0);
}

async fn a_batch_key_replays_the_first_answer(app: TestApp) {
    let body = json!({"products": [item("KEY-1", 1.0, 1), item("KEY-2", 1.0, 2)]});
    let first = app.post_with_key("/products/bulk", "bulk-key", &body).await;
    first.assert_status(200);
    assert_eq!(first.header("idempotent-replayed"), None);
    // Meanwhile a product of the batch changes; the replay still answers the first outcome.
    let id = id_of(&first.json()["items"][0]["product"]);
    app.put_json(&format!("/products/{id}"), &json!({"stock": 50}))
        .await
        .assert_status(200);
    let again = app.post_with_key("/products/bulk", "bulk-key", &body).await;
    assert_eq!((again.status, &again.text), (200, &first.text));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.stock(id).await, 50, "the replay wrote nothing");
    let other = json!({"products": [item("KEY-3", 1.0, 1)]});
    app.post_with_key("/products/bulk", "bulk-key", &other)
        .await
        .assert_status(422);
    assert_eq!(product_count(&app).await, 2);
}

async fn a_thousand_products_fit_in_one_request(app: TestApp) {
    let items: Vec<Value> = (0..1000)
        .map(|i| item(&format!("THOUSAND-{i:04}"), 1.25, i))
        .collect();
    let body = json!({ "products": items });
    assert!(
        body.to_string().len() > 65_536,
        "larger than MAX_BODY_BYTES"
    );
    let outcome = app
        .post_json("/products/bulk", &body)
        .await
        .expect_json(200);
    assert_eq!(outcome["created"], json!(1000));
    assert_eq!(product_count(&app).await, 1000);
    let last = &outcome["items"][999]["product"];
    assert_eq!(last["sku"], "THOUSAND-0999");
    assert_eq!(app.stock(id_of(last)).await, 999);
    // The larger limit is the bulk route's alone.
    let padded = json!({"sku": "BIG", "name": "x".repeat(70_000), "price": 1, "stock": 1});
    app.post_json("/products", &padded).await.assert_status(413);
}

async fn adjustments_take_a_list_applied_all_or_none(app: TestApp) {
    let id = id_of(&app.create_product("ADJ-1", 1.0, 2).await);
    let path = format!("/v1/products/{id}/adjustments");
    let list = json!([{"delta": 10, "reason": "delivery"}, {"delta": -3, "reason": "damaged"}]);
    let product = app.post_json(&path, &list).await.expect_json(200);
    assert_eq!(product["stock"], json!(9));
    let ledger = app.get(&path).await.expect_json(200);
    assert_eq!(ledger.as_array().map(Vec::len), Some(3));
    // The second step would go below zero: 409, and nothing changes.
    let refused = json!([{"delta": -5, "reason": "a"}, {"delta": -5, "reason": "b"},
                         {"delta": 50, "reason": "c"}]);
    let reply = app.post_json(&path, &refused).await;
    reply.assert_status(409);
    assert_eq!(reply.json()["detail"]["available"], json!(4));
    assert_eq!(app.stock(id).await, 9);
    assert_eq!(
        app.get(&path)
            .await
            .expect_json(200)
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Every bad item by index; an empty list is refused too.
    let bad =
        json!([{"delta": 1, "reason": "ok"}, {"delta": 0, "reason": "zero"}, {"reason": "r"}]);
    assert_validation_error(
        &app.post_json(&path, &bad).await,
        &[&["body", "1", "delta"], &["body", "2", "delta"]],
    );
    assert_validation_error(&app.post_json(&path, &json!([])).await, &[&["body"]]);
    assert_eq!(app.stock(id).await, 9);
}
