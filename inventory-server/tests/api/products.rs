//! Products: create, list, read, partial update, delete — exact bodies and status codes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_validation_error, id_of, ids_of};

both_backends!(
    create_answers_201_with_the_product,
    duplicate_sku_is_409,
    list_is_ordered_by_id_with_skip_and_limit,
    list_limit_defaults_to_100,
    list_limit_out_of_range_is_422,
    get_unknown_product_is_404,
    update_changes_only_the_fields_sent,
    update_to_a_taken_sku_is_409,
    update_unknown_product_is_404,
    invalid_update_is_422_and_changes_nothing,
    delete_answers_204_then_404,
    price_is_held_exactly,
);

async fn create_answers_201_with_the_product(app: TestApp) {
    let sent = json!({"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50});
    let created = app.post_json("/products", &sent).await.expect_json(201);
    let id = id_of(&created);
    assert_eq!(
        created,
        json!({"id": id, "sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50})
    );
    assert_eq!(app.product(id).await, created);
    assert_eq!(
        app.get("/products").await.expect_json(200),
        json!([created])
    );
}

async fn duplicate_sku_is_409(app: TestApp) {
    let first = app.create_product("PROD-001", 49.99, 50).await;
    let again = json!({"sku": "PROD-001", "name": "Another", "price": 1.0, "stock": 1});
    app.post_json("/products", &again)
        .await
        .assert_detail(409, json!("Product with SKU 'PROD-001' already exists"));
    assert_eq!(app.get("/products").await.expect_json(200), json!([first]));
}

async fn list_is_ordered_by_id_with_skip_and_limit(app: TestApp) {
    // SKUs in reverse order, so that an order by SKU or name would show.
    let c = app.create_product("C-3", 3.0, 3).await;
    let b = app.create_product("B-2", 2.0, 2).await;
    let a = app.create_product("A-1", 1.0, 1).await;
    let all = app.get("/products").await.expect_json(200);
    assert_eq!(all, json!([c, b, a]));
    let ids = ids_of(&all);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids ascending: {ids:?}"
    );

    let page = app.get("/products?skip=1&limit=1").await.expect_json(200);
    assert_eq!(page, json!([b]));
    let page = app.get("/products?skip=0&limit=2").await.expect_json(200);
    assert_eq!(page, json!([c, b]));
    let page = app.get("/products?skip=2&limit=100").await.expect_json(200);
    assert_eq!(page, json!([a]));
    let page = app.get("/products?skip=3").await.expect_json(200);
    assert_eq!(page, json!([]));
    let page = app.get("/products?limit=1000").await.expect_json(200);
    assert_eq!(page, all);
    let page = app.get("/products?limit=1").await.expect_json(200);
    assert_eq!(page, json!([c]));
}

async fn list_limit_defaults_to_100(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..101 {
        ids.push(id_of(
            &app.create_product(&format!("SKU-{i:03}"), 1.0, 1).await,
        ));
    }
    let first_page = ids_of(&app.get("/products").await.expect_json(200));
    assert_eq!(first_page, ids[..100], "the default limit is 100");
    let rest = ids_of(&app.get("/products?skip=100").await.expect_json(200));
    assert_eq!(rest, ids[100..]);
    let all = ids_of(&app.get("/products?limit=1000").await.expect_json(200));
    assert_eq!(all, ids);
}

async fn list_limit_out_of_range_is_422(app: TestApp) {
    app.create_product("PROD-001", 1.0, 1).await;
    for query in ["limit=0", "limit=1001", "limit=-1", "limit=abc", "skip=abc"] {
        let reply = app.get(&format!("/products?{query}")).await;
        let name = query.split('=').next().expect("a query has a name");
        assert_validation_error(&reply, &[&["query", name]]);
    }
}

async fn get_unknown_product_is_404(app: TestApp) {
    app.get("/products/999")
        .await
        .assert_detail(404, json!("Product with ID 999 not found"));
}

async fn update_changes_only_the_fields_sent(app: TestApp) {
    let created = app.create_product("PROD-001", 49.99, 50).await;
    let id = id_of(&created);
    let path = format!("/products/{id}");

    let updated = app
        .put_json(&path, &json!({"price": 59.99}))
        .await
        .expect_json(200);
    let expected = json!({"id": id, "sku": "PROD-001", "name": "Product PROD-001", "price": 59.99, "stock": 50});
    assert_eq!(updated, expected);
    assert_eq!(app.product(id).await, expected);

    let updated = app
        .put_json(&path, &json!({"name": "Gadget", "stock": 7}))
        .await
        .expect_json(200);
    let expected =
        json!({"id": id, "sku": "PROD-001", "name": "Gadget", "price": 59.99, "stock": 7});
    assert_eq!(updated, expected);

    // Nothing sent: nothing changes.
    assert_eq!(
        app.put_json(&path, &json!({})).await.expect_json(200),
        expected
    );
    // Its own SKU is not a conflict.
    let same_sku = app.put_json(&path, &json!({"sku": "PROD-001"})).await;
    assert_eq!(same_sku.expect_json(200), expected);

    let renamed = app
        .put_json(&path, &json!({"sku": "PROD-002"}))
        .await
        .expect_json(200);
    assert_eq!(renamed["sku"], json!("PROD-002"));
    // The old SKU is free again.
    app.create_product("PROD-001", 1.0, 1).await;
}

async fn update_to_a_taken_sku_is_409(app: TestApp) {
    app.create_product("PROD-001", 1.0, 1).await;
    let other = app.create_product("PROD-002", 2.0, 2).await;
    let path = format!("/products/{}", id_of(&other));
    app.put_json(&path, &json!({"sku": "PROD-001", "stock": 99}))
        .await
        .assert_detail(409, json!("Product with SKU 'PROD-001' already exists"));
    assert_eq!(
        app.product(id_of(&other)).await,
        other,
        "a refused update changes nothing"
    );
}

async fn update_unknown_product_is_404(app: TestApp) {
    app.put_json("/products/999", &json!({"price": 1.5}))
        .await
        .assert_detail(404, json!("Product with ID 999 not found"));
}

async fn invalid_update_is_422_and_changes_nothing(app: TestApp) {
    let created = app.create_product("PROD-001", 49.99, 50).await;
    let path = format!("/products/{}", id_of(&created));
    let cases: [(Value, &[&[&str]]); 5] = [
        (
            json!({"price": 0, "stok": 1}),
            &[&["body", "price"], &["body", "stok"]],
        ),
        (json!({"price": 1.999}), &[&["body", "price"]]),
        (
            json!({"stock": -1, "name": ""}),
            &[&["body", "stock"], &["body", "name"]],
        ),
        (json!({"sku": "HAS SPACE"}), &[&["body", "sku"]]),
        (json!({"id": 5}), &[&["body", "id"]]),
    ];
    for (body, locs) in cases {
        assert_validation_error(&app.put_json(&path, &body).await, locs);
    }
    assert_eq!(app.product(id_of(&created)).await, created);
}

async fn delete_answers_204_then_404(app: TestApp) {
    let keep = app.create_product("KEEP", 1.0, 1).await;
    let gone = app.create_product("GONE", 2.0, 2).await;
    let id = id_of(&gone);
    let path = format!("/products/{id}");
    let reply = app.delete(&path).await;
    reply.assert_status(204);
    assert!(reply.text.is_empty(), "204 has no body: {:?}", reply.text);

    let not_found = json!(format!("Product with ID {id} not found"));
    app.get(&path).await.assert_detail(404, not_found.clone());
    app.delete(&path).await.assert_detail(404, not_found);
    assert_eq!(app.get("/products").await.expect_json(200), json!([keep]));
    // The SKU can be used again.
    app.create_product("GONE", 3.0, 3).await;
}

async fn price_is_held_exactly(app: TestApp) {
    let created = app.create_product("EXACT", 49.99, 10).await;
    assert_eq!(created["price"].to_string(), "49.99");
    let id = id_of(&created);
    assert_eq!(app.product(id).await["price"].to_string(), "49.99");
    let listed = app.get("/products").await.expect_json(200);
    assert_eq!(listed[0]["price"].to_string(), "49.99");

    // 0.1 × 3 and 1.1 × 3 are not 0.3 and 3.3 in binary floating point.
    let dime = id_of(&app.create_product("DIME", 0.1, 10).await);
    let order = app.create_order(dime, 3).await;
    assert_eq!(order["unit_price"], json!(0.1));
    assert_eq!(order["total"], json!(0.3), "total is exact: {order}");
    let eleven = id_of(&app.create_product("ELEVEN", 1.1, 10).await);
    let order = app.create_order(eleven, 3).await;
    assert_eq!(order["total"], json!(3.3), "total is exact: {order}");

    // Updating to a two-decimal price keeps it exact as well.
    let path = format!("/products/{id}");
    let updated = app
        .put_json(&path, &json!({"price": 0.07}))
        .await
        .expect_json(200);
    assert_eq!(updated["price"].to_string(), "0.07");
}
