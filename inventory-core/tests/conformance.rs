//! The conformance suite and property tests on `MemoryStore`.

use inventory_core::MemoryStore;

async fn fresh_store() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

inventory_core::store_conformance_tests!(fresh_store);
