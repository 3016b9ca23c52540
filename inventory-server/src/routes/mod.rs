//! The route table and the dispatcher: which handler answers a method and a path.
//!
//! One table drives dispatch, the `Allow` header of 405 answers, and the test that checks
//! `/openapi.json` documents exactly what is served, so the three cannot drift apart.

mod docs;
mod locations;
mod operations;
mod orders;
mod products;
mod webhooks;

use inventory_core::idempotency::Idempotent;
use warp::http::Method;
use warp::reply::Response;

use crate::error::ApiError;
use crate::request::Request;
use crate::state::AppState;

pub use docs::{REDOC_JS_PATH, SWAGGER_PREFIX, swagger_config};

/// Every API route: a path template and the methods it accepts.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/products", &["GET", "POST"]),
    // Before `/products/{product_id}`: the first template that matches answers.
    (BULK_PATH, &["POST"]),
    ("/products/{product_id}", &["GET", "PUT", "DELETE"]),
    ("/products/{product_id}/adjustments", &["GET", "POST"]),
    ("/products/{product_id}/levels", &["GET"]),
    ("/locations", &["GET", "POST"]),
    ("/locations/{location_id}", &["GET"]),
    ("/transfers", &["POST"]),
    ("/orders", &["GET", "POST"]),
    ("/orders/{order_id}", &["GET", "PUT", "DELETE"]),
    ("/orders/{order_id}/events", &["GET"]),
    ("/webhooks/payment", &["POST"]),
    ("/health", &["GET"]),
    ("/metrics", &["GET"]),
    ("/openapi.json", &["GET"]),
    ("/docs", &["GET"]),
    ("/redoc", &["GET"]),
];

/// Many products created or updated in one step; its bodies have their own size limit.
pub const BULK_PATH: &str = "/products/bulk";

/// Whether a request's path (without `/v1`) is [`BULK_PATH`].
pub fn is_bulk(segments: &[String]) -> bool {
    segments.len() == 2 && segments[0] == "products" && segments[1] == "bulk"
}

/// The API version every answer names in [`API_VERSION_HEADER`].
pub const API_VERSION: &str = "1";
/// The header naming the version that answered.
pub const API_VERSION_HEADER: &str = "api-version";
/// The path prefix of the versioned routes.
pub const VERSION_PREFIX: &str = "/v1";

/// Removes a leading `v1` segment, returning the prefix the client used (`"/v1"` or `""`).
pub fn strip_version(segments: &mut Vec<String>) -> &'static str {
    if segments.first().map(String::as_str) == Some(&VERSION_PREFIX[1..]) {
        segments.remove(0);
        VERSION_PREFIX
    } else {
        ""
    }
}

/// Whether a route is one of the API's resources (products, orders, webhooks) rather than an
/// operational route (health, metrics, the document and its viewers).
pub fn is_resource(template: &str) -> bool {
    let first = template.trim_start_matches('/').split('/').next();
    matches!(
        first,
        Some("products" | "orders" | "webhooks" | "locations" | "transfers")
    )
}

/// The path `/openapi.json` lists for a route: the `/v1` form for the API's resources; the
/// operational routes are not part of the versioned API and keep their plain paths (both forms
/// are served for every route).
pub fn documented_path(template: &str) -> String {
    if is_resource(template) {
        format!("{VERSION_PREFIX}{template}")
    } else {
        template.to_owned()
    }
}

