//! Black-box tests of `inventory-server`: the real server on a random port with a fresh database
//! (SQLite and PostgreSQL), driven over HTTP. CONTRACT.md (shared folder) is the specification.

/// Generates, for each `async fn name(app: TestApp)` in the calling module, a module `name` with
/// one test per backend: `name::sqlite` and `name::postgres`.
///
/// `both_backends!(@backend name, ...)` does the same for `async fn name(backend: Backend)`, for
/// tests that start their servers themselves.
macro_rules! both_backends {
    (@backend $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        )+
    };
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await;
                    super::$name(app).await;
                }
            }
        )+
    };
}

mod auth;
mod bulk;
mod carts;
mod check;
mod concurrency;
mod conditional;
mod connections;
mod date_filters;
mod disks;
mod docs;
mod expiry;
mod hardening;
mod helpers;
mod history;
mod hostile_input;
mod http;
mod idempotency;
mod ledger;
mod locations;
mod logs;
mod monitoring;
mod openapi_security;
mod openapi_truth;
mod operations;
mod orders;
mod outage;
mod pagination;
mod products;
mod ratelimit;
mod restart;
mod schemes;
mod terminate;
mod validation;
mod versions;
mod webhook_ids;
mod webhooks;
