//! # inventory-store-sqlite
//!
//! The embedded default store of the inventory service: SQLite, durable and fast under
//! concurrency.
//!
//! - **Durable**: WAL with `synchronous=FULL` by default; a caller is answered only after the
//!   `COMMIT` that holds its change, so an acknowledged order survives a crash or power loss.
//! - **Group commit**: one writer thread commits every queued command in one transaction, each
//!   in its own savepoint (one command's failure undoes only itself). See [`SqliteOptions`].
//! - **Writes never block the async runtime**: they run on one dedicated writer thread, and
//!   callers await a channel. A read runs where it was asked, on a read-only connection lent to
//!   the caller, when one is idle (no thread hop; a bounded statement, see
//!   [`SqliteOptions::inline_readers`]), else on a few reader threads.
//! - **Schema by migrations** (refinery, embedded), with the invariants enforced by the database
//!   too (`CHECK (stock >= 0)`, unique SKUs, foreign keys, the four statuses).
//! - **Records beside each change**: the stock-ledger row of a stock change, the history row of
//!   a status change, and the idempotency key of a create are written in the savepoint of the
//!   change itself, so they are committed with it or not at all.
//! - **Stock per location**: each product's level at each location (on hand, committed), each
//!   order line's allocations, and the location of each ledger row, all written as core decides
//!   them, in the savepoint of the operation that moves the units.
//!
//! Start with [`SqliteStore`].

mod command;
mod error;
mod inline;
mod options;
mod reader;
mod schema;
mod sql;
mod store;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;
use inventory_core::Result;
use rusqlite::Connection;

pub use error::SqliteError;
pub use options::{SqliteOptions, Synchronous};
pub use schema::latest_schema_version;
pub use writer::WriterStats;

use command::call;
use inline::Lent;
use reader::Readers;
use schema::Target;

/// The SQLite [`Store`](inventory_core::Store): a cheap handle (clone it freely; clones share
/// the database and its threads).
///
/// Dropping the last handle lets the writer commit what is queued and stop; [`close`] does the
/// same and waits for it.
///
/// ```
/// use inventory_core::{Inventory, NewOrder, NewProduct, Store};
/// use inventory_store_sqlite::SqliteStore;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("inventory.db");
///
/// let store = SqliteStore::open(&path).await?;
/// let inventory = Inventory::new(store.clone());
/// let widget = inventory
///     .create_product(NewProduct::from_json(&serde_json::json!(
///         {"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))?)
///     .await?;
/// let order = inventory
///     .place_order(NewOrder::from_json(&serde_json::json!(
///         {"product_id": widget.id, "quantity": 3}))?)
///     .await?;
/// assert_eq!(order.total.cents(), 3 * 4999);
/// store.close().await?;
///
/// // Acknowledged means on disk: a new process sees it.
/// let reopened = SqliteStore::open(&path).await?;
/// assert_eq!(reopened.get_product(widget.id).await?.stock, 47);
/// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
///
/// [`close`]: SqliteStore::close
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Sender<writer::Msg>,
    /// `None` for an in-memory database (readers could not see it) or `readers == 0`: reads
    /// that find no lent connection idle then go through the writer.
    readers: Option<Readers>,
    /// Connections lent to callers for inline reads (`None` in memory).
    lent: Option<Lent>,
    counters: Arc<writer::Counters>,
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("readers", &self.inner.readers.is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with the default options, and brings
    /// its schema up to date.
    ///
    /// Refused, with nothing written: a file that is not an SQLite database
    /// ([`SqliteError::NotADatabase`]), a schema newer than this program
    /// ([`SqliteError::SchemaTooNew`]); a directory that cannot be written is
    /// [`SqliteError::CannotOpen`].
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database at `path` with these options; see [`open`](Self::open).
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, SqliteError> {
        let path = path.as_ref().to_owned();
        // The writer opens and migrates first; readers open a database that is then complete.
        let writer::Spawned {
            tx: writer,
            ready,
            counters,
        } = writer::spawn(Target::File(path.clone()), &options)?;
        ready.await.map_err(|_| SqliteError::Closed)??;
        let readers = match options.readers {
            0 => None,
            n => Some(Readers::spawn(&path, n, &options).await?),
        };
        let lent = match options.inline_readers {
            0 => None,
            n => Some(Lent::open(&path, n, &options)?),
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer,
                readers,
                lent,
                counters,
                path: Some(path),
            }),
        })
    }

    /// A private in-memory database (for tests and tools; nothing survives the store). Reads go
    /// through the writer, since another connection could not see this database.
    pub async fn open_in_memory() -> Result<SqliteStore, SqliteError> {
        let options = SqliteOptions::default();
        let writer::Spawned {
            tx: writer,
            ready,
            counters,
        } = writer::spawn(Target::Memory, &options)?;
        ready.await.map_err(|_| SqliteError::Closed)??;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer,
                readers: None,
                lent: None,
                counters,
                path: None,
            }),
        })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// What the writer has committed so far (for metrics and benchmarks).
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.counters.snapshot()
    }

    /// Commits what is queued, closes every connection, and waits until that is done. Later
    /// calls on any clone of this store fail with [`SqliteError::Closed`] (as
    /// [`inventory_core::Error::Unavailable`]); closing twice is harmless.
    pub async fn close(&self) -> Result<(), SqliteError> {
        if let Some(lent) = &self.inner.lent {
            lent.close();
        }
        if let Some(readers) = &self.inner.readers {
            readers.close().await;
        }
        let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
        if self.inner.writer.send(writer::Msg::Close(ack_tx)).is_err() {
            return Ok(()); // The writer has stopped already.
        }
        // A dropped acknowledgement means another `close` got there first.
        ack_rx.await.unwrap_or(Ok(()))
    }

    /// Queues `f` to the writer, to run in the next batch's transaction; answers after its
    /// `COMMIT`.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (cmd, rx) = call(f);
        self.inner
            .writer
            .send(writer::Msg::Run(cmd))
            .map_err(|_| SqliteError::Closed)?;
        rx.await.map_err(|_| SqliteError::Closed)?
    }

    /// Runs `f` here on an idle lent connection, else on a reader thread, or on the writer when
    /// there are none.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let f = match &self.inner.lent {
            Some(lent) => match lent.try_run(f) {
                Ok(result) => return result,
                Err(f) => f,
            },
            None => f,
        };
        let Some(readers) = &self.inner.readers else {
            return self.write(f).await;
        };
        let (cmd, rx) = call(f);
        readers.send(cmd)?;
        rx.await.map_err(|_| SqliteError::Closed)?
    }
}
