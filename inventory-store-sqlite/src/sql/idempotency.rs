//! Idempotency keys: looked up, and stored with their response, in the savepoint of the create
//! they guard.
//!
//! The writer runs one command at a time, so of two requests with one key the second always
//! runs after the first has stored its key, and replays it: concurrent duplicates create once.

use inventory_core::{Error, IdempotencyKey, Idempotent, Result, StoredResponse};
use rusqlite::{Connection, OptionalExtension, params};

use super::to_db_time;
use crate::error::{DbResult, corrupt};

/// The status stored with a created row (what `POST` answered).
const CREATED: u16 = 201;

/// Runs `create` at most once per key: with a current key of the same request, answers the
/// stored response instead; with a current key of another request, refuses. `encode` gives the
/// response body of what `create` made. The key is stored in the same savepoint as the created
/// row, so a failed create stores nothing (the writer rolls both back).
pub(crate) fn idempotent<T>(
    conn: &Connection,
    key: Option<&IdempotencyKey>,
    at: i64,
    create: impl FnOnce(&Connection) -> Result<T>,
    encode: impl FnOnce(&T) -> serde_json::Result<Vec<u8>>,
) -> Result<Idempotent<T>> {
    let Some(key) = key else {
        return create(conn).map(Idempotent::Created);
    };
    if let Some(stored) = lookup(conn, key)? {
        return Ok(Idempotent::Replayed(stored));
    }
    let created = create(conn)?;
    let body = encode(&created).map_err(Error::backend)?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(params![
        key.scope(),
        key.key(),
        key.fingerprint(),
        CREATED,
        body,
        at
    ])
    .db()?;
    Ok(Idempotent::Created(created))
}

/// The stored response for `key`, `None` to proceed. A key older than its window is deleted
/// here, so that the insert after the create does not collide with it.
fn lookup(conn: &Connection, key: &IdempotencyKey) -> Result<Option<StoredResponse>> {
    let row: Option<(String, i64, Vec<u8>, i64)> = conn
        .prepare_cached(
            "SELECT fingerprint, status, body, created_at FROM idempotency_keys
             WHERE scope = ?1 AND key = ?2",
        )
        .db()?
        .query_row(params![key.scope(), key.key()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .db()?;
    let Some((fingerprint, status, body, created_at)) = row else {
        return Ok(None);
    };
    if created_at < to_db_time(key.not_before())? {
        conn.prepare_cached("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2")
            .db()?
            .execute(params![key.scope(), key.key()])
            .db()?;
        return Ok(None);
    }
    if fingerprint != key.fingerprint() {
        return Err(Error::IdempotencyKeyReused {
            key: key.key().to_owned(),
        });
    }
    let status = u16::try_from(status)
        .map_err(|_| corrupt(format!("idempotency key {:?}: status {status}", key.key())))?;
    Ok(Some(StoredResponse { status, body }))
}

/// Deletes the keys created before `created_before` (micros); returns how many.
pub(crate) fn purge_idempotency_keys(conn: &Connection, created_before: i64) -> Result<u64> {
    let n = conn
        .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")
        .db()?
        .execute([created_before])
        .db()?;
    // usize → u64 never loses anything on the platforms Rust supports.
    Ok(n as u64)
}
