//! Opening: files that are not ours, directories that cannot be written, schemas from the
//! future, reopening, and what survives a close or a drop.

use std::path::Path;

use inventory_core::clock::to_micros;
use inventory_core::idempotency::Idempotent;
use inventory_core::testing::{StoreExt, new_order, new_product};
use inventory_core::{Cart, Error, Order, OrderFilter, OrderStatus, Page, Store};
use inventory_store_sqlite::{SqliteError, SqliteOptions, SqliteStore, latest_schema_version};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    junk[..16].copy_from_slice(b"not a database!\n");
    let cases: [(&str, Vec<u8>); 3] = [
        ("notes.txt", b"hello, this is a text file\n".to_vec()),
        ("random.bin", junk.clone()),
        // Starts like SQLite, but the rest is garbage: SQLite itself must refuse it.
        (
            "fake.db",
            [b"SQLite format 3\0".as_slice(), &junk[16..]].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let e = SqliteStore::open(&path).await.expect_err(name);
        assert!(
            matches!(&e, SqliteError::NotADatabase { path: p } if p == &path),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains("not an SQLite database"), "{e}");
        assert_eq!(
            std::fs::read(&path).expect("read back"),
            bytes,
            "{name} was changed"
        );
    }
}

#[tokio::test]
async fn another_applications_database_is_refused_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("theirs.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("their schema");
    }
    let before = std::fs::read(&path).expect("read");
    let e = SqliteStore::open(&path).await.expect_err("not ours");
    assert!(
        matches!(&e, SqliteError::ForeignDatabase { table, .. } if table == "customers"),
        "{e:?}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "their database was changed"
    );

    // An empty SQLite file, or an empty file, is fine: there is nothing to lose.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("write");
    SqliteStore::open(&empty)
        .await
        .expect("an empty file becomes the database");
}

#[tokio::test]
async fn a_directory_that_cannot_be_written_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A path under a regular file: no one, not even root, can create it.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    // And a directory that does not exist.
    let missing = dir.path().join("no").join("such").join("dir");
    for path in [file.join("inventory.db"), missing.join("inventory.db")] {
        let e = SqliteStore::open(&path)
            .await
            .expect_err("cannot be created");
        assert!(
            matches!(&e, SqliteError::CannotOpen { path: p, .. } if p == &path),
            "{e:?}"
        );
        assert!(e.to_string().contains("writable"), "{e}");
    }
    assert!(!missing.exists(), "no directory was created");
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_directory_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    // Root ignores permissions; then there is nothing to test here (the case above covers it).
    let probe = ro.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        std::fs::remove_file(&probe).expect("clean up");
        return;
    }
    let e = SqliteStore::open(ro.join("inventory.db"))
        .await
        .expect_err("read-only directory");
    assert!(matches!(e, SqliteError::CannotOpen { .. }), "{e:?}");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
}

#[tokio::test]
async fn a_schema_newer_than_the_code_is_refused_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .create(new_product("KEEP", 100, 1))
        .await
        .expect("create");
    store.close().await.expect("close");
    let future = latest_schema_version() + 1;
    {
        // A later release added a migration.
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (?1, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
            [future],
        )
        .expect("insert");
    }
    let before = std::fs::read(&path).expect("read");
    let files_before = files_in(dir.path());

    let e = SqliteStore::open(&path).await.expect_err("newer schema");
    match &e {
        SqliteError::SchemaTooNew {
            path: p,
            found,
            supported,
        } => {
            assert_eq!(
                (p, *found, *supported),
                (&path, future, latest_schema_version())
            );
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(e.to_string().contains("newer"), "{e}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "the database was changed"
    );
    assert_eq!(files_in(dir.path()), files_before);
}

#[tokio::test]
async fn reopening_keeps_data_and_migrates_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    let store = SqliteStore::open(&path).await.expect("open");
    assert_eq!(store.path(), Some(path.as_path()));
    let p = store
        .create(new_product("P", 250, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 3)).await.expect("order");
    store.close().await.expect("close");
    store.close().await.expect("closing twice is harmless");
    let e = store.get_product(p.id).await.expect_err("closed");
    assert!(matches!(e, Error::Unavailable(_)), "{e:?}");

    for _ in 0..2 {
        let store = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(store.get_product(p.id).await.expect("product").stock, 7);
        assert_eq!(store.get_order(o.id).await.expect("order"), o);
        store.close().await.expect("close");
    }
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let (journal, versions): (String, i64) = conn
        .query_row(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode),
                    (SELECT count(*) FROM refinery_schema_history)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("query");
    assert_eq!(
        (journal.as_str(), versions),
        ("wal", latest_schema_version())
    );
}

/// Places an order at `at`, without an idempotency key.
async fn order_at(store: &SqliteStore, order: Cart, at: time::OffsetDateTime) -> Order {
    match store.place_order(order, at, None).await.expect("order") {
        Idempotent::Created(o) => o,
        Idempotent::Replayed(_) => panic!("replayed without a key"),
    }
}

#[tokio::test]
async fn timestamps_read_back_equal_at_microsecond_precision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("db"))
        .await
        .expect("open");
    let p = store
        .create(new_product("T", 100, 10))
        .await
        .expect("create");
    let placed = to_micros(time::OffsetDateTime::now_utc());
    let o = order_at(&store, new_order(p.id, 1), placed).await;
    assert_eq!(o.created_at, placed);
    let read = store.get_order(o.id).await.expect("get");
    assert_eq!((read.created_at, read.updated_at), (placed, placed));
    // Before 1970 too (negative microseconds round toward the past, like `to_micros`).
    let old = to_micros(time::macros::datetime!(1969-12-31 23:59:59.999_999 UTC));
    let o = order_at(&store, new_order(p.id, 1), old).await;
    assert_eq!(store.get_order(o.id).await.expect("get").created_at, old);
}

/// The first handle goes away while its clones still have commands queued: nothing is lost,
/// and the writer lets go of the file once the last clone is dropped.
#[tokio::test]
async fn handles_dropped_with_commands_in_flight_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let options = SqliteOptions::default().readers(1);
    let store = SqliteStore::open_with(&path, options).await.expect("open");
    let p = store
        .create(new_product("D", 100, 100))
        .await
        .expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.order(new_order(p.id, 1)).await });
    }
    drop(store);
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("placed");
    }
    // The last handle went away with the tasks; reopen once the writer has let go.
    let store = SqliteStore::open(&path).await.expect("reopen");
    let orders = store
        .list_orders(OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert_eq!(orders.len(), 20);
    assert!(orders.iter().all(|o| o.status == OrderStatus::Pending));
    assert_eq!(store.get_product(p.id).await.expect("product").stock, 80);
}

#[tokio::test]
async fn options_are_applied_and_an_in_memory_store_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::default()
        .synchronous(inventory_store_sqlite::Synchronous::Normal)
        .group_commit(false)
        .readers(0)
        .inline_readers(0)
        .max_batch(0);
    let store = SqliteStore::open_with(dir.path().join("db"), options)
        .await
        .expect("open");
    let p = store
        .create(new_product("N", 100, 1))
        .await
        .expect("create");
    store.ping().await.expect("ping");
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 1);
    assert!(
        store.writer_stats().commits >= 3,
        "one transaction per command"
    );

    let memory = SqliteStore::open_in_memory().await.expect("in memory");
    assert_eq!(memory.path(), None);
    let p = memory
        .create(new_product("M", 100, 1))
        .await
        .expect("create");
    assert_eq!(memory.get_product(p.id).await.expect("get"), p);
}
