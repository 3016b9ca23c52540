//! Group commit, tested on the batch machinery directly: which commands a batch keeps when some
//! fail, what callers hear when the commit fails, and that queued commands share a transaction.

use std::sync::mpsc;

use inventory_core::testing::{new_order, new_product};
use inventory_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::*;
use crate::command::call;
use crate::sql;

type Rx<T> = oneshot::Receiver<Result<T>>;

fn open(dir: &tempfile::TempDir) -> Connection {
    schema::open_writer(
        &Target::File(dir.path().join("db")),
        &SqliteOptions::default(),
    )
    .expect("open")
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Queues `f` as a command of `batch`.
fn push<T, F>(batch: &mut Vec<BoxCommand>, f: F) -> Rx<T>
where
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (cmd, rx) = call(f);
    batch.push(cmd);
    rx
}

fn answer<T>(rx: Rx<T>) -> Result<T> {
    rx.blocking_recv().expect("every command is answered")
}

#[test]
fn a_failing_command_undoes_only_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = open(&dir);
    let counters = Counters::default();
    let mut batch = Vec::new();
    let a = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    let dup = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 200, 1), 0)
    });
    let order = push(&mut batch, |c| sql::place_order(c, &new_order(1, 2), 0));
    // Takes stock, then fails on the duplicate SKU: the stock it took must come back.
    let half = push(&mut batch, |c| {
        sql::place_order(c, &new_order(1, 1), 0)?;
        sql::create_product(c, new_product("A", 300, 1), 0)
    });
    let short = push(&mut batch, |c| sql::place_order(c, &new_order(1, 4), 0));
    let b = push(&mut batch, |c| {
        sql::create_product(c, new_product("B", 100, 1), 0)
    });
    run_batch(&conn, batch, &counters);

    assert_eq!(answer(a).expect("A created").id, 1);
    assert!(matches!(answer(dup), Err(Error::DuplicateSku { .. })));
    assert_eq!(
        answer(order).expect("order placed").lines[0].quantity.get(),
        2
    );
    assert!(matches!(answer(half), Err(Error::DuplicateSku { .. })));
    assert!(matches!(
        answer(short),
        Err(Error::InsufficientStock {
            requested,
            available,
            ..
        }) if requested == 4 && available == 3
    ));
    assert_eq!(answer(b).expect("B created").sku.as_str(), "B");

    assert_eq!(sql::get_product(&conn, 1).expect("A").stock, 3);
    assert_eq!((count(&conn, "products"), count(&conn, "orders")), (2, 1));
    // The ledger and history rows went with the commands that wrote them: the two products'
    // `initial` rows and the one order's row stand; the undone order's are gone.
    assert_eq!(
        (
            count(&conn, "stock_movements"),
            count(&conn, "order_events")
        ),
        (3, 1)
    );
    // So did the levels and allocations: A's level holds the one order's 2 units.
    let level: (i64, i64) = conn
        .query_row(
            "SELECT on_hand, committed FROM stock_levels WHERE product_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("A's level");
    assert_eq!(level, (5, 2));
    assert_eq!(count(&conn, "order_allocations"), 1);
    assert_eq!(
        counters.snapshot(),
        WriterStats {
            commits: 1,
            commands: 6
        }
    );
}

/// Two requests with one key in the same batch: the second runs after the first stored its key,
/// in the same transaction, and replays it; a failed create stores no key.
#[test]
fn one_key_in_one_batch_creates_once() {
    use inventory_core::idempotency::{self, IdempotencyKey, Idempotent};
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = open(&dir);
    let counters = Counters::default();
    // Honoured from the epoch on, and the commands below store their keys at time 0.
    let since = time::OffsetDateTime::UNIX_EPOCH;
    let key = |body: &[u8]| IdempotencyKey::new("POST /orders", "k", body, since).expect("key");
    let mut batch = Vec::new();
    push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    let place = |k: IdempotencyKey, quantity: i64| {
        move |c: &Connection| {
            sql::idempotent(
                c,
                Some(&k),
                0,
                |c| sql::place_order(c, &new_order(1, quantity), 0),
                idempotency::snapshot,
                idempotency::restore,
            )
        }
    };
    let failed = push(&mut batch, place(key(b"x"), 9));
    let first = push(&mut batch, place(key(b"x"), 2));
    let again = push(&mut batch, place(key(b"x"), 2));
    let other = push(&mut batch, place(key(b"y"), 2));
    run_batch(&conn, batch, &counters);

    assert!(matches!(
        answer(failed),
        Err(Error::InsufficientStock { .. })
    ));
    let Ok(Idempotent::Created(order)) = answer(first) else {
        panic!("the first success creates")
    };
    let Ok(Idempotent::Replayed(replayed)) = answer(again) else {
        panic!("the repeat replays")
    };
    assert_eq!(replayed, order);
    let (status, body): (i64, Vec<u8>) = conn
        .query_row("SELECT status, body FROM idempotency_keys", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the stored key");
    assert_eq!(status, 201);
    assert_eq!(body, idempotency::snapshot(&order).expect("snapshot"));
    assert!(matches!(
        answer(other),
        Err(Error::IdempotencyKeyReused { .. })
    ));
    assert_eq!(
        (count(&conn, "orders"), count(&conn, "idempotency_keys")),
        (1, 1)
    );
    assert_eq!(sql::get_product(&conn, 1).expect("A").stock, 3);
    assert_eq!(counters.snapshot().commits, 1);
}

#[test]
fn a_failed_commit_fails_every_caller_and_keeps_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = open(&dir);
    let counters = Counters::default();
    let mut batch = Vec::new();
    let a = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    // A deferred foreign key is checked at COMMIT only: this command succeeds, the COMMIT fails.
    let orphan = push(&mut batch, |c| {
        c.execute_batch(
            "PRAGMA defer_foreign_keys = ON;
             INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('PENDING', 1, 0, 0);
             INSERT INTO order_lines VALUES (last_insert_rowid(), 0, 999, 1, 1, 1);",
        )
        .map_err(Error::backend)
    });
    let short = push(&mut batch, |c| sql::place_order(c, &new_order(1, 50), 0));
    run_batch(&conn, batch, &counters);

    for result in [
        answer(a).map(|_| ()),
        answer(orphan),
        answer(short).map(|_| ()),
    ] {
        let e = result.expect_err("nothing was committed");
        assert!(
            matches!(&e, Error::Backend(b) if b.to_string().contains("transaction failed")),
            "{e:?}"
        );
    }
    assert_eq!((count(&conn, "products"), count(&conn, "orders")), (0, 0));
    assert!(
        conn.is_autocommit(),
        "the failed transaction was rolled back"
    );
    assert_eq!(counters.snapshot(), WriterStats::default());

    // The writer goes on with the next batch.
    let mut batch = Vec::new();
    let a = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    run_batch(&conn, batch, &counters);
    answer(a).expect("created after the failed batch");
}

