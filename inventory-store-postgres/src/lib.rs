//! # inventory-store-postgres
//!
//! The [`Store`] for many server instances sharing one PostgreSQL database: [`PostgresStore`].
//!
//! Every operation is atomic on the database itself, never by a lock in this process, so any
//! number of instances (each with its own pool) stay exactly as correct as one:
//!
//! - placing an order locks its products in id order, reads their levels at every location,
//!   and writes what core decided ([`inventory_core::Cart::place`]: which location serves which
//!   line) in one transaction: the order with its lines, allocations and history row, the
//!   levels committed with their ledger rows; orders without an idempotency key that arrive
//!   while others are being written are grouped into one transaction (products locked once,
//!   core deciding each cart in turn, one commit for all: see
//!   [`PostgresOptions::group_commit`]), so a hot product is not held to one order per commit;
//! - a status change is a compare-and-set (`UPDATE … WHERE id = $1 AND status = $expected`),
//!   with its history row in the same statement; a cancel's release of the units, or
//!   shipping's take off the shelf, follows in the same transaction at the locations the order
//!   was allocated from;
//! - every other stock change writes its levels and their ledger rows in the transaction that
//!   changes the stock, while holding the product's row lock;
//! - a webhook event's id is inserted in the transaction of its effect, and the primary key
//!   (`ON CONFLICT DO NOTHING`) decides which delivery applies; an idempotency key likewise, in
//!   the transaction of the create it guards;
//! - the expiry sweep locks the due orders with `SKIP LOCKED`, so concurrent sweeps split them,
//!   and cancels each with the same compare-and-set.
//!
//! The store decides nothing: statuses, ledger kinds and history sources are bound from the
//! core's values ([`inventory_core::StatusChange`] and friends); every level change is core's
//! ([`inventory_core::LevelChange`]), decided on levels read under the product's lock, the
//! schema's CHECKs only a backstop; idempotency keys are judged by
//! [`IdempotencyKey::verdict`]; every row read is re-validated into the domain types.
//!
//! Rows are always locked in the same order (webhook event or idempotency key, then order, then
//! product; several products by id; a product's levels only ever under its product's lock), so
//! these operations do not deadlock each other; should the server still abort one for a
//! deadlock or a serialization failure, it is retried a bounded number of times.
//!
//! A database out of reach (connection refused or lost, pool exhausted past its wait timeout)
//! is [`inventory_core::Error::Unavailable`], which the server answers with 503: never a panic,
//! never an unbounded wait.

mod batch;
mod error;
mod events;
mod expiry;
mod group;
mod idempotency;
mod locations;
mod migrate;
mod orders;
mod products;
mod rows;

use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use inventory_core::idempotency::{IdempotencyKey, Idempotent};
use inventory_core::store::{EventEffect, EventRecord};
use inventory_core::webhook::EventId;
use inventory_core::{
    Adjustments, BatchOutcome, Cart, Location, LocationLevel, NewLocation, NewProduct, Order,
    OrderEvent, OrderFilter, Page, Precondition, Product, ProductBatch, ProductPatch, Result,
    StatusChange, StockMovement, Store, Transfer,
};
use time::OffsetDateTime;
use tokio_postgres::NoTls;

pub use error::PostgresError;

use error::{OpError, OpResult};

/// How many times an operation runs when the server aborts it for a deadlock or a serialization
/// failure (which the fixed lock order should make rare to never).
const MAX_ATTEMPTS: u32 = 5;

/// Options for [`PostgresStore::connect_with`].
///
/// ```
/// use std::time::Duration;
/// use inventory_store_postgres::PostgresOptions;
/// let options = PostgresOptions {
///     pool_size: 32,
///     ..PostgresOptions::default()
/// }
/// .wait_timeout(Duration::from_secs(2));
/// assert_eq!(options.pool_size, 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The most connections this instance opens (default 16; 0 is taken as 1). With several
    /// instances, keep their sum below the server's `max_connections`.
    pub pool_size: usize,
    /// How long opening one connection may take, TCP and handshake included (default 5 s).
    pub connect_timeout: Duration,
    /// How long an operation waits for a free connection before failing with
    /// [`inventory_core::Error::Unavailable`] (default 5 s).
    pub wait_timeout: Duration,
    /// Place the orders without an idempotency key that arrive while others are being written
    /// together, in one transaction (default true): a hot product then sells many orders per
    /// commit instead of one. Every guarantee holds either way: a 201 is a committed order,
    /// a refusal writes nothing, and one order's failure is not another's.
    pub group_commit: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            group_commit: true,
        }
    }
}

