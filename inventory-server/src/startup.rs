//! Building and running the application: store, engine, HTTP pipeline, graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use inventory_core::Inventory;
use inventory_store_postgres::{PostgresOptions, PostgresStore};
use inventory_store_sqlite::SqliteStore;
use tokio::sync::watch;
use tracing::Instrument;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method};
use warp::reply::Response;

use crate::error::ApiError;
use crate::request::Request;
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

/// Stops a running application gracefully: in-flight requests finish, then the store closes.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Asks the server to stop.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
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
) -> Result<Option<inventory_core::SchemeVerifier>, StartupError> {
    let Some(secret) = &settings.webhook_secret else {
        return Ok(None);
    };
    let invalid = |reason: String| {
        StartupError::Settings(crate::settings::SettingsError {
            variable: "WEBHOOK_SECRET",
            value: "<hidden>".into(),
            reason,
        })
    };
    let secrets = crate::settings::webhook_secrets(secret).map_err(invalid)?;
    inventory_core::SchemeVerifier::new(settings.webhook_scheme, &secrets)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

/// Opens the store the URL names.
pub async fn open_store(settings: &Settings) -> Result<DynStore, StartupError> {
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
            Arc::new(SqliteStore::open(&path).await.map_err(|e| fail(e.into()))?)
        }
        DatabaseKind::Postgres => {
            let options = PostgresOptions {
                pool_size: settings.pool_size,
                ..PostgresOptions::default()
            };
            Arc::new(
                PostgresStore::connect_with(url, options)
                    .await
                    .map_err(|e| fail(e.into()))?,
            )
        }
    })
}

