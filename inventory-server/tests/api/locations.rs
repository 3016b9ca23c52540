//! Stock per location (issue 15) over HTTP: locations, a cart across two locations with its
//! allocations, per-location levels, transfers, per-location adjustments, and the seed's
//! `stock` kept at the default location; bad input is a clear error that changes nothing.

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::extra::run_check;
use crate::helpers::{Reply, TestApp, assert_validation_error, id_of};

both_backends!(
    locations_are_created_listed_and_unique,
    a_cart_across_two_locations_says_where_each_unit_came_from,
    transfers_move_available_units_only,
    the_seed_stock_is_the_default_location,
    bad_location_requests_change_nothing,
    racing_carts_and_transfers_over_two_instances_add_up,
);

/// `[(location_id, on_hand, committed, available)]` of a product.
async fn levels(app: &TestApp, product: i64) -> Vec<(i64, i64, i64, i64)> {
    let body = app
        .get(&format!("/products/{product}/levels"))
        .await
        .expect_json(200);
    body.as_array()
        .expect("a list of levels")
        .iter()
        .map(|l| {
            let n = |k: &str| l[k].as_i64().unwrap_or_else(|| panic!("{k} in {l}"));
            (
                n("location_id"),
                n("on_hand"),
                n("committed"),
                n("available"),
            )
        })
        .collect()
}

async fn location(app: &TestApp, code: &str, priority: i64) -> i64 {
    let body = json!({"code": code, "name": format!("Location {code}"), "priority": priority});
    id_of(&app.post_json("/locations", &body).await.expect_json(201))
}

async fn transfer(app: &TestApp, product: i64, from: i64, to: i64, quantity: i64) -> Reply {
    let body = json!({"product_id": product, "from_location_id": from,
                      "to_location_id": to, "quantity": quantity});
    app.post_json("/transfers", &body).await
}

async fn locations_are_created_listed_and_unique(app: TestApp) {
    let list = app.get("/locations").await.expect_json(200);
    assert_eq!(
        list,
        json!([{"id": 1, "code": "default", "name": "Default", "priority": 0}])
    );
    let reply = app
        .post_json(
            "/locations",
            &json!({"code": "WH-EAST", "name": "East", "priority": 1}),
        )
        .await;
    let east = reply.expect_json(201);
    let id = id_of(&east);
    assert!(
        reply
            .header("location")
            .is_some_and(|l| l.ends_with(&format!("/locations/{id}"))),
        "{:?}",
        reply.headers
    );
    assert_eq!(
        app.get(&format!("/locations/{id}")).await.expect_json(200),
        east
    );
    app.post_json("/locations", &json!({"code": "WH-EAST", "name": "Again"}))
        .await
        .assert_detail(409, json!("Location with code 'WH-EAST' already exists"));
    app.get("/locations/999999")
        .await
        .assert_detail(404, json!("Location with ID 999999 not found"));
    let ids: Vec<i64> = app
        .get("/locations")
        .await
        .expect_json(200)
        .as_array()
        .expect("list")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![1, id]);
}