impl PostgresOptions {
    /// Sets [`pool_size`](Self::pool_size).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`wait_timeout`](Self::wait_timeout).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets [`group_commit`](Self::group_commit).
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }
}

/// A [`Store`] on PostgreSQL: a cheap handle on a connection pool (clones share the pool).
///
/// [`connect`](Self::connect) applies the embedded migrations first, under an advisory lock, so
/// instances starting together do not race each other. Connections are plain TCP (no TLS).
///
/// ```no_run
/// use inventory_core::{Inventory, NewProduct};
/// use inventory_store_postgres::PostgresStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/shop").await?;
/// let inventory = Inventory::new(store);
/// let widget = inventory
///     .create_product(NewProduct::from_json(&serde_json::json!(
///         {"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))?)
///     .await?;
/// assert_eq!(widget.stock, 50);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// `Some` with [`PostgresOptions::group_commit`]: the batches of keyless placements.
    group: Option<std::sync::Arc<group::GroupCommit>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

/// The connection pool as it is now, for monitoring: how full it is, and who waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections no request holds.
    pub idle: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

impl PostgresStore {
    /// The pool's state now.
    pub fn pool_stats(&self) -> PoolStats {
        let status = self.pool.status();
        PoolStats {
            max_size: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }

    /// Connects with [`PostgresOptions::default`]; see [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<PostgresStore, PostgresError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`, or the
    /// `key=value` form), applies the pending migrations, and builds the pool.
    ///
    /// A server that cannot be reached fails within `connect_timeout` with an error whose
    /// [`is_unavailable`](PostgresError::is_unavailable) is true (and which converts to
    /// [`inventory_core::Error::Unavailable`]).
    pub async fn connect_with(
        url: &str,
        options: PostgresOptions,
    ) -> Result<PostgresStore, PostgresError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(PostgresError::InvalidUrl)?;
        config.connect_timeout(options.connect_timeout);
        detect_dead_peers(&mut config);
        if config.get_application_name().is_none() {
            // Shows in pg_stat_activity, so an operator can tell the instances' sessions apart.
            config.application_name("inventory-store-postgres");
        }
        migrate::run(&config, options.connect_timeout).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection that died while idle is noticed (it is closed) and replaced; one
                // that dies during a statement fails that statement with `Unavailable`.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            // Every wait is bounded: for a free slot, for a new connection (handshake included),
            // and for the check of a returned one.
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(PostgresError::BuildPool)?;
        let group = options
            .group_commit
            .then(|| std::sync::Arc::new(group::GroupCommit::new()));
        Ok(PostgresStore { pool, group })
    }

