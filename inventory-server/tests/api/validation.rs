//! Input validation: 422 in FastAPI's list form, every offending field listed, nothing changed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, path_parameter, validation_locs};

both_backends!(
    every_offending_product_field_is_listed,
    sku_rules,
    name_rules,
    price_rules,
    stock_rules,
    order_body_rules,
    malformed_json_is_422,
    non_integer_path_id_is_422,
    extreme_values_are_refused_not_crashed,
);

fn product(sku: &str, name: &str, price: Value, stock: Value) -> Value {
    json!({"sku": sku, "name": name, "price": price, "stock": stock})
}

async fn assert_nothing_created(app: &TestApp) {
    assert_eq!(
        app.get("/products").await.expect_json(200),
        json!([]),
        "a refused body creates nothing"
    );
}

async fn every_offending_product_field_is_listed(app: TestApp) {
    let body = json!({"sku": "", "price": 0, "stok": 5});
    let reply = app.post_json("/products", &body).await;
    assert_validation_error(
        &reply,
        &[
            &["body", "sku"],
            &["body", "name"],
            &["body", "price"],
            &["body", "stock"],
            &["body", "stok"],
        ],
    );
    assert_nothing_created(&app).await;

    let reply = app.post_json("/products", &json!({})).await;
    assert_validation_error(
        &reply,
        &[
            &["body", "sku"],
            &["body", "name"],
            &["body", "price"],
            &["body", "stock"],
        ],
    );
    // A valid product plus one unknown field is still refused: a typo must not pass silently.
    let mut typo = product("PROD-001", "Widget", json!(49.99), json!(5));
    typo["descripton"] = json!("x");
    let reply = app.post_json("/products", &typo).await;
    assert_validation_error(&reply, &[&["body", "descripton"]]);
    assert_nothing_created(&app).await;
}

