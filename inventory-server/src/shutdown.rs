//! Stopping: the handle a test or an embedder stops the server with, and the signals an
//! operator sends (SIGTERM, Ctrl-C).

use tokio::sync::watch;

/// Stops a running application gracefully: in-flight requests finish, then the store closes.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(pub(crate) watch::Sender<bool>);

impl ShutdownHandle {
    /// Asks the server to stop.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

/// Resolves on SIGTERM or Ctrl-C (Ctrl-C only where there are no Unix signals).
pub(crate) async fn terminate_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
