//! `/health`, `/metrics`, `/openapi.json`.

use serde_json::json;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::error::{ApiError, json_response};
use crate::state::AppState;

pub(super) async fn health(state: &AppState) -> Result<Response, ApiError> {
    match state.inventory.health().await {
        Ok(()) => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            let mut r = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "unavailable", "detail": "Database unavailable"}),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(r)
        }
    }
}

pub(super) fn metrics(state: &AppState) -> Result<Response, ApiError> {
    state.gauges.record();
    let mut r = Response::new(state.metrics.render().into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

pub(super) fn openapi(state: &AppState) -> Result<Response, ApiError> {
    let mut r = Response::new(state.openapi_json.clone().into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
