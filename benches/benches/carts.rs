//! `place_order` for carts of 1, 5 and 20 lines on each store, from 1 and 16 concurrent callers.
//! `cargo bench -p inventory-benches --bench carts` (PostgreSQL from `TEST_DATABASE_URL`, in a
//! fresh database dropped afterwards; `BENCH_SKIP_POSTGRES=1` leaves it out).
//!
//! Every cart of `n` lines takes one unit of each of the same `n` products (the worst overlap:
//! every caller contends for every row), so the 1-line figure is the seed's hot-SKU order and a
//! 5-line cart can be compared with five of them. Throughput is reported in carts/s.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inventory_core::idempotency::Idempotent;
use inventory_core::time::OffsetDateTime;
use inventory_core::{Cart, CartLine, MAX_STOCK, MemoryStore, Quantity, Store};
use inventory_store_sqlite::SqliteStore;

const LINES: [usize; 3] = [1, 5, 20];
const CALLERS: [usize; 2] = [1, 16];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Twenty products with all the stock a product may hold.
async fn seed<S: Store>(store: &S) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..20 {
        let product = inventory_benches::product(&format!("CART-{i}"), MAX_STOCK);
        let created = store
            .create_product(product, OffsetDateTime::now_utc(), None)
            .await
            .expect("seed product");
        match created {
            Idempotent::Created(p) => ids.push(p.id),
            Idempotent::Replayed(_) => unreachable!("no idempotency key was given"),
        }
    }
    ids
}

fn cart_of(products: &[i64]) -> Cart {
    let one = Quantity::new(1).expect("valid");
    Cart::new(products.iter().map(|p| CartLine::new(*p, one)).collect()).expect("a valid cart")
}

fn bench_store<S: Store + Clone>(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    store: S,
) {
    let products = rt.block_on(seed(&store));
    let mut group = c.benchmark_group(format!("carts/{name}"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for lines in LINES {
        let cart = cart_of(&products[..lines]);
        for callers in CALLERS {
            group.bench_with_input(
                BenchmarkId::new(format!("{lines} lines"), format!("{callers} callers")),
                &callers,
                |b, &callers| {
                    b.to_async(rt).iter_custom(|iters| {
                        let store = store.clone();
                        let cart = cart.clone();
                        async move {
                            inventory_benches::place_concurrently(&store, &cart, callers, iters)
                                .await
                        }
                    })
                },
            );
        }
    }
    group.finish();
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    bench_store(c, "memory", &rt, MemoryStore::new());
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = rt
        .block_on(SqliteStore::open(dir.path().join("carts.db")))
        .expect("open SQLite");
    bench_store(c, "sqlite", &rt, store.clone());
    rt.block_on(store.close()).expect("close SQLite");
}

fn postgres(c: &mut Criterion) {
    let rt = runtime();
    inventory_benches::with_postgres(&rt, |store| bench_store(c, "postgres", &rt, store));
}

criterion_group!(benches, memory, sqlite, postgres);
criterion_main!(benches);
