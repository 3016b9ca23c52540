//! The baseline: a bare warp server answering product-shaped JSON, with no database, no
//! validation and no middleware. Every HTTP figure of ours is reported as a ratio of it, measured
//! in the same run with the same client and settings, so machine noise cancels out.
//!
//! - `GET /product`: one product, the size of ours (`{"id":1,"sku":"LOAD-000001",...}`).
//! - `GET /products`: an array of 100 of them, as `GET /products?limit=100` answers.
//!
//! The bodies are built once; each request serializes them again with `warp::reply::json`, as a
//! minimal warp handler holding its data in memory would.

use std::sync::Arc;

use serde::Serialize;
use warp::Filter;

/// A product as the bare server holds it: plain fields, price as a float.
#[derive(Debug, Clone, Serialize)]
pub struct BareProduct {
    /// Id.
    pub id: i64,
    /// SKU, as the load test's seeded products have them.
    pub sku: String,
    /// Name, likewise.
    pub name: String,
    /// Price.
    pub price: f64,
    /// Stock.
    pub stock: i64,
}

/// The load test's seeded product number `n`, as the bare server answers it.
pub fn sample(n: i64) -> BareProduct {
    BareProduct {
        id: n,
        sku: sku(n),
        name: name(n),
        price: 49.99,
        stock: 1_000_000_000,
    }
}

/// The SKU the load test gives its seeded product `n`.
pub fn sku(n: i64) -> String {
    format!("LOAD-{n:06}")
}

/// The name the load test gives its seeded product `n`.
pub fn name(n: i64) -> String {
    format!("Load widget {n:06}")
}

/// The baseline's routes: `GET /product` and `GET /products`; anything else is warp's 404.
pub fn routes()
-> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let one = Arc::new(sample(1));
    let list: Arc<Vec<BareProduct>> = Arc::new((1..=100).map(sample).collect());
    let one = warp::get()
        .and(warp::path!("product"))
        .map(move || warp::reply::json(&*one));
    let list = warp::get()
        .and(warp::path!("products"))
        .map(move || warp::reply::json(&*list));
    one.or(list)
}

/// The pre-serialized baseline: `GET /product` and `GET /products` answer `one` and `list`,
/// bytes given once (the server under test's own bodies, fetched by the load test), as
/// `application/json`. What is left is warp's own cost: no data, no serialization.
pub fn raw_routes(
    one: Vec<u8>,
    list: Vec<u8>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let json = |body: warp::hyper::body::Bytes| {
        warp::http::Response::builder()
            .header("content-type", "application/json")
            .body(body)
            .unwrap_or_default()
    };
    let (one, list) = (
        warp::hyper::body::Bytes::from(one),
        warp::hyper::body::Bytes::from(list),
    );
    let one = warp::get()
        .and(warp::path!("product"))
        .map(move || json(one.clone()));
    let list = warp::get()
        .and(warp::path!("products"))
        .map(move || json(list.clone()));
    one.or(list)
}

/// Serves [`raw_routes`] on `listener` until `stop` resolves.
pub async fn serve_raw_until<F>(
    listener: tokio::net::TcpListener,
    one: Vec<u8>,
    list: Vec<u8>,
    stop: F,
) where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    warp::serve(raw_routes(one, list))
        .incoming(listener)
        .graceful(stop)
        .run()
        .await;
}

/// Serves the baseline on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) {
    warp::serve(routes()).incoming(listener).run().await;
}

/// Serves the baseline on `listener` until `stop` resolves.
pub async fn serve_until<F>(listener: tokio::net::TcpListener, stop: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    warp::serve(routes())
        .incoming(listener)
        .graceful(stop)
        .run()
        .await;
}