    /// A connection from the pool.
    async fn client(&self) -> OpResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

/// Makes a server that vanishes without closing its connections (power loss, network cut) show
/// up as a lost connection, hence `Unavailable`, within about a minute, rather than after the
/// system's default of two hours of TCP silence. Settings given in the URL are kept.
fn detect_dead_peers(config: &mut tokio_postgres::Config) {
    const SYSTEM_DEFAULT_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
    if config.get_keepalives_idle() == SYSTEM_DEFAULT_IDLE {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        // Also bounds how long sent data may stay unacknowledged.
        config.tcp_user_timeout(Duration::from_secs(60));
    }
}

/// Runs `attempt` until it succeeds, fails for another reason than a deadlock or serialization
/// failure, or has run [`MAX_ATTEMPTS`] times.
///
/// Safe because such a failure aborted the whole statement or transaction: nothing of the
/// attempt was applied. A lost connection is not retried: a write may have committed just
/// before it, so the caller gets `Unavailable` and decides.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = OpResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(OpError::Db(e)) if e.is_retryable_conflict() && tries < MAX_ATTEMPTS => {
                // Exponential backoff with jitter, so the transactions that collided do not
                // collide again in lockstep: up to 2, 4, 8, 16 ms.
                let cap_micros = 1_000u64 << tries;
                let jitter = std::hash::RandomState::new().hash_one(tries) % cap_micros;
                tokio::time::sleep(Duration::from_micros(cap_micros / 2 + jitter / 2)).await;
                tries += 1;
            }
            other => return other.map_err(Into::into),
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_product(
        &self,
        product: NewProduct,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Product>> {
        retrying(|| self.create_product_once(&product, at, key)).await
    }

    async fn get_product(&self, id: i64) -> Result<Product> {
        retrying(|| self.get_product_once(id)).await
    }

    async fn list_products(&self, page: Page) -> Result<Vec<Product>> {
        retrying(|| self.list_products_once(page)).await
    }

    async fn update_product(
        &self,
        id: i64,
        patch: ProductPatch,
        at: OffsetDateTime,
    ) -> Result<Product> {
        retrying(|| self.update_product_once(id, &patch, at)).await
    }

    async fn delete_product(&self, id: i64, precondition: Option<&Precondition>) -> Result<()> {
        retrying(|| self.delete_product_once(id, precondition)).await
    }

    async fn adjust_stock(
        &self,
        id: i64,
        adjustments: &Adjustments,
        at: OffsetDateTime,
    ) -> Result<Product> {
        retrying(|| self.adjust_stock_once(id, adjustments, at)).await
    }

    async fn upsert_products(
        &self,
        batch: &ProductBatch,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<BatchOutcome>> {
        retrying(|| self.upsert_products_once(batch, at, key)).await
    }

    async fn list_movements(&self, product_id: i64, page: Page) -> Result<Vec<StockMovement>> {
        retrying(|| self.list_movements_once(product_id, page)).await
    }

    async fn place_order(
        &self,
        order: Cart,
        at: OffsetDateTime,
        key: Option<&IdempotencyKey>,
    ) -> Result<Idempotent<Order>> {
        match key {
            // Grouped when group commit is on, else on its own: `place_grouped` decides.
            None => self.place_grouped(order, at).await.map(Idempotent::Created),
            Some(_) => retrying(|| self.place_order_once(&order, at, key)).await,
        }
    }

    async fn get_order(&self, id: i64) -> Result<Order> {
        retrying(|| self.get_order_once(id)).await
    }

    async fn list_orders(&self, filter: OrderFilter, page: Page) -> Result<Vec<Order>> {
        retrying(|| self.list_orders_once(filter, page)).await
    }

    async fn change_status(
        &self,
        order_id: i64,
        change: &StatusChange,
        at: OffsetDateTime,
    ) -> Result<Order> {
        retrying(|| self.change_status_once(order_id, change, at)).await
    }

    async fn order_history(&self, order_id: i64) -> Result<Vec<OrderEvent>> {
        retrying(|| self.order_history_once(order_id)).await
    }

    async fn expire_orders(
        &self,
        change: &StatusChange,
        created_before: OffsetDateTime,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>> {
        retrying(|| self.expire_orders_once(change, created_before, at, limit)).await
    }

    async fn event_processed(&self, id: &EventId) -> Result<bool> {
        retrying(|| self.event_processed_once(id)).await
    }

    async fn apply_event(
        &self,
        event: &EventRecord,
        effect: &EventEffect,
        at: OffsetDateTime,
    ) -> Result<Option<Order>> {
        retrying(|| self.apply_event_once(event, effect, at)).await
    }

    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64> {
        retrying(|| self.purge_idempotency_keys_once(created_before)).await
    }

    async fn ping(&self) -> Result<()> {
        retrying(|| async {
            self.client().await?.batch_execute("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    async fn create_location(&self, location: NewLocation) -> Result<Location> {
        retrying(|| self.create_location_once(&location)).await
    }

    async fn list_locations(&self) -> Result<Vec<Location>> {
        retrying(|| self.list_locations_once()).await
    }

    async fn get_location(&self, id: i64) -> Result<Location> {
        retrying(|| self.get_location_once(id)).await
    }

    async fn product_levels(&self, product_id: i64) -> Result<Vec<LocationLevel>> {
        retrying(|| self.product_levels_once(product_id)).await
    }

    async fn transfer_stock(
        &self,
        transfer: &Transfer,
        at: OffsetDateTime,
    ) -> Result<Vec<LocationLevel>> {
        retrying(|| self.transfer_stock_once(transfer, at)).await
    }

    /// Closes the pool: connections are released as they come back, and later operations fail
    /// with [`inventory_core::Error::Unavailable`].
    async fn close(&self) -> Result<()> {
        self.pool.close();
        Ok(())
    }
}
