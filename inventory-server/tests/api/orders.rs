//! Orders: placing, listing, the status machine, cancelling, and stock kept consistent.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, ids_of, transition_error};

both_backends!(
    placing_an_order_reduces_stock,
    order_keeps_its_price_snapshot,
    order_for_unknown_product_is_404,
    insufficient_stock_is_409,
    list_orders_with_filters,
    get_unknown_order_is_404,
    status_moves_follow_the_table,
    same_status_is_a_noop,
    status_update_accepts_only_status,
    cancelling_by_put_returns_stock,
    delete_cancels_and_returns_stock,
    delete_of_shipped_or_canceled_is_400,
    product_with_orders_cannot_be_deleted,
    stock_invariant_holds,
);

/// An RFC 3339 timestamp in UTC, e.g. `2026-11-24T10:00:00Z`.
fn assert_utc_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp must be a string: {value}"));
    let bytes = text.as_bytes();
    let shape = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b'T' || bytes[10] == b't')
        && bytes[13] == b':'
        && bytes[16] == b':';
    let utc = text.ends_with('Z') || text.ends_with('z') || text.ends_with("+00:00");
    assert!(shape && utc, "not an RFC 3339 UTC timestamp: {text}");
}

async fn placing_an_order_reduces_stock(app: TestApp) {
    let product = id_of(&app.create_product("PROD-001", 49.99, 10).await);
    let reply = app
        .post_json("/orders", &json!({"product_id": product, "quantity": 3}))
        .await;
    let order = reply.expect_json(201);
    let id = id_of(&order);
    assert_eq!(order["product_id"], json!(product));
    assert_eq!(order["quantity"], json!(3));
    assert_eq!(order["status"], json!("PENDING"));
    assert_eq!(order["unit_price"], json!(49.99));
    assert_eq!(order["total"], json!(149.97));
    assert_utc_timestamp(&order["created_at"]);
    assert_eq!(app.stock(product).await, 7);
    assert_eq!(app.order(id).await, order);

    // The last units can be taken; then none are left.
    let rest = app.create_order(product, 7).await;
    assert_eq!(rest["total"], json!(349.93));
    assert_eq!(app.stock(product).await, 0);
    assert!(id_of(&rest) > id, "order ids increase");
}

async fn order_keeps_its_price_snapshot(app: TestApp) {
    let product = id_of(&app.create_product("PROD-001", 10.0, 10).await);
    let order = app.create_order(product, 2).await;
    assert_eq!(order["unit_price"].as_f64(), Some(10.0));
    assert_eq!(order["total"].as_f64(), Some(20.0));

    app.put_json(&format!("/products/{product}"), &json!({"price": 12.5}))
        .await
        .expect_json(200);
    let later = app.order(id_of(&order)).await;
    assert_eq!(later["unit_price"].as_f64(), Some(10.0), "{later}");
    assert_eq!(later["total"].as_f64(), Some(20.0), "{later}");

    let newer = app.create_order(product, 2).await;
    assert_eq!(newer["unit_price"].as_f64(), Some(12.5));
    assert_eq!(newer["total"].as_f64(), Some(25.0));
}

async fn order_for_unknown_product_is_404(app: TestApp) {
    let reply = app
        .post_json("/orders", &json!({"product_id": 999, "quantity": 1}))
        .await;
    reply.assert_detail(404, json!("Product with ID 999 not found"));
    assert_eq!(app.get("/orders").await.expect_json(200), json!([]));
}

async fn insufficient_stock_is_409(app: TestApp) {
    let product = id_of(&app.create_product("PROD-001", 1.0, 5).await);
    let reply = app
        .post_json("/orders", &json!({"product_id": product, "quantity": 10}))
        .await;
    let detail = json!({"error": "Insufficient stock", "requested": 10, "available": 5, "product_id": product});
    reply.assert_detail(409, detail);
    assert_eq!(app.stock(product).await, 5);
    assert_eq!(app.get("/orders").await.expect_json(200), json!([]));
}

async fn list_orders_with_filters(app: TestApp) {
    let p1 = id_of(&app.create_product("P1", 1.0, 10).await);
    let p2 = id_of(&app.create_product("P2", 2.0, 10).await);
    let o1 = id_of(&app.create_order(p1, 1).await);
    let o2 = id_of(&app.create_order(p2, 1).await);
    let o3 = id_of(&app.create_order(p1, 2).await);
    app.set_order_status(o3, "PAID").await.expect_json(200);

    let ids = |path: &'static str| {
        let app = &app;
        async move { ids_of(&app.get(path).await.expect_json(200)) }
    };
    assert_eq!(ids("/orders").await, [o1, o2, o3]);
    assert_eq!(ids("/orders?status=PAID").await, [o3]);
    assert_eq!(ids("/orders?status=PENDING").await, [o1, o2]);
    assert_eq!(ids("/orders?status=SHIPPED").await, Vec::<i64>::new());
    let by_product = format!("/orders?product_id={p1}");
    assert_eq!(
        ids_of(&app.get(&by_product).await.expect_json(200)),
        [o1, o3]
    );
    let both = format!("/orders?status=PENDING&product_id={p1}");
    assert_eq!(ids_of(&app.get(&both).await.expect_json(200)), [o1]);
    let all = format!("/orders?skip=0&limit=100&status=PAID&product_id={p1}");
    assert_eq!(ids_of(&app.get(&all).await.expect_json(200)), [o3]);
    assert_eq!(ids("/orders?skip=1&limit=1").await, [o2]);
    assert_eq!(ids("/orders?skip=3").await, Vec::<i64>::new());
    assert_eq!(ids("/orders?product_id=999").await, Vec::<i64>::new());

    let listed = app.get("/orders").await.expect_json(200);
    assert_eq!(
        listed[0],
        app.order(o1).await,
        "listed orders have the full shape"
    );

    for (query, name) in [
        ("status=LOST", "status"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("product_id=abc", "product_id"),
    ] {
        let reply = app.get(&format!("/orders?{query}")).await;
        assert_validation_error(&reply, &[&["query", name]]);
    }
}

