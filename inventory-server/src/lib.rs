//! # inventory-server
//!
//! The HTTP face of the inventory engine: the contract of the original FastAPI service over
//! warp, on SQLite (default) or PostgreSQL. No business rule lives here: every request becomes
//! one call on [`inventory_core::Inventory`], and every answer is shaped in [`error`] or a
//! route handler; FastAPI's 422 shape (`loc`/`msg`/`type`) is rendered in [`fastapi`] alone.
//!
//! ```no_run
//! use inventory_server::{Application, Settings};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Application::build(Settings::for_database("sqlite://inventory.db")).await?;
//! println!("listening on {}", app.port());
//! app.run_until_stopped().await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod check;
pub mod conditional;
pub mod error;
pub mod fastapi;
pub mod gauges;
pub mod openapi;
pub mod pipeline;
pub mod ratelimit;
pub mod request;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod shutdown;
pub mod startup;
pub mod state;
mod sweeper;
pub mod telemetry;

pub use settings::{LogFormat, Settings};
pub use shutdown::ShutdownHandle;
pub use startup::{Application, StartupError};
