//! Shared set-up for the benchmarks and the load test: fresh databases, seeded products, and
//! the bare warp baseline every HTTP figure is compared with.

pub mod baseline;

use inventory_core::idempotency::Idempotent;
use inventory_core::time::OffsetDateTime;
use inventory_core::{Money, NewProduct, ProductName, Sku, Stock, Store};

/// A valid product for benchmarks (`stock` within `0 ..= MAX_STOCK`).
pub fn product(sku: &str, stock: i64) -> NewProduct {
    NewProduct::new(
        Sku::parse(sku).expect("valid SKU"),
        ProductName::parse("Bench widget").expect("valid name"),
        Money::from_cents(4999).expect("valid price"),
        Stock::new(stock).expect("valid stock"),
    )
}

/// Creates one product with a stock that will not run out during a benchmark; returns its id.
pub async fn seed<S: Store>(store: &S) -> i64 {
    let created = store
        .create_product(
            product("BENCH-1", inventory_core::MAX_STOCK),
            OffsetDateTime::now_utc(),
            None,
        )
        .await
        .expect("seed product");
    match created {
        Idempotent::Created(p) => p.id,
        Idempotent::Replayed(_) => unreachable!("no idempotency key was given"),
    }
}

/// The PostgreSQL server the benchmarks use: `TEST_DATABASE_URL`, default the local `test`
/// database.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL database for one run, dropped (connections forced out) on `Drop`.
pub struct PgDatabase {
    admin_url: String,
    /// The database's name.
    pub name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// Creates `inv_bench_<pid>` on the server of `TEST_DATABASE_URL`.
    pub async fn create() -> PgDatabase {
        PgDatabase::create_named("inv_bench")
            .await
            .expect("PostgreSQL must be reachable at TEST_DATABASE_URL")
    }

    /// Creates `<prefix>_<pid>` on the server of `TEST_DATABASE_URL` (replacing a leftover of the
    /// same name).
    pub async fn create_named(prefix: &str) -> Result<PgDatabase, String> {
        let admin_url = postgres_admin_url();
        let name = format!("{prefix}_{}", std::process::id());
        let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .map_err(|e| {
                format!("cannot connect to PostgreSQL at TEST_DATABASE_URL ({admin_url}): {e}")
            })?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .map_err(|e| format!("drop leftover database {name}: {e}"))?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("create database {name}: {e}"))?;
        let url = database_url(&admin_url, &name);
        Ok(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

/// `admin_url` with its database name replaced by `name` (query parameters kept).
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let base = match base.rsplit_once('/') {
        Some((b, _)) if b.contains("://") && b.len() > b.find("://").unwrap_or(0) + 3 => b,
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A thread of its own: `drop` may run inside or outside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// Runs `bench` with a PostgreSQL store on a fresh database (from `TEST_DATABASE_URL`), then
/// closes the store and drops the database; does nothing but say so when `BENCH_SKIP_POSTGRES`
/// is set.
pub fn with_postgres(
    rt: &tokio::runtime::Runtime,
    bench: impl FnOnce(inventory_store_postgres::PostgresStore),
) {
    with_postgres_options(
        rt,
        inventory_store_postgres::PostgresOptions::default(),
        bench,
    );
}

/// [`with_postgres`] with the store opened with `options` (e.g. group commit off).
pub fn with_postgres_options(
    rt: &tokio::runtime::Runtime,
    options: inventory_store_postgres::PostgresOptions,
    bench: impl FnOnce(inventory_store_postgres::PostgresStore),
) {
    if std::env::var_os("BENCH_SKIP_POSTGRES").is_some() {
        eprintln!("postgres: skipped (BENCH_SKIP_POSTGRES is set)");
        return;
    }
    let db = rt.block_on(PgDatabase::create());
    let store = rt
        .block_on(inventory_store_postgres::PostgresStore::connect_with(
            &db.url, options,
        ))
        .expect("connect PostgreSQL");
    bench(store.clone());
    rt.block_on(Store::close(&store)).expect("close PostgreSQL");
    drop(store);
    drop(db);
}

/// Places exactly `total` copies of `cart` from `callers` concurrent tasks and returns the
/// elapsed time (criterion's `iter_custom`).
pub async fn place_concurrently<S: Store + Clone>(
    store: &S,
    cart: &inventory_core::Cart,
    callers: usize,
    total: u64,
) -> std::time::Duration {
    let callers = callers as u64;
    let start = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..callers {
        let share = total / callers + u64::from(caller < total % callers);
        let store = store.clone();
        let cart = cart.clone();
        tasks.spawn(async move {
            for _ in 0..share {
                store
                    .place_order(cart.clone(), OffsetDateTime::now_utc(), None)
                    .await
                    .expect("order placed");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("caller task");
    }
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_the_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
    }
}
