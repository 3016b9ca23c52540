//! 1,000 products in one bulk write against 1,000 single creates, per store, in the same run.
//! `cargo bench -p inventory-benches --bench bulk` (PostgreSQL as in `stores`;
//! `BENCH_SKIP_POSTGRES=1` leaves it out).
//!
//! Every iteration writes 1,000 new SKUs, so the store grows as a real catalogue import would;
//! throughput is products per second. Single creates are measured from one caller (a client
//! importing a list) and from 16 concurrent callers (which SQLite's group commit batches).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inventory_core::time::OffsetDateTime;
use inventory_core::{MemoryStore, NewProduct, ProductBatch, Store};
use inventory_store_sqlite::SqliteStore;

const PRODUCTS: u64 = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `PRODUCTS` products with SKUs no earlier call used.
fn fresh_products(next: &AtomicU64) -> Vec<NewProduct> {
    let first = next.fetch_add(PRODUCTS, Ordering::Relaxed);
    (first..first + PRODUCTS)
        .map(|n| inventory_benches::product(&format!("BULK-{n:09}"), 10))
        .collect()
}

async fn single_creates<S: Store + Clone>(store: &S, next: &AtomicU64, callers: usize) -> Duration {
    let products = fresh_products(next);
    let chunk = products.len().div_ceil(callers);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for share in products.chunks(chunk) {
        let (store, share) = (store.clone(), share.to_vec());
        tasks.spawn(async move {
            for p in share {
                store
                    .create_product(p, OffsetDateTime::now_utc(), None)
                    .await
                    .expect("created");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("caller task");
    }
    start.elapsed()
}

async fn one_bulk<S: Store>(store: &S, next: &AtomicU64) -> Duration {
    let batch = ProductBatch::new(fresh_products(next)).expect("batch of 1,000");
    let start = Instant::now();
    store
        .upsert_products(&batch, OffsetDateTime::now_utc(), None)
        .await
        .expect("bulk written");
    start.elapsed()
}

fn bench_store<S: Store + Clone>(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    store: S,
) {
    let next = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group(format!("bulk/{name}"));
    group.throughput(Throughput::Elements(PRODUCTS));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    for callers in [1, 16] {
        group.bench_function(format!("1000 single creates, {callers} callers"), |b| {
            b.to_async(rt).iter_custom(|iters| {
                let (store, next) = (store.clone(), next.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += single_creates(&store, &next, callers).await;
                    }
                    total
                }
            })
        });
    }
    group.bench_function("one bulk write of 1000", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (store, next) = (store.clone(), next.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += one_bulk(&store, &next).await;
                }
                total
            }
        })
    });
    group.finish();
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    bench_store(c, "memory", &rt, MemoryStore::new());

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = rt
        .block_on(SqliteStore::open(dir.path().join("bulk.db")))
        .expect("open SQLite");
    bench_store(c, "sqlite", &rt, sqlite.clone());
    rt.block_on(sqlite.close()).expect("close SQLite");

    inventory_benches::with_postgres(&rt, |pg| bench_store(c, "postgres", &rt, pg));
}

criterion_group!(benches, stores);
criterion_main!(benches);
