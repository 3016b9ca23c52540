//! Optimistic concurrency over HTTP: `ETag` from the row's version, `If-Match` on `PUT` and
//! `DELETE` (412 with the current ETag, nothing changed), Shopify's stock compare-and-set form
//! (409 with the current stock), `REQUIRE_IF_MATCH` (428), and the race it exists for: two
//! clients that read the same version, one write lands.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp, assert_validation_error, id_of, spawn_app_with};

both_backends!(
    etags_follow_every_change,
    a_stale_if_match_is_412_and_changes_nothing,
    the_stock_compare_and_set_form,
    an_order_write_with_a_stale_if_match_is_412,
);
both_backends!(
    @backend writes_without_if_match_are_428_when_required,
    two_writers_on_one_etag_one_wins,
);

fn etag(reply: &Reply) -> String {
    reply.header("etag").expect("an ETag").to_owned()
}

async fn send_if(
    app: &TestApp,
    method: Method,
    path: &str,
    tag: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app.request(method, path).header("if-match", tag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

async fn etags_follow_every_change(app: TestApp) {
    let id = id_of(&app.create_product("ETAG-1", 2.0, 10).await);
    let path = format!("/products/{id}");
    let first = etag(&app.get(&path).await);
    assert_eq!(first, "\"1\"");
    // An order takes stock: the product row changed, and so does its ETag.
    let order = id_of(&app.create_order(id, 2).await);
    let second = etag(&app.get(&path).await);
    assert_ne!(second, first);
    let order_path = format!("/orders/{order}");
    let placed = etag(&app.get(&order_path).await);
    app.set_order_status(order, "PAID").await.assert_status(200);
    let paid = etag(&app.get(&order_path).await);
    assert_ne!(paid, placed);
    // A PUT answers the new ETag, which a GET then shows.
    let put = app.put_json(&path, &json!({"name": "Renamed"})).await;
    put.assert_status(200);
    assert_eq!(etag(&put), etag(&app.get(&path).await));
    assert_ne!(etag(&put), second);
}

async fn a_stale_if_match_is_412_and_changes_nothing(app: TestApp) {
    let id = id_of(&app.create_product("ETAG-2", 2.0, 10).await);
    let path = format!("/products/{id}");
    let read = etag(&app.get(&path).await);
    let ok = send_if(&app, Method::PUT, &path, &read, Some(json!({"stock": 20}))).await;
    ok.assert_status(200);
    let now = etag(&ok);
    let before = app.get(&path).await.expect_json(200);
    for method in [Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"stock": 99}));
        let stale = send_if(&app, method, &path, &read, body).await;
        stale.assert_status(412);
        assert_eq!(
            stale.json()["detail"]["error"],
            json!("Precondition failed")
        );
        assert_eq!(stale.json()["detail"]["etag"], json!(now));
        assert_eq!(etag(&stale), now);
        assert_eq!(app.get(&path).await.expect_json(200), before);
    }
    // A weak tag never matches; a list matches if one of it does; `*` matches any version.
    let weak = format!("W/{now}");
    send_if(&app, Method::PUT, &path, &weak, Some(json!({"stock": 1})))
        .await
        .assert_status(412);
    let list = format!("{read}, {now}");
    send_if(&app, Method::PUT, &path, &list, Some(json!({"stock": 21})))
        .await
        .assert_status(200);
    send_if(&app, Method::DELETE, &path, "*", None)
        .await
        .assert_status(204);
    send_if(&app, Method::DELETE, &path, "*", None)
        .await
        .assert_status(404);
}

async fn the_stock_compare_and_set_form(app: TestApp) {
    let id = id_of(&app.create_product("CAS-1", 2.0, 45).await);
    let path = format!("/products/{id}");
    let wrong = app
        .put_json(&path, &json!({"stock": {"set": 40, "if_current": 44}}))
        .await;
    wrong.assert_detail(
        409,
        json!({"error": "Stock changed", "product_id": id, "expected": 44, "current": 45,
               "message": "The stock is 45, not 44; nothing was changed"}),
    );
    assert_eq!(app.stock(id).await, 45);
    let right = app
        .put_json(&path, &json!({"stock": {"set": 40, "if_current": 45}}))
        .await;
    assert_eq!(right.expect_json(200)["stock"], json!(40));
    for bad in [
        json!({"stock": {"set": 40}}),
        json!({"stock": {"set": 40, "if_current": 45, "x": 1}}),
        json!({"stock": {"set": -1, "if_current": 40}}),
        json!({"stock": "40"}),
    ] {
        let reply = app.put_json(&path, &bad).await;
        assert_validation_error(&reply, &[&["body", "stock"]]);
    }
    assert_eq!(app.stock(id).await, 40);
}

async fn an_order_write_with_a_stale_if_match_is_412(app: TestApp) {
    let product = id_of(&app.create_product("ETAG-3", 2.0, 10).await);
    let order = id_of(&app.create_order(product, 1).await);
    let path = format!("/orders/{order}");
    let read = etag(&app.get(&path).await);
    app.set_order_status(order, "PAID").await.assert_status(200);
    let stale = send_if(
        &app,
        Method::PUT,
        &path,
        &read,
        Some(json!({"status": "SHIPPED"})),
    )
    .await;
    stale.assert_status(412);
    send_if(&app, Method::DELETE, &path, &read, None)
        .await
        .assert_status(412);
    assert_eq!(app.order_status(order).await, "PAID");
    let now = etag(&app.get(&path).await);
    let shipped = send_if(
        &app,
        Method::PUT,
        &path,
        &now,
        Some(json!({"status": "SHIPPED"})),
    )
    .await;
    shipped.assert_status(200);
    assert_ne!(etag(&shipped), now);
}

async fn writes_without_if_match_are_428_when_required(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.require_if_match = true).await;
    let id = id_of(&app.create_product("REQ-1", 2.0, 10).await);
    let path = format!("/products/{id}");
    let reply = app.put_json(&path, &json!({"stock": 5})).await;
    reply.assert_status(428);
    app.delete(&path).await.assert_status(428);
    let order = id_of(&app.create_order(id, 1).await);
    app.set_order_status(order, "PAID").await.assert_status(428);
    assert_eq!(app.order_status(order).await, "PENDING");
    assert_eq!(app.stock(id).await, 9);
    let tag = etag(&app.get(&path).await);
    send_if(&app, Method::PUT, &path, &tag, Some(json!({"stock": 5})))
        .await
        .assert_status(200);
}

async fn two_writers_on_one_etag_one_wins(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    for round in 0..5 {
        let id = id_of(&app.create_product(&format!("RACE-{round}"), 2.0, 10).await);
        let path = format!("/products/{id}");
        let tag = etag(&app.get(&path).await);
        let (a, b) = tokio::join!(
            send_if(&app, Method::PUT, &path, &tag, Some(json!({"stock": 20}))),
            send_if(&app, Method::PUT, &path, &tag, Some(json!({"stock": 30}))),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}");
        let winner = if a.status == 200 { a } else { b };
        assert_eq!(app.get(&path).await.expect_json(200), winner.json());
        // The ledger holds exactly one `set` movement: the loser wrote nothing.
        let ledger = app
            .get(&format!("/products/{id}/adjustments"))
            .await
            .expect_json(200);
        let sets = ledger
            .as_array()
            .expect("a list")
            .iter()
            .filter(|m| m["kind"] == json!("set"))
            .count();
        assert_eq!(sets, 1, "round {round}: {ledger}");
    }
}
