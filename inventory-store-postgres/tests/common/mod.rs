//! Test databases: each test gets its own, created on the server at `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`) and dropped when its guard is dropped,
//! so tests run in parallel without seeing each other's rows.
//!
//! A server that cannot be reached fails the test with a message saying so: these tests never
//! skip.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of these helpers"
)]

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use inventory_store_postgres::{PostgresOptions, PostgresStore};

/// The server the tests use, as given or by default.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database name replaced by `name` (URL form only, as `TEST_DATABASE_URL` is).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Options for test stores: a small pool (the server allows 100 connections for every test
/// running at once) and short timeouts, so a broken server fails a test quickly.
pub fn test_options() -> PostgresOptions {
    PostgresOptions {
        pool_size: 8,
        connect_timeout: Duration::from_secs(10),
        wait_timeout: Duration::from_secs(30),
        ..PostgresOptions::default()
    }
}

/// A database that exists until this guard is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The URL of the database.
    pub url: String,
    name: String,
    admin_url: String,
}

async fn admin_client(admin_url: &str) -> tokio_postgres::Client {
    let connect = tokio_postgres::connect(admin_url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .unwrap_or_else(|_| {
            panic!("PostgreSQL at {admin_url} did not answer within 10 s (TEST_DATABASE_URL)")
        })
        .unwrap_or_else(|e| {
            panic!("cannot connect to PostgreSQL at {admin_url} (set TEST_DATABASE_URL): {e}")
        });
    tokio::spawn(connection);
    client
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = (
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed),
    );
    format!("inv_test_{:016x}", RandomState::new().hash_one(seed))
}

impl TestDb {
    /// Creates an empty database with a fresh random name.
    pub async fn create() -> TestDb {
        let admin_url = admin_url();
        let name = unique_name();
        admin_client(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
        TestDb {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// A connection to this database outside any store, to inspect or disturb it.
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }
}

impl Drop for TestDb {
    /// Drops the database, also when the test panicked. Runs on its own thread with its own
    /// runtime: this may be called inside an async test, whose runtime cannot be blocked on.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for DROP DATABASE");
            rt.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                // FORCE: the store's pooled connections may still be open.
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        });
        match dropper.join() {
            Ok(Ok(())) => {}
            // Never panic here: this may run while a failed test unwinds.
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// A new store on a new database, and the guard that drops the database.
pub async fn fresh_store() -> (PostgresStore, TestDb) {
    let db = TestDb::create().await;
    let store = PostgresStore::connect_with(&db.url, test_options())
        .await
        .unwrap_or_else(|e| panic!("connecting the store to {}: {e}", db.url));
    (store, db)
}
