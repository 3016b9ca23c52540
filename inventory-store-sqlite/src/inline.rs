//! Inline reads: read-only connections lent to the calling thread, so that a read needs no hop
//! to a reader thread and back.
//!
//! A read through the reader threads costs two cross-thread wake-ups (the queue, then the
//! answer's channel) around a statement that takes a few microseconds; on a two-core machine
//! those wake-ups, not SQLite, were what a point read spent its time on (benches/README.md).
//! A read that finds a connection idle here runs at once, on the async worker that asked,
//! and holds it up for as long as the statement runs: every read of this store is bounded by
//! a page limit, so that is microseconds to a millisecond or two. When every lent connection is
//! busy (more concurrent callers than connections), the read goes to the reader threads, as
//! before.
//!
//! What a read sees is the same either way: each connection is read-only, in WAL mode, in
//! autocommit between reads, so a read sees the last commit before it started, and every write
//! the caller saw acknowledged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;

use crate::error::SqliteError;
use crate::options::SqliteOptions;
use crate::schema;

/// The idle connections; `None` once closed, so a connection given back late is dropped.
#[derive(Debug)]
pub(crate) struct Lent {
    idle: Mutex<Option<Vec<Connection>>>,
}

impl Lent {
    /// Opens `count` read-only connections to `path`.
    pub(crate) fn open(
        path: &Path,
        count: usize,
        options: &SqliteOptions,
    ) -> Result<Lent, SqliteError> {
        let idle = (0..count)
            .map(|_| schema::open_reader(path, options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Lent {
            idle: Mutex::new(Some(idle)),
        })
    }

    /// Runs `f` here on an idle connection, or gives `f` back when there is none (or the store
    /// is closed) for the caller to queue.
    pub(crate) fn try_run<T, F>(&self, f: F) -> Result<inventory_core::Result<T>, F>
    where
        F: FnOnce(&Connection) -> inventory_core::Result<T>,
    {
        let Some(conn) = self.take() else {
            return Err(f);
        };
        // A panicking read fails alone, as on a reader thread; its connection, which may be
        // left mid-statement, is dropped rather than lent again.
        match catch_unwind(AssertUnwindSafe(|| f(&conn))) {
            Ok(result) => {
                self.give_back(conn);
                Ok(result)
            }
            Err(_) => Ok(Err(inventory_core::Error::backend(
                "the database read panicked",
            ))),
        }
    }

    /// Closes every idle connection now, and every busy one when it is given back.
    pub(crate) fn close(&self) {
        let idle = self.lock().take();
        drop(idle);
    }

    fn take(&self) -> Option<Connection> {
        self.lock().as_mut().and_then(Vec::pop)
    }

    fn give_back(&self, conn: Connection) {
        if let Some(idle) = self.lock().as_mut() {
            idle.push(conn);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Connection>>> {
        // The lock guards a push or a pop, which cannot panic halfway: a poisoned lock still
        // holds a consistent list.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Target, open_writer};

    fn count(conn: &Connection) -> inventory_core::Result<i64> {
        conn.query_row("SELECT count(*) FROM products", [], |r| r.get(0))
            .map_err(|e| inventory_core::Error::backend(e.to_string()))
    }

    #[test]
    fn a_busy_or_closed_pool_hands_the_read_back_and_an_idle_one_sees_the_last_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let options = SqliteOptions::default();
        let writer = open_writer(&Target::File(path.clone()), &options).expect("writer");
        let lent = Lent::open(&path, 1, &options).expect("open");

        let outer = lent.try_run(|c| {
            // The only connection is busy: a read asked meanwhile is handed back to be queued.
            assert!(lent.try_run(count).is_err(), "no second connection");
            count(c)
        });
        assert_eq!(outer.ok().and_then(Result::ok), Some(0));

        writer
            .execute(
                "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
                 VALUES ('A', 'a', 100, 1, 0, 0)",
                [],
            )
            .expect("insert");
        // Given back after the first read, the connection reads the new commit.
        assert_eq!(lent.try_run(count).ok().and_then(Result::ok), Some(1));

        lent.close();
        assert!(lent.try_run(count).is_err(), "closed: the read is queued");
    }
}
