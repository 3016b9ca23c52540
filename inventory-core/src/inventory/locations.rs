//! The location operations of [`Inventory`]: locations, levels, transfers, and the existence
//! check of the locations a request names.

use super::Inventory;
use crate::allocation::{Cart, LocationLevel};
use crate::batch::Adjustments;
use crate::error::{Error, Result};
use crate::location::{Location, NewLocation, Transfer};
use crate::store::Store;
use crate::validation::{FieldError, PathSegment, Problem};

impl<S: Store> Inventory<S> {
    /// [`Error::LocationNotFound`] for the first of `ids` that names no location. Locations are
    /// never deleted, so a location found here still exists when the store's step runs.
    pub(super) async fn check_locations(&self, ids: Vec<i64>) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            if seen.insert(id) {
                self.store.get_location(id).await?;
            }
        }
        Ok(())
    }

    /// The locations `adjustments` name, checked after the product: a missing one is a
    /// validation error on its `location_id` (`2.location_id` in a list of several).
    pub(super) async fn check_adjusted_locations(
        &self,
        product_id: i64,
        adjustments: &Adjustments,
    ) -> Result<()> {
        let list = adjustments.as_slice();
        if list.iter().all(|a| a.location_id().is_none()) {
            return Ok(());
        }
        self.store.get_product(product_id).await?;
        for (i, a) in list.iter().enumerate() {
            let Some(id) = a.location_id() else { continue };
            match self.store.get_location(id).await {
                Ok(_) => {}
                Err(Error::LocationNotFound { id }) => {
                    let mut path = Vec::with_capacity(2);
                    if list.len() > 1 {
                        path.push(PathSegment::Index(i));
                    }
                    path.push(PathSegment::Field("location_id".to_owned()));
                    let problem = Problem::UnknownLocation { id };
                    return Err(Error::Validation(FieldError::new(path, problem).into()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates a location (`POST /locations`).
    pub async fn create_location(&self, location: NewLocation) -> Result<Location> {
        self.store.create_location(location).await
    }

    /// Every location, by id.
    pub async fn list_locations(&self) -> Result<Vec<Location>> {
        self.store.list_locations().await
    }

    /// Reads a location.
    pub async fn get_location(&self, id: i64) -> Result<Location> {
        self.store.get_location(id).await
    }

    /// A product's stock at each location it has any (`GET /products/{id}/levels`).
    pub async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        self.store.product_levels(product_id).await
    }

    /// Moves units of one product between two locations, atomically; returns its levels after.
    pub async fn transfer_stock(&self, transfer: &Transfer) -> Result<Vec<LocationLevel>> {
        self.store.get_product(transfer.product_id()).await?;
        self.check_locations(vec![transfer.from_location(), transfer.to_location()])
            .await?;
        self.store.transfer_stock(transfer, self.now()).await
    }
}

/// The locations a cart's lines name.
pub(super) fn pinned(cart: &Cart) -> Vec<i64> {
    cart.lines()
        .iter()
        .filter_map(|l| l.location_id())
        .collect()
}
