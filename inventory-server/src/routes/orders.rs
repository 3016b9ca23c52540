//! `/orders` handlers.

use inventory_core::idempotency::Idempotent;
use inventory_core::time::OffsetDateTime;
use inventory_core::time::format_description::well_known::Rfc3339;
use inventory_core::{Cart, Error, OrderFilter, OrderStatus, status_update_from_json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::{created, json_list, next_link, page_from_query};
use crate::conditional::{if_match, with_etag};
use crate::error::{ApiError, json_response};
use crate::request::{QueryReader, Request, path_id};
use crate::state::AppState;
use crate::telemetry::count_status;

pub(super) async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let mut q = QueryReader::new(req);
    let page = page_from_query(&mut q);
    let status = q.parsed("status", "enum", |s| s.parse::<OrderStatus>());
    let product_id = q.int("product_id", 1, i64::MAX);
    let created_after = q.parsed("created_after", "datetime_parsing", parse_instant);
    let created_before = q.parsed("created_before", "datetime_parsing", parse_instant);
    q.finish()?;
    let filter = OrderFilter {
        status,
        product_id,
        created_after,
        created_before,
    };
    // One query: a row past the page says whether a next page exists.
    let (orders, more) = page.split(
        state
            .inventory
            .list_orders(filter, page.and_one_more())
            .await?,
    );
    let link = match orders.last() {
        Some(last) if more => {
            let mut params = Vec::new();
            if let Some(s) = status {
                params.push(("status", s.to_string()));
            }
            if let Some(p) = product_id {
                params.push(("product_id", p.to_string()));
            }
            for (name, t) in [
                ("created_after", created_after),
                ("created_before", created_before),
            ] {
                if let Some(text) = t.and_then(|t| t.format(&Rfc3339).ok()) {
                    params.push((name, text));
                }
            }
            Some(next_link(
                &format!("{}/orders", req.base),
                &params,
                last.id,
                page.limit(),
            ))
        }
        _ => None,
    };
    Ok(json_list(&orders, link))
}

/// An instant in RFC 3339 (`2026-11-01T00:00:00Z`, `2026-11-01T09:30:00.5+01:00`). A `+` sent
/// unencoded in a query string arrives as a space; a space cannot be in such a text otherwise,
/// so it is read as the `+` it was.
fn parse_instant(text: &str) -> Result<OffsetDateTime, &'static str> {
    OffsetDateTime::parse(&text.replace(' ', "+"), &Rfc3339)
        .map_err(|_| "Input should be an RFC 3339 date-time, e.g. 2026-11-01T00:00:00Z")
}

pub(super) async fn create(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let order = Cart::from_json(&req.json()?)?;
    let inv = &state.inventory;
    let result = match req.idempotency_key(inv, "POST /orders")? {
        Some(key) => inv.place_order_idempotent(order, &key).await,
        None => inv.place_order(order).await.map(Idempotent::Created),
    };
    match result {
        Ok(result) => {
            if matches!(result, Idempotent::Created(_)) {
                metrics::counter!("orders_placed_total").increment(1);
            }
            Ok(created(result, |o| format!("{}/orders/{}", req.base, o.id)))
        }
        Err(e @ Error::InsufficientStock { .. }) => {
            metrics::counter!("stock_outs_total").increment(1);
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn get(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let order = state.inventory.get_order(path_id(id, "order_id")?).await?;
    let version = order.version;
    Ok(with_etag(json_response(StatusCode::OK, &order), version))
}

pub(super) async fn update(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "order_id")?;
    let status = status_update_from_json(&req.json()?)?;
    let precondition = if_match(req, state.require_if_match)?;
    let order = state
        .inventory
        .set_order_status_if(id, status, precondition.as_ref())
        .await?;
    count_status(order.status, 1);
    let version = order.version;
    Ok(with_etag(json_response(StatusCode::OK, &order), version))
}

pub(super) async fn cancel(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "order_id")?;
    let precondition = if_match(req, state.require_if_match)?;
    state
        .inventory
        .cancel_order_if(id, precondition.as_ref())
        .await?;
    count_status(OrderStatus::Canceled, 1);
    let mut r = Response::new(bytes::Bytes::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

pub(super) async fn events(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let events = state
        .inventory
        .order_history(path_id(id, "order_id")?)
        .await?;
    Ok(json_response(StatusCode::OK, &events))
}
