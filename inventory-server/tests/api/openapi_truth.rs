//! `/openapi.json` tells the exact truth (issue 14): each route's real error shapes (a string
//! `detail`, a transition object, the 422 list), request bodies that refuse unknown fields, and
//! the bounds and patterns the core enforces, stated from its own constants. schemathesis checks
//! the same at large in `.ci/run`; these cases pin it per answer.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, id_of, payment_body};

both_backends!(
    every_error_answer_has_the_documented_shape,
    request_bodies_state_the_core_rules,
    integral_numbers_are_integers_as_the_document_says,
);

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => schema,
    }
}

/// Whether `value` fits `schema`, for the keywords the error schemas use.
fn fits(doc: &Value, schema: &Value, value: &Value) -> bool {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        return options.iter().filter(|s| fits(doc, s, value)).count() == 1;
    }
    if let Some(constant) = schema.get("const") {
        return constant == value;
    }
    let typed = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some(other) => panic!("unexpected type {other} in {schema}"),
        None => true,
    };
    if !typed {
        return false;
    }
    if let Some(required) = schema["required"].as_array()
        && !required
            .iter()
            .all(|k| k.as_str().is_some_and(|k| value.get(k).is_some()))
    {
        return false;
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            if let Some(v) = value.get(name)
                && !fits(doc, property, v)
            {
                return false;
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        if let Some(max) = schema["maxItems"].as_u64()
            && values.len() as u64 > max
        {
            return false;
        }
        return values.iter().all(|v| fits(doc, items, v));
    }
    true
}

/// Asserts `reply` is documented for `method path` with a schema its body fits.
fn assert_documented(doc: &Value, path: &str, method: &str, reply: &Reply) {
    let status = reply.status.to_string();
    let response = &doc["paths"][inventory_server::routes::documented_path(path)][method]["responses"]
        [&status];
    assert!(
        response.is_object(),
        "{}: {status} is not documented for {method} {path}",
        reply.what
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        fits(doc, schema, &reply.json()),
        "{}: the {status} body {} does not fit its documented schema {}",
        reply.what,
        reply.text,
        serde_json::to_string(resolve(doc, schema)).unwrap_or_default()
    );
}