/// Finds the route template matching `segments`, if any.
pub fn match_route(segments: &[String]) -> Option<(&'static str, &'static [&'static str])> {
    ROUTES.iter().copied().find(|(template, _)| {
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(segments)
                .all(|(p, s)| p.starts_with('{') || *p == s)
    })
}

/// Answers a request; `route` is the matched template (for logs and metrics).
pub async fn dispatch(
    state: &AppState,
    req: &Request,
) -> (&'static str, Result<Response, ApiError>) {
    if let Some(result) = docs::asset(state, req) {
        return ("/docs/{asset}", result);
    }
    let Some((template, methods)) = match_route(&req.segments) else {
        return ("unmatched", Err(ApiError::NotFound));
    };
    if !methods.contains(&req.method.as_str()) {
        return (template, Err(ApiError::MethodNotAllowed(methods)));
    }
    let id = req.segments.get(1).map(String::as_str).unwrap_or_default();
    let m = &req.method;
    let result = match template {
        "/products" if m == Method::GET => products::list(state, req).await,
        "/products" => products::create(state, req).await,
        BULK_PATH => products::bulk(state, req).await,
        "/products/{product_id}" if m == Method::GET => products::get(state, id).await,
        "/products/{product_id}" if m == Method::PUT => products::update(state, id, req).await,
        "/products/{product_id}" => products::delete(state, id, req).await,
        "/products/{product_id}/adjustments" if m == Method::GET => {
            products::list_adjustments(state, id, req).await
        }
        "/products/{product_id}/adjustments" => products::adjust(state, id, req).await,
        "/products/{product_id}/levels" => locations::levels(state, id).await,
        "/locations" if m == Method::GET => locations::list(state).await,
        "/locations" => locations::create(state, req).await,
        "/locations/{location_id}" => locations::get(state, id).await,
        "/transfers" => locations::transfer(state, req).await,
        "/orders" if m == Method::GET => orders::list(state, req).await,
        "/orders" => orders::create(state, req).await,
        "/orders/{order_id}" if m == Method::GET => orders::get(state, id).await,
        "/orders/{order_id}" if m == Method::PUT => orders::update(state, id, req).await,
        "/orders/{order_id}" => orders::cancel(state, id, req).await,
        "/orders/{order_id}/events" => orders::events(state, id).await,
        "/webhooks/payment" => webhooks::payment(state, req).await,
        "/health" => operations::health(state).await,
        "/metrics" => operations::metrics(state),
        "/openapi.json" => operations::openapi(state),
        "/docs" => docs::swagger_index(state),
        "/redoc" => docs::redoc_index(),
        _ => Err(ApiError::NotFound),
    };
    (template, result)
}

/// A `Link: <…>; rel="next"` value for a full page ending at `last_id`, keeping `params`.
fn next_link(path: &str, params: &[(&str, String)], last_id: i64, limit: u32) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    q.append_pair("after", &last_id.to_string());
    q.append_pair("limit", &limit.to_string());
    format!("<{path}?{}>; rel=\"next\"", q.finish())
}

/// The answer to an idempotent create: 201 with the row and its `Location` (`at` of the row).
/// A replay answers the row created then, with `Idempotent-Replayed: true`; its JSON is written
/// the same way, so the bytes are the first answer's.
fn created<T: serde::Serialize>(result: Idempotent<T>, at: impl FnOnce(&T) -> String) -> Response {
    use warp::http::{HeaderValue, StatusCode, header};
    let replayed = result.is_replay();
    let row = result.into_inner();
    let mut r = crate::error::json_response(StatusCode::CREATED, &row);
    if let Ok(location) = HeaderValue::from_str(&at(&row)) {
        r.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// Reads `skip`, `limit` and `after` into a page.
fn page_from_query(q: &mut crate::request::QueryReader) -> inventory_core::Page {
    use inventory_core::Page;
    let skip = q.int("skip", 0, i64::MAX).unwrap_or(0);
    let limit = q
        .int("limit", 1, i64::from(Page::MAX_LIMIT))
        .unwrap_or(i64::from(Page::DEFAULT_LIMIT));
    let after = q.int("after", 0, i64::MAX);
    // Both are within range here; errors were recorded in `q` and are answered by `finish`.
    let page = Page::new(
        u64::try_from(skip).unwrap_or(0),
        u32::try_from(limit).unwrap_or(100),
    )
    .unwrap_or_default();
    match after {
        Some(a) => page.after(a),
        None => page,
    }
}

/// A 200 JSON response with an optional `Link` header.
fn json_list<T: serde::Serialize>(body: &[T], link: Option<String>) -> Response {
    let mut r = crate::error::json_response(warp::http::StatusCode::OK, body);
    if let Some(v) = link.and_then(|l| warp::http::HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(warp::http::header::LINK, v);
    }
    r
}
