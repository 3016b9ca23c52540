//! The goose scenarios and the runner of one attack.
//!
//! Every user is closed-loop with no wait: it sends its next request as soon as the previous
//! answer has been read, over its own keep-alive connection. Every response body is read in
//! full (an unread body would cost the connection), and a request that does not answer its
//! expected 2xx is a failure.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::seed::Seeded;

/// A load shape: which requests, in which proportions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Kind {
    /// The seed's Locust user: list products 8, create product 2, create order 1, get a random
    /// order 1, get a product 1 (about 80 % reads).
    Mix,
    /// `GET /products/{id}` only.
    Get,
    /// `GET /products?limit=100` only.
    List,
    /// `POST /orders` only.
    Orders,
    /// The baseline's `GET /product` only.
    BaselineGet,
    /// The baseline's `GET /products` (100 items) only.
    BaselineList,
}

impl Kind {
    /// Whether it loads the bare baseline rather than our server.
    pub fn is_baseline(self) -> bool {
        matches!(self, Kind::BaselineGet | Kind::BaselineList)
    }

    /// Its name in reports.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Mix => "mix",
            Kind::Get => "product-get",
            Kind::List => "product-list",
            Kind::Orders => "orders",
            Kind::BaselineGet => "baseline-get",
            Kind::BaselineList => "baseline-list",
        }
    }

    fn scenario(self) -> Result<Scenario, GooseError> {
        let s = scenario!("Load");
        Ok(match self {
            Kind::Mix => s
                .register_transaction(
                    transaction!(list_products)
                        .set_name("list products")
                        .set_weight(8)?,
                )
                .register_transaction(
                    transaction!(create_product)
                        .set_name("create product")
                        .set_weight(2)?,
                )
                .register_transaction(
                    transaction!(create_order)
                        .set_name("create order")
                        .set_weight(1)?,
                )
                .register_transaction(
                    transaction!(get_order)
                        .set_name("get order")
                        .set_weight(1)?,
                )
                .register_transaction(
                    transaction!(get_product)
                        .set_name("get product")
                        .set_weight(1)?,
                ),
            Kind::Get => s.register_transaction(transaction!(get_product)),
            Kind::List => s.register_transaction(transaction!(list_products)),
            Kind::Orders => s.register_transaction(transaction!(create_order)),
            Kind::BaselineGet => s.register_transaction(transaction!(baseline_product)),
            Kind::BaselineList => s.register_transaction(transaction!(baseline_list)),
        })
    }
}

/// Request names (goose reports them as "METHOD name").
pub const LIST: &str = "/products?limit=100";
/// See [`LIST`].
pub const GET_PRODUCT: &str = "/products/{id}";
/// See [`LIST`].
pub const CREATE_PRODUCT: &str = "/products";
/// See [`LIST`].
pub const CREATE_ORDER: &str = "/orders";
/// See [`LIST`].
pub const GET_ORDER: &str = "/orders/{id}";
/// See [`LIST`].
pub const BASELINE_PRODUCT: &str = "/product (baseline)";
/// See [`LIST`].
pub const BASELINE_LIST: &str = "/products (baseline, 100 items)";

/// The ids the transactions pick from, set before each attack.
fn seeded() -> Arc<Seeded> {
    let cell = SEEDED.get_or_init(|| RwLock::new(Arc::new(Seeded::default())));
    cell.read().unwrap_or_else(|p| p.into_inner()).clone()
}

static SEEDED: OnceLock<RwLock<Arc<Seeded>>> = OnceLock::new();

/// Makes `seeded` what the next attacks pick ids from.
pub fn set_seeded(seeded: Seeded) {
    let cell = SEEDED.get_or_init(|| RwLock::new(Arc::new(Seeded::default())));
    *cell.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(seeded);
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()) | 1);
}

/// A uniformly random index below `n` (xorshift64*; statistical quality is all that matters).
fn pick(n: usize) -> usize {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    })
}

/// Makes SKUs unique across attacks and runs against the same database.
static NEXT_SKU: AtomicU64 = AtomicU64::new(0);

fn run_nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| RandomState::new().hash_one(std::process::id()) % 1_000_000)
}

/// Sends one request with a name and reads its body in full.
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<String>,
) -> TransactionResult {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    if let Ok(response) = goose.response {
        // Read to the end, so the connection goes back to the pool for the next request.
        let _ = response.bytes().await;
    }
    Ok(())
}

async fn list_products(user: &mut GooseUser) -> TransactionResult {
    send(user, GooseMethod::Get, "/products?limit=100", LIST, None).await
}

async fn get_product(user: &mut GooseUser) -> TransactionResult {
    let seeded = seeded();
    let id = seeded.products[pick(seeded.products.len())];
    send(
        user,
        GooseMethod::Get,
        &format!("/products/{id}"),
        GET_PRODUCT,
        None,
    )
    .await
}

async fn create_product(user: &mut GooseUser) -> TransactionResult {
    let n = NEXT_SKU.fetch_add(1, Ordering::Relaxed);
    let body = format!(
        r#"{{"sku": "LT{:06}-{n:08}", "name": "Load test widget {n}", "price": 19.99, "stock": 1000}}"#,
        run_nonce()
    );
    send(
        user,
        GooseMethod::Post,
        "/products",
        CREATE_PRODUCT,
        Some(body),
    )
    .await
}

async fn create_order(user: &mut GooseUser) -> TransactionResult {
    let seeded = seeded();
    let id = seeded.products[pick(seeded.products.len())];
    let body = format!(r#"{{"product_id": {id}, "quantity": 1}}"#);
    send(user, GooseMethod::Post, "/orders", CREATE_ORDER, Some(body)).await
}

async fn get_order(user: &mut GooseUser) -> TransactionResult {
    let seeded = seeded();
    let id = seeded.orders[pick(seeded.orders.len())];
    send(
        user,
        GooseMethod::Get,
        &format!("/orders/{id}"),
        GET_ORDER,
        None,
    )
    .await
}

async fn baseline_product(user: &mut GooseUser) -> TransactionResult {
    send(user, GooseMethod::Get, "/product", BASELINE_PRODUCT, None).await
}

async fn baseline_list(user: &mut GooseUser) -> TransactionResult {
    send(user, GooseMethod::Get, "/products", BASELINE_LIST, None).await
}

/// Runs one attack: `users` closed-loop users, all started within about 0.1 s, then
/// `run_time` seconds measured (goose resets its metrics once every user runs). With
/// `max_wait_ms`, each user waits a random 0..=max_wait_ms ms after each request (a paced load
/// below saturation); without, none.
pub async fn attack(
    host: &str,
    kind: Kind,
    users: usize,
    run_time: u64,
    max_wait_ms: Option<u64>,
) -> Result<GooseMetrics, String> {
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_owned());
    config.users = Some(users);
    config.increase_rate = Some((users.max(1) * 10).to_string());
    config.run_time = Some(run_time.to_string());
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_telnet = true;
    config.no_gzip = true;
    config.timeout = Some("30".into());
    let mut scenario = kind.scenario().map_err(|e| format!("goose: {e}"))?;
    if let Some(max) = max_wait_ms {
        scenario = scenario
            .set_wait_time(
                std::time::Duration::ZERO,
                std::time::Duration::from_millis(max),
            )
            .map_err(|e| format!("goose: {e}"))?;
    }
    GooseAttack::initialize_with_config(config)
        .map_err(|e| format!("goose: {e}"))?
        .register_scenario(scenario)
        .execute()
        .await
        .map_err(|e| format!("goose: {e}"))
}