async fn get_unknown_order_is_404(app: TestApp) {
    app.get("/orders/5")
        .await
        .assert_detail(404, json!("Order with ID 5 not found"));
    app.set_order_status(5, "PAID")
        .await
        .assert_detail(404, json!("Order with ID 5 not found"));
    app.delete("/orders/5")
        .await
        .assert_detail(404, json!("Order with ID 5 not found"));
}

async fn status_moves_follow_the_table(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 100).await);

    let order = id_of(&app.create_order(product, 1).await);
    let paid = app.set_order_status(order, "PAID").await.expect_json(200);
    assert_eq!(paid["status"], json!("PAID"));
    assert_eq!(paid["id"], json!(order));
    let shipped = app
        .set_order_status(order, "SHIPPED")
        .await
        .expect_json(200);
    assert_eq!(shipped["status"], json!("SHIPPED"));
    assert_eq!(app.order(order).await, shipped);
    for to in ["PAID", "PENDING", "CANCELED"] {
        let reply = app.set_order_status(order, to).await;
        reply.assert_detail(400, transition_error("SHIPPED", to));
    }

    let pending = id_of(&app.create_order(product, 1).await);
    app.set_order_status(pending, "SHIPPED")
        .await
        .assert_detail(400, transition_error("PENDING", "SHIPPED"));
    assert_eq!(app.order_status(pending).await, "PENDING");

    let paid = id_of(&app.create_order(product, 1).await);
    app.set_order_status(paid, "PAID").await.expect_json(200);
    app.set_order_status(paid, "PENDING")
        .await
        .assert_detail(400, transition_error("PAID", "PENDING"));

    let canceled = id_of(&app.create_order(product, 1).await);
    app.set_order_status(canceled, "CANCELED")
        .await
        .expect_json(200);
    for to in ["PENDING", "PAID", "SHIPPED"] {
        let reply = app.set_order_status(canceled, to).await;
        reply.assert_detail(400, transition_error("CANCELED", to));
    }
    assert_eq!(app.order_status(canceled).await, "CANCELED");
}

async fn same_status_is_a_noop(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 10).await);
    let order = id_of(&app.create_order(product, 2).await);
    for status in ["PENDING", "PAID", "SHIPPED"] {
        if status != "PENDING" {
            app.set_order_status(order, status).await.expect_json(200);
        }
        let before = app.order(order).await;
        let again = app.set_order_status(order, status).await.expect_json(200);
        assert_eq!(
            again, before,
            "asking for the current status changes nothing"
        );
        assert_eq!(app.order(order).await, before);
        assert_eq!(app.stock(product).await, 8);
    }
    let canceled = id_of(&app.create_order(product, 3).await);
    app.set_order_status(canceled, "CANCELED")
        .await
        .expect_json(200);
    assert_eq!(app.stock(product).await, 8);
    let before = app.order(canceled).await;
    let again = app
        .set_order_status(canceled, "CANCELED")
        .await
        .expect_json(200);
    assert_eq!(again, before);
    assert_eq!(
        app.stock(product).await,
        8,
        "a repeated cancel returns no stock twice"
    );
}

async fn status_update_accepts_only_status(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 10).await);
    let order = app.create_order(product, 2).await;
    let path = format!("/orders/{}", id_of(&order));
    let cases: [(Value, &[&[&str]]); 5] = [
        (
            json!({"status": "PAID", "quantity": 5}),
            &[&["body", "quantity"]],
        ),
        (json!({}), &[&["body", "status"]]),
        (json!({"status": "LOST"}), &[&["body", "status"]]),
        (json!({"status": "paid"}), &[&["body", "status"]]),
        (
            json!({"product_id": product}),
            &[&["body", "status"], &["body", "product_id"]],
        ),
    ];
    for (body, locs) in cases {
        assert_validation_error(&app.put_json(&path, &body).await, locs);
    }
    assert_eq!(app.order(id_of(&order)).await, order);
    assert_eq!(app.stock(product).await, 8);
}

