//! The OpenAPI document, `/openapi.json`.
//!
//! Two sources, so that nothing in it is a hand-kept copy of a rule:
//! - the answers' shapes are derived (utoipa) from the structs below, which mirror what the core
//!   serializes;
//! - everything a client is refused for — request bodies with their bounds and patterns,
//!   query, path and header parameters, and every error answer of every route — is built in
//!   [`schemas`] and `operations` from the constants and character rules the core validates
//!   with, and from the error table of the pipeline.
//!
//! `tests/api/operations.rs` checks the paths against the router's table; `.ci/run` runs
//! schemathesis against a live server with this document.
#![allow(dead_code)] // The `doc_*` functions exist only to carry `#[utoipa::path]`.

mod operations;
pub mod schemas;

use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

/// A product.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))]
pub struct Product {
    id: i64,
    /// Unique; see `ProductCreate` for its rules.
    sku: String,
    name: String,
    /// The exact decimal price.
    #[schema(value_type = f64)]
    price: f64,
    stock: i64,
}

/// What a bulk write did with one item.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Upserted {
    /// No product had its SKU: created, with an `initial` ledger row.
    Created,
    /// The product with its SKU was overwritten (name, price, stock; a changed stock writes a
    /// `set` ledger row).
    Updated,
    /// The product with its SKU already was exactly this: nothing written.
    Unchanged,
}

/// One item of a bulk write's answer, in the order of the request.
#[derive(Serialize, ToSchema)]
pub struct BatchItem {
    result: Upserted,
    product: Product,
}

/// What `POST /products/bulk` did.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"created": 1, "updated": 1, "unchanged": 0, "items": [
    {"result": "updated", "product": {"id": 1, "sku": "PROD-001", "name": "Widget", "price": 44.99, "stock": 80}},
    {"result": "created", "product": {"id": 2, "sku": "PROD-002", "name": "Gadget", "price": 19.5, "stock": 10}}]}))]
pub struct BatchOutcome {
    created: i64,
    updated: i64,
    unchanged: i64,
    items: Vec<BatchItem>,
}

/// An order's status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    /// Placed, not paid.
    Pending,
    /// Paid.
    Paid,
    /// Shipped (final).
    Shipped,
    /// Canceled (final).
    Canceled,
}

/// An order: its lines, each priced when it was placed, and their total. An order of one line
/// also shows that line's `product_id`, `quantity` and `unit_price` at the top (the seed's
/// shape); an order of several lines does not.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "product_id": 1, "quantity": 3, "status": "PENDING",
    "unit_price": 49.99, "total": 149.97,
    "lines": [{"product_id": 1, "quantity": 3, "unit_price": 49.99, "total": 149.97,
               "allocations": [{"location_id": 1, "quantity": 3}]}],
    "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z"}))]
pub struct Order {
    id: i64,
    /// One-line orders only.
    #[serde(skip_serializing_if = "Option::is_none")]
    product_id: Option<i64>,
    /// One-line orders only.
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<i64>,
    status: OrderStatus,
    /// One-line orders only.
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<f64>,
    /// The sum of the lines' totals.
    #[schema(value_type = f64)]
    total: f64,
    /// 1 to 100 lines, in the cart's order (lines of one product merged).
    lines: Vec<OrderLine>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// One line of an order.
#[derive(Serialize, ToSchema)]
pub struct OrderLine {
    product_id: i64,
    quantity: i64,
    /// The product's price when the order was placed.
    #[schema(value_type = f64)]
    unit_price: f64,
    /// `unit_price × quantity`.
    #[schema(value_type = f64)]
    total: f64,
    /// Where its units were taken from: one location when one could serve the whole line (by
    /// priority), else split. A cancel returns them exactly there.
    allocations: Vec<Allocation>,
}

/// Units of a line taken from one location.
#[derive(Serialize, ToSchema)]
pub struct Allocation {
    location_id: i64,
    quantity: i64,
}

/// A place stock is kept. Location 1, `default`, exists from the first migration on: the seed's
/// `stock` lives there.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "code": "WH-EAST", "name": "East warehouse", "priority": 1}))]
pub struct Location {
    id: i64,
    /// Unique.
    code: String,
    name: String,
    /// Allocation order: lower first, ties by lower id.
    priority: i32,
}

/// A product's stock at one location.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"location_id": 1, "priority": 0, "on_hand": 10, "committed": 3, "available": 7}))]
pub struct LocationLevel {
    location_id: i64,
    /// The location's priority.
    priority: i32,
    /// On the shelf.
    on_hand: i64,
    /// Held by PENDING and PAID orders.
    committed: i64,
    /// `on_hand − committed`: what a new order or a transfer may take.
    available: i64,
}

/// The webhook's answer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "success", "message": "Order 7 marked as PAID", "order_id": 7, "order_status": "PAID"}))]
pub struct WebhookResult {
    /// `success` or `ignored`.
    status: String,
    message: String,
    order_id: Option<i64>,
    order_status: Option<OrderStatus>,
}

/// One row of a product's stock ledger.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "product_id": 1, "delta": -3, "kind": "adjustment",
    "reason": "damaged", "order_id": null, "location_id": 1, "created_at": "2026-11-24T10:00:00Z"}))]
