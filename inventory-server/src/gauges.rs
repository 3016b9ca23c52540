//! What the store itself can tell `/metrics`: for PostgreSQL the pool (`db_pool_connections`
//! by state, `db_pool_waiting`), for SQLite the writer's group commits
//! (`sqlite_writer_commits_total`, `sqlite_writer_commands_total`: their rates' ratio is the
//! batch size). Read when `/metrics` is rendered, so they are as fresh as the scrape.

use inventory_store_postgres::PostgresStore;
use inventory_store_sqlite::SqliteStore;

/// The concrete store behind the engine, kept for its gauges.
#[derive(Debug, Clone)]
pub enum StoreGauges {
    /// The embedded store.
    Sqlite(SqliteStore),
    /// The PostgreSQL pool.
    Postgres(PostgresStore),
}

impl StoreGauges {
    /// Sets the store's gauges and counters to their current values.
    pub fn record(&self) {
        match self {
            StoreGauges::Sqlite(store) => {
                let stats = store.writer_stats();
                metrics::counter!("sqlite_writer_commits_total").absolute(stats.commits);
                metrics::counter!("sqlite_writer_commands_total").absolute(stats.commands);
            }
            StoreGauges::Postgres(store) => {
                let stats = store.pool_stats();
                for (state, n) in [
                    ("max", stats.max_size),
                    ("open", stats.open),
                    ("idle", stats.idle),
                ] {
                    metrics::gauge!("db_pool_connections", "state" => state).set(n as f64);
                }
                metrics::gauge!("db_pool_waiting").set(stats.waiting as f64);
            }
        }
    }
}
