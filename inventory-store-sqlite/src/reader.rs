//! The readers: a few read-only connections, each on its own thread, serving one shared queue.
//!
//! In WAL mode a reader sees the last committed state and never waits for the writer, so reads
//! run in parallel with a batch being committed. A read of one statement is its own consistent
//! snapshot; a read of several runs them in one read transaction (`sql::snapshot`). A read
//! issued after a write was acknowledged sees that write, since the writer answers only after
//! `COMMIT`.

use std::path::Path;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::command::BoxCommand;
use crate::error::SqliteError;
use crate::options::SqliteOptions;
use crate::schema;

/// A message to the readers; each is taken by exactly one of them.
pub(crate) enum Msg {
    /// Run this read.
    Run(BoxCommand),
    /// Close your connection, acknowledge, and stop (one per reader).
    Stop(oneshot::Sender<()>),
}

/// The pool's queue and size.
#[derive(Debug)]
pub(crate) struct Readers {
    tx: Sender<Msg>,
    count: usize,
}

impl Readers {
    /// Opens `count` read-only connections to `path`, each on a thread; waits until all are
    /// open, or reports the first failure (the threads already started then stop by themselves,
    /// as the queue is dropped).
    pub(crate) async fn spawn(
        path: &Path,
        count: usize,
        options: &SqliteOptions,
    ) -> Result<Readers, SqliteError> {
        // MPMC: whichever reader is free takes the next read.
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let mut ready = Vec::with_capacity(count);
        for i in 0..count {
            let (ready_tx, ready_rx) = oneshot::channel();
            let (path, options, rx) = (path.to_owned(), options.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || match schema::open_reader(&path, &options) {
                    Ok(conn) => {
                        if ready_tx.send(Ok(())).is_ok() {
                            serve(conn, &rx);
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                })
                .map_err(SqliteError::Thread)?;
            ready.push(ready_rx);
        }
        for r in ready {
            r.await.map_err(|_| SqliteError::Closed)??;
        }
        Ok(Readers { tx, count })
    }

    /// Queues a read.
    pub(crate) fn send(&self, cmd: BoxCommand) -> Result<(), SqliteError> {
        self.tx.send(Msg::Run(cmd)).map_err(|_| SqliteError::Closed)
    }

    /// Stops every reader after the reads queued before, and waits until their connections are
    /// closed.
    pub(crate) async fn close(&self) {
        let mut acks = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let (ack_tx, ack_rx) = oneshot::channel();
            if self.tx.send(Msg::Stop(ack_tx)).is_err() {
                return; // Already stopped.
            }
            acks.push(ack_rx);
        }
        for ack in acks {
            // An error means that reader was already gone, which is what we want anyway.
            let _ = ack.await;
        }
    }
}

fn serve(conn: Connection, rx: &Receiver<Msg>) {
    // Ends when every store handle is dropped (the queue disconnects) or on `Stop`.
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Run(mut cmd) => {
                cmd.run(&conn);
                // A read has no transaction to wait for: its result stands as it is.
                cmd.answer(Ok(()));
            }
            Msg::Stop(ack) => {
                drop(conn);
                let _ = ack.send(());
                return;
            }
        }
    }
}
