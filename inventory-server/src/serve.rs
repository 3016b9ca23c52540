//! Serving connections: the accept loop and its connection cap, each connection's header-read
//! and idle timeouts, what no request may get past (a target warp cannot route, a panic), the
//! log level of a client's broken connection, and graceful shutdown.
//!
//! warp's own server has no timeouts and no cap, logs every broken connection at ERROR, and
//! panics on an authority-form target (`CONNECT host:port`): so the pipeline's warp filter is
//! served here through hyper directly.
//!
//! Timeouts, per connection (see [`ConnectionLimits`]):
//! - **header read**: from the first byte of a request's head until the head is complete;
//!   exceeded, the connection is closed (what a slowloris client meets);
//! - **idle**: no request in progress and no byte received or sent for this long (a keep-alive
//!   connection between requests, a client that stopped reading its answer): closed;
//! - the request *body* has its own deadline, answered 408 by the pipeline (`pipeline.rs`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use warp::http::Request;
use warp::reply::Response;

use crate::error::ApiError;

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request's head until the head is complete.
    pub header_read_timeout: Duration,
    /// No request in progress and no byte either way for this long: the connection is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits `settings` configure.
    pub fn from_settings(settings: &crate::Settings) -> Self {
        ConnectionLimits {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: settings.max_connections.max(1),
        }
    }
}

/// The client's address, put in each request's extensions for the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Serves `filter` on `listener` until `shutdown` completes; then stops accepting, lets every
/// connection finish its request in progress (idle ones close at once), and returns when the
/// last one has closed.
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    F: warp::Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut at_capacity = false;
    loop {
        // A permit first: at the cap, new connections wait in the kernel's backlog.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                at_capacity = false;
                permit
            }
            Err(_) => {
                if !std::mem::replace(&mut at_capacity, true) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = warp::service(filter.clone());
        let stopped = stopped.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, service, limits, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// A failed `accept`: the client gave up before it completed (not worth a line above debug), or
/// the process is out of descriptors or memory (ours to fix: ERROR, and a pause so as not to
/// spin).
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        tracing::debug!(error = %e, "a connection closed before it was accepted");
        return;
    }
    tracing::error!(error = %e, "cannot accept connections (descriptor or memory limit?)");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: HTTP/1.1 (or HTTP/2 with prior knowledge) until the client closes, a timeout
/// expires, or the server stops.
async fn serve_connection<S>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    service: S,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<bool>,
) where
    S: tower_service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let requests = Guarded {
        service,
        peer,
        activity: activity.clone(),
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // The header timeout is ours (from the head's first byte, not from the connection's idle
    // start as hyper counts it), enforced below with the idle timeout.
    builder.http1().header_read_timeout(None);
    let connection = builder.serve_connection(io, requests);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        let check = match activity.check(&limits) {
            Check::Until(deadline) => deadline,
            Check::Expired(why) => {
                tracing::debug!(peer = %peer, reason = why, "closing the connection");
                if closing || why == "header read timeout" {
                    return;
                }
                // Idle: nothing in progress, so close now (HTTP/2 says GOAWAY first).
                connection.as_mut().graceful_shutdown();
                closing = true;
                Instant::now() + Duration::from_secs(1)
            }
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // Whatever broke a connection (a malformed request, a client that went away,
                    // a timeout, an HTTP/2 protocol error) is that client's doing: debug, never
                    // ERROR, or any client could fill the error log.
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(check) => {}
            changed = stopped.changed(), if !closing => {
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Milliseconds since the connection started, `NONE` for "not set".
const NONE: u64 = u64::MAX;

/// What a connection has been doing, shared by its socket, its requests and its watchdog.
struct Activity {
    origin: Instant,
    /// When a byte was last read or written, or a response finished.
    last_io: AtomicU64,
    /// When the first byte of the request head now being read arrived.
    head_started: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicUsize,
}

/// What the watchdog decides.
enum Check {
    /// Look again at this instant.
    Until(Instant),
    /// Close: this limit was exceeded.
    Expired(&'static str),
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ =
                self.head_started
                    .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request's head is complete: it is being answered.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
        InFlight(self.clone())
    }

    fn check(&self, limits: &ConnectionLimits) -> Check {
        let now = self.now();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE / 4);
        let header = ms(limits.header_read_timeout);
        let idle = ms(limits.idle_timeout);
        // A head may start at any moment: look again within a header timeout.
        let soon = now.saturating_add(header.min(idle));
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Check::Until(self.at(soon));
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != NONE {
            let deadline = head.saturating_add(header);
            return if now >= deadline {
                Check::Expired("header read timeout")
            } else {
                Check::Until(self.at(deadline))
            };
        }
        let deadline = self.last_io.load(Ordering::Relaxed).saturating_add(idle);
        if now >= deadline {
            Check::Expired("idle timeout")
        } else {
            Check::Until(self.at(deadline.min(soon)))
        }
    }
}

/// A request being answered; its end restarts the idle clock.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, recording when bytes move.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The warp service behind the checks no request may get past: a target it cannot route is
/// answered 400 before it reaches warp, and a panic anywhere in answering (logged by the panic
/// hook) becomes a 500 for that request alone.
#[derive(Clone)]
struct Guarded<S> {
    service: S,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl<S> hyper::service::Service<Request<Incoming>> for Guarded<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        if req.uri().path_and_query().is_none() {
            // Authority-form (`CONNECT host:port`) or a bare `http://host`: warp's path filters
            // panic on a target without a path; this server has nothing to say to either.
            tracing::debug!(method = %req.method(), target = %req.uri(), "request target is not a path");
            let response = ApiError::BadRequestTarget.into_response();
            return Box::pin(async move {
                drop(in_flight);
                Ok(response)
            });
        }
        req.extensions_mut().insert(PeerAddr(self.peer));
        let mut service = self.service.clone();
        let called = std::panic::catch_unwind(AssertUnwindSafe(move || service.call(req)));
        Box::pin(async move {
            let answered = match called {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            drop(in_flight);
            Ok(match answered {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => crate::error::internal_error(),
            })
        })
    }
}
