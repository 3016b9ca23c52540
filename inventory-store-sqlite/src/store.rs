//! `impl Store for SqliteStore`: each operation is one closure over the SQL of [`crate::sql`],
//! queued to the writer (writes) or the readers (reads).

use async_trait::async_trait;
use inventory_core::{
    EventEffect, EventId, EventRecord, NewOrder, NewProduct, Order, OrderFilter, Page, Product,
    ProductPatch, Result, Store, Transition,
};
use time::OffsetDateTime;

use crate::SqliteStore;
use crate::sql::{self, to_db_time};

#[async_trait]
impl Store for SqliteStore {
    async fn create_product(&self, product: NewProduct, at: OffsetDateTime) -> Result<Product> {
        let at = to_db_time(at)?;
        self.write(move |c| sql::create_product(c, &product, at))
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

    async fn delete_product(&self, id: i64) -> Result<()> {
        self.write(move |c| sql::delete_product(c, id)).await
    }

    async fn adjust_stock(&self, id: i64, delta: i64, at: OffsetDateTime) -> Result<Product> {
        let at = to_db_time(at)?;
        self.write(move |c| sql::adjust_stock(c, id, delta, at))
            .await
    }

    async fn place_order(&self, order: NewOrder, at: OffsetDateTime) -> Result<Order> {
        let at = to_db_time(at)?;
        self.write(move |c| sql::place_order(c, &order, at)).await
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
        transition: Transition,
        at: OffsetDateTime,
    ) -> Result<Order> {
        let at = to_db_time(at)?;
        // Through the writer even when a no-op: the check must see the latest committed state,
        // and it is answered in the same order as the writes around it.
        self.write(move |c| sql::change_status(c, order_id, transition, at))
            .await
    }

    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        let id = id.as_str().to_owned();
        self.read(move |c| sql::event_processed(c, &id)).await
    }

    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        let at = to_db_time(at)?;
        let event = event.clone();
        self.write(move |c| sql::apply_event(c, &event, effect, at))
            .await
    }

    async fn ping(&self) -> Result<()> {
        // Through the writer: healthy means the writer is alive and the file answers, not only
        // that some reader can read.
        self.write(sql::ping).await
    }
}
