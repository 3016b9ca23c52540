//! Idempotency keys: looked up, and stored with their snapshot, in the savepoint of the create
//! they guard.
//!
//! The writer runs one command at a time, so of two requests with one key the second always
//! runs after the first has stored its key, and replays it: concurrent duplicates create once.

use inventory_core::Result;
use inventory_core::idempotency::{IdempotencyKey, Idempotent, StoredKey, Verdict};
use rusqlite::{Connection, OptionalExtension, params};

use super::from_db_time;
use crate::error::DbResult;

/// The status stored with a created row: the schema requires one; core's snapshot is what a
/// replay answers, so it is never read back.
const CREATED: u16 = 201;

/// Runs `create` at most once per key, as core's [`IdempotencyKey::verdict`] says: a replay
/// answers the stored snapshot instead, an expired key is forgotten and the create proceeds, and
/// a refusal is returned. The key and the snapshot of what `create` made are stored in the same
/// savepoint as the created row, so a failed create stores nothing (the writer rolls both back).
/// `snapshot` and `restore` are core's [`idempotency::snapshot`] and [`idempotency::restore`]
/// for `T`.
pub(crate) fn idempotent<T>(
    conn: &Connection,
    key: Option<&IdempotencyKey>,
    at: i64,
    create: impl FnOnce(&Connection) -> Result<T>,
    snapshot: fn(&T) -> Result<Vec<u8>>,
    restore: fn(&[u8]) -> Result<T>,
) -> Result<Idempotent<T>> {
    let Some(key) = key else {
        return create(conn).map(Idempotent::Created);
    };
    if let Some(replay) = lookup(conn, key, restore)? {
        return Ok(Idempotent::Replayed(replay));
    }
    let created = create(conn)?;
    let body = snapshot(&created)?;
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

/// The value to replay for `key`, `None` to proceed. An expired key is deleted here, so that the
/// insert after the create does not collide with it.
fn lookup<T>(
    conn: &Connection,
    key: &IdempotencyKey,
    restore: fn(&[u8]) -> Result<T>,
) -> Result<Option<T>> {
    let row: Option<(String, Vec<u8>, i64)> = conn
        .prepare_cached(
            "SELECT fingerprint, body, created_at FROM idempotency_keys
             WHERE scope = ?1 AND key = ?2",
        )
        .db()?
        .query_row(params![key.scope(), key.key()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .db()?;
    let Some((fingerprint, body, created_at)) = row else {
        return Ok(None);
    };
    let found = StoredKey {
        fingerprint: &fingerprint,
        created_at: from_db_time(created_at)?,
    };
    match key.verdict(&found)? {
        Verdict::Replay => restore(&body).map(Some),
        Verdict::Expired => {
            conn.prepare_cached("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2")
                .db()?
                .execute(params![key.scope(), key.key()])
                .db()?;
            Ok(None)
        }
    }
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
