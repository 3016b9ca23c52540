//! A queued call: a closure to run on a connection, and the channel that answers its caller.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::SqliteError;

/// What a worker thread runs. Type-erased so that one queue carries every operation.
pub(crate) trait Command: Send {
    /// Runs the command (at most once), keeping its result; returns whether it succeeded, so the
    /// writer knows whether to roll back its savepoint. A panic counts as a failure.
    fn run(&mut self, conn: &Connection) -> bool;

    /// Answers the caller. `Ok` means the transaction holding the command committed (or there
    /// was none, for a read), so the command's own result stands; `Err` means it did not, so the
    /// command did not happen whatever its result said.
    fn answer(self: Box<Self>, committed: Result<(), &Arc<rusqlite::Error>>);
}

/// A boxed command, as queued.
pub(crate) type BoxCommand = Box<dyn Command>;

/// The usual [`Command`]: a closure returning the core's result, answered through a oneshot.
pub(crate) struct Call<F, T> {
    f: Option<F>,
    result: Option<inventory_core::Result<T>>,
    reply: oneshot::Sender<inventory_core::Result<T>>,
}

/// A command running `f`, and the receiver its caller awaits.
pub(crate) fn call<F, T>(f: F) -> (BoxCommand, oneshot::Receiver<inventory_core::Result<T>>)
where
    F: FnOnce(&Connection) -> inventory_core::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    (
        Box::new(Call {
            f: Some(f),
            result: None,
            reply,
        }),
        rx,
    )
}

impl<F, T> Command for Call<F, T>
where
    F: FnOnce(&Connection) -> inventory_core::Result<T> + Send + 'static,
    T: Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        // A panicking command must not take the writer (and every other caller) down with it:
        // the panic becomes this command's failure, and its savepoint is rolled back.
        // AssertUnwindSafe: the closure's captures are consumed, and the connection's state is
        // restored by that rollback.
        match catch_unwind(AssertUnwindSafe(|| f(conn))) {
            Ok(result) => {
                let ok = result.is_ok();
                self.result = Some(result);
                ok
            }
            Err(_) => false,
        }
    }

    fn answer(self: Box<Self>, committed: Result<(), &Arc<rusqlite::Error>>) {
        let answer = match (committed, self.result) {
            (Err(e), _) => Err(SqliteError::Transaction(Arc::clone(e)).into()),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(inventory_core::Error::backend(
                "the database command panicked; it was undone",
            )),
        };
        // The caller may have stopped waiting (its future was dropped); the work is done anyway.
        let _ = self.reply.send(answer);
    }
}
