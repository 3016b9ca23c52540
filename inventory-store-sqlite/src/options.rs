//! How a store is opened: durability, group commit, readers, waiting on locks.

use std::time::Duration;

/// SQLite's `PRAGMA synchronous` for the write connection (in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is synced to disk before it is acknowledged: an acknowledged order survives
    /// power loss. The default.
    #[default]
    Full,
    /// Commits are synced only at checkpoints: a crash of the process loses nothing, but power
    /// loss may lose the last commits. Faster; for users who choose it.
    Normal,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Options for [`SqliteStore::open_with`](crate::SqliteStore::open_with).
///
/// ```
/// use std::time::Duration;
/// use inventory_store_sqlite::{SqliteOptions, Synchronous};
/// let options = SqliteOptions::default()
///     .synchronous(Synchronous::Normal)
///     .group_commit(false)
///     .readers(2)
///     .busy_timeout(Duration::from_secs(1));
/// assert_eq!(options.synchronous, Synchronous::Normal);
/// assert!(!options.group_commit);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of each commit. Default [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// Whether the writer commits every queued command in one transaction (default `true`).
    /// `false` gives each command its own transaction and sync, for comparison.
    pub group_commit: bool,
    /// Read-only connections, each on its own thread, serving reads in parallel with the writer
    /// (default 4), taking the reads that find no [`inline_readers`](Self::inline_readers)
    /// connection idle. With 0, those reads are queued to the writer like writes.
    pub readers: usize,
    /// Read-only connections lent to the calling thread: a read that finds one idle runs at
    /// once where it was asked, with no hop to a reader thread, and holds up that thread (an
    /// async worker) while its statement runs; when all are busy it goes to the reader threads.
    /// Default: the machine's parallelism, at most 8 (one per async worker is enough, since an
    /// inline read never waits on anything else). With 0, every read goes to the reader threads
    /// (or, with no readers either, to the writer).
    pub inline_readers: usize,
    /// How long a connection waits for a lock held by another process before failing with
    /// "busy" (default 5 s).
    pub busy_timeout: Duration,
    /// The most commands committed in one transaction (default 512); at least 1.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            group_commit: true,
            readers: 4,
            inline_readers: std::thread::available_parallelism()
                .map_or(2, usize::from)
                .min(8),
            busy_timeout: Duration::from_secs(5),
            max_batch: 512,
        }
    }
}

impl SqliteOptions {
    /// Sets [`synchronous`](Self::synchronous).
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets [`group_commit`](Self::group_commit).
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }

    /// Sets [`readers`](Self::readers).
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers;
        self
    }

    /// Sets [`inline_readers`](Self::inline_readers).
    pub fn inline_readers(mut self, connections: usize) -> Self {
        self.inline_readers = connections;
        self
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Sets [`max_batch`](Self::max_batch) (0 is taken as 1).
    pub fn max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }

    /// Commands per transaction, as the writer applies it.
    pub(crate) fn batch_cap(&self) -> usize {
        if self.group_commit {
            self.max_batch.max(1)
        } else {
            1
        }
    }
}
