//! The one place where failures become HTTP answers, in the contract's shapes (FastAPI's 422
//! list is written by [`crate::fastapi`]).

use inventory_core::{Error as CoreError, ValidationErrors};
use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::fastapi::{self, Invalid};

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A rule of the core said no (or the store failed).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The same, on the webhook route, where a refused status move is a 409 rather than a 400:
    /// the sender did nothing wrong, the order's state conflicts with the event.
    #[error("webhook: {0}")]
    Webhook(CoreError),
    /// A path, query or header value the server itself refused (a 422 like the core's).
    #[error("invalid request: {}", .0.iter().map(|e| e.msg.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    /// No route has this path.
    #[error("not found")]
    NotFound,
    /// The path exists but not with this method; carries the methods it accepts.
    #[error("method not allowed")]
    MethodNotAllowed(&'static [&'static str]),
    /// The body exceeds `MAX_BODY_BYTES`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A write without a valid API key.
    #[error("unauthorized")]
    Unauthorized,
    /// Too many requests from this client; retry after the delay.
    #[error("rate limited")]
    RateLimited(std::time::Duration),
    /// Reading the request failed midway (client went away).
    #[error("bad request body: {0}")]
    BadBody(String),
    /// The body did not arrive within `BODY_READ_TIMEOUT`.
    #[error("request body timeout")]
    BodyTimeout,
    /// `REQUIRE_IF_MATCH` is on and a write came without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
    /// The request target is not a path (`CONNECT host:port`, or `http://host` alone).
    #[error("request target is not a path")]
    BadRequestTarget,
}

/// The contract's 500: `{"detail": "Internal server error"}`; nothing internal leaks.
pub fn internal_error() -> Response {
    detail(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!("Internal server error"),
    )
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Core(CoreError::Validation(e))
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Invalid(vec![e])
    }
}

