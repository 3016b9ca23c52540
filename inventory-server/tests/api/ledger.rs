//! The stock ledger over HTTP (issue 10): `POST /products/{id}/adjustments` (never below zero),
//! `GET /products/{id}/adjustments` listing every stock change oldest first, with a `PUT` of
//! `stock` recorded as kind `set`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, payment_body};

both_backends!(
    an_adjustment_changes_the_stock,
    never_below_zero,
    invalid_adjustments_list_every_problem,
    unknown_products_are_404,
    the_ledger_lists_every_change_oldest_first,
    the_ledger_always_sums_to_the_stock,
    the_ledger_pages_by_cursor,
);

fn adjustments(product: i64) -> String {
    format!("/products/{product}/adjustments")
}

async fn ledger(app: &TestApp, product: i64) -> Vec<Value> {
    app.get(&format!("{}?limit=1000", adjustments(product)))
        .await
        .expect_json(200)
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("the ledger of {product} is not a list"))
}

/// `(kind, reason, delta, order_id)` of each row.
fn rows(ledger: &[Value]) -> Vec<(String, String, i64, Option<i64>)> {
    ledger
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().expect("a kind").to_owned(),
                m["reason"].as_str().expect("a reason").to_owned(),
                m["delta"].as_i64().expect("an integer delta"),
                m["order_id"].as_i64(),
            )
        })
        .collect()
}

fn row(
    kind: &str,
    reason: &str,
    delta: i64,
    order: Option<i64>,
) -> (String, String, i64, Option<i64>) {
    (kind.to_owned(), reason.to_owned(), delta, order)
}

async fn an_adjustment_changes_the_stock(app: TestApp) {
    let product = app.create_product("ADJ-1", 9.99, 10).await;
    let id = id_of(&product);
    let reply = app
        .post_json(&adjustments(id), &json!({"delta": -3, "reason": "damaged"}))
        .await;
    let after = reply.expect_json(200);
    let mut expected = product.clone();
    expected["stock"] = json!(7);
    assert_eq!(
        after, expected,
        "the answer is the product with its new stock"
    );
    assert_eq!(app.stock(id).await, 7);
    let after = app
        .post_json(&adjustments(id), &json!({"delta": 5, "reason": "restock"}))
        .await
        .expect_json(200);
    assert_eq!(after["stock"], json!(12));
    // Down to exactly zero is allowed.
    let after = app
        .post_json(
            &format!("{}/", adjustments(id)),
            &json!({"delta": -12, "reason": "recall"}),
        )
        .await
        .expect_json(200);
    assert_eq!(after["stock"], json!(0));
    // Adjusted stock is orderable, and the order takes from it.
    app.post_json(&adjustments(id), &json!({"delta": 2, "reason": "found"}))
        .await
        .assert_status(200);
    app.create_order(id, 2).await;
    assert_eq!(app.stock(id).await, 0);
}

async fn never_below_zero(app: TestApp) {
    let id = id_of(&app.create_product("ADJ-2", 1.0, 12).await);
    app.create_order(id, 2).await;
    let reply = app
        .post_json(
            &adjustments(id),
            &json!({"delta": -11, "reason": "shrinkage"}),
        )
        .await;
    reply.assert_detail(
        409,
        json!({"error": "Insufficient stock", "requested": 11, "available": 10, "product_id": id}),
    );
    assert_eq!(
        app.stock(id).await,
        10,
        "a refused adjustment changes nothing"
    );
    // Nor above the maximum: a valid delta the current stock cannot take, 409 as below zero (a
    // 422 would say the request itself is malformed). The 2 units promised to the order are
    // on the shelf too, and the shelf has the maximum: 10 available + 2 committed.
    let max = inventory_core::MAX_STOCK;
    let reply = app
        .post_json(
            &adjustments(id),
            &json!({"delta": max - 11, "reason": "typo"}),
        )
        .await;
    reply.assert_detail(
        409,
        json!(format!("The stock would exceed its maximum of {max}")),
    );
    assert_eq!(app.stock(id).await, 10);
    let full = app
        .post_json(
            &adjustments(id),
            &json!({"delta": max - 12, "reason": "fill"}),
        )
        .await
        .expect_json(200);
    assert_eq!(full["stock"], json!(max - 2));
    app.post_json(
        &adjustments(id),
        &json!({"delta": 12 - max, "reason": "undo"}),
    )
    .await
    .assert_status(200);
    let rows = rows(&ledger(&app, id).await);
    assert_eq!(
        rows.len(),
        4,
        "a refused adjustment is not recorded: {rows:?}"
    );
}

