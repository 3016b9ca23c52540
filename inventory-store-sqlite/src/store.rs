//! `impl Store for SqliteStore`: each operation is one closure over the SQL of [`crate::sql`],
//! queued to the writer (writes) or the readers (reads).

use async_trait::async_trait;
use inventory_core::idempotency::{IdempotencyKey, Idempotent, restore, snapshot};
use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::webhook::EventId;
use inventory_core::{
    Adjustments, BatchOutcome, Cart, Location, LocationLevel, NewLocation, NewProduct, Order,
    OrderEvent, OrderFilter, Page, Precondition, Product, ProductBatch, ProductPatch, Result,
    StatusChange, StockMovement, Store, Transfer,
};
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::SqliteStore;
use crate::sql::{self, to_db_time};

#[async_trait]
impl Store for SqliteStore {
    async fn create_product(
        &self,
        product: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>> {
        let at = to_db_time(at)?;
        let key = key.cloned();
        // The key's lookup, the create and the key's record are one command: one savepoint.
        self.write(move |c| {
            let create = |c: &Connection| sql::create_product(c, product, at);
            sql::idempotent(c, key.as_ref(), at, create, snapshot, restore)
        })
        .await
    }

    async fn get_product(&self, id: i64) -> Result<Product> {
        self.read(move |c| sql::get_product(c, id)).await
    }

    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        self.read(move |c| sql::list_products(c, page)).await
    }

    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product> {
        if patch.is_empty() {
            // Nothing to write: the product as it is (or not found), without touching it.
            return self.get_product(id).await;
        }
        let at = to_db_time(at)?;
        self.write(move |c| sql::update_product(c, id, &patch, at))
            .await
    }

    async fn delete_product(&self, id: i64, precondition: Option<&Precondition>) -> Result<()> {
        let precondition = precondition.cloned();
        self.write(move |c| sql::delete_product(c, id, precondition.as_ref()))
            .await
    }

    async fn adjust_stock(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> Result<Product> {
        let at = to_db_time(at)?;
        let adjustments = adjustments.clone();
        self.write(move |c| sql::adjust_stock(c, id, &adjustments, at))
            .await
    }

    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>> {
        let at = to_db_time(at)?;
        let (batch, key) = (batch.clone(), key.cloned());
        // One command, so one savepoint: the key, and every item, or nothing.
        self.write(move |c| {
            let upsert = |c: &Connection| sql::upsert_products(c, &batch, at);
            sql::idempotent(c, key.as_ref(), at, upsert, snapshot, restore)
        })
        .await
    }

    async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>> {
        self.read(move |c| sql::list_movements(c, product_id, page))
            .await
    }

    async fn place_order(
        &self,
        order: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>> {
        let at = to_db_time(at)?;
        let key = key.cloned();
        self.write(move |c| {
            let place = |c: &Connection| sql::place_order(c, &order, at);
            sql::idempotent(c, key.as_ref(), at, place, snapshot, restore)
        })
        .await
    }

    async fn get_order(&self, id: i64) -> Result<Order> {
        self.read(move |c| sql::get_order(c, id)).await
    }

    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        self.read(move |c| sql::list_orders(c, filter, page)).await
    }

    async fn change_status(
        &self,
        order_id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order> {
        let at = to_db_time(at)?;
        let change = change.clone();
        // Through the writer even when a no-op: the check must see the latest committed state,
        // and it is answered in the same order as the writes around it.
        self.write(move |c| sql::change_status(c, order_id, &change, at))
            .await
    }

    async fn order_history(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
        self.read(move |c| sql::order_history(c, order_id)).await
    }

    async fn expire_orders(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>> {
        let (created_before, at) = (to_db_time(created_before)?, to_db_time(at)?);
        let change = change.clone();
        self.write(move |c| sql::expire_orders(c, &change, created_before, at, limit))
            .await
    }

    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        let id = id.as_str().to_owned();
        self.read(move |c| sql::event_processed(c, &id)).await
    }

    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        let at = to_db_time(at)?;
        let (event, effect) = (event.clone(), effect.clone());
        self.write(move |c| sql::apply_event(c, &event, &effect, at))
            .await
    }

    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
        let created_before = to_db_time(created_before)?;
        self.write(move |c| sql::purge_idempotency_keys(c, created_before))
            .await
    }

    async fn ping(&self) -> Result<()> {
        // Through the writer: healthy means the writer is alive and the file answers, not only
        // that some reader can read.
        self.write(sql::ping).await
    }

    async fn create_location(&self, location: NewLocation) -> Result<Location> {
        self.write(move |c| sql::create_location(c, location)).await
    }

    async fn list_locations(&self) -> Result<Vec<Location>> {
        self.read(sql::list_locations).await
    }

    async fn get_location(&self, id: i64) -> Result<Location> {
        self.read(move |c| sql::get_location(c, id)).await
    }

    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        self.read(move |c| sql::product_levels(c, product_id)).await
    }

    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        let at = to_db_time(at)?;
        let transfer = *transfer;
        // One command, so one savepoint: both sides and their ledger rows, or nothing.
        self.write(move |c| sql::transfer_stock(c, &transfer, at))
            .await
    }
}
