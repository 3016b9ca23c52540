//! The OpenAPI document. Schemas here describe the wire format only; the rules that enforce it
//! live in `inventory-core`.
#![allow(dead_code)] // The `doc_*` functions exist only to carry `#[utoipa::path]`.

use serde::Serialize;
use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
use utoipa::{OpenApi, ToSchema};

/// A product.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))]
pub struct Product {
    id: i64,
    /// Unique, 1–64 characters, no whitespace or control characters.
    sku: String,
    /// 1–200 characters.
    name: String,
    /// Greater than 0, at most two decimals, held exactly.
    #[schema(value_type = f64, minimum = 0.01, maximum = 99999999.99, multiple_of = 0.01)]
    price: f64,
    #[schema(minimum = 0)]
    stock: i64,
}

/// A product to create. Unknown fields are refused.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50}))]
pub struct ProductCreate {
    #[schema(min_length = 1, max_length = 64, pattern = r"^\S+$")]
    sku: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(value_type = f64, minimum = 0.01, maximum = 99999999.99, multiple_of = 0.01)]
    price: f64,
    #[schema(minimum = 0, maximum = 1000000000000i64)]
    stock: i64,
}

/// A partial update: any subset of the product's fields.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"price": 44.99, "stock": 100}))]
pub struct ProductUpdate {
    #[schema(min_length = 1, max_length = 64, pattern = r"^\S+$")]
    sku: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(value_type = Option<f64>, minimum = 0.01, multiple_of = 0.01)]
    price: Option<f64>,
    #[schema(minimum = 0)]
    stock: Option<i64>,
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

/// An order; `unit_price` and `total` are fixed when it is placed.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "product_id": 1, "quantity": 3, "status": "PENDING",
    "unit_price": 49.99, "total": 149.97, "created_at": "2026-11-24T10:00:00Z",
    "updated_at": "2026-11-24T10:00:00Z"}))]
pub struct Order {
    id: i64,
    product_id: i64,
    #[schema(minimum = 1)]
    quantity: i64,
    status: OrderStatus,
    #[schema(value_type = f64)]
    unit_price: f64,
    #[schema(value_type = f64)]
    total: f64,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// An order to place.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"product_id": 1, "quantity": 3}))]
pub struct OrderCreate {
    #[schema(minimum = 1)]
    product_id: i64,
    #[schema(minimum = 1, maximum = 100000000)]
    quantity: i64,
}

/// A status change; only `status` may be sent.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "SHIPPED"}))]
pub struct OrderStatusUpdate {
    status: OrderStatus,
}

/// A payment event. Unknown fields are tolerated.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"event": "payment.succeeded", "order_id": 7, "amount": 149.97, "currency": "USD"}))]
pub struct PaymentWebhook {
    /// `payment.succeeded` pays the order; other types are recorded and ignored.
    event: String,
    /// Required for `payment.succeeded`.
    order_id: Option<i64>,
    /// When sent, must equal the order's total.
    #[schema(value_type = Option<f64>)]
    amount: Option<f64>,
    currency: Option<String>,
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

/// A manual stock adjustment.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"delta": -3, "reason": "damaged"}))]
pub struct AdjustmentCreate {
    /// Units to add (negative: remove); not 0; stock never goes below 0 (409).
    delta: i64,
    /// Why, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// One row of a product's stock ledger.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "product_id": 1, "delta": -3, "kind": "adjustment",
    "reason": "damaged", "order_id": null, "created_at": "2026-11-24T10:00:00Z"}))]
pub struct StockMovement {
    id: i64,
    product_id: i64,
    delta: i64,
    /// `initial`, `adjustment`, `set`, `order_placed`, `order_canceled` or `expired`.
    kind: String,
    reason: String,
    order_id: Option<i64>,
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

/// An error: `detail` is a message, or an object with the specifics.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "Product with ID 999 not found"}))]
pub struct HttpError {
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// One invalid input.
#[derive(Serialize, ToSchema)]
pub struct ValidationItem {
    /// Where: `["body", "price"]`, `["path", "product_id"]`, `["query", "limit"]`.
    loc: Vec<String>,
    msg: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Validation errors, every offending field listed.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": [{"loc": ["body", "price"], "msg": "must be greater than 0", "type": "greater_than"}]}))]
pub struct ValidationError {
    detail: Vec<ValidationItem>,
}

#[utoipa::path(post, path = "/products", tag = "products", request_body = ProductCreate,
    description = "Creates a product. The price is held exactly (integer cents). With `Idempotency-Key`, a retry answers the first response.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for IDEMPOTENCY_TTL (24 hours by default); 1–255 visible ASCII")),
    responses((status = 201, body = Product, headers(("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer"))),
              (status = 409, description = "Duplicate SKU, or the same Idempotency-Key still in flight", body = HttpError)))]
fn doc_create_product() {}

