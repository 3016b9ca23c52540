//! The writer thread and its group commit.
//!
//! One thread owns the only read-write connection, so writes never contend for SQLite's lock
//! inside this process. It blocks for the first queued command, then takes whatever else is
//! already queued (up to the batch cap) and runs the lot in one `BEGIN IMMEDIATE … COMMIT`, each
//! command inside its own `SAVEPOINT`: a command that fails (too little stock, a taken SKU) is
//! rolled back to its savepoint alone, and the others stand. Callers are answered only after the
//! `COMMIT` that holds their change has returned, so with `synchronous=FULL` an acknowledged
//! change is on disk. One sync then covers the whole batch: that is where the speed comes from.
//! While a batch is being synced, the next one queues up, so batches grow with the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::command::{BoxCommand, Command};
use crate::error::SqliteError;
use crate::options::SqliteOptions;
use crate::schema::{self, Target};

/// A message to the writer.
pub(crate) enum Msg {
    /// Run this command in the next batch.
    Run(BoxCommand),
    /// Finish what is queued before this message, close the connection, stop, and report.
    Close(oneshot::Sender<Result<(), SqliteError>>),
}

/// Counters of the writer's work, shared with the store handles.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    commands: AtomicU64,
}

/// What the writer has done since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Commands answered from committed transactions (including those that failed and were
    /// rolled back to their savepoint). `commands / commits` is the average batch size.
    pub commands: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            commits: self.commits.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
        }
    }
}

/// A started writer thread.
pub(crate) struct Spawned {
    /// Its queue.
    pub(crate) tx: Sender<Msg>,
    /// Answers once the database is open and migrated, or could not be.
    pub(crate) ready: oneshot::Receiver<Result<(), SqliteError>>,
    /// Its counters.
    pub(crate) counters: Arc<Counters>,
}

/// Starts the writer thread: it opens and migrates the database, reports through
/// [`Spawned::ready`], and then serves the queue until every sender is dropped or it is told to
/// close.
pub(crate) fn spawn(target: Target, options: &SqliteOptions) -> Result<Spawned, SqliteError> {
    // Unbounded: every caller awaits its own answer, so the queue never holds more commands than
    // there are callers in flight.
    let (tx, rx) = crossbeam_channel::unbounded();
    let (ready_tx, ready_rx) = oneshot::channel();
    let counters = Arc::new(Counters::default());
    let thread_counters = Arc::clone(&counters);
    let options = options.clone();
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let conn = match schema::open_writer(&target, &options) {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            if ready_tx.send(Ok(())).is_err() {
                // `open` was abandoned; nobody will ever send a command.
                return;
            }
            serve(conn, &rx, options.batch_cap(), &thread_counters);
        })
        .map_err(SqliteError::Thread)?;
    Ok(Spawned {
        tx,
        ready: ready_rx,
        counters,
    })
}

/// The writer's loop: batch, run, answer; until the queue is closed or a `Close` arrives.
fn serve(conn: Connection, rx: &Receiver<Msg>, cap: usize, counters: &Counters) {
    let mut closers = Vec::new();
    let mut batch: Vec<BoxCommand> = Vec::with_capacity(cap);
    // `recv` fails only once every handle is dropped *and* the queue is empty, so dropping the
    // store still commits what was queued.
    while let Ok(first) = rx.recv() {
        match first {
            Msg::Run(cmd) => batch.push(cmd),
            Msg::Close(ack) => closers.push(ack),
        }
        while closers.is_empty() && batch.len() < cap {
            match rx.try_recv() {
                Ok(Msg::Run(cmd)) => batch.push(cmd),
                Ok(Msg::Close(ack)) => closers.push(ack),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&conn, std::mem::take(&mut batch), counters);
        }
        if !closers.is_empty() {
            break;
        }
    }
    // Commands queued after a `Close` are dropped here with the receiver; their callers get
    // "closed". The caller of `close` learns only after the connection is closed, so the file
    // is complete when `close` returns.
    let result = conn.close().map_err(|(_, e)| SqliteError::Sqlite(e));
    let mut result = Some(result);
    for ack in closers {
        let _ = ack.send(result.take().unwrap_or(Ok(())));
    }
}