/// A JSON response with a status.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let mut bytes = Vec::with_capacity(256);
    if serde_json::to_writer(&mut bytes, body).is_err() {
        bytes = b"{}".to_vec();
    }
    let mut resp = Response::new(bytes.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn detail(status: StatusCode, detail: Value) -> Response {
    json_response(status, &json!({ "detail": detail }))
}

/// `detail.error` of a forbidden status move.
pub const TRANSITION_ERROR: &str = "Invalid status transition";
/// `detail.error` of an order for more than the stock.
pub const INSUFFICIENT_STOCK: &str = "Insufficient stock";
/// `detail.error` of a webhook event already processed.
pub const EVENT_REPLAYED: &str = "Event already processed";
/// `detail.error` of a payment whose amount is not the order's total.
pub const AMOUNT_MISMATCH: &str = "Amount mismatch";
/// `detail.error` of a write whose `If-Match` no longer holds.
pub const PRECONDITION_FAILED: &str = "Precondition failed";
/// `detail.error` of a stock compare-and-set that found another stock.
pub const STOCK_CHANGED: &str = "Stock changed";
/// `detail.error` of a payment for an order that expired.
pub const ORDER_EXPIRED: &str = "Order expired";

fn transition_body(from: impl std::fmt::Display, to: impl std::fmt::Display) -> Value {
    json!({
        "error": TRANSITION_ERROR,
        "current_status": from.to_string(),
        "requested_status": to.to_string(),
        "message": format!("Cannot transition from {from} to {to}"),
    })
}

impl ApiError {
    /// A short label for logs and metrics (never a client's data).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Core(e) | ApiError::Webhook(e) => core_kind(e),
            ApiError::Invalid(_) => "validation",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::BadBody(_) => "bad_body",
            ApiError::BodyTimeout => "body_timeout",
            ApiError::BadRequestTarget => "bad_request_target",
            ApiError::PreconditionRequired => "precondition_required",
            ApiError::Unauthorized => "unauthorized",
            ApiError::RateLimited(_) => "rate_limited",
        }
    }

    /// The response the contract prescribes.
    pub fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, json!("Not Found")),
            ApiError::Invalid(items) => fastapi::response(&items),
            ApiError::MethodNotAllowed(methods) => {
                let mut r = detail(StatusCode::METHOD_NOT_ALLOWED, json!("Method Not Allowed"));
                // HEAD is answered wherever GET is (RFC 9110 §9.3.2).
                let mut allow: Vec<&str> = methods.to_vec();
                if allow.contains(&"GET") {
                    allow.push("HEAD");
                }
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
                r
            }
            ApiError::PayloadTooLarge => {
                let mut r = detail(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!("Request body too large"),
                );
                // The rest of the body is left unread, so this connection cannot carry another
                // request: say so, or a pooling client would reuse it and fail.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            ApiError::UnsupportedMediaType => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!("Unsupported media type: send Content-Type: application/json"),
            ),
            ApiError::BadBody(_) => detail(StatusCode::BAD_REQUEST, json!("Could not read body")),
            ApiError::BodyTimeout => {
                let mut r = detail(
                    StatusCode::REQUEST_TIMEOUT,
                    json!("Request body not received in time"),
                );
                // The rest of the body may still come: this connection cannot carry another
                // request.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            ApiError::PreconditionRequired => detail(
                StatusCode::PRECONDITION_REQUIRED,
                json!("Precondition required: send If-Match with the ETag of the row you read"),
            ),
            ApiError::BadRequestTarget => {
                let mut r = detail(
                    StatusCode::BAD_REQUEST,
                    json!("The request target must be a path, such as /products"),
                );
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            ApiError::Unauthorized => {
                let mut r = detail(
                    StatusCode::UNAUTHORIZED,
                    json!(
                        "Missing or invalid API key: send Authorization: Bearer <key> or X-API-Key"
                    ),
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            ApiError::RateLimited(wait) => {
                let mut r = detail(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!("Too many requests; slow down"),
                );
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ApiError::Webhook(CoreError::InvalidTransition(t)) => {
                detail(StatusCode::CONFLICT, transition_body(t.from, t.to))
            }
            ApiError::Webhook(e) | ApiError::Core(e) => core_response(e),
        }
    }
}

/// A short label for a core error, for logs and metrics.
pub fn core_kind(e: &CoreError) -> &'static str {
    match e {
        // Refusals answered as FastAPI's 422 share its label.
        CoreError::Validation(_)
        | CoreError::StockAboveMaximum { .. }
        | CoreError::InvalidHeader { .. } => "validation",
        CoreError::ProductNotFound { .. } => "product_not_found",
        CoreError::OrderNotFound { .. } => "order_not_found",
        CoreError::LocationNotFound { .. } => "location_not_found",
        CoreError::DuplicateSku { .. } => "duplicate_sku",
        CoreError::DuplicateLocationCode { .. } => "duplicate_location_code",
        CoreError::StockAtOtherLocations { .. } => "stock_at_other_locations",
        CoreError::ProductHasOrders { .. } => "product_has_orders",
        CoreError::InsufficientStock { .. } => "insufficient_stock",
        CoreError::InvalidTransition(_) => "invalid_transition",
        CoreError::StatusConflict { .. } => "status_conflict",
        CoreError::InvalidSignature => "invalid_signature",
        CoreError::WebhookNotConfigured => "webhook_not_configured",
        CoreError::EventAlreadyProcessed { .. } => "event_replayed",
        CoreError::AmountMismatch { .. } => "amount_mismatch",
        CoreError::Unavailable(_) => "unavailable",
        CoreError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
        CoreError::IdempotencyKeyInFlight { .. } => "idempotency_key_in_flight",
        CoreError::OrderExpired { .. } => "order_expired",
        CoreError::PreconditionFailed { .. } => "precondition_failed",
        CoreError::StockChanged { .. } => "stock_changed",
        _ => "internal",
    }
}

/// The 503 detail when the database's disk refuses writes (full, read-only, failing).
pub const STORAGE_UNAVAILABLE: &str =
    "Storage full or read-only: the change was not made; reads still work, retry writes later";

/// Whether an SQLite store said its disk refused the write, anywhere in the error's causes.
fn storage_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<inventory_store_sqlite::SqliteError>()
            .is_some_and(inventory_store_sqlite::SqliteError::is_storage_failure)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

