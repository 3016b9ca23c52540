//! PostgreSQL backends killed under the server (`pg_terminate_backend`) while orders are being
//! placed: each request is answered 201 or 503 (with `Retry-After`), never 500; no half order
//! is left (every order has its ledger and history rows); the invariant checker passes.

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::helpers::extra::{postgres_execute, run_check};
use crate::helpers::{Backend, id_of, ids_of, spawn_app_with};

const CLIENTS: usize = 6;
const ORDERS_PER_CLIENT: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_backends_never_leave_half_an_order() {
    let app = spawn_app_with(Backend::Postgres, |s| s.pool_size = 4).await;
    let url = app.database_url().to_owned();
    let product = id_of(&app.create_product("KILL-1", 2.5, 100_000).await);

    // After every answer, the killer terminates every backend of the server's database: the
    // other clients' transactions are in flight then.
    let (answered, mut answers) = mpsc::unbounded_channel::<()>();
    let killer = tokio::spawn({
        let url = url.clone();
        async move {
            let database = url.rsplit('/').next().unwrap_or_default().to_owned();
            let kill = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            );
            let mut kills = 0;
            while answers.recv().await.is_some() {
                postgres_execute(&url, &kill).await;
                kills += 1;
            }
            kills
        }
    });

    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS {
        let (api, answered) = (app.api.clone(), answered.clone());
        clients.spawn(async move {
            let mut replies = Vec::new();
            for _ in 0..ORDERS_PER_CLIENT {
                let reply = api
                    .post_json("/orders", &json!({"product_id": product, "quantity": 2}))
                    .await;
                let _ = answered.send(());
                replies.push(reply);
            }
            replies
        });
    }
    drop(answered);
    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    while let Some(replies) = clients.join_next().await {
        for reply in replies.expect("a client task") {
            match reply.status {
                201 => acknowledged.push(id_of(&reply.json())),
                503 => {
                    assert!(reply.header("retry-after").is_some(), "{}", reply.text);
                    unavailable += 1;
                }
                other => panic!("a killed backend answered {other}: {}", reply.text),
            }
        }
    }
    let kills = killer.await.expect("the killer");
    assert_eq!(kills, CLIENTS * ORDERS_PER_CLIENT);
    assert!(!acknowledged.is_empty(), "some orders went through");
    eprintln!(
        "{} placed, {unavailable} answered 503, under {kills} kills",
        acknowledged.len()
    );

    // Every acknowledged order exists. A 503 may still have committed (the answer was lost,
    // not the order): the orders are those listed, each whole.
    let listed = ids_of(&app.get("/orders?limit=1000").await.expect_json(200));
    for id in &acknowledged {
        assert!(listed.contains(id), "acknowledged order {id} is missing");
    }
    for id in &listed {
        let history = app
            .get(&format!("/orders/{id}/events"))
            .await
            .expect_json(200);
        assert_eq!(
            history.as_array().map(Vec::len),
            Some(1),
            "order {id}: {history}"
        );
    }
    let ledger = app
        .get(&format!("/products/{product}/adjustments?limit=1000"))
        .await
        .expect_json(200);
    let placed = ledger.as_array().map_or(0, |rows| {
        rows.iter()
            .filter(|r| r["kind"] == json!("order_placed"))
            .count()
    });
    assert_eq!(placed, listed.len(), "one ledger row per order");
    assert_eq!(app.stock(product).await, 100_000 - 2 * listed.len() as i64);
    let check = run_check(&url).await;
    assert_eq!(check.code, Some(0), "the invariant holds: {check:?}");
    app.stop().await;
}
