//! Crash test: a child process places (and cancels) orders concurrently and prints each one as
//! soon as the store acknowledges it; the parent kills it with SIGKILL mid-stream, reopens the
//! file, and finds every acknowledged change, with stock matching the invariant.
//!
//! The child is this same test binary, re-run on the ignored test `crash_child` with the
//! database path in an environment variable.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use inventory_core::testing::concurrency::assert_invariant;
use inventory_core::testing::{StoreExt, new_order, new_product, t0};
use inventory_core::{ChangeSource, Error, Inventory, OrderStatus, StatusChange, Store};
use inventory_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Set in the child's environment: the database to write to.
const CHILD_DB: &str = "INVENTORY_SQLITE_CRASH_CHILD_DB";
const INITIAL_STOCK: i64 = 1_000_000;
/// Acknowledgements read before the kill.
const KILL_AFTER: usize = 2_000;
const CLIENTS: usize = 32;
/// Bound on each client's orders, so that a child left alone still ends.
const ORDERS_PER_CLIENT: i64 = 5_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("rt")
}

#[test]
fn acknowledged_orders_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    let rt = runtime();
    let product_id = rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open");
        let p = store
            .create(new_product("CRASH", 100, INITIAL_STOCK))
            .await
            .expect("create");
        store.close().await.expect("close");
        p.id
    });

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();

    // order id → quantity, for every placement the child saw acknowledged; and the cancels.
    let mut placed: HashMap<i64, i64> = HashMap::new();
    let mut canceled: Vec<i64> = Vec::new();
    let mut record = |line: &str| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("PLACED"), Some(id), Some(qty)) => {
                placed.insert(id.parse().expect("id"), qty.parse().expect("quantity"));
            }
            (Some("CANCELED"), Some(id), None) => canceled.push(id.parse().expect("id")),
            _ => {} // The test harness's own lines.
        }
    };
    // Read as the lines come: no sleep decides when to kill.
    let mut acks = 0;
    for line in lines.by_ref() {
        let line = line.expect("read child output");
        record(&line);
        if line.starts_with("PLACED") || line.starts_with("CANCELED") {
            acks += 1;
            if acks == KILL_AFTER {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL"); // `kill` is SIGKILL on unix.
    let status = child.wait().expect("reap child");
    // What the child printed before it died was acknowledged too.
    for line in lines {
        match line {
            Ok(line) => record(&line),
            Err(_) => break, // A line cut by the kill.
        }
    }
    assert!(
        acks >= KILL_AFTER,
        "the child stopped early ({acks} acknowledgements, {status})"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "killed mid-stream, not finished: {status}"
        );
    }

    rt.block_on(async {
        let store = SqliteStore::open(&path)
            .await
            .expect("reopen after the crash");
        for (&id, &quantity) in &placed {
            let order = store
                .get_order(id)
                .await
                .expect("an acknowledged order is there");
            assert_eq!(
                (order.lines[0].product_id, order.lines[0].quantity.get()),
                (product_id, quantity)
            );
        }
        for &id in &canceled {
            let order = store
                .get_order(id)
                .await
                .expect("a canceled order is there");
            assert_eq!(
                order.status,
                OrderStatus::Canceled,
                "acknowledged cancel of {id}"
            );
        }
        // stock = initial − Σ quantity of the orders present that hold stock, never negative.
        assert_invariant(&store, product_id, INITIAL_STOCK).await;
        // And the ledger and the history were committed with their changes, or not at all.
        let violations = Inventory::new(store.clone())
            .verify_invariants()
            .await
            .expect("verify");
        assert_eq!(violations, vec![]);
        store.close().await.expect("close");
    });
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    assert!(!placed.is_empty() && !canceled.is_empty());
}

/// The child: runs only when `acknowledged_orders_survive_sigkill` starts it.
#[test]
#[ignore = "child process of acknowledged_orders_survive_sigkill"]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    runtime().block_on(async {
        let options = SqliteOptions::default().synchronous(Synchronous::Full);
        let store = SqliteStore::open_with(&path, options)
            .await
            .expect("child open");
        let mut clients = tokio::task::JoinSet::new();
        for client in 0..CLIENTS {
            let store = store.clone();
            clients.spawn(async move { place_orders(store, client).await });
        }
        // A safety net, not synchronisation: a child nobody kills (a failing parent) ends.
        let all = async { while clients.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(120), all).await;
    });
}

async fn place_orders(store: SqliteStore, client: usize) {
    for i in 0..ORDERS_PER_CLIENT {
        let quantity = 1 + (i + client as i64) % 3;
        let order = match store.order(new_order(1, quantity)).await {
            Ok(order) => order,
            Err(Error::InsufficientStock { .. }) => return,
            Err(e) => panic!("place_order: {e}"),
        };
        acknowledge(&format!("PLACED {} {quantity}", order.id));
        if i % 4 == 0 {
            let cancel = OrderStatus::Pending
                .transition_to(OrderStatus::Canceled)
                .expect("allowed");
            let cancel = StatusChange::new(cancel, ChangeSource::Api);
            store
                .change_status(order.id, &cancel, t0())
                .await
                .expect("cancel");
            acknowledge(&format!("CANCELED {}", order.id));
        }
    }
}

/// Prints one acknowledgement and flushes it, in one locked write so lines never interleave.
fn acknowledge(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        // The parent is gone: nobody is listening any more.
        std::process::exit(0);
    }
}
