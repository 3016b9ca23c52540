//! `inventory-server`: settings → telemetry → application → serve until a signal.
//!
//! `inventory-server check` instead verifies the stock invariant of the configured database and
//! exits 1 if any product violates it.

use std::process::ExitCode;

use inventory_server::{Application, Settings, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inventory-server: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(settings.log_format);
    telemetry::install_panic_hook();
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(settings).await,
        Some("check") => inventory_server::check::run(&settings).await,
        Some(other) => {
            eprintln!("inventory-server: unknown command {other:?} (expected serve or check)");
            ExitCode::from(2)
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    tracing::info!(settings = ?settings, "starting");
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("inventory-server: {e}");
            return ExitCode::from(2);
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inventory-server: {e}");
            ExitCode::FAILURE
        }
    }
}
