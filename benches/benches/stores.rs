//! `place_order` throughput per store with 1, 16 and 64 concurrent callers.
//! `cargo bench -p inventory-benches --bench stores` (PostgreSQL from `TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, in a fresh database dropped afterwards;
//! `BENCH_SKIP_POSTGRES=1` leaves it out).
//!
//! Each measurement places `iters` orders split across the callers and reports orders/s; the
//! SQLite variants (group commit on/off × `synchronous` FULL/NORMAL) run in the same process and
//! run, so their ratios are comparable.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inventory_core::time::OffsetDateTime;
use inventory_core::{Cart, NewOrder, Quantity, Store};
use inventory_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

const CALLERS: [usize; 3] = [1, 16, 64];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_store<S: Store + Clone>(
    c: &mut Criterion,
    group_name: &str,
    rt: &tokio::runtime::Runtime,
    store: S,
) {
    let product_id = rt.block_on(inventory_benches::seed(&store));
    let order: Cart = NewOrder::new(product_id, Quantity::new(1).expect("valid")).into();
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(5));
    for callers in CALLERS {
        group.bench_with_input(
            BenchmarkId::new("place_order", callers),
            &callers,
            |b, &callers| {
                b.to_async(rt).iter_custom(|iters| {
                    let (store, order) = (store.clone(), order.clone());
                    async move {
                        inventory_benches::place_concurrently(&store, &order, callers, iters).await
                    }
                })
            },
        );
    }
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let variants = [
        ("sqlite/full+group", Synchronous::Full, true),
        ("sqlite/full+single", Synchronous::Full, false),
        ("sqlite/normal+group", Synchronous::Normal, true),
        ("sqlite/normal+single", Synchronous::Normal, false),
    ];
    for (name, sync, group_commit) in variants {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions::default()
            .synchronous(sync)
            .group_commit(group_commit);
        let store = rt
            .block_on(SqliteStore::open_with(dir.path().join("bench.db"), options))
            .expect("open SQLite");
        bench_store(c, name, &rt, store.clone());
        let stats = store.writer_stats();
        eprintln!("{name}: writer {stats:?}");
        rt.block_on(store.close()).expect("close SQLite");
    }
}

fn postgres(c: &mut Criterion) {
    let rt = runtime();
    // Group commit (the default) beside one transaction per order, in the same run.
    inventory_benches::with_postgres(&rt, |store| bench_store(c, "postgres", &rt, store));
    let single = inventory_store_postgres::PostgresOptions::default().group_commit(false);
    inventory_benches::with_postgres_options(&rt, single, |store| {
        bench_store(c, "postgres+single", &rt, store)
    });
}

/// A product row as the store reads it.
type Row = (i64, String, String, i64, i64);

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Runs one cached listing statement and collects its rows, as the store's reader does.
fn list<P: rusqlite::Params>(conn: &rusqlite::Connection, sql: &str, params: P) -> Vec<Row> {
    let mut stmt = conn.prepare_cached(sql).expect("prepare");
    stmt.query_map(params, read)
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

/// One list page (100 rows) straight through rusqlite, on the store's own schema and file,
/// read-only as the store's readers open it: the store's statement against variants.
///
/// SQLite 3.54 (rusqlite's bundled build) reads a `LIMIT ?` parameter's bound value when it
/// prepares a statement and marks the statement for re-preparation on every later bind
/// (`sqlite3ExprIsInteger` → `sqlite3VdbeReprepareOnBind`), so the cached statement is compiled
/// again on every call. `LIMIT +?` (unary plus), a literal, or a connection with
/// `SQLITE_DBCONFIG_ENABLE_QPSG` avoid it; the difference is the cost of the re-preparation.
fn sqlite_list_statement(c: &mut Criterion) {
    // The store's own schema (migrations applied by the store), 200 products, then a read-only
    // connection as the store's readers open it.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("statement.db");
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open SQLite");
        for n in 1..=200 {
            let sku = inventory_benches::baseline::sku(n);
            store
                .create_product(
                    inventory_benches::product(&sku, 1000),
                    OffsetDateTime::now_utc(),
                    None,
                )
                .await
                .expect("product");
        }
        store.close().await.expect("close");
    });
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("SQLite");
    let mut group = c.benchmark_group("sqlite statement/list 100");
    group.bench_function("WHERE id > ?1 (as the store)", |b| {
        b.iter(|| {
            list(
                &conn,
                "SELECT id, sku, name, price_cents, stock FROM products
                     WHERE id > ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                (i64::MIN, 100, 0),
            )
        })
    });
    group.bench_function("no cursor parameter", |b| {
        b.iter(|| {
            list(
                &conn,
                "SELECT id, sku, name, price_cents, stock FROM products ORDER BY id LIMIT ?1 OFFSET ?2",
                (100, 0),
            )
        })
    });
    group.bench_function("no parameter at all (LIMIT 100 literal)", |b| {
        b.iter(|| {
            list(
                &conn,
                "SELECT id, sku, name, price_cents, stock FROM products ORDER BY id LIMIT 100",
                [],
            )
        })
    });
    group.bench_function("LIMIT +?2 OFFSET +?3 (unary plus)", |b| {
        b.iter(|| {
            list(
                &conn,
                "SELECT id, sku, name, price_cents, stock FROM products
                     WHERE id > ?1 ORDER BY id LIMIT +?2 OFFSET +?3",
                (i64::MIN, 100, 0),
            )
        })
    });
    let qpsg = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("SQLite");
    qpsg.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .expect("QPSG");
    group.bench_function("as the store, connection with QPSG", |b| {
        b.iter(|| {
            list(
                &qpsg,
                "SELECT id, sku, name, price_cents, stock FROM products
                     WHERE id > ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
                (i64::MIN, 100, 0),
            )
        })
    });
    group.bench_function("get one by id", |b| {
        b.iter(|| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, sku, name, price_cents, stock FROM products WHERE id = ?1",
                )
                .expect("prepare");
            stmt.query_row([7], read).expect("row")
        })
    });
    group.finish();
}

criterion_group!(benches, sqlite_list_statement, sqlite, postgres);
criterion_main!(benches);
