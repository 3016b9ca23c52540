//! Idempotency keys: a retried create answers what the first one answered, and creates nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::error::Error;
use crate::text::{TextError, TextRule};

/// How long a key is remembered unless configured otherwise (Stripe keeps 24 hours).
pub const DEFAULT_TTL: Duration = Duration::hours(24);

/// A client's `Idempotency-Key` for one operation, with the fingerprint of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    scope: &'static str,
    key: String,
    fingerprint: String,
    not_before: OffsetDateTime,
}

impl IdempotencyKey {
    /// The longest key accepted, in (visible ASCII) characters.
    pub const MAX_LEN: usize = 255;

    const RULE: TextRule = TextRule {
        max: Self::MAX_LEN,
        whitespace: false,
        ascii: true,
        invisible: false,
    };

    /// A key for `scope` (such as `POST /orders`) and the exact request body bytes, honoured
    /// if it was stored at or after `not_before`. The key is 1–255 visible ASCII characters.
    pub fn new(
        scope: &'static str,
        key: &str,
        body: &[u8],
        not_before: OffsetDateTime,
    ) -> Result<IdempotencyKey, TextError> {
        Self::RULE.check(key)?;
        let mut h = Sha256::new();
        h.update(scope.as_bytes());
        h.update([0]);
        h.update(body);
        let fingerprint = hex::encode(h.finalize());
        Ok(IdempotencyKey {
            scope,
            key: key.to_owned(),
            fingerprint,
            not_before,
        })
    }

    /// The operation it belongs to.
    pub fn scope(&self) -> &'static str {
        self.scope
    }

    /// The client's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The hex SHA-256 of scope and body: the same key with another body is refused.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Keys stored before this instant have expired and are forgotten.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// Decides what a key found in the store means for this request: replay its answer, or
    /// forget it (it has expired) and proceed; the same key with another request is
    /// [`Error::IdempotencyKeyReused`]. Every store asks this, inside the transaction of the
    /// create the key guards.
    pub fn verdict(&self, found: &StoredKey<'_>) -> Result<Verdict, Error> {
        if found.created_at < self.not_before {
            Ok(Verdict::Expired)
        } else if found.fingerprint == self.fingerprint {
            Ok(Verdict::Replay)
        } else {
            Err(Error::IdempotencyKeyReused {
                key: self.key.clone(),
            })
        }
    }
}

/// A key as a store found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredKey<'a> {
    /// The fingerprint stored with it.
    pub fingerprint: &'a str,
    /// When it was stored.
    pub created_at: OffsetDateTime,
}

/// What [`IdempotencyKey::verdict`] decided. Exhaustive on purpose: a store matches every
/// verdict, and a new one must reach every store at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The same request: answer the stored snapshot, do nothing.
    Replay,
    /// Expired: delete it, then proceed as new.
    Expired,
}

/// The bytes a store keeps with a key: the created value, to hand back on a replay.
pub fn snapshot<T: Serialize>(created: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(created).map_err(Error::backend)
}

/// The created value back from its [`snapshot`].
pub fn restore<T: DeserializeOwned>(snapshot: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(snapshot)
        .map_err(|e| Error::backend(format!("idempotency snapshot unreadable: {e}")))
}

/// The result of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent<T> {
    /// Created now.
    Created(T),
    /// The key was seen before with the same request: what was created then (as it was then).
    Replayed(T),
}

impl<T> Idempotent<T> {
    /// The value, created now or then.
    pub fn into_inner(self) -> T {
        match self {
            Idempotent::Created(t) | Idempotent::Replayed(t) => t,
        }
    }

    /// Whether it was replayed.
    pub fn is_replay(&self) -> bool {
        matches!(self, Idempotent::Replayed(_))
    }
}
