//! Building and running the application: settings to store and engine, a bound listener,
//! then serving the [pipeline](crate::pipeline) until [shutdown](crate::shutdown).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use inventory_core::Inventory;
use inventory_store_postgres::{PostgresOptions, PostgresStore};
use inventory_store_sqlite::SqliteStore;
use tokio::sync::watch;

use crate::gauges::StoreGauges;
use crate::settings::{DatabaseKind, Settings, database_kind, redact_url};
use crate::state::{AppState, DynStore};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The settings are invalid.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// The database could not be opened or migrated.
    #[error("cannot open the database {url}: {source}")]
    Database {
        /// The URL, password hidden.
        url: String,
        /// Why.
        source: inventory_core::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound, ready server.
pub struct Application {
    port: u16,
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    order_ttl: Option<std::time::Duration>,
    limits: crate::serve::ConnectionLimits,
}

fn to_time(d: std::time::Duration) -> inventory_core::time::Duration {
    inventory_core::time::Duration::try_from(d).unwrap_or(inventory_core::time::Duration::MAX)
}

/// The webhook verifier `WEBHOOK_SCHEME` and `WEBHOOK_SECRET` describe (several secrets,
/// comma-separated, for rotation, each used byte for byte); `None` without a secret.
fn webhook_verifier(
    settings: &Settings,
) -> Result<Option<inventory_core::webhook::SchemeVerifier>, StartupError> {
    let Some(secret) = &settings.webhook_secret else {
        return Ok(None);
    };
    let secrets = crate::settings::webhook_secrets(secret).map_err(StartupError::Settings)?;
    inventory_core::webhook::SchemeVerifier::new(settings.webhook_scheme, &secrets)
        .map(Some)
        .map_err(|e| {
            StartupError::Settings(crate::settings::SettingsError {
                variable: "WEBHOOK_SECRET",
                value: "<hidden>".into(),
                reason: e.to_string(),
            })
        })
}

/// Opens the store the URL names.
pub async fn open_store(settings: &Settings) -> Result<DynStore, StartupError> {
    Ok(open_backend(settings).await?.0)
}

/// Opens the store the URL names, with the handle its gauges are read from.
async fn open_backend(settings: &Settings) -> Result<(DynStore, StoreGauges), StartupError> {
    let url = &settings.database_url;
    let fail = |source| StartupError::Database {
        url: redact_url(url),
        source,
    };
    let kind = database_kind(url).map_err(|reason| crate::settings::SettingsError {
        variable: "DATABASE_URL",
        value: redact_url(url),
        reason,
    })?;
    Ok(match kind {
        DatabaseKind::Sqlite(path) => {
            let store = SqliteStore::open(&path).await.map_err(|e| fail(e.into()))?;
            (Arc::new(store.clone()), StoreGauges::Sqlite(store))
        }
        DatabaseKind::Postgres => {
            let options = PostgresOptions {
                pool_size: settings.pool_size,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::connect_with(url, options)
                .await
                .map_err(|e| fail(e.into()))?;
            (Arc::new(store.clone()), StoreGauges::Postgres(store))
        }
    })
}

impl Application {
    /// Opens the store, builds the engine and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        Self::build_with_clock(settings, inventory_core::clock::SystemClock).await
    }

    /// [`Application::build`] on another clock: tests move a [`inventory_core::clock::ManualClock`]
    /// to expire orders or age idempotency keys without waiting.
    pub async fn build_with_clock(
        settings: Settings,
        clock: impl inventory_core::clock::Clock,
    ) -> Result<Application, StartupError> {
        let webhook = webhook_verifier(&settings)?;
        let (store, gauges) = open_backend(&settings).await?;
        let mut inventory = Inventory::new(store)
            .with_clock(clock)
            .with_idempotency_ttl(to_time(settings.idempotency_ttl));
        match webhook {
            Some(verifier) => inventory = inventory.with_webhook_verifier(verifier),
            None => tracing::warn!("WEBHOOK_SECRET is not set: POST /webhooks/payment answers 503"),
        }
        if let Some(ttl) = settings.order_ttl {
            inventory = inventory.with_order_ttl(to_time(ttl));
        }
        let api_keys = crate::auth::ApiKeys::new(&settings.api_keys);
        if !api_keys.enabled() {
            tracing::warn!(
                "API_KEY is not set: anyone can create, change and delete products and orders"
            );
        }
        let limiter = crate::ratelimit::ClientLimiter::new(
            settings.rate_limit,
            settings.rate_limit_burst,
            settings.trust_proxy,
        );
        let state = Arc::new(AppState {
            inventory,
            metrics: crate::telemetry::metrics_handle(),
            openapi_json: Bytes::from(crate::openapi::document_json()),
            swagger: crate::routes::swagger_config(),
            max_body_bytes: settings.max_body_bytes,
            max_bulk_body_bytes: settings.max_bulk_body_bytes,
            body_read_timeout: settings.body_read_timeout,
            api_keys,
            require_if_match: settings.require_if_match,
            gauges,
            limiter,
        });
        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let (stop, _) = watch::channel(false);
        Ok(Application {
            port,
            listener,
            state,
            stop,
            order_ttl: settings.order_ttl,
            limits: crate::serve::ConnectionLimits::from_settings(&settings),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server gracefully.
    pub fn shutdown_handle(&self) -> crate::shutdown::ShutdownHandle {
        crate::shutdown::ShutdownHandle(self.stop.clone())
    }

    /// Serves until SIGTERM, Ctrl-C or the shutdown handle; then lets in-flight requests finish
    /// and closes the store, so every acknowledged write is committed.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let Application {
            port,
            listener,
            state,
            stop,
            order_ttl,
            limits,
        } = self;
        tracing::info!(port, "listening");
        let sweeper = tokio::spawn(crate::sweeper::sweep(
            state.clone(),
            order_ttl,
            stop.subscribe(),
        ));
        let mut stopped = stop.subscribe();
        let signal = async move {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => {}
                _ = crate::shutdown::terminate_signal() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        crate::serve::serve(
            listener,
            crate::pipeline::filter(state.clone()),
            limits,
            signal,
        )
        .await;
        // Stop the sweeper (whatever stopped the server) before the store closes under it.
        let _ = stop.send(true);
        let _ = sweeper.await;
        if let Err(e) = state.inventory.close().await {
            tracing::error!(error = %e, "closing the store failed");
        }
        tracing::info!("stopped");
        Ok(())
    }
}
