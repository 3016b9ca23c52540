//! The conformance suite every [`Store`](crate::Store) runs, written once (feature `testing`).
//!
//! In a store crate's `tests/conformance.rs`:
//!
//! ```text
//! async fn fresh_store() -> (MyStore, impl Sized) {
//!     let dir = tempfile::tempdir().unwrap();
//!     (MyStore::open(dir.path().join("db")).await.unwrap(), dir)
//! }
//! inventory_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! `fresh_store` returns a new, empty store and a guard that is dropped when the test ends (a
//! temporary directory, a database to drop). The macro expands to one `#[tokio::test]` per case
//! of [`conformance`], [`batches`], [`carts`], [`decisions`], [`filters`], [`versions`] and [`concurrency`], and to the property tests of [`model`]; the test crate
//! needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.

pub mod batches;
pub mod carts;
pub mod concurrency;
pub mod conformance;
pub mod decisions;
pub mod filters;
pub mod locations;
pub mod model;
pub mod records;
pub mod versions;
pub mod webhooks;

use time::OffsetDateTime;

use crate::idempotency::Idempotent;
use crate::webhook::HeaderLookup;
use crate::{
    Cart, CartLine, Error, Money, NewOrder, NewProduct, Order, Product, ProductName, Quantity, Sku,
    Stock, Store,
};

/// The headers of the hex scheme, for the suite's webhook calls.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WebhookHeaders<'a> {
    /// `X-Webhook-Signature`.
    pub(crate) signature: Option<&'a str>,
    /// `X-Event-Id`.
    pub(crate) event_id: Option<&'a str>,
}

impl HeaderLookup for WebhookHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        match name {
            "x-webhook-signature" => self.signature,
            "x-event-id" => self.event_id,
            _ => None,
        }
    }
}

#[doc(hidden)]
pub use proptest as __proptest;

/// A fixed instant, truncated to microseconds, for deterministic timestamps.
pub fn t0() -> OffsetDateTime {
    time::macros::datetime!(2026-11-24 10:00:00 UTC)
}

/// A valid product to create. Panics on invalid arguments (test helper).
pub fn new_product(sku: &str, price_cents: i64, stock: i64) -> NewProduct {
    NewProduct::new(
        Sku::parse(sku).expect("valid test SKU"),
        ProductName::parse(&format!("Product {sku}")).expect("valid test name"),
        Money::from_cents(price_cents).expect("valid test price"),
        Stock::new(stock).expect("valid test stock"),
    )
}

/// A one-line order for `quantity` units of `product_id`.
pub fn new_order(product_id: i64, quantity: i64) -> Cart {
    NewOrder::new(
        product_id,
        Quantity::new(quantity).expect("valid test quantity"),
    )
    .into()
}

/// The only line of a one-line order.
pub fn only_line(order: &Order) -> crate::OrderLine {
    order.single_line().expect("a one-line order").clone()
}

/// `(id, status, [(product, quantity, unit price cents)], total cents)`: an order reduced to
/// what a test compares.
pub fn order_summary(order: &Order) -> (i64, crate::OrderStatus, Vec<(i64, i64, i64)>, i64) {
    let lines = order
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity.get(), l.unit_price.cents()))
        .collect();
    (order.id, order.status, lines, order.total.cents())
}

/// A cart of `(product_id, quantity)` lines.
pub fn cart(lines: &[(i64, i64)]) -> Cart {
    let lines = lines
        .iter()
        .map(|&(p, q)| CartLine::new(p, Quantity::new(q).expect("valid test quantity")))
        .collect();
    Cart::new(lines).expect("a valid test cart")
}

/// A valid adjustment, as a list of one. Panics on invalid arguments (test helper).
pub fn adjustment(delta: i64, reason: &str) -> crate::Adjustments {
    adjustments(&[(delta, reason)])
}

/// Valid adjustments applied together. Panics on invalid arguments (test helper).
pub fn adjustments(list: &[(i64, &str)]) -> crate::Adjustments {
    let list = list
        .iter()
        .map(|(delta, reason)| {
            crate::Adjustment::new(
                crate::StockDelta::new(*delta).expect("valid test delta"),
                crate::Reason::parse(reason).expect("valid test reason"),
            )
            .expect("non-zero test delta")
        })
        .collect();
    crate::Adjustments::new(list).expect("1 to 100 test adjustments")
}

