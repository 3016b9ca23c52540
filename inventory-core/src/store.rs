//! The `Store` trait: persistence shaped around atomic operations.
//!
//! Every method is one atomic step on the backend. There is no "read the stock, then write it"
//! pair for a caller to interleave wrongly: placing an order checks and takes stock in the same
//! step; a status change is a compare-and-set planned by the status machine; a webhook event is
//! recorded in the same step as its effect.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::allocation::{Cart, LocationLevel};
use crate::batch::{Adjustments, BatchOutcome, ProductBatch};
use crate::error::Error;
use crate::error::Result;
use crate::history::OrderEvent;
use crate::idempotency::{IdempotencyKey, Idempotent};
use crate::ledger::StockMovement;
use crate::location::{Location, NewLocation, Transfer};
use crate::order::{Order, OrderFilter, Page};
use crate::product::{NewProduct, Product, ProductPatch};
use crate::status::StatusChange;
use crate::version::Precondition;
use crate::webhook::EventId;

/// A webhook event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Its id, the key that makes it apply at most once.
    pub id: EventId,
    /// A second key, recorded in the same step: with a scheme that does not sign the event id
    /// (`hex`, `stripe`), the hash of the body ([`EventId::from_body`]), so a byte-identical
    /// signed body applies at most once whatever id it carries. `None` when the id already is
    /// the body's hash, or is signed.
    pub body_key: Option<EventId>,
    /// Its type, e.g. `payment.succeeded`.
    pub kind: String,
    /// The order it concerns, if any.
    pub order_id: Option<i64>,
}

impl EventRecord {
    /// The keys a store records for this event, all in the step that applies it: the id, and the
    /// body key when there is one. Sorted, so that two deliveries holding each other's keys wait
    /// on one another instead of deadlocking where the backend locks rows.
    pub fn keys(&self) -> Vec<&EventId> {
        let mut keys: Vec<&EventId> = std::iter::once(&self.id).chain(&self.body_key).collect();
        keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        keys.dedup();
        keys
    }

    /// The refusal of this event because `key` (one of [`EventRecord::keys`]) is already
    /// recorded: the de-duplication rule's answer, the same from every store.
    pub fn already_processed(key: &EventId) -> Error {
        Error::EventAlreadyProcessed {
            event_id: key.as_str().to_owned(),
        }
    }
}

/// What recording an event does besides recording it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    /// Nothing (an event type we do not act on).
    RecordOnly,
    /// Apply this status change to the order, as in [`Store::change_status`].
    ChangeStatus {
        /// The order.
        order_id: i64,
        /// The change, with its webhook source, as core decided it.
        change: StatusChange,
    },
}

