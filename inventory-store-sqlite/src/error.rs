//! The crate's error type and its mapping onto [`inventory_core::Error`].

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::ffi::ErrorCode;

/// What can go wrong in the SQLite store itself: opening, migrating, or running a statement.
///
/// Domain failures (unknown product, too little stock, ...) are never this type: the [`Store`]
/// methods report them as the core's own variants. This type reaches a
/// [`Store`] caller only as [`inventory_core::Error::Backend`] or
/// [`inventory_core::Error::Unavailable`].
///
/// [`Store`]: inventory_core::Store
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The file exists but is not an SQLite database; it was left untouched.
    #[error("{} is not an SQLite database (refusing to touch it)", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database file could not be opened or created, typically because its directory is
    /// missing or not writable.
    #[error(
        "cannot open or create the database {}: {source} (does the directory exist and is it \
         writable?)",
        path.display()
    )]
    CannotOpen {
        /// The file.
        path: PathBuf,
        /// SQLite's or the operating system's reason.
        #[source]
        source: rusqlite::Error,
    },
    /// An SQLite database that holds tables but no migration history of this program: another
    /// application's data, which this store refuses to change.
    #[error(
        "{} holds tables (such as '{table}') that this program did not create; refusing to \
         change it",
        path.display()
    )]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// One of its tables.
        table: String,
    },
    /// The database was migrated by a newer version of this program; nothing was changed.
    #[error(
        "the database {} has schema version {found}, newer than the latest this program knows \
         ({supported}); upgrade the program (the database was not changed)",
        path.display()
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// The version recorded in the database.
        found: i64,
        /// The latest migration embedded in this program.
        supported: i64,
    },
    /// Applying the embedded migrations failed; the failed migration was rolled back.
    #[error("migrating the database failed: {0}")]
    Migration(#[source] refinery::Error),
    /// A worker thread could not be started.
    #[error("cannot start a database thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The store was closed, or its writer stopped; no further commands are accepted.
    #[error("the SQLite store is closed")]
    Closed,
    /// A row holds a value the domain types refuse (edited by hand, or a bug).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The transaction holding this command could not begin or commit, or SQLite aborted it,
    /// so the command did not happen. Shared by every command of the batch, hence the `Arc`.
    #[error("the transaction failed, the command was not applied: {0}")]
    Transaction(#[source] Arc<rusqlite::Error>),
    /// A panic inside SQLite code while opening (a bug, reported instead of unwinding into the
    /// caller).
    #[error("opening the database panicked: {0}")]
    Panicked(String),
    /// Any other SQLite failure.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl SqliteError {
    /// Whether retrying later may succeed: the database is busy, locked by another process, out
    /// of disk, or unreachable — as opposed to a bug or a broken file.
    pub fn is_transient(&self) -> bool {
        match self {
            SqliteError::Closed | SqliteError::CannotOpen { .. } => true,
            SqliteError::Sqlite(e) => is_transient(e),
            SqliteError::Transaction(e) => is_transient(e),
            _ => false,
        }
    }

    /// Whether the disk under the database refused a write: full, read-only (remounted so after
    /// an error, say) or failing I/O. Nothing was applied; reads keep working, and writes
    /// succeed again once the disk is fixed.
    pub fn is_storage_failure(&self) -> bool {
        let e = match self {
            SqliteError::Sqlite(e) => e,
            SqliteError::Transaction(e) => e.as_ref(),
            _ => return false,
        };
        matches!(
            e.sqlite_error_code(),
            Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::ReadOnly)
        )
    }
}

fn is_transient(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                // A file system remounted read-only under the database.
                | ErrorCode::ReadOnly
                // The transaction was rolled back under the command (see the writer).
                | ErrorCode::OperationAborted
        )
    )
}

impl From<SqliteError> for inventory_core::Error {
    fn from(e: SqliteError) -> Self {
        if e.is_transient() {
            inventory_core::Error::unavailable(e)
        } else {
            inventory_core::Error::backend(e)
        }
    }
}

/// `?`-friendly conversion of rusqlite results inside the store's operations, which answer in
/// the core's error type (orphan rules forbid `From<rusqlite::Error> for inventory_core::Error`).
pub(crate) trait DbResult<T> {
    /// Maps a rusqlite failure to [`inventory_core::Error`] through [`SqliteError`].
    fn db(self) -> inventory_core::Result<T>;
}

impl<T> DbResult<T> for rusqlite::Result<T> {
    fn db(self) -> inventory_core::Result<T> {
        self.map_err(|e| SqliteError::Sqlite(e).into())
    }
}

/// A corrupt-row error in the core's type.
pub(crate) fn corrupt(what: impl Into<String>) -> inventory_core::Error {
    SqliteError::Corrupt(what.into()).into()
}

/// Whether `e` is a violation of a UNIQUE constraint (checked by code, never by message text).
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error(), Some(f) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// The error of a failed write to a column the schema keeps unique (a SKU, a location's code):
/// a UNIQUE violation is `taken()`, core's "already exists" (e.g.
/// [`inventory_core::Error::DuplicateLocationCode`]); anything else the store's own failure.
/// Only a safety net: the store checks the value is free first, and the writer is the only one
/// writing.
pub(crate) fn unique_or(
    e: rusqlite::Error,
    taken: impl FnOnce() -> inventory_core::Error,
) -> inventory_core::Error {
    if is_unique_violation(&e) {
        taken()
    } else {
        SqliteError::Sqlite(e).into()
    }
}

/// Whether `e` is a violation of a FOREIGN KEY constraint.
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error(), Some(f)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}
