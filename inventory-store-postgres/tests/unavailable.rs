//! A database out of reach is `Unavailable` (503 with Retry-After), quickly: never a panic, a
//! hang, or a `Backend` error (500).

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, fresh_store, test_options};
use inventory_core::testing::{StoreExt, adjustment, new_product, t0};
use inventory_core::{Error, Store};
use inventory_store_postgres::{PostgresOptions, PostgresStore};

fn is_unavailable<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Unavailable(_)))
}

#[tokio::test]
async fn refused_connection_is_unavailable_at_once() {
    let started = Instant::now();
    let options = PostgresOptions::default().connect_timeout(Duration::from_secs(3));
    let err = PostgresStore::connect_with("postgres://postgres@127.0.0.1:1/test", options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(is_unavailable::<()>(&Err(err.into())));
}

#[tokio::test]
async fn silent_server_times_out_as_unavailable() {
    // Accepts TCP connections and never says a word: the handshake must time out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let options = PostgresOptions::default().connect_timeout(Duration::from_millis(300));
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let err = PostgresStore::connect_with(&url, options)
        .await
        .expect_err("no handshake");
    let elapsed = started.elapsed();
    holder.abort();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn bad_url_is_not_unavailable() {
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:notaport/test")
        .await
        .expect_err("invalid URL");
    assert!(!err.is_unavailable());
    assert!(matches!(Error::from(err), Error::Backend(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exhausted_pool_is_unavailable_after_the_wait_timeout() {
    let db = TestDb::create().await;
    let options = test_options()
        .pool_size(1)
        .wait_timeout(Duration::from_millis(200));
    let store = PostgresStore::connect_with(&db.url, options)
        .await
        .expect("connect");
    let p = store
        .create(new_product("POOL-1", 100, 5))
        .await
        .expect("create");

    // Another session holds the product row, so an adjustment blocks while holding the pool's
    // only connection.
    let mut other = db.client().await;
    let tx = other.transaction().await.expect("begin");
    tx.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", &[&p.id])
        .await
        .expect("lock");
    let blocked = {
        let store = store.clone();
        tokio::spawn(async move {
            let restock = adjustment(1, "restock");
            store.adjust_stock(p.id, &restock, t0()).await
        })
    };
    // Wait, polling with a deadline, until the adjustment is queued behind that lock: it then
    // holds the pool's only connection.
    let watcher = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    loop {
        poll.tick().await;
        let row = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        if row.get::<_, i64>(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the adjustment never blocked on the row lock"
        );
    }

    let started = Instant::now();
    let r = store.get_product(p.id).await;
    assert!(is_unavailable(&r), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    tx.rollback().await.expect("release");
    let adjusted = blocked.await.expect("task").expect("adjust goes on");
    assert_eq!(adjusted.stock, 6);
    store
        .get_product(p.id)
        .await
        .expect("the pool is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_connections_are_unavailable_then_replaced() {
    let (store, db) = fresh_store().await;
    let p = store
        .create(new_product("LOST-1", 100, 5))
        .await
        .expect("create");
    // Warm several pooled connections, then kill every session of the database but ours, as a
    // server restart or a network cut would.
    let mut warm = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        warm.push(tokio::spawn(async move { s.get_product(p.id).await }));
    }
    for w in warm {
        w.await.expect("task").expect("get");
    }
    let admin = db.client().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 1, "no store session found to terminate");

    // Each call either fails as Unavailable or works on a replacement connection; within a few
    // calls every dead connection has been noticed and replaced.
    let mut recovered = false;
    for _ in 0..20 {
        let r = store.get_product(p.id).await;
        match r {
            Ok(got) => {
                assert_eq!(got.stock, 5);
                recovered = true;
                break;
            }
            Err(Error::Unavailable(_)) => {}
            Err(e) => panic!("a lost connection must be Unavailable, got {e:?}"),
        }
    }
    assert!(recovered, "the store never recovered from lost connections");
    store.ping().await.expect("ping after recovery");
}

#[tokio::test]
async fn closed_store_is_unavailable() {
    let (store, _db) = fresh_store().await;
    store.ping().await.expect("ping");
    store.close().await.expect("close");
    let r = store.ping().await;
    assert!(is_unavailable(&r), "{r:?}");
}
