//! The core's conformance suite and property tests, each on a fresh database file with the
//! default options (WAL, synchronous=FULL, group commit, inline reads with reader threads
//! behind them).

use inventory_store_sqlite::{SqliteOptions, SqliteStore};

/// A store on a fresh database file, opened with `options`.
async fn store_with(options: SqliteOptions) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_with(dir.path().join("inventory.db"), options)
        .await
        .expect("open store");
    (store, dir)
}

async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    store_with(SqliteOptions::default()).await
}

inventory_core::store_conformance_tests!(fresh_store);

/// The same suite on one transaction per command and no readers (reads through the writer), so
/// the configuration the benchmark compares against is just as correct.
mod without_group_commit {
    use inventory_store_sqlite::{SqliteOptions, SqliteStore};

    async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
        let options = SqliteOptions::default()
            .group_commit(false)
            .readers(0)
            .inline_readers(0);
        super::store_with(options).await
    }

    inventory_core::store_conformance_tests!(fresh_store);
}

/// The same suite with every read on the reader threads (none inline), so both read paths are
/// held to it.
mod reader_threads_only {
    use inventory_store_sqlite::{SqliteOptions, SqliteStore};

    async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
        super::store_with(SqliteOptions::default().inline_readers(0)).await
    }

    inventory_core::store_conformance_tests!(fresh_store);
}

/// The same suite in memory.
mod in_memory {
    use inventory_store_sqlite::SqliteStore;

    async fn fresh_store() -> (SqliteStore, ()) {
        (SqliteStore::open_in_memory().await.expect("open"), ())
    }

    inventory_core::store_conformance_tests!(fresh_store);
}