async fn a_cart_across_two_locations_says_where_each_unit_came_from(app: TestApp) {
    let east = location(&app, "CART-EAST", 1).await;
    let a = id_of(&app.create_product("LOC-A", 10.0, 6).await);
    let b = id_of(&app.create_product("LOC-B", 2.5, 2).await);
    let c = id_of(&app.create_product("LOC-C", 1.0, 3).await);
    transfer(&app, a, 1, east, 4).await.expect_json(200);
    app.post_json(
        &format!("/products/{b}/adjustments"),
        &json!({"delta": 5, "reason": "delivery", "location_id": east}),
    )
    .await
    .expect_json(200);
    // A names east; B (2 at default, 5 east) cannot be served whole by the default location,
    // so east serves it; C comes from the default location.
    let order = app
        .post_json(
            "/orders",
            &json!({"lines": [
                {"product_id": a, "quantity": 3, "location_id": east},
                {"product_id": b, "quantity": 4},
                {"product_id": c, "quantity": 1},
            ]}),
        )
        .await
        .expect_json(201);
    let allocations: Vec<Value> = order["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["allocations"].clone())
        .collect();
    assert_eq!(
        allocations,
        vec![
            json!([{"location_id": east, "quantity": 3}]),
            json!([{"location_id": east, "quantity": 4}]),
            json!([{"location_id": 1, "quantity": 1}]),
        ],
        "{order}"
    );
    assert_eq!(app.order(id_of(&order)).await, order);
    assert_eq!(levels(&app, a).await, vec![(1, 2, 0, 2), (east, 4, 3, 1)]);
    assert_eq!(app.stock(a).await, 3);
    // 7 of B: more than either location holds, so split, the default location first.
    let split = app
        .post_json("/orders", &json!({"product_id": b, "quantity": 3}))
        .await
        .expect_json(201);
    assert_eq!(
        split["lines"][0]["allocations"],
        json!([{"location_id": 1, "quantity": 2}, {"location_id": east, "quantity": 1}])
    );
    // Cancelling returns every unit where it came from.
    app.delete(&format!("/orders/{}", id_of(&order)))
        .await
        .assert_status(204);
    assert_eq!(levels(&app, a).await, vec![(1, 2, 0, 2), (east, 4, 0, 4)]);
    assert_eq!(levels(&app, b).await, vec![(1, 2, 2, 0), (east, 5, 1, 4)]);
    // Shipping takes the units off the shelf.
    let id = id_of(&split);
    app.set_order_status(id, "PAID").await.expect_json(200);
    app.set_order_status(id, "SHIPPED").await.expect_json(200);
    assert_eq!(levels(&app, b).await, vec![(1, 0, 0, 0), (east, 4, 0, 4)]);
    let ledger = app
        .get(&format!("/products/{a}/adjustments"))
        .await
        .expect_json(200);
    let rows: Vec<(String, i64, i64)> = ledger
        .as_array()
        .expect("ledger")
        .iter()
        .map(|m| {
            let kind = m["kind"].as_str().expect("kind").to_owned();
            (
                kind,
                m["location_id"].as_i64().expect("location"),
                m["delta"].as_i64().expect("delta"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("initial".to_owned(), 1, 6),
            ("transfer_out".to_owned(), 1, -4),
            ("transfer_in".to_owned(), east, 4),
            ("order_placed".to_owned(), east, -3),
            ("order_canceled".to_owned(), east, 3),
        ]
    );
}

async fn transfers_move_available_units_only(app: TestApp) {
    let east = location(&app, "MOVE-EAST", 1).await;
    let p = id_of(&app.create_product("MOVE-P", 1.0, 8).await);
    app.create_order(p, 2).await;
    let reply = transfer(&app, p, 1, east, 7).await;
    let body = reply.expect_json(409);
    assert_eq!(body["detail"]["available"], json!(6), "{body}");
    let moved = transfer(&app, p, 1, east, 6).await.expect_json(200);
    assert_eq!(
        moved,
        json!([
            {"location_id": 1, "priority": 0, "on_hand": 2, "committed": 2, "available": 0},
            {"location_id": east, "priority": 1, "on_hand": 6, "committed": 0, "available": 6},
        ])
    );
    assert_eq!(app.stock(p).await, 6);
    transfer(&app, p, east, 999_999, 1)
        .await
        .assert_detail(404, json!("Location with ID 999999 not found"));
    transfer(&app, 999_999, 1, east, 1)
        .await
        .assert_detail(404, json!("Product with ID 999999 not found"));
    // An adjustment is bounded by its own location: 6 available in all, none at the default.
    let reply = app
        .post_json(
            &format!("/products/{p}/adjustments"),
            &json!({"delta": -1, "reason": "damaged"}),
        )
        .await;
    assert_eq!(reply.expect_json(409)["detail"]["available"], json!(0));
    assert_eq!(levels(&app, p).await, vec![(1, 2, 2, 0), (east, 6, 0, 6)]);
}

async fn the_seed_stock_is_the_default_location(app: TestApp) {
    let east = location(&app, "SEED-EAST", 1).await;
    let p = id_of(&app.create_product("SEED-P", 1.0, 5).await);
    assert_eq!(levels(&app, p).await, vec![(1, 5, 0, 5)]);
    transfer(&app, p, 1, east, 3).await.expect_json(200);
    app.put_json(&format!("/products/{p}"), &json!({"stock": 2}))
        .await
        .assert_detail(
            409,
            json!("Stock cannot be set below the 3 units available at other locations"),
        );
    assert_eq!(app.stock(p).await, 5);
    let product = app
        .put_json(&format!("/products/{p}"), &json!({"stock": 10}))
        .await
        .expect_json(200);
    assert_eq!(product["stock"], json!(10));
    assert_eq!(levels(&app, p).await, vec![(1, 7, 0, 7), (east, 3, 0, 3)]);
}

async fn bad_location_requests_change_nothing(app: TestApp) {
    let p = id_of(&app.create_product("BAD-LOC", 1.0, 5).await);
    let reply = app
        .post_json(
            "/locations",
            &json!({"code": "has space", "name": "", "priority": 2_000_000, "x": 1}),
        )
        .await;
    assert_validation_error(
        &reply,
        &[
            &["body", "code"],
            &["body", "name"],
            &["body", "priority"],
            &["body", "x"],
        ],
    );
    let reply = app
        .post_json(
            "/transfers",
            &json!({"product_id": p, "from_location_id": 1, "to_location_id": 1, "quantity": 1}),
        )
        .await;
    assert_validation_error(&reply, &[&["body", "to_location_id"]]);
    let reply = app
        .post_json("/transfers", &json!({"product_id": p, "quantity": 0}))
        .await;
    assert_validation_error(
        &reply,
        &[
            &["body", "from_location_id"],
            &["body", "to_location_id"],
            &["body", "quantity"],
        ],
    );
    app.post_json(
        "/orders",
        &json!({"lines": [{"product_id": p, "quantity": 1, "location_id": 999_999}]}),
    )
    .await
    .assert_detail(404, json!("Location with ID 999999 not found"));
    // The product in the path exists: the body is what is wrong, a 422 on its field.
    let reply = app
        .post_json(
            &format!("/products/{p}/adjustments"),
            &json!({"delta": 1, "reason": "x", "location_id": 999_999}),
        )
        .await;
    assert_validation_error(&reply, &[&["body", "location_id"]]);
    assert!(
        reply.text.contains("Location with ID 999999 not found"),
        "{}",
        reply.text
    );
    let reply = app
        .post_json(
            &format!("/products/{p}/adjustments"),
            &json!([{"delta": 1, "reason": "x"}, {"delta": 1, "reason": "y", "location_id": 999_999}]),
        )
        .await;
    assert_validation_error(&reply, &[&["body", "1", "location_id"]]);
    app.post_json(
        "/products/999999/adjustments",
        &json!({"delta": 1, "reason": "x", "location_id": 999_999}),
    )
    .await
    .assert_detail(404, json!("Product with ID 999999 not found"));
    app.get("/products/999999/levels")
        .await
        .assert_detail(404, json!("Product with ID 999999 not found"));
    assert_eq!(levels(&app, p).await, vec![(1, 5, 0, 5)]);
    assert_eq!(
        app.get("/locations")
            .await
            .expect_json(200)
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// 200 carts of 1 to 5 lines over overlapping products held at two locations, and 40
/// transfers, spread over two server instances on one database: every answer is a 201, a 200
/// or the 409 of short stock — no 5xx, no deadlock reaching a client — and every product's
/// units are accounted for exactly, per location.
async fn racing_carts_and_transfers_over_two_instances_add_up(app: TestApp) {
    let second = app.another_instance().await;
    let east = location(&app, "RACE-EAST", 1).await;
    let mut products = Vec::new();
    for i in 0..5 {
        let p = id_of(&app.create_product(&format!("RACE-{i}"), 1.0, 30).await);
        transfer(&app, p, 1, east, 12).await.expect_json(200);
        products.push(p);
    }
    let apis = [app.api.clone(), second.api.clone()];
    let mut tasks = JoinSet::new();
    for i in 0..240usize {
        let api = apis[i % 2].clone();
        let products = products.clone();
        tasks.spawn(async move {
            if i % 6 == 5 {
                let (from, to) = if i % 12 == 5 { (1, east) } else { (east, 1) };
                let body = json!({"product_id": products[i % 5], "from_location_id": from,
                                  "to_location_id": to, "quantity": i % 3 + 1});
                return api.post_json("/transfers", &body).await;
            }
            let n = i % 5 + 1;
            let mut lines: Vec<Value> = (0..n)
                .map(|k| json!({"product_id": products[(i + k * 3) % 5], "quantity": (i + k) % 3 + 1}))
                .collect();
            if i % 2 == 1 {
                lines.reverse();
            }
            if i % 7 == 0 {
                lines[0]["location_id"] = json!(east);
            }
            api.post_json("/orders", &json!({ "lines": lines })).await
        });
    }
    let (mut placed, mut refused) = (0, 0);
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("task");
        match reply.status {
            200 | 201 => placed += 1,
            409 => {
                let body = reply.json();
                assert_eq!(
                    body["detail"]["error"],
                    json!("Insufficient stock"),
                    "{body}"
                );
                refused += 1;
            }
            _ => panic!("unexpected answer {}: {}", reply.status, reply.text),
        }
    }
    assert!(
        placed > 0 && refused > 0,
        "placed {placed}, refused {refused}"
    );
    eprintln!("racing carts and transfers: {placed} served, {refused} refused for short stock");
    for p in &products {
        let levels = levels(&app, *p).await;
        let on_hand: i64 = levels.iter().map(|l| l.1).sum();
        let committed: i64 = levels.iter().map(|l| l.2).sum();
        let available: i64 = levels.iter().map(|l| l.3).sum();
        // Nothing shipped: every unit is on a shelf, promised or not.
        assert_eq!(on_hand, 30, "product {p}: {levels:?}");
        assert_eq!(available, app.stock(*p).await, "product {p}");
        assert_eq!(on_hand - committed, available, "product {p}");
    }
    second.stop().await;
    let database = app.stop().await.expect("the server owned its database");
    let run = run_check(database.database_url()).await;
    assert_eq!(run.code, Some(0), "check after the race: {run:?}");
}
