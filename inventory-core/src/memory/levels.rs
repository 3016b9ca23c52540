//! The memory store's locations and levels: reading a product's levels, writing core's level
//! changes with their ledger rows, creating locations, transfers.

use time::OffsetDateTime;

use super::State;
use crate::allocation::LocationLevel;
use crate::error::{Error, Result};
use crate::ledger::MovementKind;
use crate::location::{LevelChange, Location, NewLocation, Transfer};
use crate::units::Stock;

impl State {
    /// The product's levels, by location id, with each location's priority.
    pub(super) fn levels_of(&self, product_id: i64) -> Vec<LocationLevel> {
        self.levels
            .range((product_id, i64::MIN)..=(product_id, i64::MAX))
            .filter_map(|(&(_, loc), &(on_hand, committed))| {
                let priority = self.locations.get(&loc).map_or(0, |l| l.priority);
                let (on_hand, committed) = (Stock::new(on_hand).ok()?, Stock::new(committed).ok()?);
                LocationLevel::new(loc, priority, on_hand, committed).ok()
            })
            .collect()
    }

    /// Writes core's level changes, each with its ledger row of `kind` when its available units
    /// move. Core decided them on these levels, so they stay in range.
    pub(super) fn apply_levels(
        &mut self,
        changes: &[LevelChange],
        kind: MovementKind,
        reason: Option<&str>,
        order_id: Option<i64>,
        at: OffsetDateTime,
    ) {
        for c in changes {
            let level = self
                .levels
                .entry((c.product_id, c.location_id))
                .or_insert((0, 0));
            level.0 += c.on_hand.get();
            level.1 += c.committed.get();
            if let Some(delta) = c.ledger_delta() {
                self.record_movement(
                    c.product_id,
                    c.location_id,
                    delta,
                    kind,
                    reason,
                    order_id,
                    at,
                );
            }
        }
    }

    pub(super) fn create_location(&mut self, location: NewLocation) -> Result<Location> {
        if self.locations.values().any(|l| l.code == *location.code()) {
            return Err(Error::DuplicateLocationCode {
                code: location.code().clone(),
            });
        }
        self.next_location += 1;
        let location = location.into_location(self.next_location);
        self.locations.insert(location.id, location.clone());
        Ok(location)
    }

    pub(super) fn transfer(
        &mut self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        let id = transfer.product_id();
        self.product_mut(id)?;
        for loc in [transfer.from_location(), transfer.to_location()] {
            if !self.locations.contains_key(&loc) {
                return Err(Error::LocationNotFound { id: loc });
            }
        }
        let [out, into] = transfer.plan(&self.levels_of(id))?;
        self.apply_levels(&[out], MovementKind::TransferOut, None, None, at);
        self.apply_levels(&[into], MovementKind::TransferIn, None, None, at);
        Ok(self.levels_of(id))
    }
}