/// Runs a batch in as few transactions as possible: one, unless SQLite aborts a transaction
/// midway, in which case the commands after the abort run in a fresh one.
pub(crate) fn run_batch(conn: &Connection, batch: Vec<BoxCommand>, counters: &Counters) {
    let mut queue = batch.into_iter();
    while queue.len() > 0 {
        run_transaction(conn, &mut queue, counters);
    }
}

/// One `BEGIN IMMEDIATE … COMMIT` over the commands taken from `queue`.
fn run_transaction(
    conn: &Connection,
    queue: &mut std::vec::IntoIter<BoxCommand>,
    counters: &Counters,
) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        // Nothing ran (typically: another process has held the write lock past the busy
        // timeout). Every command of the batch fails with the reason; callers may retry.
        let e = Arc::new(e);
        for cmd in queue {
            cmd.answer(Err(&e));
        }
        return;
    }
    let mut done: Vec<BoxCommand> = Vec::new();
    for mut cmd in queue.by_ref() {
        if let Err(broken) = run_in_savepoint(conn, &mut *cmd) {
            // The transaction itself is gone or unusable (disk full, I/O error, ...): everything
            // it held is lost. Those callers hear why; the rest of the batch, if any, gets a
            // fresh transaction from `run_batch`.
            rollback_quietly(conn);
            let (e, own_failure) = match broken {
                Broken::RolledBack { own_failure } => (rolled_back(), own_failure),
                Broken::Statement(e) => (e, false),
            };
            let e = Arc::new(e);
            for cmd in done {
                cmd.answer(Err(&e));
            }
            // A command that failed by itself keeps its own error (e.g. "database is full"),
            // which says more than "rolled back"; it changed nothing either way.
            cmd.answer(if own_failure { Ok(()) } else { Err(&e) });
            return;
        }
        done.push(cmd);
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            counters
                .commands
                .fetch_add(done.len() as u64, Ordering::Relaxed);
            for cmd in done {
                cmd.answer(Ok(()));
            }
        }
        Err(e) => {
            // No caller is told "done" unless its change is committed: all of them fail.
            rollback_quietly(conn);
            let e = Arc::new(e);
            for cmd in done {
                cmd.answer(Err(&e));
            }
        }
    }
}

/// Why a transaction cannot go on.
enum Broken {
    /// SQLite rolled the whole transaction back while running the command (it does so on some
    /// errors: SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, even inside a savepoint).
    RolledBack {
        /// Whether the command reported a failure (the likely cause).
        own_failure: bool,
    },
    /// A savepoint statement failed.
    Statement(rusqlite::Error),
}

/// Runs one command in its own savepoint. A failing command is undone alone (`ROLLBACK TO`
/// keeps the transaction and the savepoint, `RELEASE` then drops the empty savepoint). `Err`
/// only when the surrounding transaction cannot go on.
fn run_in_savepoint(conn: &Connection, cmd: &mut dyn Command) -> Result<(), Broken> {
    exec(conn, "SAVEPOINT cmd").map_err(Broken::Statement)?;
    let ok = cmd.run(conn);
    if conn.is_autocommit() {
        return Err(Broken::RolledBack { own_failure: !ok });
    }
    if !ok {
        exec(conn, "ROLLBACK TO cmd").map_err(Broken::Statement)?;
    }
    exec(conn, "RELEASE cmd").map_err(Broken::Statement)
}

/// The error given to the commands lost when SQLite rolled their transaction back.
fn rolled_back() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("SQLite rolled the transaction back after another command's failure".into()),
    )
}

fn rollback_quietly(conn: &Connection) {
    if !conn.is_autocommit() {
        // If even ROLLBACK fails the connection is beyond repair; the next BEGIN will say so to
        // the next batch's callers.
        let _ = exec(conn, "ROLLBACK");
    }
}

/// Runs a statement that returns no rows, prepared once and cached.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests;
