//! `MemoryStore`: a complete, correct store in memory, for embedding, tests and small tools.

mod levels;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::allocation::{Cart, LocationLevel};
use crate::batch::{Adjustments, BatchOutcome, ProductBatch, UpsertPlan};
use crate::error::{Error, Result};
use crate::history::{ChangeSource, OrderEvent};
use crate::idempotency::{self, IdempotencyKey, Idempotent, StoredKey, Verdict};
use crate::ledger::{MovementKind, StockMovement};
use crate::location::{
    DEFAULT_LOCATION, LevelChange, Location, LocationCode, LocationName, NewLocation, Transfer,
};
use crate::order::{Order, OrderFilter, Page};
use crate::placement::StockedProduct;
use crate::product::{NewProduct, Product, ProductPatch};
use crate::status::{OrderStatus, StatusChange};
use crate::store::{EventEffect, EventRecord, Store};
use crate::units::StockDelta;
use crate::version::Precondition;
use crate::webhook::EventId;

/// A store in memory. Every operation holds one mutex for its whole duration, which makes each
/// one atomic; clones share the same data. Nothing survives the process.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        let mut state = State::default();
        // What every database's first migration creates.
        let default = NewLocation::new(
            LocationCode::parse("default").unwrap_or_else(|_| unreachable!("a valid code")),
            LocationName::parse("Default").unwrap_or_else(|_| unreachable!("a valid name")),
            0,
        )
        .unwrap_or_else(|_| unreachable!("priority 0 is in range"));
        state
            .locations
            .insert(DEFAULT_LOCATION, default.into_location(DEFAULT_LOCATION));
        state.next_location = DEFAULT_LOCATION;
        MemoryStore {
            state: Arc::new(Mutex::new(state)),
        }
    }
}

