//! The core's conformance suite and property tests, against a real PostgreSQL: every case on its
//! own freshly created database.

mod common;

use common::fresh_store;

inventory_core::store_conformance_tests!(fresh_store);

/// The same suite with group commit off (one transaction per order), so the configuration the
/// benchmark compares against is just as correct.
mod without_group_commit {
    use super::common::{TestDb, test_options};
    use inventory_store_postgres::PostgresStore;

    async fn fresh_store() -> (PostgresStore, TestDb) {
        let db = TestDb::create().await;
        let store = PostgresStore::connect_with(&db.url, test_options().group_commit(false))
            .await
            .unwrap_or_else(|e| panic!("connecting the store to {}: {e}", db.url));
        (store, db)
    }

    inventory_core::store_conformance_tests!(fresh_store);
}
