//! `inventory-server`: settings → telemetry → application → serve until a signal.
//!
//! `inventory-server check` instead verifies the stock invariant of the configured database and
//! exits 1 if any product violates it. `inventory-server openapi` prints the OpenAPI document
//! (for client generators) without reading settings or touching a database.

use std::process::ExitCode;

use inventory_server::{Application, Settings, telemetry};

// glibc's malloc/free were ~15 % of the list path's samples and dominate `GET /products/{id}`
// (issue 17's profile); mimalloc's thread-local free lists measured faster under wrk (see
// benches/README.md). Set in the binary only: an embedder of the library keeps its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("openapi") {
        return print_openapi();
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inventory-server: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(settings.log_format);
    telemetry::install_panic_hook();
    match command.as_deref() {
        None | Some("serve") => serve(settings).await,
        Some("check") => inventory_server::check::run(&settings).await,
        Some(other) => {
            eprintln!(
                "inventory-server: unknown command {other:?} (expected serve, check or openapi)"
            );
            ExitCode::from(2)
        }
    }
}

/// Writes `/openapi.json` to stdout, as the server would answer it.
fn print_openapi() -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(&inventory_server::openapi::document_json())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inventory-server: cannot write the document: {e}");
            ExitCode::FAILURE
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