/// The change an event `record` makes: `t`, with the webhook as its source.
pub fn by_event(record: &crate::store::EventRecord, t: crate::Transition) -> crate::StatusChange {
    let source = crate::ChangeSource::Webhook {
        event_id: record.id.as_str().to_owned(),
    };
    crate::StatusChange::new(t, source)
}

/// A stock level. Panics on invalid arguments (test helper).
pub fn stock(n: i64) -> Stock {
    Stock::new(n).expect("valid test stock")
}

/// Shorthands for the suite: creates without a key, at [`t0`].
#[async_trait::async_trait]
pub trait StoreExt: Store {
    /// Creates a product without an idempotency key.
    async fn create(&self, product: NewProduct) -> Result<Product, Error> {
        match self.create_product(product, t0(), None).await? {
            Idempotent::Created(p) => Ok(p),
            Idempotent::Replayed(_) => panic!("a create without a key was replayed"),
        }
    }

    /// Places an order without an idempotency key.
    async fn order(&self, order: impl Into<Cart> + Send) -> Result<Order, Error> {
        match self.place_order(order.into(), t0(), None).await? {
            Idempotent::Created(o) => Ok(o),
            Idempotent::Replayed(_) => panic!("an order without a key was replayed"),
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Generates the conformance suite for a store; see the [module docs](self).
#[macro_export]
macro_rules! store_conformance_tests {
    ($fresh:path) => {
        $crate::__store_case_tests!($fresh; conformance;
            product_crud,
            product_list_pages_by_id,
            duplicate_sku_is_refused,
            missing_rows_are_not_found,
            product_with_orders_cannot_be_deleted,
            place_order_takes_stock_and_snapshots_price,
            insufficient_stock_changes_nothing,
            adjust_stock_never_below_zero,
            status_changes_are_compare_and_set,
            cancel_restores_stock_only_before_shipping,
            list_orders_filters_and_pages,
            ping_answers,
        );
        $crate::__store_case_tests!($fresh; concurrency;
            concurrent_orders_never_oversell,
            concurrent_status_changes_keep_invariant,
            concurrent_duplicate_events_apply_once,
            concurrent_webhooks_and_cancels_keep_invariant,
        );
        $crate::__store_case_tests!($fresh; webhooks;
            webhook_event_applies_once,
            body_key_applies_once_under_any_id,
            failed_webhook_event_leaves_no_trace,
            webhook_through_inventory,
        );
        $crate::__store_case_tests!($fresh; decisions;
            same_operations_write_the_same_records,
            refusals_are_the_same_typed_errors,
        );
        $crate::__store_case_tests!($fresh; versions;
            versions_follow_every_change_of_the_row,
            stale_preconditions_change_nothing,
            one_of_two_writers_on_a_version_wins,
        );
        $crate::__store_case_tests!($fresh; batches;
            bulk_creates_and_updates_by_sku,
            bulk_with_key_replays_and_refuses_other_batches,
            concurrent_batches_over_the_same_skus,
            adjustment_lists_apply_all_or_none,
            skus_are_freed_by_rename_and_delete,
        );
        $crate::__store_case_tests!($fresh; carts;
            a_cart_takes_every_line_at_its_price,
            a_short_cart_takes_nothing_and_names_every_short_line,
            cancelling_a_cart_returns_every_line,
            overlapping_carts_never_oversell,
        );
        $crate::__store_case_tests!($fresh; locations;
            locations_are_created_listed_and_unique,
            seed_stock_is_the_default_location,
            orders_commit_ship_and_release,
            allocation_by_priority_is_recorded_and_returned,
            pinned_lines_are_served_where_they_say,
            transfers_and_adjustments_stay_at_their_locations,
            racing_carts_and_transfers_keep_every_location_exact,
        );
        $crate::__store_case_tests!($fresh; filters;
            list_orders_filters_by_creation_time,
        );
        $crate::__store_case_tests!($fresh; records;
            ledger_records_every_stock_change,
            history_records_every_status_change,
            expiry_cancels_old_pending_orders,
            expired_orders_cannot_be_paid,
            idempotency_key_replays_and_refuses_other_bodies,
            idempotency_keys_expire,
            concurrent_idempotent_requests_create_once,
        );

        #[test]
        fn proptest_model_sequences() {
            $crate::testing::model::check_sequences(|| $fresh());
        }

        #[test]
        fn proptest_concurrent_clients() {
            $crate::testing::model::check_concurrent_clients(|| $fresh());
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_case_tests {
    ($fresh:path; $module:ident; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, guard) = $fresh().await;
                $crate::testing::$module::$name(store).await;
                drop(guard);
            }
        )*
    };
}
