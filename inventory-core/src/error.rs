//! The one error type of the core: every failure a store or an operation can report.

use crate::money::Amount;
use crate::product::Sku;
use crate::status::{InvalidTransition, OrderStatus};
use crate::units::Stock;
use crate::validation::ValidationErrors;

/// A boxed error from a backend, kept for logs and never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in an inventory operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Client input failed validation; each field is listed.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// No product with this id.
    #[error("Product with ID {id} not found")]
    ProductNotFound {
        /// The id asked for.
        id: i64,
    },
    /// No order with this id.
    #[error("Order with ID {id} not found")]
    OrderNotFound {
        /// The id asked for.
        id: i64,
    },
    /// Another product already has this SKU.
    #[error("Product with SKU '{sku}' already exists")]
    DuplicateSku {
        /// The SKU taken.
        sku: Sku,
    },
    /// The product has orders, and order history is never destroyed.
    #[error("Product with ID {id} has orders and cannot be deleted")]
    ProductHasOrders {
        /// The product.
        id: i64,
    },
    /// Not enough units on hand. For an order, the fields name its first short line and
    /// `shortages` lists every short line (the whole order was refused).
    #[error("Insufficient stock: requested {requested}, available {available}")]
    InsufficientStock {
        /// The product.
        product_id: i64,
        /// Units asked for.
        requested: Stock,
        /// Units available.
        available: Stock,
        /// Every short line of a refused order of more than one line; empty for a one-line
        /// order (the fields above say it all, as the seed's answer did) and for a stock
        /// adjustment.
        shortages: Vec<crate::allocation::Shortage>,
    },
    /// No location with this id.
    #[error("Location with ID {id} not found")]
    LocationNotFound {
        /// The id asked for.
        id: i64,
    },
    /// Another location already has this code.
    #[error("Location with code '{code}' already exists")]
    DuplicateLocationCode {
        /// The code taken.
        code: crate::location::LocationCode,
    },
    /// Writing the seed's `stock` would take the default location below zero: the stock asked
    /// for is less than the units available at the product's other locations.
    #[error("Stock cannot be set below the {elsewhere} units available at other locations")]
    StockAtOtherLocations {
        /// The product.
        product_id: i64,
        /// Units available at its other locations.
        elsewhere: Stock,
    },
    /// A stock change would take the product above [`crate::MAX_STOCK`].
    #[error("stock would exceed its maximum")]
    StockAboveMaximum {
        /// The product.
        product_id: i64,
    },
    /// The status table forbids this move.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// Compare-and-set lost: the order is no longer in the status that was read.
    /// [`crate::Inventory`] re-reads and retries; a store returns it, a client rarely sees it.
    #[error("Order {id} changed concurrently: expected {expected}, found {current}")]
    StatusConflict {
        /// The order.
        id: i64,
        /// The status the change was planned from.
        expected: OrderStatus,
        /// The status found.
        current: OrderStatus,
    },
    /// A request header holds a malformed value (an event id, an idempotency key).
    #[error("invalid header {header}: {problem}")]
    InvalidHeader {
        /// The header's name, lowercase.
        header: String,
        /// What is wrong with it.
        problem: crate::text::TextError,
    },
    /// The webhook signature is missing, malformed or wrong.
    #[error("Invalid webhook signature")]
    InvalidSignature,
    /// No webhook secret is configured, so no webhook can be trusted.
    #[error("Webhook secret is not configured")]
    WebhookNotConfigured,
    /// This event id has already been applied.
    #[error("Event {event_id} already processed")]
    EventAlreadyProcessed {
        /// The event id.
        event_id: String,
    },
    /// A payment's amount differs from the order's total; the order stays unpaid.
    #[error("Payment amount does not match order total")]
    AmountMismatch {
        /// The order.
        order_id: i64,
        /// The order's total.
        expected: Amount,
        /// The amount paid.
        received: Amount,
    },
    /// An `Idempotency-Key` reused with a different request.
    #[error("Idempotency-Key '{key}' was already used with a different request")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("A request with Idempotency-Key '{key}' is still in progress")]
    IdempotencyKeyInFlight {
        /// The key.
        key: String,
    },
    /// The row changed since the version the caller named (`If-Match`); nothing was written.
    #[error("Row {id} has changed: it is at version {current}")]
    PreconditionFailed {
        /// The product or order.
        id: i64,
        /// Its version now.
        current: crate::version::Version,
    },
    /// A stock compare-and-set found another stock than the caller expected; nothing written.
    #[error("Stock of product {product_id} is {current}, not {expected}")]
    StockChanged {
        /// The product.
        product_id: i64,
        /// The stock the caller expected.
        expected: crate::units::Stock,
        /// The stock now.
        current: crate::units::Stock,
    },
    /// The order was PENDING too long and has been canceled; it can no longer be paid.
    #[error("Order with ID {id} expired unpaid and was canceled")]
    OrderExpired {
        /// The order.
        id: i64,
    },
    /// The database cannot be reached now (connection lost, pool exhausted); retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Any other backend failure; a bug or a broken database, never the client's fault.
    #[error("storage error: {0}")]
    Backend(#[source] BoxError),
}

impl Error {
    /// Wraps a backend failure.
    pub fn backend(e: impl Into<BoxError>) -> Error {
        Error::Backend(e.into())
    }

    /// Wraps a failure to reach the database.
    pub fn unavailable(e: impl Into<BoxError>) -> Error {
        Error::Unavailable(e.into())
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::Validation(e)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