pub struct StockMovement {
    id: i64,
    product_id: i64,
    /// The change of the available units at `location_id`.
    delta: i64,
    /// `initial`, `adjustment`, `set`, `order_placed`, `order_canceled`, `expired`,
    /// `transfer_out` or `transfer_in`.
    kind: String,
    reason: String,
    order_id: Option<i64>,
    location_id: i64,
    #[schema(format = DateTime)]
    created_at: String,
}

/// One entry of an order's history.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "order_id": 7, "from_status": "PENDING", "to_status": "PAID",
    "source": "webhook", "event_id": "evt_1", "created_at": "2026-11-24T10:05:00Z"}))]
pub struct OrderEvent {
    id: i64,
    order_id: i64,
    from_status: Option<OrderStatus>,
    to_status: OrderStatus,
    /// `api`, `webhook` (with `event_id`) or `expiry`.
    source: String,
    event_id: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

/// Health.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    status: String,
}

#[utoipa::path(post, path = "/products", tag = "products",
    description = "Creates a product. The price is held exactly (integer cents). With `Idempotency-Key`, a retry answers the first response.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for IDEMPOTENCY_TTL (24 hours by default)")),
    responses((status = 201, description = "Created", body = Product, headers(("Location" = String, description = "`/products/{id}`"), ("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer")))))]
fn doc_create_product() {}

#[utoipa::path(post, path = "/products/bulk", tag = "products",
    description = "Creates or updates up to 1,000 products by SKU in one transaction: all or nothing. An unknown SKU is created; a known one has its name, price and stock overwritten; an item equal to its product changes nothing. Every invalid item is listed by index in the 422 (`[\"body\", \"products\", 3, \"price\"]`); a SKU twice in one request is refused. Bodies up to MAX_BULK_BODY_BYTES (1 MiB by default). With `Idempotency-Key`, a retry answers the first response and writes nothing.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for IDEMPOTENCY_TTL (24 hours by default)")),
    responses((status = 200, description = "Every item written, in the request's order", body = BatchOutcome, headers(("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer")))))]
fn doc_bulk_products() {}

#[utoipa::path(post, path = "/products/{product_id}/adjustments", tag = "products",
    params(("product_id" = i64, Path)),
    description = "Adds or removes stock, recorded in the ledger with its reason. A list of up to 100 adjustments applies in order, in one step, all or none: each step must keep the stock within 0 and its maximum.",
    responses((status = 200, description = "The product after the change", body = Product)))]
fn doc_adjust_stock() {}

#[utoipa::path(get, path = "/products/{product_id}/adjustments", tag = "products",
    params(("product_id" = i64, Path), ("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("after" = Option<i64>, Query)),
    description = "The product's stock ledger, oldest first: every change with its reason.",
    responses((status = 200, description = "A page of the ledger", body = Vec<StockMovement>,
               headers(("Link" = String, description = "rel=\"next\" while rows remain after this page")))))]
fn doc_list_adjustments() {}

