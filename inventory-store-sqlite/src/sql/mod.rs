//! The store's operations as SQL on one connection, and the mapping of rows to domain types.
//!
//! Each function is one [`Store`](inventory_core::Store) operation. The writer runs the writing
//! ones inside a savepoint of its batch transaction, so whatever a function does before it
//! returns an error is undone, and every function may check, then write, without a race: the
//! writer is the only one writing. Every rule is core's: a function reads what core needs (the
//! stock, the levels, the key, the status), core decides, and the function writes what core
//! said; a refusal is the core's own error, never a constraint's message parsed. Every change
//! of a stock level, with its ledger row, is written by one function (`locations::apply_levels`).

mod events;
mod history;
mod idempotency;
mod ledger;
mod locations;
mod orders;
mod products;

pub(crate) use events::{apply_event, event_processed};
pub(crate) use history::order_history;
pub(crate) use idempotency::{idempotent, purge_idempotency_keys};
pub(crate) use ledger::list_movements;
pub(crate) use locations::{
    create_location, get_location, list_locations, product_levels, transfer_stock,
};
pub(crate) use orders::{change_status, expire_orders, get_order, list_orders, place_order};
pub(crate) use products::{
    adjust_stock, create_product, delete_product, get_product, list_products, update_product,
    upsert_products,
};

use inventory_core::{Page, Result};
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::error::{DbResult, corrupt};

/// A timestamp as stored: whole microseconds since the Unix epoch (the core's precision; finer
/// digits are dropped, rounding toward the past).
pub(crate) fn to_db_time(t: OffsetDateTime) -> Result<i64> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000))
        .map_err(|_| inventory_core::Error::backend("timestamp out of range"))
}

/// A stored timestamp, back in UTC.
pub(crate) fn from_db_time(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| corrupt(format!("timestamp {micros} out of range")))
}

/// The bounds of a page as SQL parameters: `id > after`, `LIMIT`, `OFFSET`.
pub(crate) fn page_params(page: Page) -> (i64, i64, i64) {
    // Ids are positive, so `id > i64::MIN` is "no cursor" without a second statement.
    let after = page.after_id().unwrap_or(i64::MIN);
    // `Page` bounds `skip` to i64::MAX already.
    let skip = i64::try_from(page.skip()).unwrap_or(i64::MAX);
    (after, i64::from(page.limit()), skip)
}

/// Answers when the database does.
pub(crate) fn ping(conn: &Connection) -> Result<()> {
    conn.prepare_cached("SELECT 1")
        .db()?
        .query_row([], |_| Ok(()))
        .db()
}

/// Runs the statements of one read on one snapshot. On a reader each statement is otherwise
/// its own snapshot, and a write could commit between two of them; a read transaction (WAL)
/// pins one. On the writer the read already runs inside the batch transaction, which nobody
/// else writes, so it runs as it is.
pub(crate) fn snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    // Dropped without commit: rolled back, which for a read only ends the snapshot.
    let tx = conn.unchecked_transaction().db()?;
    f(&tx)
}