async fn cancelling_by_put_returns_stock(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 10).await);
    let pending = id_of(&app.create_order(product, 2).await);
    let paid = id_of(&app.create_order(product, 3).await);
    app.set_order_status(paid, "PAID").await.expect_json(200);
    assert_eq!(app.stock(product).await, 5);

    let canceled = app
        .set_order_status(pending, "CANCELED")
        .await
        .expect_json(200);
    assert_eq!(canceled["status"], json!("CANCELED"));
    assert_eq!(app.stock(product).await, 7);
    // Differs from the seed: a PAID order's units come back too.
    app.set_order_status(paid, "CANCELED")
        .await
        .expect_json(200);
    assert_eq!(app.stock(product).await, 10);
}

async fn delete_cancels_and_returns_stock(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 10).await);
    let pending = id_of(&app.create_order(product, 2).await);
    let paid = id_of(&app.create_order(product, 3).await);
    app.set_order_status(paid, "PAID").await.expect_json(200);
    assert_eq!(app.stock(product).await, 5);

    let reply = app.delete(&format!("/orders/{pending}")).await;
    reply.assert_status(204);
    assert!(reply.text.is_empty(), "204 has no body: {:?}", reply.text);
    assert_eq!(
        app.order_status(pending).await,
        "CANCELED",
        "the order is kept"
    );
    assert_eq!(app.stock(product).await, 7);

    app.delete(&format!("/orders/{paid}"))
        .await
        .assert_status(204);
    assert_eq!(app.order_status(paid).await, "CANCELED");
    assert_eq!(app.stock(product).await, 10);
    assert_eq!(
        ids_of(&app.get("/orders").await.expect_json(200)),
        [pending, paid]
    );
    let canceled = ids_of(&app.get("/orders?status=CANCELED").await.expect_json(200));
    assert_eq!(canceled, [pending, paid]);
}

async fn delete_of_shipped_or_canceled_is_400(app: TestApp) {
    let product = id_of(&app.create_product("PROD", 1.0, 10).await);
    let shipped = id_of(&app.create_order(product, 2).await);
    app.set_order_status(shipped, "PAID").await.expect_json(200);
    app.set_order_status(shipped, "SHIPPED")
        .await
        .expect_json(200);
    app.delete(&format!("/orders/{shipped}"))
        .await
        .assert_detail(400, transition_error("SHIPPED", "CANCELED"));
    assert_eq!(app.order_status(shipped).await, "SHIPPED");
    assert_eq!(app.stock(product).await, 8, "shipped units never come back");

    let canceled = id_of(&app.create_order(product, 3).await);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    assert_eq!(app.stock(product).await, 8);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_detail(400, transition_error("CANCELED", "CANCELED"));
    assert_eq!(
        app.stock(product).await,
        8,
        "a second cancel returns nothing"
    );
}

async fn product_with_orders_cannot_be_deleted(app: TestApp) {
    let product = app.create_product("PROD", 1.0, 10).await;
    let id = id_of(&product);
    let order = app.create_order(id, 1).await;
    // Even a canceled order is history that references the product.
    app.delete(&format!("/orders/{}", id_of(&order)))
        .await
        .assert_status(204);

    let reply = app.delete(&format!("/products/{id}")).await;
    let body = reply.expect_json(409);
    let detail = &body["detail"];
    let clear = match detail {
        Value::String(s) => !s.trim().is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    };
    assert!(clear, "{}: 409 needs a clear detail: {body}", reply.what);
    assert_eq!(app.product(id).await, product);
    assert_eq!(app.order_status(id_of(&order)).await, "CANCELED");
}

async fn stock_invariant_holds(app: TestApp) {
    // stock = initial + manual adjustments − Σ quantity of PENDING, PAID or SHIPPED orders.
    let product = id_of(&app.create_product("PROD", 3.0, 100).await);
    let mut orders = Vec::new();
    for quantity in [5, 7, 11, 13, 17] {
        orders.push(id_of(&app.create_order(product, quantity).await));
    }
    let [a, b, c, d, e] = orders[..] else {
        panic!("five orders")
    };
    app.set_order_status(b, "PAID").await.expect_json(200);
    app.set_order_status(c, "PAID").await.expect_json(200);
    app.set_order_status(c, "SHIPPED").await.expect_json(200);
    app.delete(&format!("/orders/{a}")).await.assert_status(204);
    app.set_order_status(d, "PAID").await.expect_json(200);
    app.set_order_status(d, "CANCELED").await.expect_json(200);
    // Active: b (7, PAID), c (11, SHIPPED), e (17, PENDING).
    assert_eq!(app.stock(product).await, 100 - 7 - 11 - 17);

    // A manual adjustment sets the stock; later cancels add back on top of it.
    app.put_json(&format!("/products/{product}"), &json!({"stock": 50}))
        .await
        .expect_json(200);
    app.delete(&format!("/orders/{e}")).await.assert_status(204);
    assert_eq!(app.stock(product).await, 67);
    let over = app
        .post_json("/orders", &json!({"product_id": product, "quantity": 68}))
        .await;
    let detail = json!({"error": "Insufficient stock", "requested": 68, "available": 67, "product_id": product});
    over.assert_detail(409, detail);
    app.create_order(product, 67).await;
    assert_eq!(app.stock(product).await, 0);
}