#[utoipa::path(get, path = "/orders/{order_id}/events", tag = "orders", params(("order_id" = i64, Path)),
    description = "The order's status history, oldest first, with what caused each change.",
    responses((status = 200, description = "The history", body = Vec<OrderEvent>)))]
fn doc_order_events() {}

#[utoipa::path(get, path = "/products", tag = "products",
    params(("skip" = Option<i64>, Query, description = "Rows to skip"),
           ("limit" = Option<i64>, Query, description = "Page size"),
           ("after" = Option<i64>, Query, description = "Cursor: only ids greater than this")),
    responses((status = 200, description = "A page of products, by id", body = Vec<Product>,
               headers(("Link" = String, description = "rel=\"next\" while rows remain after this page")))))]
fn doc_list_products() {}

#[utoipa::path(get, path = "/products/{product_id}", tag = "products",
    params(("product_id" = i64, Path)),
    responses((status = 200, description = "The product", body = Product)))]
fn doc_get_product() {}

#[utoipa::path(put, path = "/products/{product_id}", tag = "products",
    params(("product_id" = i64, Path)),
    responses((status = 200, description = "The product after the change", body = Product)))]
fn doc_update_product() {}

#[utoipa::path(delete, path = "/products/{product_id}", tag = "products",
    params(("product_id" = i64, Path)),
    responses((status = 204, description = "Deleted")))]
fn doc_delete_product() {}

#[utoipa::path(post, path = "/orders", tag = "orders",
    description = "Places an order: checks and takes stock, snapshots the price, in one atomic step. With `Idempotency-Key`, a retry answers the first response and places nothing.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for IDEMPOTENCY_TTL (24 hours by default)")),
    responses((status = 201, description = "Placed", body = Order, headers(("Location" = String, description = "`/orders/{id}`"), ("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer")))))]
fn doc_create_order() {}

#[utoipa::path(get, path = "/orders", tag = "orders",
    params(("skip" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("after" = Option<i64>, Query, description = "Cursor: only ids greater than this"),
           ("status" = Option<OrderStatus>, Query), ("product_id" = Option<i64>, Query),
           ("created_after" = Option<String>, Query, description = "RFC 3339; only orders created at or after it"),
           ("created_before" = Option<String>, Query, description = "RFC 3339; only orders created before it (the interval is half-open)")),
    responses((status = 200, description = "A page of orders, by id", body = Vec<Order>,
               headers(("Link" = String, description = "rel=\"next\" while rows remain after this page")))))]
fn doc_list_orders() {}

#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path)),
    responses((status = 200, description = "The order", body = Order)))]
fn doc_get_order() {}

#[utoipa::path(put, path = "/orders/{order_id}", tag = "orders",
    params(("order_id" = i64, Path)),
    description = "PENDING→PAID|CANCELED, PAID→SHIPPED|CANCELED; the current status is a no-op. Canceling returns the units.",
    responses((status = 200, description = "The order after the change", body = Order)))]
fn doc_update_order() {}

#[utoipa::path(delete, path = "/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path)),
    description = "Cancels the order (it is kept, CANCELED) and returns its units if it had not shipped.",
    responses((status = 204, description = "Canceled")))]
fn doc_cancel_order() {}

#[utoipa::path(post, path = "/webhooks/payment", tag = "webhooks",
    description = "Checks, in order: signature (401), replay (400), body (422), effect. The event id — and, with the hex and stripe schemes, whose id is not signed, the SHA-256 of the body too — is recorded with its effect: a byte-identical body applies at most once whatever id it carries.",
    params(("X-Webhook-Signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=hex (default): hex HMAC-SHA256 of the raw body, optional `sha256=` prefix"),
           ("X-Event-Id" = Option<String>, Header, description = "hex and stripe: the event id; defaults to the SHA-256 of the body"),
           ("Stripe-Signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=stripe: `t=<unix>,v1=<hex>`, signed payload `t.body`, 300 s tolerance"),
           ("webhook-id" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: the event id"),
           ("webhook-timestamp" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: unix seconds, 300 s tolerance"),
           ("webhook-signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: space-separated `v1,<base64>` entries")),
    responses((status = 200, description = "Applied, already paid, or ignored", body = WebhookResult)))]
fn doc_payment_webhook() {}

