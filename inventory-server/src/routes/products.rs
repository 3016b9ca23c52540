//! `/products` handlers: translate HTTP to `Inventory` calls and back.

use inventory_core::idempotency::Idempotent;
use inventory_core::{Adjustments, NewProduct, ProductBatch, ProductPatch};
use warp::http::StatusCode;
use warp::reply::Response;

use super::{created, json_list, next_link, page_from_query};
use crate::conditional::{if_match, with_etag};
use crate::error::{ApiError, json_response};
use crate::request::{QueryReader, Request, path_id};
use crate::state::AppState;

pub(super) async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let mut q = QueryReader::new(req);
    let page = page_from_query(&mut q);
    q.finish()?;
    // One query: a row past the page says whether a next page exists.
    let (products, more) = page.split(state.inventory.list_products(page.and_one_more()).await?);
    let link = match products.last() {
        Some(last) if more => Some(next_link(
            &format!("{}/products", req.base),
            &[],
            last.id,
            page.limit(),
        )),
        _ => None,
    };
    Ok(json_list(&products, link))
}

pub(super) async fn create(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let product = NewProduct::from_json(&req.json()?)?;
    let inv = &state.inventory;
    let result = match req.idempotency_key(inv, "POST /products")? {
        Some(key) => inv.create_product_idempotent(product, &key).await?,
        None => Idempotent::Created(inv.create_product(product).await?),
    };
    Ok(created(result, |p| {
        format!("{}/products/{}", req.base, p.id)
    }))
}

/// `POST /products/bulk`: 200 with what was done to each item (a batch both creates and
/// updates, so no single `Location`); a replay answers the first outcome.
pub(super) async fn bulk(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let batch = ProductBatch::from_json(&req.json()?)?;
    let inv = &state.inventory;
    let result = match req.idempotency_key(inv, "POST /products/bulk")? {
        Some(key) => inv.upsert_products_idempotent(&batch, &key).await?,
        None => Idempotent::Created(inv.upsert_products(&batch).await?),
    };
    let replayed = result.is_replay();
    let mut r = json_response(StatusCode::OK, &result.into_inner());
    if replayed {
        r.headers_mut().insert(
            "idempotent-replayed",
            warp::http::HeaderValue::from_static("true"),
        );
    }
    Ok(r)
}

pub(super) async fn get(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let product = state
        .inventory
        .get_product(path_id(id, "product_id")?)
        .await?;
    let version = product.version;
    Ok(with_etag(json_response(StatusCode::OK, &product), version))
}

pub(super) async fn update(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "product_id")?;
    let mut patch = ProductPatch::from_json(&req.json()?)?;
    if let Some(precondition) = if_match(req, state.require_if_match)? {
        patch = patch.with_precondition(precondition);
    }
    let product = state.inventory.update_product(id, patch).await?;
    let version = product.version;
    Ok(with_etag(json_response(StatusCode::OK, &product), version))
}

pub(super) async fn delete(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "product_id")?;
    let precondition = if_match(req, state.require_if_match)?;
    state
        .inventory
        .delete_product_if(id, precondition.as_ref())
        .await?;
    let mut r = Response::new(bytes::Bytes::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

pub(super) async fn adjust(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "product_id")?;
    let adjustments = Adjustments::from_json(&req.json()?)?;
    let product = state.inventory.adjust_stock(id, &adjustments).await?;
    Ok(json_response(StatusCode::OK, &product))
}

pub(super) async fn list_adjustments(
    state: &AppState,
    id: &str,
    req: &Request,
) -> Result<Response, ApiError> {
    let id = path_id(id, "product_id")?;
    let mut q = QueryReader::new(req);
    let page = page_from_query(&mut q);
    q.finish()?;
    // One query: a row past the page says whether a next page exists.
    let (movements, more) = page.split(
        state
            .inventory
            .list_movements(id, page.and_one_more())
            .await?,
    );
    let link = match movements.last() {
        Some(last) if more => Some(next_link(
            &format!("{}/products/{id}/adjustments", req.base),
            &[],
            last.id,
            page.limit(),
        )),
        _ => None,
    };
    Ok(json_list(&movements, link))
}
