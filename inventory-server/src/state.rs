//! What every request handler shares.

use std::sync::Arc;

use bytes::Bytes;
use inventory_core::{Inventory, Store};
use metrics_exporter_prometheus::PrometheusHandle;

/// The store chosen at start-up (SQLite or PostgreSQL), behind one type.
pub type DynStore = Arc<dyn Store>;

/// Shared state: the engine, the metrics, the pre-rendered API document.
pub struct AppState {
    /// The engine.
    pub inventory: Inventory<DynStore>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// `/openapi.json`, rendered once at start.
    pub openapi_json: Bytes,
    /// Swagger UI's configuration.
    pub swagger: Arc<utoipa_swagger_ui::Config<'static>>,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `MAX_BULK_BODY_BYTES`, for [`crate::routes::BULK_PATH`].
    pub max_bulk_body_bytes: usize,
    /// `BODY_READ_TIMEOUT`: a body not complete by then is answered 408.
    pub body_read_timeout: std::time::Duration,
    /// `API_KEY`s that writes need.
    pub api_keys: crate::auth::ApiKeys,
    /// `REQUIRE_IF_MATCH`: writes to a product or an order without `If-Match` are a 428.
    pub require_if_match: bool,
    /// The store's own gauges, read at each `/metrics`.
    pub gauges: crate::gauges::StoreGauges,
    /// Per-client limits (`None`: off).
    pub limiter: Option<crate::ratelimit::ClientLimiter>,
}
