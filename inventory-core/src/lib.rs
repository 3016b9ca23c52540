//! # inventory-core
//!
//! The orders & inventory engine: validated domain types, exact money, the order status machine,
//! payment-webhook verification, and the [`Store`] trait that every backend implements.
//!
//! The front door is [`Inventory`], which runs the rules over any [`Store`]:
//! [`MemoryStore`] here, SQLite and PostgreSQL in their own crates.
//!
//! ```
//! use inventory_core::{Inventory, MemoryStore, NewOrder, NewProduct};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let inventory = Inventory::new(MemoryStore::new());
//! let widget = inventory
//!     .create_product(NewProduct::from_json(&serde_json::json!(
//!         {"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))?)
//!     .await?;
//! let order = inventory
//!     .place_order(NewOrder::from_json(&serde_json::json!(
//!         {"product_id": widget.id, "quantity": 60}))?)
//!     .await;
//! assert!(matches!(order, Err(inventory_core::Error::InsufficientStock { available: 50, .. })));
//! # Ok::<_, inventory_core::Error>(()) }).unwrap();
//! ```
//!
//! Invariant kept by every store, on every path:
//! `stock = initial + adjustments − Σ quantity of orders in PENDING, PAID or SHIPPED ≥ 0`.

mod clock;
mod error;
mod history;
mod idempotency;
mod inventory;
mod json;
mod ledger;
mod memory;
mod money;
mod order;
mod product;
mod status;
mod store;
mod validation;
mod webhook;

#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock, to_micros};
pub use error::{BoxError, Error, Result};
pub use history::{ChangeSource, OrderEvent};
pub use idempotency::{
    DEFAULT_TTL as DEFAULT_IDEMPOTENCY_TTL, IdempotencyKey, Idempotent, StoredResponse,
};
pub use inventory::{InvariantViolation, Inventory, WebhookHeaders, WebhookOutcome};
pub use json::parse_json_body;
pub use ledger::{Adjustment, MovementKind, StockMovement};
pub use memory::MemoryStore;
pub use money::{MAX_CENTS, Money, MoneyError};
pub use order::{NewOrder, Order, OrderFilter, Page, Quantity, status_update_from_json};
pub use product::{MAX_STOCK, NewProduct, Product, ProductName, ProductPatch, Sku};
pub use status::{InvalidTransition, OrderStatus, Transition};
pub use store::{EventEffect, EventRecord, Store};
pub use validation::{FieldError, ValidationErrors, integer_text};
pub use webhook::{
    EventId, HeaderLookup, MAX_EVENT_ID_LEN, PAYMENT_SUCCEEDED, PaymentEvent, SchemeVerifier,
    WEBHOOK_TOLERANCE_SECS, WebhookConfigError, WebhookScheme, WebhookVerifier,
};

/// Re-exported so generated code and users agree on the version.
pub use time;

/// The README's Rust examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
