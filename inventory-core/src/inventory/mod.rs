//! `Inventory`: the operations users call, over any [`Store`].

mod locations;

use locations::pinned;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::allocation::Cart;
use crate::batch::{Adjustments, BatchOutcome, ProductBatch};
use crate::clock::{Clock, SystemClock, to_micros};
use crate::error::{Error, Result};
use crate::history::{ChangeSource, OrderEvent};
use crate::idempotency::{self, IdempotencyKey, Idempotent};
use crate::ledger::StockMovement;
use crate::order::{Order, OrderFilter, Page};
use crate::product::{NewProduct, Product, ProductPatch};
use crate::status::{InvalidTransition, OrderStatus, StatusChange};
use crate::store::{EventEffect, EventRecord, Store};
use crate::text::TextError;
use crate::version::Precondition;
use crate::webhook::{
    EventId, HeaderLookup, PAYMENT_SUCCEEDED, PaymentEvent, SchemeVerifier, WebhookScheme,
};

/// How many times a compare-and-set lost to a concurrent change is retried. The status machine
/// has no cycles, so an order can change at most twice; a few retries always settle.
const CAS_RETRIES: usize = 8;

/// What a verified webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookOutcome {
    /// The order is PAID now.
    Paid {
        /// The order after payment.
        order: Order,
    },
    /// The order was already PAID; nothing changed.
    AlreadyPaid {
        /// The order.
        order: Order,
    },
    /// An event type we do not act on; recorded, nothing changed.
    Ignored {
        /// The event type.
        event: String,
    },
}

