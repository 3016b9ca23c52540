//! Orders with many lines (issue 15): a cart is placed all or nothing, each line keeps its price,
//! the 409 lists every short line, and the seed's one-line form is unchanged.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, ids_of};

both_backends!(
    a_cart_takes_every_line_and_totals_them,
    a_short_cart_takes_nothing_and_lists_every_short_line,
    lines_of_one_product_are_merged,
    bad_carts_are_422_and_change_nothing,
    filters_and_cancel_cover_every_line,
    a_cart_is_paid_for_its_total,
    a_cart_replay_places_it_once,
);

fn cart(lines: &[(i64, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| json!({"product_id": product, "quantity": quantity}))
        .collect();
    json!({ "lines": lines })
}

/// Every product's current stock, in the given order.
async fn stocks(app: &TestApp, products: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(products.len());
    for product in products {
        out.push(app.stock(*product).await);
    }
    out
}

async fn three_products(app: &TestApp) -> [i64; 3] {
    [
        id_of(&app.create_product("CART-A", 10.0, 10).await),
        id_of(&app.create_product("CART-B", 2.5, 5).await),
        id_of(&app.create_product("CART-C", 0.99, 3).await),
    ]
}

async fn a_cart_takes_every_line_and_totals_them(app: TestApp) {
    let [a, b, c] = three_products(&app).await;
    let reply = app
        .post_json("/orders", &cart(&[(a, 2), (b, 4), (c, 3)]))
        .await;
    let order = reply.expect_json(201);
    assert_eq!(order["status"], json!("PENDING"));
    let lines = order["lines"].as_array().expect("a cart answers its lines");
    assert_eq!(lines.len(), 3, "{order}");
    for (line, (product, quantity, price)) in
        lines.iter().zip([(a, 2, 10.0), (b, 4, 2.5), (c, 3, 0.99)])
    {
        assert_eq!(line["product_id"], json!(product), "{order}");
        assert_eq!(line["quantity"], json!(quantity), "{order}");
        assert_eq!(line["unit_price"].as_f64(), Some(price), "{order}");
    }
    // 20.00 + 10.00 + 2.97, summed in cents.
    assert_eq!(order["total"], json!(32.97));
    // A many-line order has no single product to name.
    assert!(order.get("product_id").is_none(), "{order}");
    assert_eq!(stocks(&app, &[a, b, c]).await, [8, 1, 0]);
    assert_eq!(app.order(id_of(&order)).await, order);

    // The seed's one-line form still answers `lines` as well as its own fields.
    let one = app.create_order(a, 1).await;
    assert_eq!(one["product_id"], json!(a));
    assert_eq!(one["quantity"], json!(1));
    assert_eq!(one["lines"][0]["product_id"], json!(a), "{one}");
    assert_eq!(one["lines"].as_array().map(Vec::len), Some(1), "{one}");
}

async fn a_short_cart_takes_nothing_and_lists_every_short_line(app: TestApp) {
    let [a, b, c] = three_products(&app).await;
    let reply = app
        .post_json("/orders", &cart(&[(a, 2), (b, 6), (c, 4)]))
        .await;
    let body = reply.expect_json(409);
    let detail = &body["detail"];
    assert_eq!(detail["error"], json!("Insufficient stock"), "{body}");
    // The seed's fields name the first short line ...
    assert_eq!(detail["product_id"], json!(b), "{body}");
    assert_eq!(detail["requested"], json!(6), "{body}");
    assert_eq!(detail["available"], json!(5), "{body}");
    // ... and `lines` lists every one, by its index in the request.
    assert_eq!(
        detail["lines"],
        json!([
            {"line": 1, "product_id": b, "requested": 6, "available": 5},
            {"line": 2, "product_id": c, "requested": 4, "available": 3},
        ]),
        "{body}"
    );
    assert_eq!(
        stocks(&app, &[a, b, c]).await,
        [10, 5, 3],
        "nothing is taken"
    );
    assert_eq!(app.get("/orders").await.expect_json(200), json!([]));
}

async fn lines_of_one_product_are_merged(app: TestApp) {
    let [a, b, _] = three_products(&app).await;
    // 3 + 3 of `b` is more than its 5: the merged line is short, though each half fits.
    let reply = app
        .post_json("/orders", &cart(&[(b, 3), (a, 1), (b, 3)]))
        .await;
    let body = reply.expect_json(409);
    assert_eq!(body["detail"]["product_id"], json!(b), "{body}");
    assert_eq!(body["detail"]["requested"], json!(6), "{body}");
    assert_eq!(stocks(&app, &[a, b]).await, [10, 5]);

    let order = app
        .post_json("/orders", &cart(&[(b, 2), (a, 1), (b, 3)]))
        .await
        .expect_json(201);
    let lines = order["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "merged into one line per product: {order}");
    assert_eq!(
        lines[0]["product_id"],
        json!(b),
        "first appearance keeps its place"
    );
    assert_eq!(lines[0]["quantity"], json!(5));
    assert_eq!(stocks(&app, &[a, b]).await, [9, 0]);
}

async fn bad_carts_are_422_and_change_nothing(app: TestApp) {
    let [a, b, _] = three_products(&app).await;
    let line = |q: Value| json!({"product_id": a, "quantity": q});
    let cases: Vec<(Value, Vec<&[&str]>)> = vec![
        (json!({"lines": []}), vec![&["body", "lines"]]),
        (json!({"lines": "a"}), vec![&["body", "lines"]]),
        (
            json!({"lines": [line(json!(1)), line(json!(0)), {"product_id": "x", "quantity": 1}]}),
            vec![
                &["body", "lines", "1", "quantity"],
                &["body", "lines", "2", "product_id"],
            ],
        ),
        (
            json!({"lines": [{"product_id": a}]}),
            vec![&["body", "lines", "0", "quantity"]],
        ),
        (
            json!({"lines": [{"product_id": a, "quantity": 1, "colour": "red"}]}),
            vec![&["body", "lines", "0", "colour"]],
        ),
        (
            json!({"lines": [line(json!(1))], "product_id": a, "quantity": 1}),
            vec![&["body", "product_id"]],
        ),
        (
            json!({"lines": (0..101).map(|_| line(json!(1))).collect::<Vec<_>>()}),
            vec![&["body", "lines"]],
        ),
        (
            json!({"lines": [line(json!(100_000_000)), line(json!(1))]}),
            vec![&["body", "lines", "1", "quantity"]],
        ),
    ];
    for (body, locs) in cases {
        let reply = app.post_json("/orders", &body).await;
        assert_validation_error(&reply, &locs);
    }
    assert_eq!(stocks(&app, &[a, b]).await, [10, 5]);
    assert_eq!(app.get("/orders").await.expect_json(200), json!([]));

    // An unknown product anywhere in the cart is the seed's 404, and nothing is taken.
    let reply = app.post_json("/orders", &cart(&[(a, 1), (9_999, 1)])).await;
    reply.assert_status(404);
    assert_eq!(stocks(&app, &[a]).await, [10]);

    // A hundred lines is the most, and it is served.
    let many: Vec<i64> = {
        let mut ids = Vec::new();
        for i in 0..100 {
            ids.push(id_of(
                &app.create_product(&format!("MANY-{i}"), 1.0, 1).await,
            ));
        }
        ids
    };
    let lines: Vec<(i64, i64)> = many.iter().map(|p| (*p, 1)).collect();
    let order = app
        .post_json("/orders", &cart(&lines))
        .await
        .expect_json(201);
    assert_eq!(order["lines"].as_array().map(Vec::len), Some(100));
    assert_eq!(order["total"], json!(100.0));
}

async fn filters_and_cancel_cover_every_line(app: TestApp) {
    let [a, b, c] = three_products(&app).await;
    let cart_order = id_of(
        &app.post_json("/orders", &cart(&[(a, 2), (b, 1)]))
            .await
            .expect_json(201),
    );
    let single = id_of(&app.create_order(c, 1).await);
    let ids = |path: String| {
        let app = &app;
        async move { ids_of(&app.get(&path).await.expect_json(200)) }
    };
    assert_eq!(ids(format!("/orders?product_id={a}")).await, [cart_order]);
    assert_eq!(ids(format!("/orders?product_id={b}")).await, [cart_order]);
    assert_eq!(ids(format!("/orders?product_id={c}")).await, [single]);
    assert_eq!(
        ids("/orders?status=PENDING".to_owned()).await,
        [cart_order, single]
    );

    // A product with an order line cannot be deleted, whichever line it is.
    app.delete(&format!("/products/{b}"))
        .await
        .assert_status(409);

    // Cancelling returns every line's units.
    assert_eq!(stocks(&app, &[a, b, c]).await, [8, 4, 2]);
    app.delete(&format!("/orders/{cart_order}"))
        .await
        .assert_status(204);
    assert_eq!(app.order_status(cart_order).await, "CANCELED");
    assert_eq!(stocks(&app, &[a, b, c]).await, [10, 5, 2]);

    // Each line's product has its own ledger rows for the order: placed, then canceled.
    for (product, quantity) in [(a, 2), (b, 1)] {
        let ledger = app
            .get(&format!("/products/{product}/adjustments?limit=1000"))
            .await
            .expect_json(200);
        let rows: Vec<(String, i64)> = ledger
            .as_array()
            .expect("a ledger list")
            .iter()
            .filter(|m| m["order_id"].as_i64() == Some(cart_order))
            .map(|m| {
                (
                    m["kind"].as_str().unwrap_or_default().to_owned(),
                    m["delta"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("order_placed".to_owned(), -quantity),
                ("order_canceled".to_owned(), quantity)
            ],
            "{ledger}"
        );
    }
}

async fn a_cart_is_paid_for_its_total(app: TestApp) {
    let [a, b, _] = three_products(&app).await;
    let order = id_of(
        &app.post_json("/orders", &cart(&[(a, 1), (b, 2)]))
            .await
            .expect_json(201),
    );
    let pay = |amount: &str| {
        format!(r#"{{"event": "payment.succeeded", "order_id": {order}, "amount": {amount}}}"#)
    };
    // 10.00 (the first line's price alone) is not the cart's 15.00.
    app.signed_webhook(&pay("10.0"), Some("evt-cart-1"))
        .await
        .assert_status(409);
    assert_eq!(app.order_status(order).await, "PENDING");
    app.signed_webhook(&pay("15.00"), Some("evt-cart-2"))
        .await
        .assert_status(200);
    assert_eq!(app.order_status(order).await, "PAID");

    // Shipping keeps the units taken; cancelling a shipped cart is refused.
    app.set_order_status(order, "SHIPPED")
        .await
        .expect_json(200);
    assert_eq!(stocks(&app, &[a, b]).await, [9, 3]);
    app.delete(&format!("/orders/{order}"))
        .await
        .assert_status(400);
    assert_eq!(stocks(&app, &[a, b]).await, [9, 3]);
}

async fn a_cart_replay_places_it_once(app: TestApp) {
    let [a, b, _] = three_products(&app).await;
    let body = cart(&[(a, 1), (b, 1)]);
    let first = app.post_with_key("/orders", "cart-key", &body).await;
    let order = first.expect_json(201);
    let again = app.post_with_key("/orders", "cart-key", &body).await;
    assert_eq!(again.status, first.status);
    assert_eq!(
        again.text, first.text,
        "a replay answers the original bytes"
    );
    assert_eq!(
        stocks(&app, &[a, b]).await,
        [9, 4],
        "a replay takes nothing"
    );

    // The same key with another cart is refused and changes nothing.
    let other = app
        .post_with_key("/orders", "cart-key", &cart(&[(a, 2)]))
        .await;
    other.assert_status(422);
    assert_eq!(stocks(&app, &[a, b]).await, [9, 4]);
    assert_eq!(
        ids_of(&app.get("/orders").await.expect_json(200)),
        [id_of(&order)]
    );
}
