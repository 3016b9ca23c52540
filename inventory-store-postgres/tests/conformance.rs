//! The core's conformance suite and property tests, against a real PostgreSQL: every case on its
//! own freshly created database.

mod common;

use common::fresh_store;

inventory_core::store_conformance_tests!(fresh_store);