async fn invalid_adjustments_list_every_problem(app: TestApp) {
    let id = id_of(&app.create_product("ADJ-3", 1.0, 5).await);
    let path = adjustments(id);
    let cases: Vec<(Value, Vec<&[&str]>)> = vec![
        (
            json!({"delta": 0, "reason": "nothing"}),
            vec![&["body", "delta"]],
        ),
        (json!({"delta": 1}), vec![&["body", "reason"]]),
        (json!({"reason": "why"}), vec![&["body", "delta"]]),
        (json!({"delta": 1, "reason": ""}), vec![&["body", "reason"]]),
        (
            json!({"delta": 1, "reason": "x".repeat(201)}),
            vec![&["body", "reason"]],
        ),
        (
            json!({"delta": 1.5, "reason": "half"}),
            vec![&["body", "delta"]],
        ),
        (
            json!({"delta": "3", "reason": 7}),
            vec![&["body", "delta"], &["body", "reason"]],
        ),
        (
            json!({"delta": 1, "reason": "ok", "order_id": 3}),
            vec![&["body", "order_id"]],
        ),
        (
            json!({"delta": 0, "extra": true}),
            vec![&["body", "delta"], &["body", "reason"], &["body", "extra"]],
        ),
    ];
    for (body, locs) in &cases {
        let reply = app.post_json(&path, body).await;
        assert_validation_error(&reply, locs);
    }
    let reply = app
        .post_json(
            "/products/abc/adjustments",
            &json!({"delta": 1, "reason": "r"}),
        )
        .await;
    assert_validation_error(&reply, &[&["path", "product_id"]]);
    let reply = app.get("/products/abc/adjustments").await;
    assert_validation_error(&reply, &[&["path", "product_id"]]);
    assert_eq!(app.stock(id).await, 5);
    assert_eq!(ledger(&app, id).await.len(), 1, "only the initial stock");
}

async fn unknown_products_are_404(app: TestApp) {
    let reply = app
        .post_json(&adjustments(999), &json!({"delta": 1, "reason": "r"}))
        .await;
    reply.assert_detail(404, json!("Product with ID 999 not found"));
    let reply = app.get(&adjustments(999)).await;
    reply.assert_detail(404, json!("Product with ID 999 not found"));
    // A deleted product's ledger is gone with it.
    let id = id_of(&app.create_product("ADJ-GONE", 1.0, 3).await);
    app.delete(&format!("/products/{id}"))
        .await
        .assert_status(204);
    app.get(&adjustments(id))
        .await
        .assert_detail(404, json!(format!("Product with ID {id} not found")));
}