#[utoipa::path(post, path = "/products/{product_id}/adjustments", tag = "products", request_body = AdjustmentCreate,
    params(("product_id" = i64, Path)),
    description = "Adds or removes stock, recorded in the ledger with its reason.",
    responses((status = 200, body = Product), (status = 404, body = HttpError),
              (status = 409, description = "Would go below zero; says what is available", body = HttpError)))]
fn doc_adjust_stock() {}

#[utoipa::path(get, path = "/products/{product_id}/adjustments", tag = "products",
    params(("product_id" = i64, Path), ("skip" = Option<i64>, Query, minimum = 0),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000), ("after" = Option<i64>, Query)),
    description = "The product's stock ledger, oldest first: every change with its reason.",
    responses((status = 200, body = Vec<StockMovement>), (status = 404, body = HttpError)))]
fn doc_list_adjustments() {}

#[utoipa::path(get, path = "/orders/{order_id}/events", tag = "orders", params(("order_id" = i64, Path)),
    description = "The order's status history, oldest first, with what caused each change.",
    responses((status = 200, body = Vec<OrderEvent>), (status = 404, body = HttpError)))]
fn doc_order_events() {}

#[utoipa::path(get, path = "/products", tag = "products",
    params(("skip" = Option<i64>, Query, minimum = 0, description = "Rows to skip"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
           ("after" = Option<i64>, Query, description = "Cursor: only ids greater than this")),
    responses((status = 200, body = Vec<Product>, headers(("Link" = String, description = "rel=\"next\" when the page is full")))))]
fn doc_list_products() {}

#[utoipa::path(get, path = "/products/{product_id}", tag = "products",
    params(("product_id" = i64, Path)),
    responses((status = 200, body = Product), (status = 404, body = HttpError)))]
fn doc_get_product() {}

#[utoipa::path(put, path = "/products/{product_id}", tag = "products", request_body = ProductUpdate,
    params(("product_id" = i64, Path)),
    responses((status = 200, body = Product), (status = 404, body = HttpError),
              (status = 409, description = "SKU taken", body = HttpError)))]
fn doc_update_product() {}

#[utoipa::path(delete, path = "/products/{product_id}", tag = "products",
    params(("product_id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = HttpError),
              (status = 409, description = "The product has orders", body = HttpError)))]
fn doc_delete_product() {}

#[utoipa::path(post, path = "/orders", tag = "orders", request_body = OrderCreate,
    description = "Places an order: checks and takes stock, snapshots the price, in one atomic step. With `Idempotency-Key`, a retry answers the first response and places nothing.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for IDEMPOTENCY_TTL (24 hours by default); 1–255 visible ASCII")),
    responses((status = 201, body = Order, headers(("Idempotent-Replayed" = String, description = "`true` when this is a replayed answer"))), (status = 404, description = "Unknown product", body = HttpError),
              (status = 409, description = "Insufficient stock, or the same Idempotency-Key still in flight (Retry-After)", body = HttpError,
               example = json!({"detail": {"error": "Insufficient stock", "requested": 10, "available": 5, "product_id": 1}}))))]
fn doc_create_order() {}

#[utoipa::path(get, path = "/orders", tag = "orders",
    params(("skip" = Option<i64>, Query, minimum = 0), ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000),
           ("after" = Option<i64>, Query, description = "Cursor: only ids greater than this"),
           ("status" = Option<OrderStatus>, Query), ("product_id" = Option<i64>, Query)),
    responses((status = 200, body = Vec<Order>, headers(("Link" = String, description = "rel=\"next\" when the page is full")))))]
fn doc_list_orders() {}

#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path)),
    responses((status = 200, body = Order), (status = 404, body = HttpError)))]
fn doc_get_order() {}

#[utoipa::path(put, path = "/orders/{order_id}", tag = "orders", request_body = OrderStatusUpdate,
    params(("order_id" = i64, Path)),
    description = "PENDING→PAID|CANCELED, PAID→SHIPPED|CANCELED; the current status is a no-op. Canceling returns the units.",
    responses((status = 200, body = Order), (status = 404, body = HttpError),
              (status = 400, description = "Invalid status transition", body = HttpError,
               example = json!({"detail": {"error": "Invalid status transition", "current_status": "SHIPPED", "requested_status": "PAID", "message": "Cannot transition from SHIPPED to PAID"}})),
              (status = 409, description = "Changed concurrently; retry", body = HttpError)))]
fn doc_update_order() {}

#[utoipa::path(delete, path = "/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path)),
    description = "Cancels the order (it is kept) and returns its units if it had not shipped.",
    responses((status = 204, description = "Canceled"), (status = 404, body = HttpError),
              (status = 400, description = "SHIPPED or CANCELED", body = HttpError),
              (status = 409, description = "Changed concurrently; retry", body = HttpError)))]
fn doc_cancel_order() {}