#[test]
fn a_panicking_command_is_undone_and_answered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = open(&dir);
    let counters = Counters::default();
    let mut batch = Vec::new();
    let a = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    let boom = push(&mut batch, |c| -> Result<()> {
        sql::create_product(c, new_product("B", 100, 5), 0)?;
        panic!("a bug in a command");
    });
    run_batch(&conn, batch, &counters);
    answer(a).expect("A stands");
    assert!(matches!(answer(boom), Err(Error::Backend(_))));
    assert_eq!(count(&conn, "products"), 1, "B was rolled back");
}

/// SQLite may roll back a whole transaction on SQLITE_FULL, or only the statement. Whichever it
/// does, a caller is told "done" exactly when its change is in the database.
#[test]
fn disk_full_midway_never_acknowledges_a_lost_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = open(&dir);
    conn.execute_batch("CREATE TABLE filler (x BLOB)")
        .expect("filler table");
    let counters = Counters::default();
    let mut batch = Vec::new();
    let a = push(&mut batch, |c| {
        sql::create_product(c, new_product("A", 100, 5), 0)
    });
    let full = push(&mut batch, |c| {
        let pages: i64 = c
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(Error::backend)?;
        c.execute_batch(&format!(
            "PRAGMA max_page_count = {};
             INSERT INTO filler VALUES (randomblob(10000000));",
            pages + 2
        ))
        .map_err(Error::backend)
    });
    let b = push(&mut batch, |c| {
        sql::create_product(c, new_product("B", 100, 5), 0)
    });
    run_batch(&conn, batch, &counters);
    conn.execute_batch("PRAGMA max_page_count = 1073741823")
        .expect("reset");

    let full = answer(full).expect_err("the database was full");
    assert!(full.to_string().contains("full"), "its own error: {full}");
    for (rx, sku) in [(a, "A"), (b, "B")] {
        let present: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1)",
                [sku],
                |r| r.get(0),
            )
            .expect("query");
        let r = answer(rx);
        assert_eq!(r.is_ok(), present, "{sku}: acknowledged iff stored: {r:?}");
        if let Err(e) = r {
            assert!(
                matches!(e, Error::Unavailable(_)),
                "a lost change is retryable: {e:?}"
            );
        }
    }
}

/// Commands queued while the writer is busy are committed together, in one transaction.
#[test]
fn queued_commands_share_one_commit() {
    for group_commit in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions::default().group_commit(group_commit);
        let spawned = spawn(Target::File(dir.path().join("db")), &options).expect("spawn");
        spawned
            .ready
            .blocking_recv()
            .expect("ready")
            .expect("opened");

        // A first command that holds the writer until the rest is queued.
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (blocker, blocker_rx) = call(move |c| {
            started_tx.send(()).expect("test waits");
            release_rx.recv().expect("test releases");
            sql::create_product(c, new_product("P", 100, 10), 0)
        });
        spawned.tx.send(Msg::Run(blocker)).expect("queue");
        started_rx.recv().expect("writer started the first command");

        let mut answers = Vec::new();
        for _ in 0..15 {
            let (cmd, rx) = call(|c| sql::place_order(c, &new_order(1, 1), 0));
            spawned.tx.send(Msg::Run(cmd)).expect("queue");
            answers.push(rx);
        }
        release_tx.send(()).expect("release");
        answer(blocker_rx).expect("product created");
        let ok = answers
            .into_iter()
            .map(answer)
            .filter(Result::is_ok)
            .count();
        assert_eq!(ok, 10, "exactly the stock was sold");

        let stats = spawned.counters.snapshot();
        assert_eq!(stats.commands, 16);
        let expected_commits = if group_commit { 2 } else { 16 };
        assert_eq!(
            stats.commits, expected_commits,
            "group_commit = {group_commit}"
        );

        let (ack_tx, ack_rx) = oneshot::channel();
        spawned.tx.send(Msg::Close(ack_tx)).expect("close");
        ack_rx
            .blocking_recv()
            .expect("acknowledged")
            .expect("closed cleanly");
    }
}