async fn the_ledger_lists_every_change_oldest_first(app: TestApp) {
    let id = id_of(&app.create_product("ADJ-4", 2.0, 10).await);
    app.post_json(&adjustments(id), &json!({"delta": -3, "reason": "damaged"}))
        .await
        .assert_status(200);
    let canceled = id_of(&app.create_order(id, 2).await);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    let paid_then_canceled = id_of(&app.create_order(id, 1).await);
    app.signed_webhook(&payment_body(paid_then_canceled), Some("evt-ledger"))
        .await
        .assert_status(200);
    app.set_order_status(paid_then_canceled, "CANCELED")
        .await
        .assert_status(200);
    let shipped = id_of(&app.create_order(id, 4).await);
    app.set_order_status(shipped, "PAID")
        .await
        .assert_status(200);
    app.set_order_status(shipped, "SHIPPED")
        .await
        .assert_status(200);
    // Stock is 3 now; a PUT sets it to 20: +17, kind `set`.
    let put = app
        .put_json(&format!("/products/{id}"), &json!({"stock": 20}))
        .await
        .expect_json(200);
    assert_eq!(put["stock"], json!(20));
    // A PUT without `stock` is no stock change.
    app.put_json(
        &format!("/products/{id}"),
        &json!({"name": "Renamed", "price": 3.0}),
    )
    .await
    .assert_status(200);
    // A refused order, a failed transition and a no-op PUT change no stock either.
    app.post_json("/orders", &json!({"product_id": id, "quantity": 99}))
        .await
        .assert_status(409);
    app.set_order_status(shipped, "PAID")
        .await
        .assert_status(400);
    app.set_order_status(shipped, "SHIPPED")
        .await
        .assert_status(200);

    let ledger = ledger(&app, id).await;
    assert_eq!(
        rows(&ledger),
        vec![
            row("initial", "initial", 10, None),
            row("adjustment", "damaged", -3, None),
            row("order_placed", "order_placed", -2, Some(canceled)),
            row("order_canceled", "order_canceled", 2, Some(canceled)),
            row("order_placed", "order_placed", -1, Some(paid_then_canceled)),
            row(
                "order_canceled",
                "order_canceled",
                1,
                Some(paid_then_canceled)
            ),
            row("order_placed", "order_placed", -4, Some(shipped)),
            row("set", "set", 17, None),
        ]
    );
    let ids: Vec<i64> = ledger.iter().map(id_of).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    for movement in &ledger {
        assert_eq!(movement["product_id"], json!(id), "{movement}");
        let at = movement["created_at"].as_str().expect("created_at");
        inventory_core::time::OffsetDateTime::parse(
            at,
            &inventory_core::time::format_description::well_known::Rfc3339,
        )
        .unwrap_or_else(|e| panic!("created_at {at:?} is not RFC 3339: {e}"));
    }
    assert_eq!(app.stock(id).await, 20);
}

async fn the_ledger_always_sums_to_the_stock(app: TestApp) {
    let products = [
        id_of(&app.create_product("SUM-A", 1.0, 30).await),
        id_of(&app.create_product("SUM-B", 1.0, 5).await),
    ];
    let mut orders = Vec::new();
    // A fixed, varied sequence of every kind of stock change.
    for step in 0..24i64 {
        let product = products[(step % 2) as usize];
        match step % 6 {
            0 | 3 => {
                let reply = app
                    .post_json(
                        "/orders",
                        &json!({"product_id": product, "quantity": 1 + step % 3}),
                    )
                    .await;
                if reply.status == 201 {
                    orders.push(id_of(&reply.json()));
                }
            }
            1 => {
                let delta = if step % 4 == 1 { -1 } else { 4 };
                let _ = app
                    .post_json(
                        &adjustments(product),
                        &json!({"delta": delta, "reason": "count"}),
                    )
                    .await;
            }
            2 => {
                if let Some(order) = orders.pop() {
                    app.delete(&format!("/orders/{order}")).await;
                }
            }
            4 => {
                app.put_json(&format!("/products/{product}"), &json!({"stock": 7 + step}))
                    .await
                    .assert_status(200);
            }
            _ => {
                if let Some(order) = orders.first() {
                    app.set_order_status(*order, "PAID").await;
                }
            }
        }
        for product in products {
            let ledger = ledger(&app, product).await;
            let sum: i64 = ledger
                .iter()
                .map(|m| m["delta"].as_i64().expect("delta"))
                .sum();
            assert_eq!(sum, app.stock(product).await, "step {step}: {ledger:?}");
        }
    }
}

async fn the_ledger_pages_by_cursor(app: TestApp) {
    let id = id_of(&app.create_product("ADJ-P", 1.0, 1).await);
    for i in 0..4 {
        app.post_json(
            &adjustments(id),
            &json!({"delta": 1, "reason": format!("r{i}")}),
        )
        .await
        .assert_status(200);
    }
    let all: Vec<i64> = ledger(&app, id).await.iter().map(id_of).collect();
    assert_eq!(all.len(), 5);
    let first = app.get(&format!("{}?limit=2", adjustments(id))).await;
    let page: Vec<i64> = first
        .expect_json(200)
        .as_array()
        .expect("a list")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(page, all[..2]);
    let link = first.header("link").expect("a full page links on");
    assert_eq!(
        link,
        format!(
            "<{}?after={}&limit=2>; rel=\"next\"",
            adjustments(id),
            all[1]
        )
    );
    let rest = app
        .get(&format!("{}?after={}", adjustments(id), all[1]))
        .await
        .expect_json(200);
    let rest: Vec<i64> = rest.as_array().expect("a list").iter().map(id_of).collect();
    assert_eq!(rest, all[2..]);
}