#[utoipa::path(post, path = "/webhooks/payment", tag = "webhooks", request_body = PaymentWebhook,
    description = "Checks, in order: signature (401), replay (400), body (422), effect. The event id is recorded with its effect.",
    params(("X-Webhook-Signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=hex (default): hex HMAC-SHA256 of the raw body, optional `sha256=` prefix"),
           ("X-Event-Id" = Option<String>, Header, description = "hex and stripe: the event id; defaults to the SHA-256 of the body"),
           ("Stripe-Signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=stripe: `t=<unix>,v1=<hex>`, signed payload `t.body`, 300 s tolerance"),
           ("webhook-id" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: the event id"),
           ("webhook-timestamp" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: unix seconds, 300 s tolerance"),
           ("webhook-signature" = Option<String>, Header, description = "WEBHOOK_SCHEME=standard: space-separated `v1,<base64>` entries")),
    responses((status = 200, body = WebhookResult),
              (status = 401, description = "Missing or invalid signature", body = HttpError),
              (status = 400, description = "Event already processed", body = HttpError),
              (status = 404, description = "Unknown order", body = HttpError),
              (status = 409, description = "Amount mismatch, the order expired, or it is CANCELED or SHIPPED", body = HttpError),
              (status = 503, description = "No WEBHOOK_SECRET configured, or database unavailable", body = HttpError)))]
fn doc_payment_webhook() {}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "Database unavailable", body = Health)))]
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
    paths(doc_create_product, doc_adjust_stock, doc_list_adjustments, doc_order_events, doc_list_products, doc_get_product, doc_update_product,
          doc_delete_product, doc_create_order, doc_list_orders, doc_get_order, doc_update_order,
          doc_cancel_order, doc_payment_webhook, doc_health, doc_metrics, doc_openapi, doc_docs,
          doc_redoc),
    components(schemas(Product, ProductCreate, ProductUpdate, Order, OrderCreate, OrderStatus,
                       OrderStatusUpdate, PaymentWebhook, WebhookResult, Health, HttpError,
                       ValidationError, ValidationItem, AdjustmentCreate, StockMovement,
                       OrderEvent)),
    tags((name = "products", description = "Product management"),
         (name = "orders", description = "Order management"),
         (name = "webhooks", description = "Payment webhooks"),
         (name = "operations", description = "Health, metrics and documentation")),
)]
struct ApiDoc;

fn error_response(description: &str, schema: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name(schema)))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    // The headers these answers carry, so generated clients can read them.
    let header = |name: &str| {
        let text = utoipa::openapi::schema::Type::String;
        let schema = utoipa::openapi::ObjectBuilder::new().schema_type(text);
        let h = utoipa::openapi::header::HeaderBuilder::new().schema(Some(schema));
        (name.to_owned(), h.build())
    };
    if description.starts_with("Missing or invalid API key") {
        let (n, h) = header("WWW-Authenticate");
        response = response.header(n, h);
    }
    if description.contains("Retry-After") {
        let (n, h) = header("Retry-After");
        response = response.header(n, h);
    }
    response.build().into()
}

/// The document, with the answers every route can give added to each operation, and the API
/// key security on writes.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("API_KEY, when the server sets one"))
        .build();
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    let header = ApiKey::Header(ApiKeyValue::new("X-API-Key"));
    components.add_security_scheme("api_key", SecurityScheme::ApiKey(header));
    for (path, item) in doc.paths.paths.iter_mut() {
        let writable = path.starts_with("/products") || path.starts_with("/orders");
        let api = writable || path.starts_with("/webhooks");
        let writes = [&mut item.post, &mut item.put, &mut item.delete];
        for op in writes.into_iter().flatten().filter(|_| writable) {
            // Either scheme, or none when the server runs without API_KEY.
            op.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("api_key", Vec::<String>::new()),
                SecurityRequirement::default(),
            ]);
            op.responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| {
                    error_response(
                        "Missing or invalid API key (when API_KEY is set)",
                        "HttpError",
                    )
                });
        }
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let has_body = op.request_body.is_some();
            let r = &mut op.responses.responses;
            let mut add = |code: &str, description: &str, schema: &str| {
                r.entry(code.to_owned())
                    .or_insert_with(|| error_response(description, schema));
            };
            add("500", "Internal server error", "HttpError");
            if path != "/health" {
                add(
                    "429",
                    "Rate limited; retry after the Retry-After delay",
                    "HttpError",
                );
            }
            if api {
                add(
                    "503",
                    "Database unavailable; retry after the Retry-After delay",
                    "HttpError",
                );
                add(
                    "422",
                    "Validation error: every offending field is listed",
                    "ValidationError",
                );
            }
            if has_body {
                add("413", "Body larger than MAX_BODY_BYTES", "HttpError");
                if !path.starts_with("/webhooks") {
                    add("415", "Body is not application/json", "HttpError");
                }
            }
        }
    }
    doc
}

/// The document as JSON text.
pub fn document_json() -> Vec<u8> {
    serde_json::to_vec_pretty(&document()).unwrap_or_default()
}
