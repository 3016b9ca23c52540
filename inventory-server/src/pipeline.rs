//! The HTTP pipeline every request goes through: admit (rate limit, API key) from the headers
//! alone, read the body within its limits, dispatch to a route, answer with the request id,
//! log and count.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tracing::Instrument;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method};
use warp::reply::Response;

use crate::error::ApiError;
use crate::request::Request;
use crate::state::AppState;

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
        let mut segments: Vec<String> = path
            .trim_start_matches('/')
            .strip_suffix('/')
            .unwrap_or(path.trim_start_matches('/'))
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        // `/v1/...` is the versioned form of every route; the unversioned paths are its aliases
        // (the seed's clients use them). One route table serves both.
        let base = crate::routes::strip_version(&mut segments);
        let admitted = admit(&state, &method, peer, &segments, &headers);
        // A refusal before the body is read leaves it unread on the connection, which then
        // cannot carry another request: the answer must say `Connection: close`.
        let close = admitted.is_err() && declares_body(&headers);
        let read = match admitted {
            Ok(()) => {
                let limit = if crate::routes::is_bulk(&segments) {
                    state.max_bulk_body_bytes
                } else {
                    state.max_body_bytes
                };
                let reading = read_body(&method, &headers, body, limit);
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
                    base,
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
        response.headers_mut().insert(
            crate::routes::API_VERSION_HEADER,
            HeaderValue::from_static(crate::routes::API_VERSION),
        );
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

/// Path segments are compared with route literals and parsed as ids; `%xx` is decoded so that
/// `/products/%31` is `/products/1`, as in other frameworks (`+` stays a plus in a path).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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
