//! Lifecycle: data and processed event ids survive a restart; a stopped server stops answering;
//! no acknowledged order is lost when the server stops under load.

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{Backend, id_of, ids_of, payment_body, spawn_app};

both_backends!(
    @backend restart_keeps_data_and_processed_events,
    stop_closes_the_server,
    shutdown_under_load_loses_no_acknowledged_order,
);

async fn restart_keeps_data_and_processed_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let product = app.create_product("PROD-001", 49.99, 10).await;
    let product_id = id_of(&product);
    let paid = id_of(&app.create_order(product_id, 2).await);
    let pending = id_of(&app.create_order(product_id, 3).await);
    let canceled = id_of(&app.create_order(product_id, 1).await);
    app.delete(&format!("/orders/{canceled}"))
        .await
        .assert_status(204);
    let answer = app
        .signed_webhook(&payment_body(paid), Some("evt-restart"))
        .await
        .expect_json(200);
    assert_eq!(answer["order_status"], json!("PAID"));
    // Processed without an X-Event-Id: its body hash is the id.
    let unnamed = format!(r#"{{"event": "payment.refunded", "order_id": {pending}}}"#);
    app.signed_webhook(&unnamed, None).await.expect_json(200);
    let products = app.get("/products").await.expect_json(200);
    let orders = app.get("/orders").await.expect_json(200);

    let app = app.restart().await;

    assert_eq!(app.get("/products").await.expect_json(200), products);
    assert_eq!(app.get("/orders").await.expect_json(200), orders);
    assert_eq!(app.stock(product_id).await, 5);
    assert_eq!(app.order_status(paid).await, "PAID");
    assert_eq!(app.order_status(pending).await, "PENDING");
    assert_eq!(app.order_status(canceled).await, "CANCELED");

    // The processed events are still known.
    let reply = app
        .signed_webhook(&payment_body(paid), Some("evt-restart"))
        .await;
    let body = reply.expect_json(400);
    assert_eq!(
        body["detail"]["error"],
        json!("Event already processed"),
        "{body}"
    );
    let reply = app.signed_webhook(&unnamed, None).await;
    assert_eq!(
        reply.expect_json(400)["detail"]["error"],
        json!("Event already processed")
    );

    // And the server carries on: new rows get new ids, SKUs stay unique.
    app.post_json(
        "/products",
        &json!({"sku": "PROD-001", "name": "Again", "price": 1.0, "stock": 1}),
    )
    .await
    .assert_detail(409, json!("Product with SKU 'PROD-001' already exists"));
    let newer = app.create_product("PROD-002", 1.0, 1).await;
    assert!(id_of(&newer) > product_id);
    let order = app.create_order(product_id, 1).await;
    let all = ids_of(&app.get("/orders").await.expect_json(200));
    assert_eq!(all.last(), Some(&id_of(&order)));
    assert!(
        all.iter().filter(|&&id| id == id_of(&order)).count() == 1,
        "{all:?}"
    );
    app.stop().await;
}

async fn stop_closes_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_product("PROD", 1.0, 1).await;
    let address = app.address.clone();
    let client = app.client.clone();
    app.stop().await;
    let outcome = client.get(format!("{address}/health")).send().await;
    assert!(
        outcome.is_err(),
        "a stopped server answers nothing, got {:?}",
        outcome.map(|r| r.status())
    );
}

async fn shutdown_under_load_loses_no_acknowledged_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let product = id_of(&app.create_product("PROD", 1.0, 100).await);
    let mut tasks = JoinSet::new();
    for _ in 0..40 {
        let (client, address) = (app.client.clone(), app.address.clone());
        tasks.spawn(async move {
            let body = json!({"product_id": product, "quantity": 1});
            let response = client
                .post(format!("{address}/orders"))
                .json(&body)
                .send()
                .await
                .ok()?;
            let status = response.status().as_u16();
            let text = response.text().await.ok()?;
            Some((status, text))
        });
    }
    // Stop once the first order has been acknowledged, with the others in flight or queued.
    let first = tasks.join_next().await.expect("a task").expect("no panic");
    let app = app.restart().await;
    let mut answers: Vec<(u16, String)> = first.into_iter().collect();
    while let Some(outcome) = tasks.join_next().await {
        answers.extend(outcome.expect("no panic"));
    }
    assert!(!answers.is_empty(), "the first request was answered");

    let mut acknowledged = Vec::new();
    for (status, text) in &answers {
        // A request the server took in is finished (201); one it did not take gets no answer.
        assert_eq!(*status, 201, "an answer during shutdown: {status} {text}");
        let order: Value = serde_json::from_str(text).expect("a JSON order");
        acknowledged.push(id_of(&order));
    }
    let stored = ids_of(
        &app.get(&format!("/orders?product_id={product}&limit=1000"))
            .await
            .expect_json(200),
    );
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "acknowledged order {id} lost across the restart: {stored:?}"
        );
    }
    let stock = app.stock(product).await;
    assert_eq!(
        stock,
        100 - stored.len() as i64,
        "stock matches the orders stored"
    );
    app.stop().await;
}
