//! `/v1`: every route is served under the versioned prefix, the unversioned paths are its aliases
//! (the seed's clients use them), every answer names its version, and the links an answer
//! carries keep the form the client chose.

use serde_json::json;

use crate::helpers::{TestApp, id_of};

both_backends!(
    the_v1_routes_are_the_unversioned_ones,
    links_keep_the_form_the_client_used,
    the_document_lists_the_v1_form
);

async fn the_v1_routes_are_the_unversioned_ones(app: TestApp) {
    let product = app
        .post_json(
            "/v1/products",
            &json!({"sku": "V1-1", "name": "Versioned", "price": 2.5, "stock": 10}),
        )
        .await
        .expect_json(201);
    let id = id_of(&product);
    // One row, seen through both forms, answered alike and naming the version.
    let versioned = app.get(&format!("/v1/products/{id}")).await;
    let plain = app.get(&format!("/products/{id}")).await;
    assert_eq!(versioned.expect_json(200), plain.expect_json(200));
    for reply in [&versioned, &plain] {
        assert_eq!(reply.header("api-version"), Some("1"), "{}", reply.what);
    }
    let order = app
        .post_json("/v1/orders", &json!({"product_id": id, "quantity": 3}))
        .await
        .expect_json(201);
    assert_eq!(app.stock(id).await, 7);
    let order_id = id_of(&order);
    app.put_json(
        &format!("/v1/orders/{order_id}"),
        &json!({"status": "CANCELED"}),
    )
    .await
    .assert_status(200);
    assert_eq!(app.stock(id).await, 10);
    // Refusals are the same answers under /v1, version header included.
    let missing = app.get("/v1/products/999999").await;
    missing.assert_status(404);
    assert_eq!(missing.header("api-version"), Some("1"));
    app.get("/v1/nothing-here").await.assert_status(404);
    app.get("/v2/products").await.assert_status(404);
    app.get("/v1/health").await.assert_status(200);
}

async fn links_keep_the_form_the_client_used(app: TestApp) {
    for sku in ["LINK-A", "LINK-B", "LINK-C"] {
        app.create_product(sku, 1.0, 5).await;
    }
    let page = app.get("/v1/products?limit=2").await;
    page.assert_status(200);
    let link = page.header("link").expect("a next link").to_owned();
    assert!(link.starts_with("</v1/products?"), "{link}");
    let plain = app.get("/products?limit=2").await;
    let link = plain.header("link").expect("a next link").to_owned();
    assert!(link.starts_with("</products?"), "{link}");
    let created = app
        .post_json(
            "/v1/products",
            &json!({"sku": "LINK-D", "name": "D", "price": 1.0, "stock": 1}),
        )
        .await;
    let id = id_of(&created.expect_json(201));
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/products/{id}").as_str())
    );
    let created = app
        .post_json(
            "/products",
            &json!({"sku": "LINK-E", "name": "E", "price": 1.0, "stock": 1}),
        )
        .await;
    let id = id_of(&created.expect_json(201));
    assert_eq!(
        created.header("location"),
        Some(format!("/products/{id}").as_str())
    );
}

async fn the_document_lists_the_v1_form(app: TestApp) {
    let doc = app.get("/openapi.json").await.expect_json(200);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/v1/products",
        "/v1/orders/{order_id}",
        "/v1/webhooks/payment",
    ] {
        assert!(paths.contains_key(path), "{path} not documented");
    }
    for path in ["/products", "/orders/{order_id}"] {
        assert!(!paths.contains_key(path), "{path} documented unversioned");
    }
    // The operational routes are not part of the versioned API.
    assert!(paths.contains_key("/health"));
    assert!(paths.contains_key("/metrics"));
}