/// The orders & inventory engine over a store: validation, the status machine, and webhook
/// processing, with an injectable clock.
///
/// ```
/// use inventory_core::prelude::*;
/// # tokio_test_block_on(async {
/// let inventory = Inventory::new(MemoryStore::new());
/// let mug = inventory
///     .create_product(NewProduct::new(
///         Sku::parse("MUG-1")?,
///         ProductName::parse("Mug")?,
///         "12.50".parse::<Money>()?,
///         Stock::new(10)?,
///     ))
///     .await?;
/// let order = inventory.place_order(NewOrder::new(mug.id, Quantity::new(3)?)).await?;
/// assert_eq!(order.total.to_string(), "37.5");
/// assert_eq!(inventory.get_product(mug.id).await?.stock, Stock::new(7)?);
/// let paid = inventory.set_order_status(order.id, OrderStatus::Paid).await?;
/// assert_eq!(paid.status, OrderStatus::Paid);
/// inventory.cancel_order(order.id).await?; // a paid order's units come back
/// assert_eq!(inventory.get_product(mug.id).await?.stock, Stock::new(10)?);
/// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// ```
pub struct Inventory<S> {
    pub(crate) store: S,
    clock: Arc<dyn Clock>,
    verifier: Option<SchemeVerifier>,
    order_ttl: Option<Duration>,
    key_ttl: Duration,
    in_flight: Arc<Mutex<HashSet<(&'static str, String)>>>,
}

impl<S: Clone> Clone for Inventory<S> {
    fn clone(&self) -> Self {
        Inventory {
            store: self.store.clone(),
            clock: self.clock.clone(),
            verifier: self.verifier.clone(),
            order_ttl: self.order_ttl,
            key_ttl: self.key_ttl,
            in_flight: self.in_flight.clone(),
        }
    }
}

/// Marks an idempotency key as in flight in this process until dropped.
struct InFlight {
    set: Arc<Mutex<HashSet<(&'static str, String)>>>,
    id: (&'static str, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl<S> std::fmt::Debug for Inventory<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("webhooks", &self.verifier.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Store> Inventory<S> {
    /// An engine over `store`, on the system clock, with webhooks refused until a secret is set.
    pub fn new(store: S) -> Self {
        Inventory {
            store,
            clock: Arc::new(SystemClock),
            verifier: None,
            order_ttl: None,
            key_ttl: idempotency::DEFAULT_TTL,
            in_flight: Arc::default(),
        }
    }

    /// Cancels PENDING orders older than `ttl` (off by default): on access, and whenever
    /// [`Inventory::expire_due_orders`] runs. An expired order can no longer be paid.
    pub fn with_order_ttl(mut self, ttl: Duration) -> Self {
        self.order_ttl = Some(ttl);
        self
    }

    /// How long idempotency keys are honoured (default 24 hours).
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// Uses `clock` for every timestamp.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Accepts payment webhooks signed with `secret` in the original hex scheme
    /// (`X-Webhook-Signature`): shorthand for [`with_webhook_verifier`](Self::with_webhook_verifier)
    /// with `SchemeVerifier::new(WebhookScheme::Hex, &[secret])`. An empty secret accepts nothing.
    pub fn with_webhook_secret(mut self, secret: &[u8]) -> Self {
        let secret = String::from_utf8_lossy(secret);
        self.verifier = SchemeVerifier::new(crate::webhook::WebhookScheme::Hex, &[&secret]).ok();
        self
    }

    /// Accepts payment webhooks that `verifier` accepts (any scheme, rotated secrets); without
    /// one, every webhook is refused.
    pub fn with_webhook_verifier(mut self, verifier: SchemeVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Finishes the store's queued writes and releases its connections ([`Store::close`]);
    /// called once, at shutdown.
    pub async fn close(&self) -> Result<()> {
        self.store.close().await
    }

    /// Whether a webhook secret is set.
    pub fn webhooks_enabled(&self) -> bool {
        self.verifier.is_some()
    }

    fn now(&self) -> OffsetDateTime {
        to_micros(self.clock.now())
    }

    /// Creates a product.
    pub async fn create_product(&self, product: NewProduct) -> Result<Product> {
        created(self.store.create_product(product, self.now(), None).await?)
    }

    /// An idempotency key for `scope` (`POST /orders`, `POST /products`) and the exact request
    /// body, honoured for the configured time.
    pub fn idempotency_key(
        &self,
        scope: &'static str,
        key: &str,
        body: &[u8],
    ) -> Result<IdempotencyKey, TextError> {
        IdempotencyKey::new(scope, key, body, self.now() - self.key_ttl)
    }

    fn begin(&self, key: &IdempotencyKey) -> Result<InFlight> {
        let id = (key.scope(), key.key().to_owned());
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(id.clone()) {
            return Err(Error::IdempotencyKeyInFlight {
                key: key.key().to_owned(),
            });
        }
        Ok(InFlight {
            set: self.in_flight.clone(),
            id,
        })
    }

    /// Creates a product once per key: a retry with the same key and body replays the first
    /// answer; the same key with another body is [`Error::IdempotencyKeyReused`]; while the
    /// first is still running here, [`Error::IdempotencyKeyInFlight`].
    pub async fn create_product_idempotent(
        &self,
        product: NewProduct,
        key: &IdempotencyKey,
    ) -> Result<Idempotent<Product>> {
        let _guard = self.begin(key)?;
        self.store
            .create_product(product, self.now(), Some(key))
            .await
    }

    /// Reads a product.
    pub async fn get_product(&self, id: i64) -> Result<Product> {
        self.store.get_product(id).await
    }

    /// Lists products by id.
    pub async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        self.store.list_products(page).await
    }

    /// Changes the fields present in `patch`.
    /// A patch's precondition and stock compare-and-set ([`ProductPatch::with_precondition`],
    /// [`ProductPatch::with_stock_if_current`]) are checked in the store's transaction.
    pub async fn update_product(&self, id: i64, patch: ProductPatch) -> Result<Product> {
        if patch.is_empty() {
            // Nothing to write; a precondition is still checked against the row as it is.
            let product = self.store.get_product(id).await?;
            patch.apply_to(&product)?;
            return Ok(product);
        }
        self.store.update_product(id, patch, self.now()).await
    }

    /// Deletes a product that has no orders.
    pub async fn delete_product(&self, id: i64) -> Result<()> {
        self.delete_product_if(id, None).await
    }

    /// Deletes a product that has no orders, if it satisfies `precondition` (`If-Match`;
    /// `None`: unconditionally).
    pub async fn delete_product_if(
        &self,
        id: i64,
        precondition: Option<&Precondition>,
    ) -> Result<()> {
        self.store.delete_product(id, precondition).await
    }

    /// Adds each adjustment's `delta` units in order (negative removes; never below zero at
    /// any step), each recorded in the ledger with its reason; all of them or none. One
    /// [`crate::Adjustment`] converts into a list of one.
    ///
    /// A `location_id` naming no location is a validation error on that field (the product in
    /// the path exists; the body is what is wrong), after an unknown product's 404.
    pub async fn adjust_stock(&self, id: i64, adjustments: &Adjustments) -> Result<Product> {
        self.check_adjusted_locations(id, adjustments).await?;
        self.store.adjust_stock(id, adjustments, self.now()).await
    }

    /// Creates or updates up to [`ProductBatch::MAX_ITEMS`] products by SKU, all in one step
    /// or none (see [`ProductBatch`]).
    pub async fn upsert_products(&self, batch: &ProductBatch) -> Result<BatchOutcome> {
        created(self.store.upsert_products(batch, self.now(), None).await?)
    }

    /// [`Inventory::upsert_products`] once per key; see
    /// [`Inventory::create_product_idempotent`].
    pub async fn upsert_products_idempotent(
        &self,
        batch: &ProductBatch,
        key: &IdempotencyKey,
    ) -> Result<Idempotent<BatchOutcome>> {
        let _guard = self.begin(key)?;
        self.store
            .upsert_products(batch, self.now(), Some(key))
            .await
    }

    /// A product's stock ledger, oldest first.
    pub async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>> {
        self.store.list_movements(product_id, page).await
    }

    /// Places an order (a [`Cart`], or the seed's one-line [`crate::NewOrder`]), taking the
    /// stock of every line atomically, or none. A line naming a location that does not exist
    /// is [`Error::LocationNotFound`].
    pub async fn place_order(&self, order: impl Into<Cart>) -> Result<Order> {
        let cart = order.into();
        self.check_locations(pinned(&cart)).await?;
        created(self.store.place_order(cart, self.now(), None).await?)
    }

    /// Places an order once per key; see [`Inventory::create_product_idempotent`].
    pub async fn place_order_idempotent(
        &self,
        order: impl Into<Cart>,
        key: &IdempotencyKey,
    ) -> Result<Idempotent<Order>> {
        let _guard = self.begin(key)?;
        let order = order.into();
        self.check_locations(pinned(&order)).await?;
        self.store.place_order(order, self.now(), Some(key)).await
    }

    /// Reads an order (expiring it first if it is PENDING past the order TTL).
    pub async fn get_order(&self, id: i64) -> Result<Order> {
        let order = self.store.get_order(id).await?;
        self.expire_if_due(order).await
    }

    /// Lists orders by id. With an order TTL, every due order is expired first, so that a
    /// listing filtered by status sees each order in the status it really has (a page is never
    /// cut short by orders expiring under it).
    pub async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        self.expire_due_orders().await?;
        self.store
            .list_orders(filter.at_stored_precision(), page)
            .await
    }

    /// An order's status history, oldest first.
    pub async fn order_history(&self, id: i64) -> Result<Vec<OrderEvent>> {
        self.get_order(id).await?;
        self.store.order_history(id).await
    }

    fn is_due(&self, order: &Order) -> bool {
        self.order_ttl.is_some_and(|ttl| {
            order.status == OrderStatus::Pending && order.created_at + ttl <= self.now()
        })
    }

    /// Cancels `order` as expired if it is due; returns it as it now is.
    async fn expire_if_due(&self, order: Order) -> Result<Order> {
        if !self.is_due(&order) {
            return Ok(order);
        }
        match self
            .store
            .change_status(order.id, &StatusChange::expiry(), self.now())
            .await
        {
            Ok(order) => Ok(order),
            // Someone else moved it first (paid it, or expired it): read what it is now.
            Err(Error::StatusConflict { .. }) => self.store.get_order(order.id).await,
            Err(e) => Err(e),
        }
    }

    /// Cancels every PENDING order older than the order TTL (a sweeper calls this); returns
    /// them. Does nothing without a TTL.
    pub async fn expire_due_orders(&self) -> Result<Vec<Order>> {
        let Some(ttl) = self.order_ttl else {
            return Ok(Vec::new());
        };
        let now = self.now();
        let change = StatusChange::expiry();
        let mut expired = Vec::new();
        loop {
            let batch = self
                .store
                .expire_orders(&change, now - ttl, now, 500)
                .await?;
            let done = batch.len() < 500;
            expired.extend(batch);
            if done {
                return Ok(expired);
            }
        }
    }

    /// Forgets idempotency keys older than their TTL; returns how many.
    pub async fn purge_expired_keys(&self) -> Result<u64> {
        self.store
            .purge_idempotency_keys(self.now() - self.key_ttl)
            .await
    }

    /// Moves an order to `to` as the status table allows; asking for its current status is a
    /// no-op. Canceling a PENDING or PAID order returns its units.
    pub async fn set_order_status(&self, id: i64, to: OrderStatus) -> Result<Order> {
        self.set_order_status_if(id, to, None).await
    }

    /// [`Inventory::set_order_status`] if the order satisfies `precondition` (`If-Match`;
    /// `None`: unconditionally): checked on the order read before the compare-and-set, which
    /// fails if the order changes in between (every change of an order is a status change), and
    /// is then re-read.
    pub async fn set_order_status_if(
        &self,
        id: i64,
        to: OrderStatus,
        precondition: Option<&Precondition>,
    ) -> Result<Order> {
        self.move_order(id, precondition, |from| from.transition_to(to))
            .await
    }

    /// Cancels an order (`DELETE /orders/{id}`): unlike a PUT, canceling a CANCELED order is an
    /// error, as is canceling a SHIPPED one.
    pub async fn cancel_order(&self, id: i64) -> Result<Order> {
        self.cancel_order_if(id, None).await
    }

    /// [`Inventory::cancel_order`] if the order satisfies `precondition` (`If-Match`; `None`:
    /// unconditionally).
    pub async fn cancel_order_if(
        &self,
        id: i64,
        precondition: Option<&Precondition>,
    ) -> Result<Order> {
        self.move_order(id, precondition, |from| {
            if from == OrderStatus::Canceled {
                Err(InvalidTransition {
                    from,
                    to: OrderStatus::Canceled,
                })
            } else {
                from.transition_to(OrderStatus::Canceled)
            }
        })
        .await
    }

    async fn move_order(
        &self,
        id: i64,
        precondition: Option<&Precondition>,
        plan: impl Fn(OrderStatus) -> Result<crate::Transition, InvalidTransition>,
    ) -> Result<Order> {
        let mut last = None;
        for _ in 0..CAS_RETRIES {
            let order = self.get_order(id).await?;
            // Checked on the order read, not in the write: sound because every change of an
            // order is a status change and statuses only move forward, so if the order changes
            // between this read and the compare-and-set below, the CAS fails and the re-read
            // answers 412. A write to an order that does not move its status would have to
            // carry the version into the store's guard instead.
            crate::version::check(precondition, id, order.version)?;
            let transition = plan(order.status)?;
            if transition.is_noop() {
                return Ok(order);
            }
            let change = StatusChange::new(transition, ChangeSource::Api);
            match self.store.change_status(id, &change, self.now()).await {
                Err(e @ Error::StatusConflict { .. }) => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or(Error::OrderNotFound { id }))
    }

    /// Processes a payment webhook, in the contract's order: signature, replay, body, effect.
    ///
    /// The event id is recorded in the same atomic step as the effect, so a request that fails
    /// leaves no trace and one that succeeds never applies twice, across restarts and instances.
    pub async fn process_webhook<H: HeaderLookup + Sync>(
        &self,
        headers: H,
        body: &[u8],
    ) -> Result<WebhookOutcome> {
        let verifier = self.verifier.as_ref().ok_or(Error::WebhookNotConfigured)?;
        let now = self.now().unix_timestamp();
        let id = match verifier.verify(&headers, body, now)? {
            Some(id) => id,
            None => EventId::from_body(body),
        };
        // Without a signed id, the body's hash is a key too: a captured body replayed under a
        // fresh `X-Event-Id` is still the same event.
        let body_key = match verifier.scheme() {
            WebhookScheme::Hex | WebhookScheme::Stripe => {
                Some(EventId::from_body(body)).filter(|hash| *hash != id)
            }
            WebhookScheme::Standard => None,
        };
        for key in std::iter::once(&id).chain(&body_key) {
            if self.store.event_processed(key).await? {
                return Err(EventRecord::already_processed(key));
            }
        }
        let event = PaymentEvent::parse(body)?;
        let record = EventRecord {
            id,
            body_key,
            kind: event.event.clone(),
            order_id: event.order_id,
        };
        let order_id = match (event.event.as_str(), event.order_id) {
            (PAYMENT_SUCCEEDED, Some(order_id)) => order_id,
            _ => {
                self.store
                    .apply_event(&record, &EventEffect::RecordOnly, self.now())
                    .await?;
                return Ok(WebhookOutcome::Ignored { event: event.event });
            }
        };
        let mut last = None;
        for _ in 0..CAS_RETRIES {
            let order = self.get_order(order_id).await?;
            if order.status == OrderStatus::Canceled && self.was_expired(order_id).await? {
                return Err(Error::OrderExpired { id: order_id });
            }
            if let Some(amount) = event.amount
                && amount != order.total
            {
                return Err(Error::AmountMismatch {
                    order_id,
                    expected: order.total,
                    received: amount,
                });
            }
            let transition = order.status.transition_to(OrderStatus::Paid)?;
            let source = ChangeSource::Webhook {
                event_id: record.id.as_str().to_owned(),
            };
            let effect = EventEffect::ChangeStatus {
                order_id,
                change: StatusChange::new(transition, source),
            };
            match self.store.apply_event(&record, &effect, self.now()).await {
                Ok(after) => {
                    let order = after.unwrap_or(order);
                    return Ok(if transition.is_noop() {
                        WebhookOutcome::AlreadyPaid { order }
                    } else {
                        WebhookOutcome::Paid { order }
                    });
                }
                Err(e @ Error::StatusConflict { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::OrderNotFound { id: order_id }))
    }

    async fn was_expired(&self, order_id: i64) -> Result<bool> {
        let history = self.store.order_history(order_id).await?;
        Ok(history
            .last()
            .is_some_and(|e| e.source == ChangeSource::Expiry))
    }

    /// Answers when the store does.
    pub async fn health(&self) -> Result<()> {
        self.store.ping().await
    }
}

/// The value of a create made without a key (which can only be created, never replayed).
fn created<T>(result: Idempotent<T>) -> Result<T> {
    match result {
        Idempotent::Created(t) => Ok(t),
        Idempotent::Replayed(_) => {
            Err(Error::backend("store replayed a create made without a key"))
        }
    }
}
