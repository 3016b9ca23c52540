//! The crate's error type, its mapping onto [`inventory_core::Error`], and the SQLSTATE checks
//! the operations rely on.

use std::time::Duration;

use tokio_postgres::error::SqlState;

/// What can go wrong in the PostgreSQL store itself: connecting, migrating, or running a
/// statement.
///
/// Domain failures (unknown product, too little stock, ...) are never this type: the
/// [`Store`](inventory_core::Store) methods report them as the core's own variants. This type
/// reaches a `Store` caller only as [`inventory_core::Error::Unavailable`] (when
/// [`is_unavailable`](Self::is_unavailable): the server answers 503 and the client retries) or
/// [`inventory_core::Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The connection string could not be parsed.
    #[error("invalid PostgreSQL connection string: {0}")]
    InvalidUrl(#[source] tokio_postgres::Error),
    /// The first connection (the one that migrates) failed: refused, unreachable, or refused by
    /// the server (authentication, unknown database).
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// The server did not complete the connection handshake in time.
    #[error("timed out after {0:?} connecting to PostgreSQL")]
    ConnectTimeout(Duration),
    /// The connection pool could not be built (a configuration bug).
    #[error("cannot build the connection pool: {0}")]
    BuildPool(#[source] deadpool_postgres::BuildError),
    /// No connection could be had from the pool: every one is busy past the wait timeout, or a
    /// new one could not be opened.
    #[error("no database connection available: {0}")]
    Pool(#[source] deadpool_postgres::PoolError),
    /// Applying the embedded migrations failed; the failed migration was rolled back.
    #[error("migrating the database failed: {0}")]
    Migration(#[source] refinery::Error),
    /// A statement failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// A row holds a value the domain types refuse (edited by hand, or a bug).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl PostgresError {
    /// Whether the database is out of reach for now (connection refused, lost or timed out,
    /// pool exhausted, server shutting down) as opposed to a bug or a misconfiguration.
    /// Retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            PostgresError::Connect(e) | PostgresError::Postgres(e) => pg_unavailable(e),
            PostgresError::ConnectTimeout(_) => true,
            PostgresError::Pool(e) => pool_unavailable(e),
            // A migration interrupted by a lost connection is worth retrying; a failing SQL
            // script is not.
            PostgresError::Migration(e) => source_chain_unavailable(e),
            PostgresError::InvalidUrl(_)
            | PostgresError::BuildPool(_)
            | PostgresError::Corrupt(_) => false,
        }
    }

    /// The SQLSTATE the server answered, when it answered one.
    pub fn sqlstate(&self) -> Option<&SqlState> {
        match self {
            PostgresError::Connect(e) | PostgresError::Postgres(e) => e.code(),
            PostgresError::Pool(deadpool_postgres::PoolError::Backend(e)) => e.code(),
            _ => None,
        }
    }

    /// Whether the server aborted the transaction to resolve a conflict with another one
    /// (serialization failure, deadlock), so running it again is safe and may succeed.
    pub(crate) fn is_retryable_conflict(&self) -> bool {
        matches!(
            self.sqlstate(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        )
    }
}

/// Whether a tokio-postgres error means "the server cannot be reached now".
fn pg_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        // Class 08: connection exception. 57P01-03: the server is shutting down, crashed or
        // starting. 53300: too many connections. All pass with time; anything else the server
        // answered is a real failure.
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code);
    }
    // No SQLSTATE: a socket error (refused, reset, timed out) shows as an io::Error cause.
    source_chain_unavailable(e)
}

fn pool_unavailable(e: &deadpool_postgres::PoolError) -> bool {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Timeout(_) | PoolError::Closed => true,
        // The pool reports only failures to open or recycle a connection this way (queries fail
        // as `PostgresError::Postgres`): whatever the cause — refused, a dropped database, a
        // revoked login — the database is out of reach for now, which the server answers 503.
        PoolError::Backend(_) => true,
        PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified => false,
    }
}

/// Whether an `io::Error` or an unreachable-server tokio-postgres error is among the causes.
fn source_chain_unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = e.source();
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        if let Some(pg) = c.downcast_ref::<tokio_postgres::Error>()
            && pg_unavailable(pg)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

impl From<PostgresError> for inventory_core::Error {
    fn from(e: PostgresError) -> Self {
        if e.is_unavailable() {
            inventory_core::Error::unavailable(e)
        } else {
            inventory_core::Error::backend(e)
        }
    }
}

/// The failure of one operation, before it is handed to the caller: either an answer of the
/// domain (kept as is), or a database failure (kept typed, so the retry loop can see its
/// SQLSTATE).
#[derive(Debug)]
pub(crate) enum OpError {
    /// A domain answer: not found, insufficient stock, conflict, ...
    Domain(inventory_core::Error),
    /// The database failed.
    Db(PostgresError),
}

impl From<inventory_core::Error> for OpError {
    fn from(e: inventory_core::Error) -> Self {
        OpError::Domain(e)
    }
}

impl From<PostgresError> for OpError {
    fn from(e: PostgresError) -> Self {
        OpError::Db(e)
    }
}

impl From<tokio_postgres::Error> for OpError {
    fn from(e: tokio_postgres::Error) -> Self {
        OpError::Db(PostgresError::Postgres(e))
    }
}

impl From<deadpool_postgres::PoolError> for OpError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        OpError::Db(PostgresError::Pool(e))
    }
}

impl From<OpError> for inventory_core::Error {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Domain(e) => e,
            OpError::Db(e) => e.into(),
        }
    }
}

/// Result of one attempt of an operation.
pub(crate) type OpResult<T> = Result<T, OpError>;

/// A corrupt-row failure.
pub(crate) fn corrupt(what: impl Into<String>) -> OpError {
    OpError::Db(PostgresError::Corrupt(what.into()))
}

/// Whether `e` violates the constraint named `constraint` with SQLSTATE `code` (checked by code
/// and constraint name, never by message text).
pub(crate) fn violates(e: &tokio_postgres::Error, code: &SqlState, constraint: &str) -> bool {
    e.as_db_error()
        .is_some_and(|d| d.code() == code && d.constraint() == Some(constraint))
}

/// Whether `e` is a foreign key violation (any constraint).
pub(crate) fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_unavailable_and_bad_urls_are_not() {
        assert!(PostgresError::ConnectTimeout(Duration::from_secs(1)).is_unavailable());
        let bad = "postgres://host:notaport/db"
            .parse::<tokio_postgres::Config>()
            .expect_err("invalid port");
        let e = PostgresError::InvalidUrl(bad);
        assert!(!e.is_unavailable());
        assert!(matches!(
            inventory_core::Error::from(e),
            inventory_core::Error::Backend(_)
        ));
        let corrupt = PostgresError::Corrupt("x".into());
        assert!(matches!(
            inventory_core::Error::from(corrupt),
            inventory_core::Error::Backend(_)
        ));
    }
}