fn cents_json(cents: i64) -> Value {
    // Exact decimal text as a JSON number (serde_json keeps it with `arbitrary_precision`).
    let text = format!("{}.{:02}", cents / 100, (cents % 100).abs());
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn core_response(e: CoreError) -> Response {
    match e {
        CoreError::Validation(errors) => fastapi::response(&fastapi::body_errors(&errors)),
        // Valid input (the schema allows the delta) that the current stock cannot take: a
        // conflict, as going below zero is.
        CoreError::StockAboveMaximum { .. } => detail(
            StatusCode::CONFLICT,
            json!(format!(
                "The stock would exceed its maximum of {}",
                inventory_core::MAX_STOCK
            )),
        ),
        CoreError::InvalidHeader { header, problem } => {
            fastapi::response(&[Invalid::header(&header, &problem)])
        }
        e @ (CoreError::ProductNotFound { .. }
        | CoreError::OrderNotFound { .. }
        | CoreError::LocationNotFound { .. }) => {
            detail(StatusCode::NOT_FOUND, json!(e.to_string()))
        }
        e @ (CoreError::DuplicateSku { .. }
        | CoreError::DuplicateLocationCode { .. }
        | CoreError::StockAtOtherLocations { .. }) => {
            detail(StatusCode::CONFLICT, json!(e.to_string()))
        }
        CoreError::ProductHasOrders { id } => detail(
            StatusCode::CONFLICT,
            json!(format!(
                "Product with ID {id} has orders and cannot be deleted; order history is kept"
            )),
        ),
        // The seed's fields name the first short line; `lines` lists every short line of a
        // cart (absent for a stock adjustment).
        CoreError::InsufficientStock {
            product_id,
            requested,
            available,
            shortages,
        } => {
            let mut body = json!({
                "error": INSUFFICIENT_STOCK,
                "requested": requested.get(),
                "available": available.get(),
                "product_id": product_id,
            });
            if !shortages.is_empty() {
                body["lines"] = shortages
                    .iter()
                    .map(|s| {
                        let mut line = json!({
                            "line": s.line,
                            "product_id": s.product_id,
                            "requested": s.requested,
                            "available": s.available,
                        });
                        if let Some(location_id) = s.location_id {
                            line["location_id"] = json!(location_id);
                        }
                        line
                    })
                    .collect();
            }
            detail(StatusCode::CONFLICT, body)
        }
        CoreError::InvalidTransition(t) => {
            detail(StatusCode::BAD_REQUEST, transition_body(t.from, t.to))
        }
        CoreError::StatusConflict { id, .. } => detail(
            StatusCode::CONFLICT,
            json!(format!(
                "Order with ID {id} is being changed concurrently; retry"
            )),
        ),
        CoreError::InvalidSignature => {
            detail(StatusCode::UNAUTHORIZED, json!("Invalid webhook signature"))
        }
        CoreError::WebhookNotConfigured => {
            let mut r = detail(
                StatusCode::SERVICE_UNAVAILABLE,
                json!("Webhook processing is not configured on this server"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            r
        }
        CoreError::EventAlreadyProcessed { event_id } => detail(
            StatusCode::BAD_REQUEST,
            json!({
                "error": EVENT_REPLAYED,
                "event_id": event_id,
                "message": "This webhook event has already been processed",
            }),
        ),
        CoreError::AmountMismatch {
            order_id,
            expected,
            received,
        } => detail(
            StatusCode::CONFLICT,
            json!({
                "error": AMOUNT_MISMATCH,
                "order_id": order_id,
                "expected": cents_json(expected.cents()),
                "received": cents_json(received.cents()),
                "message": "Payment amount does not match the order total; the order stays unpaid",
            }),
        ),
        e @ CoreError::IdempotencyKeyReused { .. } => fastapi::response(&[Invalid::new(
            ["header", fastapi::IDEMPOTENCY_KEY_HEADER],
            e.to_string(),
            "idempotency_key_reused",
        )]),
        e @ CoreError::IdempotencyKeyInFlight { .. } => {
            let mut r = detail(StatusCode::CONFLICT, json!(e.to_string()));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        e @ CoreError::PreconditionFailed { id, current } => {
            let etag = crate::conditional::etag(current);
            let r = detail(
                StatusCode::PRECONDITION_FAILED,
                json!({"error": PRECONDITION_FAILED, "id": id, "etag": etag, "message": e.to_string()}),
            );
            crate::conditional::with_etag(r, current)
        }
        CoreError::StockChanged {
            product_id,
            expected,
            current,
        } => detail(
            StatusCode::CONFLICT,
            json!({"error": STOCK_CHANGED, "product_id": product_id,
                   "expected": expected.get(), "current": current.get(),
                   "message": format!("The stock is {current}, not {expected}; nothing was changed")}),
        ),
        e @ CoreError::OrderExpired { id } => detail(
            StatusCode::CONFLICT,
            json!({"error": ORDER_EXPIRED, "order_id": id, "message": e.to_string()}),
        ),
        CoreError::Unavailable(source) if storage_failure(source.as_ref()) => {
            // Not the client's doing, and not passing by itself: the operator must act.
            tracing::error!(error = %source, "the database's disk refuses writes");
            let mut r = detail(StatusCode::SERVICE_UNAVAILABLE, json!(STORAGE_UNAVAILABLE));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            r
        }
        CoreError::Unavailable(source) => {
            tracing::warn!(error = %source, "database unavailable");
            let mut r = detail(
                StatusCode::SERVICE_UNAVAILABLE,
                json!("Service temporarily unavailable"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        other => {
            tracing::error!(error = %other, "internal error");
            internal_error()
        }
    }
}
