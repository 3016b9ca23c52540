//! An `Idempotency-Key` whose first request is still running is refused (409 at the HTTP
//! edge) rather than run twice. The first request is held inside the store by a gate the test
//! opens, so the overlap is certain without any sleep.

use std::sync::Arc;

use async_trait::async_trait;
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::testing::{new_order, new_product, t0};
use inventory_core::time::OffsetDateTime;
use inventory_core::webhook::EventId;
use inventory_core::{
    Adjustments, BatchOutcome, Cart, Error, Inventory, Location, LocationLevel, MemoryStore,
    NewLocation, NewProduct, Order, OrderEvent, OrderFilter, Page, Product, ProductBatch,
    ProductPatch, Result, StatusChange, StockMovement, Store, Transfer,
};
use tokio::sync::{Notify, Semaphore};

/// A `MemoryStore` whose `place_order` waits at a gate.
#[derive(Clone)]
struct GatedStore {
    inner: MemoryStore,
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl Store for GatedStore {
    async fn place_order(
        &self,
        order: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>> {
        self.entered.notify_one();
        let _permit = self.gate.acquire().await.map_err(Error::backend)?;
        self.inner.place_order(order, at, key).await
    }
    async fn create_product(
        &self,
        p: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>> {
        self.inner.create_product(p, at, key).await
    }
    async fn get_product(&self, id: i64) -> Result<Product> {
        self.inner.get_product(id).await
    }
    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        self.inner.list_products(page).await
    }
    async fn update_product(
        &self,
        id: i64,
        p: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product> {
        self.inner.update_product(id, p, at).await
    }
    async fn delete_product(
        &self,
        id: i64,
        precondition: Option<&inventory_core::Precondition>,
    ) -> Result<()> {
        self.inner.delete_product(id, precondition).await
    }
    async fn adjust_stock(&self, id: i64, a: &Adjustments, at: OffsetDateTime) -> Result<Product> {
        self.inner.adjust_stock(id, a, at).await
    }
    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>> {
        self.inner.upsert_products(batch, at, key).await
    }
    async fn list_movements(&self, id: i64, page: Page) -> Result<Vec<StockMovement>> {
        self.inner.list_movements(id, page).await
    }
    async fn get_order(&self, id: i64) -> Result<Order> {
        self.inner.get_order(id).await
    }
    async fn list_orders(&self, f: OrderFilter, page: Page) -> Result<Vec<Order>> {
        self.inner.list_orders(f, page).await
    }
    async fn change_status(&self, id: i64, c: &StatusChange, at: OffsetDateTime) -> Result<Order> {
        self.inner.change_status(id, c, at).await
    }
    async fn order_history(&self, id: i64) -> Result<Vec<OrderEvent>> {
        self.inner.order_history(id).await
    }
    async fn expire_orders(
        &self,
        c: &StatusChange,
        b: OffsetDateTime,
        at: OffsetDateTime,
        l: u32,
    ) -> Result<Vec<Order>> {
        self.inner.expire_orders(c, b, at, l).await
    }
    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        self.inner.event_processed(id).await
    }
    async fn apply_event(
        &self,
        e: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        self.inner.apply_event(e, effect, at).await
    }
    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64> {
        self.inner.purge_idempotency_keys(before).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn create_location(&self, location: NewLocation) -> Result<Location> {
        self.inner.create_location(location).await
    }
    async fn list_locations(&self) -> Result<Vec<Location>> {
        self.inner.list_locations().await
    }
    async fn get_location(&self, id: i64) -> Result<Location> {
        self.inner.get_location(id).await
    }
    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        self.inner.product_levels(product_id).await
    }
    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        self.inner.transfer_stock(transfer, at).await
    }
}

#[tokio::test]
async fn a_key_in_flight_is_refused_then_replayed() {
    let store = GatedStore {
        inner: MemoryStore::new(),
        entered: Arc::new(Notify::new()),
        gate: Arc::new(Semaphore::new(0)),
    };
    let inv = Arc::new(
        Inventory::new(store.clone()).with_clock(inventory_core::clock::ManualClock::new(t0())),
    );
    let product = inv
        .create_product(new_product("GATE-1", 100, 10))
        .await
        .expect("create");
    let key = inv
        .idempotency_key("POST /orders", "retry-me", b"{}")
        .expect("key");

    let first = {
        let (inv, key) = (inv.clone(), key.clone());
        tokio::spawn(async move {
            inv.place_order_idempotent(new_order(product.id, 1), &key)
                .await
        })
    };
    store.entered.notified().await; // the first request is inside the store now
    match inv
        .place_order_idempotent(new_order(product.id, 1), &key)
        .await
    {
        Err(Error::IdempotencyKeyInFlight { key }) => assert_eq!(key, "retry-me"),
        other => panic!("expected IdempotencyKeyInFlight, got {other:?}"),
    }
    store.gate.add_permits(10); // let the first request finish

    let created = first.await.expect("task").expect("first request");
    assert!(matches!(created, Idempotent::Created(_)));
    let again = inv
        .place_order_idempotent(new_order(product.id, 1), &key)
        .await
        .expect("replay");
    assert!(
        matches!(again, Idempotent::Replayed(_)),
        "after it finished, the key replays"
    );
    assert_eq!(
        inv.get_product(product.id).await.expect("get").stock,
        9,
        "one order only"
    );
}
