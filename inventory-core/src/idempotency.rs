//! Idempotency keys: a retried create answers what the first one answered, and creates nothing.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

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

    /// A key for `scope` (such as `POST /orders`) and the exact request body bytes, honoured
    /// if it was stored at or after `not_before`. The key is 1–255 visible ASCII characters.
    pub fn new(
        scope: &'static str,
        key: &str,
        body: &[u8],
        not_before: OffsetDateTime,
    ) -> Result<IdempotencyKey, String> {
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "must be 1 to {} visible ASCII characters",
                Self::MAX_LEN
            ));
        }
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
}

/// What a store keeps for a key: when, the fingerprint, and the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The response status.
    pub status: u16,
    /// The response body (JSON).
    pub body: Vec<u8>,
}

/// The result of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent<T> {
    /// Created now.
    Created(T),
    /// The key was seen before with the same request: the original answer.
    Replayed(StoredResponse),
}
