//! Idempotency keys, claimed and completed inside the transaction of the create they guard.
//!
//! The pattern (as in zero2prod's `idempotency/persistence.rs`): the transaction first inserts
//! the key with `ON CONFLICT DO NOTHING`. If it inserted, it owns the key: it does the work,
//! stores the created value's snapshot in the key's row, and commits both together. If it
//! conflicted, another transaction owns or owned the key; PostgreSQL has already made this INSERT
//! wait until that one committed (a rollback would have let the INSERT succeed instead), so the
//! row it reads next is complete. Any number of requests with one key, on any number of
//! instances, thus create exactly one row; a failed create rolls its key back with it, so a retry
//! runs anew.

use deadpool_postgres::Transaction;
use inventory_core::Error;
use inventory_core::idempotency::{self, IdempotencyKey, StoredKey, Verdict};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::{OpResult, corrupt};

/// Inserts the key unless it exists; one row inserted means the caller owns it.
const CLAIM_SQL: &str = "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING";

/// The stored `status` is not read: a key's snapshot is all a replay needs.
const READ_SQL: &str = "SELECT fingerprint, body, created_at FROM idempotency_keys \
                        WHERE scope = $1 AND key = $2";

/// Forgets the key only if it is still the row judged expired: a fresh row written meanwhile by
/// a concurrent request is kept (and then replayed).
const DELETE_EXPIRED_SQL: &str =
    "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at = $3";

const COMPLETE_SQL: &str =
    "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2";

const PURGE_SQL: &str = "DELETE FROM idempotency_keys WHERE created_at < $1";

/// The `status` column, still written for the schema (and older readers), never read back.
const CREATED: i16 = 201;

/// How many times the key is looked at before giving up. Each turn either decides, or follows a
/// concurrent request that deleted the row (its expiry, or a purge) since the last look; more
/// than a few in a row would take a pathological race.
const MAX_TURNS: u32 = 8;

/// Claims `key` in `tx`: `None` when the caller now owns it and should do the work, or the
/// value created under it, to replay. What a key found means is core's
/// [`IdempotencyKey::verdict`]: replay it, forget it (expired) and claim it anew, or refuse it.
pub(crate) async fn claim<T: DeserializeOwned>(
    tx: &Transaction<'_>,
    key: &IdempotencyKey,
    at: OffsetDateTime,
) -> OpResult<Option<T>> {
    let (scope, name) = (key.scope(), key.key());
    let insert = tx.prepare_cached(CLAIM_SQL).await?;
    let read = tx.prepare_cached(READ_SQL).await?;
    for _ in 0..MAX_TURNS {
        if tx
            .execute(&insert, &[&scope, &name, &key.fingerprint(), &at])
            .await?
            == 1
        {
            return Ok(None);
        }
        // READ COMMITTED: this statement's snapshot includes the row the INSERT conflicted with.
        let Some(row) = tx.query_opt(&read, &[&scope, &name]).await? else {
            continue;
        };
        let found = StoredKey {
            fingerprint: row.try_get("fingerprint")?,
            created_at: row.try_get("created_at")?,
        };
        match key.verdict(&found)? {
            Verdict::Replay => {
                let body: Option<&[u8]> = row.try_get("body")?;
                return match body {
                    Some(body) => Ok(Some(idempotency::restore(body)?)),
                    // Cannot be seen by another transaction (the snapshot is stored before
                    // commit); kept as the documented answer should a row ever lack one.
                    None => Err(Error::IdempotencyKeyInFlight {
                        key: name.to_owned(),
                    }
                    .into()),
                };
            }
            Verdict::Expired => {
                let delete = tx.prepare_cached(DELETE_EXPIRED_SQL).await?;
                tx.execute(&delete, &[&scope, &name, &found.created_at])
                    .await?;
            }
        }
    }
    Err(corrupt(format!(
        "idempotency key {name:?} kept changing under {MAX_TURNS} attempts to claim it"
    )))
}

/// Stores the snapshot of `created` ([`idempotency::snapshot`]) for a key claimed by [`claim`]
/// in `tx`, to commit with the created row.
pub(crate) async fn complete<T: Serialize>(
    tx: &Transaction<'_>,
    key: &IdempotencyKey,
    created: &T,
) -> OpResult<()> {
    let body = idempotency::snapshot(created)?;
    let stmt = tx.prepare_cached(COMPLETE_SQL).await?;
    tx.execute(&stmt, &[&key.scope(), &key.key(), &CREATED, &body])
        .await?;
    Ok(())
}

impl crate::PostgresStore {
    pub(crate) async fn purge_idempotency_keys_once(
        &self,
        created_before: OffsetDateTime,
    ) -> OpResult<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(PURGE_SQL).await?;
        Ok(client.execute(&stmt, &[&created_before]).await?)
    }
}