#[utoipa::path(get, path = "/products/{product_id}/levels", tag = "locations",
    params(("product_id" = i64, Path)),
    description = "The product's stock at each location it has any: on hand, committed to PENDING and PAID orders, available. Its `stock` is the sum of `available`.",
    responses((status = 200, description = "The levels, by location id", body = Vec<LocationLevel>)))]
fn doc_product_levels() {}

#[utoipa::path(post, path = "/locations", tag = "locations",
    description = "Creates a location. Orders are allocated from the location with the lowest priority that can serve a whole line, else split across locations in priority order.",
    responses((status = 201, description = "Created", body = Location, headers(("Location" = String, description = "`/locations/{id}`")))))]
fn doc_create_location() {}

#[utoipa::path(get, path = "/locations", tag = "locations",
    responses((status = 200, description = "Every location, by id", body = Vec<Location>)))]
fn doc_list_locations() {}

#[utoipa::path(get, path = "/locations/{location_id}", tag = "locations",
    params(("location_id" = i64, Path)),
    responses((status = 200, description = "The location", body = Location)))]
fn doc_get_location() {}

#[utoipa::path(post, path = "/transfers", tag = "locations",
    description = "Moves units of one product between two locations in one step, with a `transfer_out` and a `transfer_in` ledger row. Only available units move: units committed to orders stay.",
    responses((status = 200, description = "The product's levels after the move", body = Vec<LocationLevel>)))]
fn doc_transfer() {}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The database answers", body = Health)))]
fn doc_health() {}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
fn doc_metrics() {}

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object)))]
fn doc_openapi() {}

#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "Swagger UI", content_type = "text/html", body = String)))]
fn doc_docs() {}

#[utoipa::path(get, path = "/redoc", tag = "operations",
    responses((status = 200, description = "ReDoc", content_type = "text/html", body = String)))]
fn doc_redoc() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "Orders & Inventory Microservice", version = "1.0.0",
         description = "Products, orders with atomic stock, and signed payment webhooks."),
    paths(doc_create_product, doc_bulk_products, doc_adjust_stock, doc_list_adjustments, doc_order_events, doc_list_products, doc_get_product, doc_update_product,
          doc_delete_product, doc_create_order, doc_list_orders, doc_get_order, doc_update_order,
          doc_cancel_order, doc_payment_webhook, doc_health, doc_metrics, doc_openapi, doc_docs,
          doc_redoc, doc_product_levels, doc_create_location, doc_list_locations, doc_get_location,
          doc_transfer),
    components(schemas(Product, BatchOutcome, BatchItem, Upserted, Order, OrderLine, Allocation, Location, LocationLevel, OrderStatus, WebhookResult, Health, StockMovement, OrderEvent)),
    tags((name = "products", description = "Product management"),
         (name = "orders", description = "Order management"),
         (name = "locations", description = "Stock per location: levels, transfers"),
         (name = "webhooks", description = "Payment webhooks"),
         (name = "operations", description = "Health, metrics and documentation")),
)]
struct ApiDoc;

/// The document: the derived part, then the API key security, the request bodies, parameters
/// and every error answer (see `operations.rs`).
pub fn document() -> Value {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
    };
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some(
            "API_KEY, when the server sets one; the scheme name in any case",
        ))
        .build();
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    let header = ApiKey::Header(ApiKeyValue::new("X-API-Key"));
    components.add_security_scheme("api_key", SecurityScheme::ApiKey(header));
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    schemas::add_components(&mut doc);
    operations::complete(&mut doc);
    version_paths(&mut doc);
    doc
}

/// Lists every route under the path clients should use: [`crate::routes::documented_path`].
fn version_paths(doc: &mut Value) {
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        let all = std::mem::take(paths);
        for (template, item) in all {
            paths.insert(crate::routes::documented_path(&template), item);
        }
    }
}

/// The document as JSON text. Built once per process: its patterns come from scanning every
/// Unicode scalar value against the core's character rules, which is start-up work no second
/// application in the process (tests start hundreds) should repeat.
pub fn document_json() -> Vec<u8> {
    static JSON: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| serde_json::to_vec_pretty(&document()).unwrap_or_default())
        .clone()
}
