//! Logs (tracing) and metrics (Prometheus via the `metrics` crate).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global log subscriber: `RUST_LOG` filters (default `info`), `LOG_FORMAT`
/// chooses JSON or pretty lines. A second call (tests start many apps) changes nothing.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Replaces the default panic message (several lines of plain text on stderr, which breaks
/// `LOG_FORMAT=json`) with one ERROR event through tracing: the message, where, and the thread,
/// in whatever format the logs use. A panic is always our fault, hence ERROR.
///
/// Installed by the binary; tests leave the default hook so their own failures stay readable.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        tracing::error!(
            panic.message = %message,
            panic.location = %location,
            panic.thread = thread.name().unwrap_or("unnamed"),
            "panic"
        );
    }));
}

/// Counts `n` orders that a status request, a payment or expiry left in `status`
/// (`order_status_changes_total`, label `status`), for the dashboard's orders-by-status panel.
pub fn count_status(status: inventory_core::OrderStatus, n: u64) {
    metrics::counter!("order_status_changes_total", "status" => status.as_str()).increment(n);
}

/// The process-wide metrics recorder, installed on first use. `metrics` has one global
/// recorder per process, so every app in the process (tests start many) shares it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
