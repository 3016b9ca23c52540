//! `Inventory`: the operations users call, over any [`Store`].

use std::sync::Arc;

use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock, to_micros};
use crate::error::{Error, Result};
use crate::order::{NewOrder, Order, OrderFilter, Page};
use crate::product::{NewProduct, Product, ProductPatch};
use crate::status::{InvalidTransition, OrderStatus};
use crate::store::{EventEffect, EventRecord, Store};
use crate::webhook::{EventId, PAYMENT_SUCCEEDED, PaymentEvent, WebhookVerifier};

/// How many times a compare-and-set lost to a concurrent change is retried. The status machine
/// has no cycles, so an order can change at most twice; a few retries always settle.
const CAS_RETRIES: usize = 8;

/// The headers a payment webhook arrives with.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookHeaders<'a> {
    /// `X-Webhook-Signature`.
    pub signature: Option<&'a str>,
    /// `X-Event-Id`.
    pub event_id: Option<&'a str>,
}

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
/// use inventory_core::{Inventory, MemoryStore, NewOrder, NewProduct, OrderStatus};
/// # tokio_test_block_on(async {
/// let inventory = Inventory::new(MemoryStore::new());
/// let body = serde_json::json!({"sku": "MUG-1", "name": "Mug", "price": 12.50, "stock": 10});
/// let mug = inventory.create_product(NewProduct::from_json(&body)?).await?;
/// let order = inventory.place_order(NewOrder::from_json(&serde_json::json!({
///     "product_id": mug.id, "quantity": 3
/// }))?).await?;
/// assert_eq!(order.total, 3750);
/// assert_eq!(inventory.get_product(mug.id).await?.stock, 7);
/// let paid = inventory.set_order_status(order.id, OrderStatus::Paid).await?;
/// assert_eq!(paid.status, OrderStatus::Paid);
/// inventory.cancel_order(order.id).await?; // a paid order's units come back
/// assert_eq!(inventory.get_product(mug.id).await?.stock, 10);
/// # Ok::<_, inventory_core::Error>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// ```
pub struct Inventory<S> {
    store: S,
    clock: Arc<dyn Clock>,
    verifier: Option<WebhookVerifier>,
}

impl<S: Clone> Clone for Inventory<S> {
    fn clone(&self) -> Self {
        Inventory {
            store: self.store.clone(),
            clock: self.clock.clone(),
            verifier: self.verifier.clone(),
        }
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
        }
    }

    /// Uses `clock` for every timestamp.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Accepts payment webhooks signed with `secret`.
    pub fn with_webhook_secret(mut self, secret: &[u8]) -> Self {
        self.verifier = Some(WebhookVerifier::new(secret));
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
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
        self.store.create_product(product, self.now()).await
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
    pub async fn update_product(&self, id: i64, patch: ProductPatch) -> Result<Product> {
        if patch.is_empty() {
            return self.store.get_product(id).await;
        }
        self.store.update_product(id, patch, self.now()).await
    }

    /// Deletes a product that has no orders.
    pub async fn delete_product(&self, id: i64) -> Result<()> {
        self.store.delete_product(id).await
    }

    /// Adds `delta` units (negative removes; never below zero).
    pub async fn adjust_stock(&self, id: i64, delta: i64) -> Result<Product> {
        self.store.adjust_stock(id, delta, self.now()).await
    }

    /// Places an order, taking its stock atomically.
    pub async fn place_order(&self, order: NewOrder) -> Result<Order> {
        self.store.place_order(order, self.now()).await
    }

    /// Reads an order.
    pub async fn get_order(&self, id: i64) -> Result<Order> {
        self.store.get_order(id).await
    }

    /// Lists orders by id.
    pub async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        self.store.list_orders(filter, page).await
    }

    /// Moves an order to `to` as the status table allows; asking for its current status is a
    /// no-op. Canceling a PENDING or PAID order returns its units.
    pub async fn set_order_status(&self, id: i64, to: OrderStatus) -> Result<Order> {
        self.move_order(id, |from| from.transition_to(to)).await
    }

    /// Cancels an order (`DELETE /orders/{id}`): unlike a PUT, canceling a CANCELED order is an
    /// error, as is canceling a SHIPPED one.
    pub async fn cancel_order(&self, id: i64) -> Result<Order> {
        self.move_order(id, |from| {
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
        plan: impl Fn(OrderStatus) -> Result<crate::Transition, InvalidTransition>,
    ) -> Result<Order> {
        let mut last = None;
        for _ in 0..CAS_RETRIES {
            let order = self.store.get_order(id).await?;
            let transition = plan(order.status)?;
            if transition.is_noop() {
                return Ok(order);
            }
            match self.store.change_status(id, transition, self.now()).await {
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
    pub async fn process_webhook(
        &self,
        headers: WebhookHeaders<'_>,
        body: &[u8],
    ) -> Result<WebhookOutcome> {
        let verifier = self.verifier.as_ref().ok_or(Error::WebhookNotConfigured)?;
        verifier.verify(headers.signature, body)?;
        let id = EventId::from_header_or_body(headers.event_id, body)?;
        if self.store.event_processed(&id).await? {
            return Err(Error::EventAlreadyProcessed {
                event_id: id.as_str().to_owned(),
            });
        }
        let event = PaymentEvent::parse(body)?;
        let record = EventRecord {
            id,
            kind: event.event.clone(),
            order_id: event.order_id,
        };
        let order_id = match (event.event.as_str(), event.order_id) {
            (PAYMENT_SUCCEEDED, Some(order_id)) => order_id,
            _ => {
                self.store
                    .apply_event(&record, EventEffect::RecordOnly, self.now())
                    .await?;
                return Ok(WebhookOutcome::Ignored { event: event.event });
            }
        };
        let mut last = None;
        for _ in 0..CAS_RETRIES {
            let order = self.store.get_order(order_id).await?;
            if let Some(amount) = event.amount_cents
                && amount != order.total
            {
                return Err(Error::AmountMismatch {
                    order_id,
                    expected_cents: order.total,
                    received_cents: amount,
                });
            }
            let transition = order.status.transition_to(OrderStatus::Paid)?;
            let effect = EventEffect::ChangeStatus {
                order_id,
                transition,
            };
            match self.store.apply_event(&record, effect, self.now()).await {
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

    /// Answers when the store does.
    pub async fn health(&self) -> Result<()> {
        self.store.ping().await
    }
}