#[derive(Debug)]
struct KeyRecord {
    fingerprint: String,
    created_at: OffsetDateTime,
    snapshot: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    products: BTreeMap<i64, Product>,
    /// The id holding each SKU: the unique index a database keeps, so that a create does not
    /// scan every product.
    skus: HashMap<crate::Sku, i64>,
    orders: BTreeMap<i64, Order>,
    movements: Vec<StockMovement>,
    history: Vec<OrderEvent>,
    events: HashSet<String>,
    keys: HashMap<(&'static str, String), KeyRecord>,
    next_product: i64,
    next_order: i64,
    next_movement: i64,
    locations: BTreeMap<i64, Location>,
    /// `(product, location)`: `(on_hand, committed)`.
    levels: BTreeMap<(i64, i64), (i64, i64)>,
    next_location: i64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below validates first and writes last.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn page_of<T: Clone>(rows: impl Iterator<Item = (i64, T)>, page: Page) -> Vec<T> {
    rows.filter(|(id, _)| page.after_id().is_none_or(|a| *id > a))
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
        .take(page.limit() as usize)
        .map(|(_, t)| t)
        .collect()
}

impl State {
    fn product_mut(&mut self, id: i64) -> Result<&mut Product> {
        self.products
            .get_mut(&id)
            .ok_or(Error::ProductNotFound { id })
    }

    fn sku_taken(&self, sku: &crate::Sku, except: Option<i64>) -> bool {
        self.skus.get(sku).is_some_and(|id| Some(*id) != except)
    }

    /// Writes `product` over (or as) its row, keeping the SKU index in step.
    fn put_product(&mut self, product: Product) {
        if let Some(old) = self.products.insert(product.id, product.clone())
            && old.sku != product.sku
        {
            self.skus.remove(&old.sku);
        }
        self.skus.insert(product.sku, product.id);
    }

    /// Inserts a product whose SKU is free, with its `initial` ledger row.
    fn insert_product(&mut self, p: NewProduct, at: OffsetDateTime) -> Product {
        self.next_product += 1;
        let product = p.into_product(self.next_product);
        self.put_product(product.clone());
        let initial = LevelChange::initial(product.id, product.stock);
        self.apply_levels(&[initial], MovementKind::Initial, None, None, at);
        product
    }

    #[allow(clippy::too_many_arguments)]
    fn record_movement(
        &mut self,
        product_id: i64,
        location_id: i64,
        delta: StockDelta,
        kind: MovementKind,
        reason: Option<&str>,
        order_id: Option<i64>,
        at: OffsetDateTime,
    ) {
        // A counter, not the length: deleting a product removes rows, and ids must never repeat.
        self.next_movement += 1;
        let id = self.next_movement;
        let reason = reason.unwrap_or(kind.as_str()).to_owned();
        self.movements.push(StockMovement {
            id,
            product_id,
            delta,
            kind,
            reason,
            order_id,
            location_id,
            created_at: at,
        });
    }

    fn record_history(
        &mut self,
        order_id: i64,
        from: Option<OrderStatus>,
        to: OrderStatus,
        source: &ChangeSource,
        at: OffsetDateTime,
    ) {
        let id = self.history.len() as i64 + 1;
        self.history.push(OrderEvent {
            id,
            order_id,
            from_status: from,
            to_status: to,
            source: source.clone(),
            created_at: at,
        });
    }

    /// The snapshot to replay for a key, `None` to proceed, as core's verdict says; an expired
    /// key is forgotten.
    fn check_key<T: serde::de::DeserializeOwned>(
        &mut self,
        key: Option<&IdempotencyKey>,
    ) -> Result<Option<T>> {
        let Some(k) = key else { return Ok(None) };
        let id = (k.scope(), k.key().to_owned());
        let Some(found) = self.keys.get(&id) else {
            return Ok(None);
        };
        let stored = StoredKey {
            fingerprint: &found.fingerprint,
            created_at: found.created_at,
        };
        match k.verdict(&stored)? {
            Verdict::Replay => idempotency::restore(&found.snapshot).map(Some),
            // `store_key` overwrites it only if the create succeeds.
            _ => Ok(None),
        }
    }

    fn store_key(
        &mut self,
        key: Option<&IdempotencyKey>,
        snapshot: Option<Vec<u8>>,
        at: OffsetDateTime,
    ) {
        if let (Some(k), Some(snapshot)) = (key, snapshot) {
            let record = KeyRecord {
                fingerprint: k.fingerprint().to_owned(),
                created_at: at,
                snapshot,
            };
            self.keys.insert((k.scope(), k.key().to_owned()), record);
        }
    }

    fn change_status(
        &mut self,
        id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order> {
        let t = change.transition();
        let order = self.orders.get(&id).ok_or(Error::OrderNotFound { id })?;
        if order.status != t.from() {
            return Err(change.conflict(id, order.status));
        }
        if t.is_noop() {
            return Ok(order.clone());
        }
        let order = order.clone();
        if change.restock().is_some() {
            // Every line's units back, all or none: each new stock is checked before any is set.
            let mut restored = BTreeMap::new();
            for line in &order.lines {
                let product_id = line.product_id;
                let now = match restored.get(&product_id) {
                    Some(&stock) => stock,
                    None => self.product_mut(product_id)?.stock,
                };
                let back = StockDelta::returning(line.quantity);
                let after = now
                    .apply(back)
                    .map_err(|_| Error::StockAboveMaximum { product_id })?;
                restored.insert(product_id, after);
            }
            for (product_id, stock) in restored {
                let p = self.product_mut(product_id)?;
                p.stock = stock;
                p.version = p.version.next();
            }
        }
        let kind = change.ledger_kind();
        self.apply_levels(&change.level_changes(&order), kind, None, Some(id), at);
        self.record_history(id, Some(t.from()), t.to(), change.source(), at);
        let order = self
            .orders
            .get_mut(&id)
            .ok_or(Error::OrderNotFound { id })?;
        order.status = t.to();
        order.updated_at = at;
        order.version = order.version.next();
        Ok(order.clone())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_product(
        &self,
        p: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>> {
        let mut s = self.lock();
        if let Some(replay) = s.check_key(key)? {
            return Ok(Idempotent::Replayed(replay));
        }
        if s.sku_taken(p.sku(), None) {
            return Err(Error::DuplicateSku {
                sku: p.sku().clone(),
            });
        }
        let product = s.insert_product(p, at);
        // Serialized only when a key will keep it (it costs more than the rest of the call).
        let snapshot = key.map(|_| idempotency::snapshot(&product)).transpose()?;
        s.store_key(key, snapshot, at);
        Ok(Idempotent::Created(product))
    }

    async fn get_product(&self, id: i64) -> Result<Product> {
        self.lock()
            .products
            .get(&id)
            .cloned()
            .ok_or(Error::ProductNotFound { id })
    }

    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        let s = self.lock();
        Ok(page_of(
            s.products.iter().map(|(id, p)| (*id, p.clone())),
            page,
        ))
    }

    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product> {
        let mut s = self.lock();
        let old = s.product_mut(id)?.clone();
        // Preconditions first (RFC 9110 §13.2.2), then the SKU, as every store.
        let product = patch.apply_to(&old)?;
        if let Some(sku) = patch.sku()
            && s.sku_taken(sku, Some(id))
        {
            return Err(Error::DuplicateSku { sku: sku.clone() });
        }
        let set = if product.stock != old.stock {
            let delta = old.stock.delta_to(product.stock);
            Some(LevelChange::set_stock(id, delta, &s.levels_of(id))?)
        } else {
            None
        };
        s.put_product(product.clone());
        s.apply_levels(set.as_slice(), MovementKind::Set, None, None, at);
        Ok(product)
    }

    async fn delete_product(&self, id: i64, precondition: Option<&Precondition>) -> Result<()> {
        let mut s = self.lock();
        let version = s.product_mut(id)?.version;
        crate::version::check(precondition, id, version)?;
        if s.orders.values().any(|o| o.has_product(id)) {
            return Err(Error::ProductHasOrders { id });
        }
        if let Some(gone) = s.products.remove(&id) {
            s.skus.remove(&gone.sku);
        }
        s.movements.retain(|m| m.product_id != id);
        s.levels.retain(|(p, _), _| *p != id);
        Ok(())
    }

    async fn adjust_stock(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> Result<Product> {
        let mut s = self.lock();
        let levels = s.levels_of(id);
        let p = s.product_mut(id)?;
        let (stock, changes) = adjustments.plan(id, p.stock, &levels)?;
        p.stock = stock;
        p.version = p.version.next();
        let product = p.clone();
        for (a, change) in adjustments.as_slice().iter().zip(&changes) {
            let reason = Some(a.reason().as_str());
            let kind = MovementKind::Adjustment;
            s.apply_levels(std::slice::from_ref(change), kind, reason, None, at);
        }
        Ok(product)
    }

    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>> {
        let mut s = self.lock();
        if let Some(replay) = s.check_key(key)? {
            return Ok(Idempotent::Replayed(replay));
        }
        // Every plan is decided before anything is written, so the batch cannot half-apply.
        let plans: Vec<UpsertPlan> = batch
            .items()
            .iter()
            .map(|item| {
                let existing = s.skus.get(item.sku()).and_then(|id| s.products.get(id));
                item.upsert_onto(existing)
            })
            .collect();
        let mut sets = Vec::new();
        for plan in &plans {
            if let UpsertPlan::Update {
                product,
                stock_delta: Some(delta),
            } = plan
            {
                let levels = s.levels_of(product.id);
                sets.push(LevelChange::set_stock(product.id, *delta, &levels)?);
            }
        }
        let mut sets = sets.into_iter();
        let mut items = Vec::with_capacity(plans.len());
        for (item, plan) in batch.items().iter().zip(plans) {
            let created = match &plan {
                UpsertPlan::Create => Some(s.insert_product(item.clone(), at)),
                UpsertPlan::Update {
                    product,
                    stock_delta,
                } => {
                    s.put_product(product.clone());
                    if stock_delta.is_some()
                        && let Some(set) = sets.next()
                    {
                        s.apply_levels(&[set], MovementKind::Set, None, None, at);
                    }
                    None
                }
                UpsertPlan::Unchanged(_) => None,
            };
            items.push(plan.outcome(created)?);
        }
        let outcome = BatchOutcome::new(items);
        let snapshot = key.map(|_| idempotency::snapshot(&outcome)).transpose()?;
        s.store_key(key, snapshot, at);
        Ok(Idempotent::Created(outcome))
    }

    async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>> {
        let s = self.lock();
        if !s.products.contains_key(&product_id) {
            return Err(Error::ProductNotFound { id: product_id });
        }
        let rows = s
            .movements
            .iter()
            .filter(|m| m.product_id == product_id)
            .map(|m| (m.id, m.clone()));
        Ok(page_of(rows, page))
    }

    async fn place_order(
        &self,
        cart: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>> {
        let mut s = self.lock();
        if let Some(replay) = s.check_key(key)? {
            return Ok(Idempotent::Replayed(replay));
        }
        let mut products = BTreeMap::new();
        for id in cart.lock_order() {
            if let Some(p) = s.products.get(&id) {
                let (stock, price) = (p.stock, p.price);
                let levels = s.levels_of(id);
                products.insert(
                    id,
                    StockedProduct {
                        stock,
                        price,
                        levels,
                    },
                );
            }
        }
        let placement = cart.place(&products)?;
        let id = s.next_order + 1;
        let taken: Vec<_> = placement
            .lines()
            .iter()
            .map(|l| (l.line.product_id, l.stock_left))
            .collect();
        let changes = placement.level_changes();
        let order = placement.into_order(id, at);
        let snapshot = key.map(|_| idempotency::snapshot(&order)).transpose()?;
        for (product_id, left) in taken {
            let p = s.product_mut(product_id)?;
            p.stock = left;
            p.version = p.version.next();
        }
        s.apply_levels(&changes, MovementKind::OrderPlaced, None, Some(id), at);
        s.next_order = id;
        s.orders.insert(id, order.clone());
        s.record_history(id, None, OrderStatus::Pending, &ChangeSource::Api, at);
        s.store_key(key, snapshot, at);
        Ok(Idempotent::Created(order))
    }

    async fn get_order(&self, id: i64) -> Result<Order> {
        self.lock()
            .orders
            .get(&id)
            .cloned()
            .ok_or(Error::OrderNotFound { id })
    }

    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        let s = self.lock();
        let rows = s
            .orders
            .iter()
            .filter(|(_, o)| filter.status.is_none_or(|st| o.status == st))
            .filter(|(_, o)| filter.product_id.is_none_or(|p| o.has_product(p)))
            .filter(|(_, o)| filter.admits_creation(o.created_at))
            .map(|(id, o)| (*id, o.clone()));
        Ok(page_of(rows, page))
    }

    async fn change_status(
        &self,
        id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order> {
        self.lock().change_status(id, change, at)
    }

    async fn order_history(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
        let s = self.lock();
        if !s.orders.contains_key(&order_id) {
            return Err(Error::OrderNotFound { id: order_id });
        }
        Ok(s.history
            .iter()
            .filter(|e| e.order_id == order_id)
            .cloned()
            .collect())
    }

    async fn expire_orders(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>> {
        let mut s = self.lock();
        let from = change.transition().from();
        let mut due: Vec<(OffsetDateTime, i64)> = s
            .orders
            .values()
            .filter(|o| o.status == from && o.created_at < created_before)
            .map(|o| (o.created_at, o.id))
            .collect();
        // Oldest first, as the trait says (ids need not follow creation times).
        due.sort_unstable();
        due.truncate(limit as usize);
        due.into_iter()
            .map(|(_, id)| s.change_status(id, change, at))
            .collect()
    }

    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        Ok(self.lock().events.contains(id.as_str()))
    }

    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        let mut s = self.lock();
        for key in event.keys() {
            if s.events.contains(key.as_str()) {
                return Err(EventRecord::already_processed(key));
            }
        }
        let order = match effect {
            EventEffect::RecordOnly => None,
            EventEffect::ChangeStatus { order_id, change } => {
                Some(s.change_status(*order_id, change, at)?)
            }
        };
        for key in event.keys() {
            s.events.insert(key.as_str().to_owned());
        }
        Ok(order)
    }

    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
        let mut s = self.lock();
        let before = s.keys.len();
        s.keys.retain(|_, r| r.created_at >= created_before);
        Ok((before - s.keys.len()) as u64)
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn create_location(&self, location: NewLocation) -> Result<Location> {
        self.lock().create_location(location)
    }

    async fn list_locations(&self) -> Result<Vec<Location>> {
        Ok(self.lock().locations.values().cloned().collect())
    }

    async fn get_location(&self, id: i64) -> Result<Location> {
        self.lock()
            .locations
            .get(&id)
            .cloned()
            .ok_or(Error::LocationNotFound { id })
    }

    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        let s = self.lock();
        if !s.products.contains_key(&product_id) {
            return Err(Error::ProductNotFound { id: product_id });
        }
        Ok(s.levels_of(product_id))
    }

    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        self.lock().transfer(transfer, at)
    }
}