async fn sku_rules(app: TestApp) {
    let long = "S".repeat(65);
    for bad in [
        "",
        "HAS SPACE",
        "TAB\tBED",
        "NEW\nLINE",
        "BELL\u{7}",
        long.as_str(),
    ] {
        let reply = app
            .post_json("/products", &product(bad, "Widget", json!(1.0), json!(1)))
            .await;
        assert_validation_error(&reply, &[&["body", "sku"]]);
    }
    let reply = app
        .post_json(
            "/products",
            &product("PROD", "Widget", json!(1.0), json!(1)),
        )
        .await;
    reply.expect_json(201);
    let wrong_type = json!({"sku": 17, "name": "Widget", "price": 1.0, "stock": 1});
    assert_validation_error(
        &app.post_json("/products", &wrong_type).await,
        &[&["body", "sku"]],
    );
    assert_eq!(
        app.get("/products")
            .await
            .expect_json(200)
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let longest = "S".repeat(64);
    let created = app.create_product(&longest, 1.0, 1).await;
    assert_eq!(created["sku"], json!(longest));
}

async fn name_rules(app: TestApp) {
    for bad in [String::new(), "N".repeat(201)] {
        let reply = app
            .post_json("/products", &product("PROD", &bad, json!(1.0), json!(1)))
            .await;
        assert_validation_error(&reply, &[&["body", "name"]]);
    }
    assert_nothing_created(&app).await;
    let longest = "N".repeat(200);
    let created = app
        .post_json(
            "/products",
            &product("PROD", &longest, json!(1.0), json!(1)),
        )
        .await
        .expect_json(201);
    assert_eq!(created["name"], json!(longest));
}

async fn price_rules(app: TestApp) {
    for bad in [
        json!(0),
        json!(0.0),
        json!(-1),
        json!(-0.01),
        json!(49.999),
        json!(0.001),
    ] {
        let reply = app
            .post_json("/products", &product("PROD", "Widget", bad, json!(1)))
            .await;
        assert_validation_error(&reply, &[&["body", "price"]]);
    }
    for bad in [json!(null), json!("free"), json!([1])] {
        let reply = app
            .post_json("/products", &product("PROD", "Widget", bad, json!(1)))
            .await;
        assert_validation_error(&reply, &[&["body", "price"]]);
    }
    assert_nothing_created(&app).await;
    let cheapest = app.create_product("CHEAP", 0.01, 1).await;
    assert_eq!(cheapest["price"], json!(0.01));
    let whole = app
        .post_json(
            "/products",
            &product("WHOLE", "Widget", json!(10), json!(1)),
        )
        .await
        .expect_json(201);
    assert_eq!(whole["price"].as_f64(), Some(10.0));
}

async fn stock_rules(app: TestApp) {
    for bad in [json!(-1), json!(1.5), json!(null), json!("many")] {
        let reply = app
            .post_json("/products", &product("PROD", "Widget", json!(1.0), bad))
            .await;
        assert_validation_error(&reply, &[&["body", "stock"]]);
    }
    assert_nothing_created(&app).await;
    let empty = app.create_product("EMPTY", 1.0, 0).await;
    assert_eq!(empty["stock"], json!(0));
}

async fn order_body_rules(app: TestApp) {
    let id = id_of(&app.create_product("PROD", 2.5, 10).await);
    let cases: [(Value, &[&[&str]]); 6] = [
        (json!({}), &[&["body", "product_id"], &["body", "quantity"]]),
        (
            json!({"product_id": id, "quantity": 0}),
            &[&["body", "quantity"]],
        ),
        (
            json!({"product_id": id, "quantity": -2}),
            &[&["body", "quantity"]],
        ),
        (
            json!({"product_id": id, "quantity": 1.5}),
            &[&["body", "quantity"]],
        ),
        (
            json!({"product_id": "one", "quantity": 1, "qty": 1}),
            &[&["body", "product_id"], &["body", "qty"]],
        ),
        (
            json!({"product_id": id, "quantity": 1, "status": "PAID"}),
            &[&["body", "status"]],
        ),
    ];
    for (body, locs) in cases {
        assert_validation_error(&app.post_json("/orders", &body).await, locs);
    }
    assert_eq!(app.stock(id).await, 10, "a refused order takes no stock");
    assert_eq!(app.get("/orders").await.expect_json(200), json!([]));
}

async fn malformed_json_is_422(app: TestApp) {
    let order = r#"{"product_id": 1, "quantity": "#;
    for (path, body) in [
        ("/products", r#"{"sku": "PROD", "name": "Widget","#),
        ("/products", "not json at all"),
        ("/products", ""),
        ("/products", "[1, 2]"),
        ("/products", "\"a string\""),
        ("/orders", order),
        ("/orders", "null"),
    ] {
        let reply = app
            .send_raw(Method::POST, path, "application/json", body.to_owned())
            .await;
        let locs = validation_locs(&reply);
        assert!(
            locs.iter().all(|loc| loc[0] == "body"),
            "{}: a body error is located in the body: {locs:?}",
            reply.what
        );
    }
    let id = id_of(&app.create_product("PROD", 1.0, 1).await);
    let reply = app
        .send_raw(
            Method::PUT,
            &format!("/products/{id}"),
            "application/json",
            "{\"price\": ",
        )
        .await;
    validation_locs(&reply);
    assert_eq!(
        app.get("/products")
            .await
            .expect_json(200)
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn non_integer_path_id_is_422(app: TestApp) {
    let product = path_parameter("/products/{");
    let order = path_parameter("/orders/{");
    let cases = [
        ("/products", &product, json!({"price": 2.0})),
        ("/orders", &order, json!({"status": "PAID"})),
    ];
    for (base, name, update) in cases {
        // Not integers; `1e3` and `7.0` are (the integer rule of JSON Schema and of the bodies).
        for id in ["abc", "1.5", "1e-3", "7.25"] {
            let path = format!("{base}/{id}");
            for reply in [
                app.get(&path).await,
                app.delete(&path).await,
                app.put_json(&path, &update).await,
            ] {
                assert_validation_error(&reply, &[&["path", name.as_str()]]);
            }
        }
    }
}

/// Asserts the answer is one of `allowed` (never a 5xx: "nothing internal leaks").
fn assert_one_of(reply: &crate::helpers::Reply, allowed: &[u16]) {
    assert!(
        allowed.contains(&reply.status),
        "{}: expected one of {allowed:?}, got {}: {}",
        reply.what,
        reply.status,
        reply.text
    );
    reply.json();
}

async fn extreme_values_are_refused_not_crashed(app: TestApp) {
    let huge = "9223372036854775808"; // i64::MAX + 1
    for (price, stock) in [
        ("1e308", "1"),
        ("99999999999999999999999999.99", "1"),
        ("1.00", huge),
        ("1.00", "-9223372036854775809"),
    ] {
        let body = format!(r#"{{"sku": "X", "name": "X", "price": {price}, "stock": {stock}}}"#);
        let reply = app
            .send_raw(Method::POST, "/products", "application/json", body)
            .await;
        validation_locs(&reply);
    }
    assert_nothing_created(&app).await;

    // The largest values the server accepts still multiply without overflow.
    let body =
        r#"{"sku": "BIG", "name": "Big", "price": 9999999999.99, "stock": 9223372036854775807}"#;
    let reply = app
        .send_raw(Method::POST, "/products", "application/json", body)
        .await;
    assert_one_of(&reply, &[201, 422]);
    let product = if reply.status == 201 {
        id_of(&reply.json())
    } else {
        id_of(&app.create_product("BIG", 9_999_999.99, 1_000_000).await)
    };
    for quantity in ["9223372036854775807", "100000000", "1000000"] {
        let body = format!(r#"{{"product_id": {product}, "quantity": {quantity}}}"#);
        let reply = app
            .send_raw(Method::POST, "/orders", "application/json", body)
            .await;
        assert_one_of(&reply, &[201, 409, 422]);
    }
    let max = i64::MAX;
    app.get(&format!("/products/{max}"))
        .await
        .assert_detail(404, json!(format!("Product with ID {max} not found")));
    assert_one_of(&app.get(&format!("/products/{huge}")).await, &[404, 422]);
    assert_one_of(&app.get("/products/-1").await, &[404, 422]);
    assert_one_of(&app.get("/products/0").await, &[404, 422]);
    let body = format!(r#"{{"product_id": {huge}, "quantity": 1}}"#);
    let reply = app
        .send_raw(Method::POST, "/orders", "application/json", body)
        .await;
    validation_locs(&reply);
    assert_one_of(&app.get(&format!("/orders?skip={huge}")).await, &[200, 422]);
    assert_one_of(
        &app.get(&format!("/products?skip={max}")).await,
        &[200, 422],
    );

    // Not UTF-8 at all.
    let reply = app
        .send_raw(
            Method::POST,
            "/products",
            "application/json",
            vec![0xff, 0xfe, 0x00],
        )
        .await;
    validation_locs(&reply);
    // An event id no sender would use.
    let long_id = "e".repeat(300);
    let reply = app
        .signed_webhook(r#"{"event": "ping"}"#, Some(&long_id))
        .await;
    assert_one_of(&reply, &[200, 400, 422]);
}