/// Persistence for products, orders, the stock ledger, order history, processed webhook events
/// and idempotency keys.
///
/// Implementations must make each method atomic and must keep the invariant of CONTRACT.md:
/// `stock = initial + adjustments − Σ quantity of orders in PENDING, PAID or SHIPPED`, never
/// negative, and must write the ledger row of every stock change, and the history row of every
/// status change, in the same transaction as the change. Run `inventory_core::store_conformance_tests!`
/// (feature `testing`) against yours.
///
/// Stores are cheap handles (clone them freely; clones share the database).
///
/// # Idempotency
///
/// With `key: Some(k)`, `create_product` and `place_order` first look for
/// `(k.scope(), k.key())` and, when found, act on [`IdempotencyKey::verdict`]:
/// [`Verdict::Replay`](crate::idempotency::Verdict::Replay) returns the stored snapshot
/// ([`idempotency::restore`](crate::idempotency::restore)) as `Idempotent::Replayed` and does
/// nothing else; [`Verdict::Expired`](crate::idempotency::Verdict::Expired) deletes the key and
/// proceeds; an error is returned as it is. Otherwise the work is done, and the key, its
/// fingerprint and the [`idempotency::snapshot`](crate::idempotency::snapshot) of the created
/// row are stored in the same transaction. Concurrent calls with one key must create exactly
/// one row; the others replay it.
///
/// # Decisions
///
/// A store decides nothing: the rules are core's, as plain values and functions. Stock bounds
/// are [`Cart::place`] and [`Adjustments::apply_to`] (or the same bounds as SQL guards,
/// with those functions telling why a guard refused); a status change carries its history
/// source and its restock kind in the [`StatusChange`]; totals are
/// [`Money::times`](crate::Money::times); a patch is [`ProductPatch::apply_to`]; a batch item is [`NewProduct::upsert_onto`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a product and its `initial` ledger row. A taken SKU is
    /// [`crate::Error::DuplicateSku`]. With a key, see *Idempotency* above.
    async fn create_product(
        &self,
        product: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>>;

    /// Reads a product, or [`crate::Error::ProductNotFound`].
    async fn get_product(&self, id: i64) -> Result<Product>;

    /// Lists products by ascending id.
    async fn list_products(&self, page: Page) -> Result<Vec<Product>>;

    /// Applies a partial update in one step (an empty patch returns the product unchanged).
    /// A taken SKU is [`crate::Error::DuplicateSku`]. A new stock level writes a `set` ledger
    /// row with the difference (none when it is unchanged).
    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product>;

    /// Deletes a product with no orders (and its ledger); one with orders is
    /// [`crate::Error::ProductHasOrders`]. With a `precondition`, the product's version is
    /// checked by [`Precondition::check`] in the same step.
    async fn delete_product(&self, id: i64, precondition: Option<&Precondition>) -> Result<()>;

    /// Applies the adjustments, in order, with one `adjustment` ledger row each carrying its
    /// reason, in one step, as [`Adjustments::apply_to`] decides on the current stock; the
    /// product's version goes up by one. A refusal changes nothing.
    async fn adjust_stock(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> Result<Product>;

    /// Creates or updates every product of the batch in one atomic step: for each item (in
    /// [`ProductBatch::lock_order`] where the backend locks rows), the product holding its SKU
    /// is read, [`NewProduct::upsert_onto`] decides, and the plan is written with its ledger
    /// row, as `create_product` and `update_product` write theirs. Any failure changes
    /// nothing. The outcome lists the items in the batch's order. With a key, see
    /// *Idempotency* above.
    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>>;

    /// The product's ledger, oldest first; [`crate::Error::ProductNotFound`] if it does not exist.
    async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>>;

    /// Places a cart as one order, all lines or none: reads each product's stock and price
    /// under its lock, in [`Cart::lock_order`] (the one global order, so two carts never
    /// deadlock), asks [`Cart::place`], and writes what it decided — each product's stock, the
    /// order and its lines, one `order_placed` ledger row per line and the first history row —
    /// in one atomic step; a refusal (unknown product, every short line) writes nothing.
    /// With a key, see *Idempotency* above.
    async fn place_order(
        &self,
        order: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>>;

    /// Reads an order, or [`crate::Error::OrderNotFound`].
    async fn get_order(&self, id: i64) -> Result<Order>;

    /// Lists orders by ascending id, filtered.
    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>>;

    /// Compare-and-set on an order's status: applies the change only if the order is still in
    /// `change.transition().from()`, writing a history row with `change.source()`, and, when
    /// [`StatusChange::restock`] names a kind, returning its units to stock with a ledger row of
    /// that kind, in the same step. Otherwise [`StatusChange::conflict`] with the status found,
    /// and nothing changes. A no-op transition only checks.
    async fn change_status(
        &self,
        order_id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order>;

    /// The order's history, oldest first; [`crate::Error::OrderNotFound`] if it does not exist.
    async fn order_history(&self, order_id: i64) -> Result<Vec<OrderEvent>>;

    /// Applies `change` ([`StatusChange::expiry`]) to up to `limit` orders in its
    /// `from` status created before `created_before`, oldest first, each exactly as
    /// [`Store::change_status`] would; returns the orders changed.
    async fn expire_orders(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>>;

    /// Whether an event id has been recorded (a fast early answer; [`Store::apply_event`] decides).
    async fn event_processed(&self, id: &EventId) -> Result<bool>;

    /// Records the event and applies its effect in one atomic step. Each of
    /// [`EventRecord::keys`] is recorded; one already recorded (as an id or a body key) is
    /// [`EventRecord::already_processed`] for that key. A failed effect (e.g. a lost
    /// compare-and-set) records nothing, so the sender's retry can still succeed. Returns the
    /// order after a status change.
    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>>;

    /// Forgets idempotency keys created before `created_before`; returns how many.
    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64>;

    /// Answers when the database does.
    async fn ping(&self) -> Result<()>;

    /// Creates a location; a taken code is [`crate::Error::DuplicateLocationCode`].
    async fn create_location(&self, location: NewLocation) -> Result<Location>;

    /// Every location, by ascending id (the default one first). Locations are never deleted.
    async fn list_locations(&self) -> Result<Vec<Location>>;

    /// Reads a location, or [`crate::Error::LocationNotFound`].
    async fn get_location(&self, id: i64) -> Result<Location>;

    /// A product's level at every location it has one, by location id, each with its
    /// location's priority; [`crate::Error::ProductNotFound`] if it does not exist.
    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>>;

    /// Moves units between two locations of one product in one step: under the product's lock,
    /// reads its levels, asks [`Transfer::plan`], and writes both level changes with a
    /// `transfer_out` and a `transfer_in` ledger row. An unknown product or location, or a
    /// refusal, changes nothing. Returns the product's levels after.
    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>>;

    /// Finishes queued writes and releases connections; called once at shutdown. Operations
    /// after it may fail. The default does nothing.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// A shared store is a store: lets a server hold `Arc<dyn Store>` chosen at start-up.
#[async_trait]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn create_product(
        &self,
        product: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>> {
        (**self).create_product(product, at, key).await
    }
    async fn get_product(&self, id: i64) -> Result<Product> {
        (**self).get_product(id).await
    }
    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        (**self).list_products(page).await
    }
    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product> {
        (**self).update_product(id, patch, at).await
    }
    async fn delete_product(&self, id: i64, precondition: Option<&Precondition>) -> Result<()> {
        (**self).delete_product(id, precondition).await
    }
    async fn adjust_stock(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> Result<Product> {
        (**self).adjust_stock(id, adjustments, at).await
    }
    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>> {
        (**self).upsert_products(batch, at, key).await
    }
    async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>> {
        (**self).list_movements(product_id, page).await
    }
    async fn place_order(
        &self,
        order: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>> {
        (**self).place_order(order, at, key).await
    }
    async fn get_order(&self, id: i64) -> Result<Order> {
        (**self).get_order(id).await
    }
    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        (**self).list_orders(filter, page).await
    }
    async fn change_status(
        &self,
        order_id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order> {
        (**self).change_status(order_id, change, at).await
    }
    async fn order_history(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
        (**self).order_history(order_id).await
    }
    async fn expire_orders(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>> {
        (**self)
            .expire_orders(change, created_before, at, limit)
            .await
    }
    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        (**self).event_processed(id).await
    }
    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        (**self).apply_event(event, effect, at).await
    }
    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
        (**self).purge_idempotency_keys(created_before).await
    }
    async fn ping(&self) -> Result<()> {
        (**self).ping().await
    }
    async fn create_location(&self, location: NewLocation) -> Result<Location> {
        (**self).create_location(location).await
    }
    async fn list_locations(&self) -> Result<Vec<Location>> {
        (**self).list_locations().await
    }
    async fn get_location(&self, id: i64) -> Result<Location> {
        (**self).get_location(id).await
    }
    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        (**self).product_levels(product_id).await
    }
    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        (**self).transfer_stock(transfer, at).await
    }
    async fn close(&self) -> Result<()> {
        (**self).close().await
    }
}
