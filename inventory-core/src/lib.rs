//! # inventory-core
//!
//! The orders & inventory engine: validated domain types, exact money, the order status machine,
//! payment-webhook verification, and the [`Store`] trait that every backend implements.
//!
//! The front door is [`Inventory`], which runs the rules over any [`Store`]:
//! [`MemoryStore`] here, SQLite and PostgreSQL in their own crates.
//!
//! ```
//! use inventory_core::prelude::*;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let inventory = Inventory::new(MemoryStore::new());
//! let widget = inventory
//!     .create_product(NewProduct::new(
//!         Sku::parse("PROD-001")?,
//!         ProductName::parse("Widget")?,
//!         "49.99".parse::<Money>()?,
//!         Stock::new(50)?,
//!     ))
//!     .await?;
//! let order = inventory
//!     .place_order(NewOrder::new(widget.id, Quantity::new(60)?))
//!     .await;
//! assert!(matches!(order, Err(Error::InsufficientStock { available, .. }) if available.get() == 50));
//! # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! The crate's shape: the domain values at the root (and the most used in [`prelude`]);
//! [`store`] for backend authors (the [`Store`] trait and what it is handed); [`idempotency`],
//! [`webhook`], [`validation`] and [`clock`] for the concerns they name.
//!
//! Invariant kept by every store, on every path:
//! `stock = initial + adjustments − Σ quantity of order lines in PENDING, PAID or SHIPPED ≥ 0`.

mod allocation;
mod batch;
pub mod clock;
mod error;
mod history;
pub mod idempotency;
mod invariants;
mod inventory;
mod json;
mod ledger;
mod location;
mod memory;
mod money;
mod order;
mod order_json;
mod placement;
mod product;
mod status;
pub mod store;
mod text;
mod units;
pub mod validation;
mod version;
pub mod webhook;

#[cfg(feature = "testing")]
pub mod testing;

// The domain, at the root: what an embedder names to place orders and keep stock.
pub use allocation::{Allocation, Cart, CartError, CartLine, LevelError, LocationLevel, Shortage};
pub use batch::{
    Adjustments, BatchError, BatchItem, BatchOutcome, ProductBatch, UpsertPlan, Upserted,
};
pub use error::{BoxError, Error, Result};
pub use history::{ChangeSource, OrderEvent};
pub use invariants::{InvariantViolation, LevelViolation};
pub use inventory::{Inventory, WebhookOutcome};
pub use json::parse_json_body;
pub use ledger::{Adjustment, MovementKind, StockMovement};
pub use location::{
    DEFAULT_LOCATION, LevelChange, Location, LocationCode, LocationName, NewLocation,
    PRIORITY_RANGE, Transfer, TransferError,
};
pub use memory::MemoryStore;
pub use money::{Amount, MAX_CENTS, Money, MoneyError};
pub use order::{NewOrder, Order, OrderFilter, OrderLine, Page, status_update_from_json};
pub use placement::{PlacedLine, Placement, StockedProduct, place_in_turn};
pub use product::{NewProduct, Product, ProductName, ProductPatch, Sku};
pub use status::{InvalidTransition, OrderStatus, StatusChange, Transition, UnknownStatus};
pub use store::Store;
pub use text::{Reason, TextError};
pub use units::{MAX_STOCK, Quantity, RangeError, Stock, StockDelta};
pub use validation::{ValidationErrors, integer_text};
pub use version::{Precondition, Version};

/// The names most programs need, in one `use inventory_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Adjustment, Cart, CartLine, Error, Inventory, MemoryStore, Money, NewOrder, NewProduct,
        OrderStatus, ProductName, ProductPatch, Quantity, Reason, Sku, Stock, StockDelta, Store,
    };
}

/// Re-exported so generated code and users agree on the version.
pub use time;

/// The README's Rust examples, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
