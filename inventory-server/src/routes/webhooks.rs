//! `POST /webhooks/payment`.

use inventory_core::WebhookOutcome;
use inventory_core::webhook::HeaderLookup;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::error::{ApiError, json_response};
use crate::request::Request;
use crate::state::AppState;

pub(super) async fn payment(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    // The signature covers the raw bytes, so the body is not parsed (nor its content type
    // checked) before the core has verified it.
    let outcome = state
        .inventory
        .process_webhook(Headers(&req.headers), &req.body)
        .await;
    let label = match &outcome {
        Ok(WebhookOutcome::Paid { .. }) => "paid",
        Ok(WebhookOutcome::AlreadyPaid { .. }) => "already_paid",
        Ok(WebhookOutcome::Ignored { .. }) => "ignored",
        Ok(_) => "other",
        Err(e) => crate::error::core_kind(e),
    };
    metrics::counter!("webhook_events_total", "outcome" => label).increment(1);
    if matches!(outcome, Ok(WebhookOutcome::Paid { .. })) {
        crate::telemetry::count_status(inventory_core::OrderStatus::Paid, 1);
    }
    let body = match outcome.map_err(ApiError::Webhook)? {
        WebhookOutcome::Paid { order } | WebhookOutcome::AlreadyPaid { order } => json!({
            "status": "success",
            "message": format!("Order {} marked as {}", order.id, order.status),
            "order_id": order.id,
            "order_status": order.status,
        }),
        WebhookOutcome::Ignored { event } => json!({
            "status": "ignored",
            "message": format!("Event type '{event}' is not handled; recorded and ignored"),
        }),
        _ => json!({"status": "ignored", "message": "Event not handled"}),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// warp's headers, for the core's signature schemes.
struct Headers<'a>(&'a warp::http::HeaderMap);

/// What a header that is present but not visible ASCII (obs-text, UTF-8) reads as: a value every
/// check refuses (`X-Event-Id` is then a 422, a signature invalid), rather than "absent", which
/// would let the body hash stand in for an event id the sender did send.
const NOT_ASCII: &str = "\u{FFFD}";

impl HeaderLookup for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.to_str().unwrap_or(NOT_ASCII))
    }
}