async fn every_error_answer_has_the_documented_shape(app: TestApp) {
    let doc = app.get("/openapi.json").await.expect_json(200);
    let product = id_of(&app.create_product("DOC-1", 2.0, 1).await);
    let order = id_of(&app.create_order(product, 1).await);
    let item = "/products/{product_id}";
    let order_item = "/orders/{order_id}";
    let cases: Vec<(&str, &str, Reply)> = vec![
        (item, "get", app.get("/products/999").await),
        (item, "get", app.get("/products/x").await),
        (order_item, "get", app.get("/orders/999").await),
        (
            "/products",
            "post",
            app.send_raw(Method::POST, "/products", "text/plain", "{}")
                .await,
        ),
        (
            "/products",
            "post",
            app.post_json(
                "/products",
                &json!({"sku": "DOC-1", "name": "n", "price": 1, "stock": 1}),
            )
            .await,
        ),
        (
            "/products",
            "post",
            app.post_json("/products", &json!({"stok": 1})).await,
        ),
        (
            "/orders",
            "post",
            app.post_json("/orders", &json!({"product_id": product, "quantity": 5}))
                .await,
        ),
        (
            "/orders",
            "post",
            app.post_json("/orders", &json!({"product_id": 999, "quantity": 1}))
                .await,
        ),
        (
            "/products/{product_id}/adjustments",
            "post",
            app.post_json(
                &format!("/products/{product}/adjustments"),
                &json!({"delta": -5, "reason": "lost"}),
            )
            .await,
        ),
        (
            item,
            "delete",
            app.delete(&format!("/products/{product}")).await,
        ),
        (
            order_item,
            "put",
            app.set_order_status(order, "SHIPPED").await,
        ),
        (
            "/webhooks/payment",
            "post",
            app.webhook(&payment_body(order), Some("bad"), None).await,
        ),
    ];
    // Webhook conflicts and replays: paid, then canceled, then a late payment.
    app.signed_webhook(&payment_body(order), Some("evt-doc"))
        .await
        .expect_json(200);
    let replay = app
        .signed_webhook(&payment_body(order), Some("evt-doc"))
        .await;
    app.delete(&format!("/orders/{order}"))
        .await
        .assert_status(204);
    let late = format!(r#"{{"event": "payment.succeeded", "order_id": {order}}}"#);
    let conflict = app.signed_webhook(&late, Some("evt-late")).await;
    let mismatch_order = id_of(&app.create_order(product, 1).await);
    let wrong = format!(
        r#"{{"event": "payment.succeeded", "order_id": {mismatch_order}, "amount": 0.01}}"#
    );
    let mismatch = app.signed_webhook(&wrong, Some("evt-wrong")).await;
    let cancel_again = app.delete(&format!("/orders/{order}")).await;
    let expected = [404, 422, 404, 415, 409, 422, 409, 404, 409, 409, 400, 401];
    for ((path, method, reply), status) in cases.iter().zip(expected) {
        reply.assert_status(status);
        assert_documented(&doc, path, method, reply);
    }
    for (reply, status, path, method) in [
        (&replay, 400, "/webhooks/payment", "post"),
        (&conflict, 409, "/webhooks/payment", "post"),
        (&mismatch, 409, "/webhooks/payment", "post"),
        (&cancel_again, 400, order_item, "delete"),
    ] {
        reply.assert_status(status);
        assert_documented(&doc, path, method, reply);
    }
    // The string `detail`s are documented as strings, never as objects.
    let detail = resolve(
        &doc,
        &doc["paths"][inventory_server::routes::documented_path(item)]["get"]["responses"]["404"]["content"]
            ["application/json"]["schema"],
    );
    assert_eq!(
        detail["properties"]["detail"]["type"],
        json!("string"),
        "{detail}"
    );
}

async fn request_bodies_state_the_core_rules(app: TestApp) {
    use inventory_core::webhook::PaymentEvent;
    use inventory_core::{MAX_STOCK, ProductName, Quantity, Reason, Sku};
    let doc = app.get("/openapi.json").await.expect_json(200);
    let schemas = &doc["components"]["schemas"];
    for name in [
        "ProductCreate",
        "ProductUpdate",
        "OrderCreate",
        "OrderStatusUpdate",
        "AdjustmentCreate",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name} refuses unknown fields"
        );
    }
    assert_ne!(
        schemas["PaymentWebhook"]["additionalProperties"],
        json!(false)
    );
    let product = &schemas["ProductCreate"]["properties"];
    assert_eq!(product["sku"]["maxLength"], json!(Sku::MAX_CHARS));
    assert_eq!(product["name"]["maxLength"], json!(ProductName::MAX_CHARS));
    assert_eq!(product["stock"]["maximum"], json!(MAX_STOCK));
    let sku = product["sku"]["pattern"].as_str().expect("a SKU pattern");
    // Built from `Sku::is_allowed_char` (checked character by character in the crate's tests):
    // zero-width space (in U+2000–U+200F), the byte-order mark, the overrides are all excluded.
    assert_eq!(sku, inventory_server::openapi::schemas::sku_pattern());
    assert!(
        sku.contains("\\u2000-\\u200F") && sku.contains("\\uFEFF"),
        "{sku}"
    );
    let order = &schemas["OrderCreate"]["properties"];
    assert_eq!(order["quantity"]["maximum"], json!(Quantity::MAX));
    let adjustment = &schemas["AdjustmentCreate"]["properties"];
    assert_eq!(adjustment["reason"]["maxLength"], json!(Reason::MAX_CHARS));
    assert!(adjustment["reason"]["pattern"].is_string());
    assert_eq!(adjustment["delta"]["not"], json!({"const": 0}));
    let webhook = &schemas["PaymentWebhook"]["properties"];
    assert_eq!(
        webhook["event"]["maxLength"],
        json!(PaymentEvent::MAX_EVENT_CHARS)
    );
    // Query bounds: `after` and `skip` are never negative, `limit` is 1 to the page maximum.
    let list =
        &doc["paths"][inventory_server::routes::documented_path("/products")]["get"]["parameters"];
    let param = |name: &str| {
        list.as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == json!(name)))
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("no {name} parameter"))
    };
    assert_eq!(param("after")["minimum"], json!(0));
    assert_eq!(param("skip")["minimum"], json!(0));
    assert_eq!(
        param("limit")["maximum"],
        json!(inventory_core::Page::MAX_LIMIT)
    );
    assert!(app.get("/products?after=-1").await.status == 422);
}

async fn integral_numbers_are_integers_as_the_document_says(app: TestApp) {
    // JSON Schema's `integer` includes 3.0; so does the server (as pydantic does), exactly.
    let product = app
        .post_json(
            "/products",
            &json!({"sku": "INT-1", "name": "n", "price": 2.5, "stock": 10.0}),
        )
        .await
        .expect_json(201);
    assert_eq!(product["stock"], json!(10));
    let order = app
        .send_raw(
            Method::POST,
            "/orders",
            "application/json",
            format!(
                r#"{{"product_id": {}.0, "quantity": 3.000}}"#,
                id_of(&product)
            ),
        )
        .await
        .expect_json(201);
    assert_eq!(order["quantity"], json!(3));
    let reply = app
        .send_raw(
            Method::POST,
            "/orders",
            "application/json",
            format!(r#"{{"product_id": {}, "quantity": 2.5}}"#, id_of(&product)),
        )
        .await;
    reply.assert_status(422);
    assert_eq!(app.stock(id_of(&product)).await, 7);
    // The same rule for path and query integers: what schemathesis sends as `7.0` is 7.
    let id = id_of(&product);
    let same = app.get(&format!("/products/{id}.0")).await.expect_json(200);
    assert_eq!(same["id"], json!(id));
    let page = app.get("/orders?limit=1.0&skip=0.0").await.expect_json(200);
    assert_eq!(page.as_array().map(Vec::len), Some(1));
    app.get("/orders?limit=1.5").await.assert_status(422);
}