impl Application {
    /// Opens the store, builds the engine and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        Self::build_with_clock(settings, inventory_core::SystemClock).await
    }

    /// [`Application::build`] on another clock: tests move a [`inventory_core::ManualClock`]
    /// to expire orders or age idempotency keys without waiting.
    pub async fn build_with_clock(
        settings: Settings,
        clock: impl inventory_core::Clock,
    ) -> Result<Application, StartupError> {
        let webhook = webhook_verifier(&settings)?;
        let store = open_store(&settings).await?;
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
            body_read_timeout: settings.body_read_timeout,
            api_keys,
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
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
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
        let sweeper = tokio::spawn(sweep(state.clone(), order_ttl, stop.subscribe()));
        let mut stopped = stop.subscribe();
        let signal = async move {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => {}
                _ = terminate_signal() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        crate::serve::serve(listener, filter(state.clone()), limits, signal).await;
        // Stop the sweeper (whatever stopped the server) before the store closes under it.
        let _ = stop.send(true);
        let _ = sweeper.await;
        if let Err(e) = state.inventory.store().close().await {
            tracing::error!(error = %e, "closing the store failed");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Background upkeep until shutdown: expires unpaid orders (with `ORDER_TTL`), forgets old
/// idempotency keys, and lets the rate limiter drop idle clients. Expiry does not depend on it:
/// reads and payments expire due orders themselves.
async fn sweep(
    state: Arc<AppState>,
    order_ttl: Option<std::time::Duration>,
    mut stop: watch::Receiver<bool>,
) {
    let period = order_ttl
        .map(|ttl| {
            (ttl / 4).clamp(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(60),
            )
        })
        .unwrap_or(std::time::Duration::from_secs(60));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The Prometheus recorder keeps every histogram sample until upkeep drains it into the
    // buckets; without this, memory grows with traffic between scrapes.
    let mut upkeep = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = upkeep.tick() => {
                state.metrics.run_upkeep();
                continue;
            }
            _ = tick.tick() => {}
        }
        match state.inventory.expire_due_orders().await {
            Ok(expired) if !expired.is_empty() => {
                metrics::counter!("orders_expired_total").increment(expired.len() as u64);
                tracing::info!(count = expired.len(), "expired unpaid orders");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "order expiry sweep failed"),
        }
        if let Err(e) = state.inventory.purge_expired_keys().await {
            tracing::warn!(error = %e, "idempotency key purge failed");
        }
        if let Some(limiter) = &state.limiter {
            limiter.shrink();
        }
    }
}

async fn terminate_signal() {
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

/// The whole HTTP pipeline as one warp filter: read the request, dispatch, answer. It never
/// rejects, so no warp default body can leak out.
pub fn filter(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    warp::method()
        .and(
            warp::ext::optional::<crate::serve::PeerAddr>()
                .map(|p: Option<_>| p.map(|crate::serve::PeerAddr(a)| a)),
        )
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method, peer, path: warp::path::FullPath, query, headers, body| {
                let state = state.clone();
                let path = path.as_str().to_owned();
                async move { handle(state, method, peer, path, query, headers, body).await }
            },
        )
        .recover(|_rejection: warp::Rejection| async move {
            // Every filter above accepts every request; keep the contract's shape regardless.
            Ok::<_, Infallible>(ApiError::NotFound.into_response())
        })
        .unify()
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

async fn handle<S, B>(
    state: Arc<AppState>,
    method: Method,
    peer: Option<SocketAddr>,
    path: String,
    query: String,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let started = Instant::now();
    let id = request_id(&headers);
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty, status = tracing::field::Empty);
    async move {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .strip_suffix('/')
            .unwrap_or(path.trim_start_matches('/'))
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let admitted = admit(&state, &method, peer, &segments, &headers);
        // A refusal before the body is read leaves it unread on the connection, which then
        // cannot carry another request: the answer must say `Connection: close`.
        let close = admitted.is_err() && declares_body(&headers);
        let read = match admitted {
            Ok(()) => {
                let reading = read_body(&method, &headers, body, state.max_body_bytes);
                match tokio::time::timeout(state.body_read_timeout, reading).await {
                    Ok(read) => read,
                    Err(_) => Err(ApiError::BodyTimeout),
                }
            }
            Err(e) => Err(e),
        };
        let (route, result) = match read {
            Ok(body) => {
                let req = Request {
                    // HEAD is answered as GET; hyper sends the headers only (RFC 9110 §9.3.2).
                    method: if method == Method::HEAD {
                        Method::GET
                    } else {
                        method.clone()
                    },
                    segments,
                    query,
                    headers,
                    body,
                };
                crate::routes::dispatch(&state, &req).await
            }
            Err(e) => ("unmatched", Err(e)),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(kind = e.kind(), "request refused");
                e.into_response()
            }
        };
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", v);
        }
        if close {
            response.headers_mut().insert(
                warp::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        let status = response.status().as_u16();
        let span = tracing::Span::current();
        span.record("route", route);
        span.record("status", status);
        let elapsed = started.elapsed().as_secs_f64();
        let labels = [
            ("route", route.to_owned()),
            ("method", method.to_string()),
            ("status", status.to_string()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(elapsed);
        tracing::info!(elapsed_ms = elapsed * 1000.0, "request finished");
        response
    }
    .instrument(span)
    .await
}

/// Whether the request says a body follows (a non-zero length, or chunked).
fn declares_body(headers: &HeaderMap) -> bool {
    let length = headers.get("content-length").and_then(|v| v.to_str().ok());
    length.is_some_and(|l| l.trim() != "0") || headers.contains_key("transfer-encoding")
}

/// Rate limit, then API key: both decided from headers alone, before the body is read.
fn admit(
    state: &AppState,
    method: &Method,
    peer: Option<SocketAddr>,
    segments: &[String],
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let is_health = segments.len() == 1 && segments[0] == "health";
    if let (Some(limiter), false) = (&state.limiter, is_health)
        && let Some(client) = limiter.client(peer, headers)
    {
        limiter.check(client).map_err(ApiError::RateLimited)?;
    }
    if state.api_keys.required(method, segments) && !state.api_keys.accepts(headers) {
        return Err(ApiError::Unauthorized);
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    // Path segments are compared with route literals and parsed as ids; decode `%xx` so that
    // `/products/%31` is `/products/1`, as in other frameworks.
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Reads the body up to `limit` bytes: 413 beyond it, whatever `Content-Length` says.
async fn read_body<S, B>(
    method: &Method,
    headers: &HeaderMap,
    body: S,
    limit: usize,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return Ok(Bytes::new());
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize).min(limit));
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::BadBody(e.to_string()))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            buf.put_slice(part);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}
