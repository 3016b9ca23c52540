//! `/locations`, `/transfers` and `/products/{id}/levels`: stock kept per location.

use inventory_core::idempotency::Idempotent;
use inventory_core::{NewLocation, Transfer};
use warp::http::StatusCode;
use warp::reply::Response;

use super::created;
use crate::error::{ApiError, json_response};
use crate::request::{Request, path_id};
use crate::state::AppState;

/// `POST /locations`: 201 with the location and its `Location`.
pub(super) async fn create(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let location = NewLocation::from_json(&req.json()?)?;
    let location = state.inventory.create_location(location).await?;
    Ok(created(Idempotent::Created(location), |l| {
        format!("{}/locations/{}", req.base, l.id)
    }))
}

/// `GET /locations`: every location, by id (they are few, and never deleted).
pub(super) async fn list(state: &AppState) -> Result<Response, ApiError> {
    let locations = state.inventory.list_locations().await?;
    Ok(json_response(StatusCode::OK, &locations))
}

pub(super) async fn get(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, "location_id")?;
    let location = state.inventory.get_location(id).await?;
    Ok(json_response(StatusCode::OK, &location))
}

/// `GET /products/{id}/levels`: the product's stock at each location it has any.
pub(super) async fn levels(state: &AppState, id: &str) -> Result<Response, ApiError> {
    let id = path_id(id, "product_id")?;
    let levels = state.inventory.product_levels(id).await?;
    Ok(json_response(StatusCode::OK, &levels))
}

/// `POST /transfers`: 200 with the product's levels after the move.
pub(super) async fn transfer(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let transfer = Transfer::from_json(&req.json()?)?;
    let levels = state.inventory.transfer_stock(&transfer).await?;
    Ok(json_response(StatusCode::OK, &levels))
}
