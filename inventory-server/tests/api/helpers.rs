//! Starting the real server for one test, on a fresh database, and talking to it over HTTP.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
use inventory_server::{Application, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
pub mod extra;

/// The webhook secret every test server is configured with.
pub const WEBHOOK_SECRET: &str = "test-secret";

const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which store the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and disappears with it.
pub enum TestDatabase {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres(PostgresDatabase),
}

impl TestDatabase {
    async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory for SQLite");
                let path = dir.path().join("test.db");
                let path = path.to_str().expect("the temporary path is UTF-8");
                let url = format!("sqlite://{path}");
                TestDatabase::Sqlite { url, _dir: dir }
            }
            Backend::Postgres => TestDatabase::Postgres(PostgresDatabase::create().await),
        }
    }

    fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. } => url,
            TestDatabase::Postgres(db) => &db.url,
        }
    }
}

/// A fresh PostgreSQL database `inv_api_<random hex>`, dropped (`WITH (FORCE)`) on drop, also when
/// the test panics.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    async fn create() -> PostgresDatabase {
        let admin_url = test_database_url();
        let name = format!("inv_api_{}", random_hex());
        let client = admin_connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {admin_url} (set TEST_DATABASE_URL): {e}; \
                 the PostgreSQL tests need a running server"
            )
        });
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        PostgresDatabase {
            admin_url,
            name,
            url,
        }
    }
}

/// `TEST_DATABASE_URL`, or the local default: where the PostgreSQL test databases are made.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = drop_statement(&self.name);
        // Its own thread and runtime: this runs inside the test's runtime, maybe while unwinding.
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = admin_connect(&admin_url).await.map_err(|e| e.to_string())?;
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

fn drop_statement(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
}

async fn admin_connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped; an error here only means the connection went away.
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database name replaced by `name` (the query string, if any, kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn random_hex() -> String {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// A server started for one test. Derefs to [`Api`] for the requests.
pub struct TestApp {
    pub api: Api,
    pub port: u16,
    database_url: String,
    webhook_secret: Option<String>,
    shutdown: Box<dyn Fn() + Send>,
    server: Option<JoinHandle<Result<(), String>>>,
    database: Option<TestDatabase>,
}

/// The server on `backend`, on a fresh database, with the webhook secret [`WEBHOOK_SECRET`].
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with the settings adjusted by `configure` before the server starts.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let mut settings = Settings::for_database(database.url());
    settings.webhook_secret = Some(WEBHOOK_SECRET.to_owned());
    configure(&mut settings);
    start(settings, Some(database)).await
}

async fn start(settings: Settings, database: Option<TestDatabase>) -> TestApp {
    start_with_clock(settings, database, inventory_core::clock::SystemClock).await
}

/// Starts the app on `clock` (a `ManualClock` in the expiry and idempotency tests).
pub async fn start_with_clock(
    settings: Settings,
    database: Option<TestDatabase>,
    clock: impl inventory_core::clock::Clock,
) -> TestApp {
    let database_url = settings.database_url.clone();
    let webhook_secret = settings.webhook_secret.clone();
    let app = Application::build_with_clock(settings, clock)
        .await
        .unwrap_or_else(|e| panic!("the server failed to start on {database_url}: {e:?}"));
    let port = app.port();
    let handle = app.shutdown_handle();
    let server =
        tokio::spawn(async move { app.run_until_stopped().await.map_err(|e| format!("{e:?}")) });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build the HTTP client");
    TestApp {
        api: Api {
            address: format!("http://127.0.0.1:{port}"),
            client,
        },
        port,
        database_url,
        webhook_secret,
        shutdown: Box::new(move || handle.shutdown()),
        server: Some(server),
        database,
    }
}

impl TestApp {
    /// Stops the server gracefully and waits until it has stopped; hands back the database.
    pub async fn stop(mut self) -> Option<TestDatabase> {
        (self.shutdown)();
        let server = self.server.take().expect("the server is running");
        let outcome = server.await.expect("the server task panicked");
        if let Err(e) = outcome {
            panic!("run_until_stopped returned an error: {e}");
        }
        self.database.take()
    }

    /// Stops the server and starts a new one on the same database (on a new port).
    pub async fn restart(self) -> TestApp {
        let settings = self.same_settings();
        let database = self.stop().await;
        start(settings, database).await
    }

    /// A second server on the same database, as another instance behind a load balancer.
    pub async fn another_instance(&self) -> TestApp {
        start(self.same_settings(), None).await
    }

    fn same_settings(&self) -> Settings {
        let mut settings = Settings::for_database(self.database_url.clone());
        settings.webhook_secret = self.webhook_secret.clone();
        settings
    }

    /// Drops the server's PostgreSQL database under it (`WITH (FORCE)`), while it runs.
    pub async fn drop_postgres_database(&self) {
        let Some(TestDatabase::Postgres(db)) = &self.database else {
            panic!("this test needs a PostgreSQL-backed server that owns its database");
        };
        let client = admin_connect(&db.admin_url)
            .await
            .expect("connect to PostgreSQL");
        let statement = drop_statement(&db.name);
        client
            .batch_execute(&statement)
            .await
            .expect("drop the test database");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.server.is_some() {
            // Not stopped by the test (it failed, most likely): at least ask the server to stop.
            (self.shutdown)();
        }
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Requests to one server. Cheap to clone into concurrent tasks.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
}

impl Api {
    /// A request to `path` (which starts with `/`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let request = request.build().expect("build the request");
        let what = match request.url().query() {
            Some(q) => format!("{} {}?{q}", request.method(), request.url().path()),
            None => format!("{} {}", request.method(), request.url().path()),
        };
        let response = self
            .client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer from the server: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: cannot read the body: {e}"));
        Reply {
            what,
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    /// A request with exactly these body bytes and this `Content-Type`.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let request = self
            .request(method, path)
            .header("Content-Type", content_type)
            .body(body);
        self.send(request).await
    }

    /// Creates a product named after its SKU; asserts 201 and returns it.
    pub async fn create_product(&self, sku: &str, price: f64, stock: i64) -> Value {
        let body =
            json!({"sku": sku, "name": format!("Product {sku}"), "price": price, "stock": stock});
        self.post_json("/products", &body).await.expect_json(201)
    }

    /// Places an order; asserts 201 and returns it.
    pub async fn create_order(&self, product_id: i64, quantity: i64) -> Value {
        let body = json!({"product_id": product_id, "quantity": quantity});
        self.post_json("/orders", &body).await.expect_json(201)
    }

    /// `GET /products/{id}`, asserting 200.
    pub async fn product(&self, id: i64) -> Value {
        self.get(&format!("/products/{id}")).await.expect_json(200)
    }

    /// `GET /orders/{id}`, asserting 200.
    pub async fn order(&self, id: i64) -> Value {
        self.get(&format!("/orders/{id}")).await.expect_json(200)
    }

    /// The product's current stock.
    pub async fn stock(&self, product_id: i64) -> i64 {
        let product = self.product(product_id).await;
        product["stock"]
            .as_i64()
            .unwrap_or_else(|| panic!("the product has no integer stock: {product}"))
    }

    /// The order's current status.
    pub async fn order_status(&self, order_id: i64) -> String {
        let order = self.order(order_id).await;
        order["status"]
            .as_str()
            .unwrap_or_else(|| panic!("the order has no string status: {order}"))
            .to_owned()
    }

    /// `PUT /orders/{id}` with `{"status": status}`.
    pub async fn set_order_status(&self, order_id: i64, status: &str) -> Reply {
        self.put_json(&format!("/orders/{order_id}"), &json!({"status": status}))
            .await
    }

    /// `POST /webhooks/payment` with these raw bytes and optional headers.
    pub async fn webhook(
        &self,
        body: &str,
        signature: Option<&str>,
        event_id: Option<&str>,
    ) -> Reply {
        let mut request = self
            .request(Method::POST, "/webhooks/payment")
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("X-Webhook-Signature", signature);
        }
        if let Some(event_id) = event_id {
            request = request.header("X-Event-Id", event_id);
        }
        self.send(request).await
    }

    /// `POST /webhooks/payment` signed with [`WEBHOOK_SECRET`].
    pub async fn signed_webhook(&self, body: &str, event_id: Option<&str>) -> Reply {
        let signature = sign(WEBHOOK_SECRET, body);
        self.webhook(body, Some(&signature), event_id).await
    }
}

/// The hex HMAC-SHA256 of `body` with `secret`, as a sender computes it (the core's own signer,
/// `X-Webhook-Signature` without the optional `sha256=` prefix).
pub fn sign(secret: &str, body: &str) -> String {
    SchemeVerifier::new(WebhookScheme::Hex, &[secret])
        .expect("a non-empty secret")
        .sign(None, 0, body.as_bytes())
        .into_iter()
        .find_map(|(name, value)| (name == "x-webhook-signature").then_some(value))
        .expect("the hex scheme signs with X-Webhook-Signature")
}

/// A `payment.succeeded` body for `order_id`, without an amount.
pub fn payment_body(order_id: i64) -> String {
    format!(r#"{{"event": "payment.succeeded", "order_id": {order_id}, "currency": "USD"}}"#)
}

/// A whole answer: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    /// `METHOD /path?query`, for failure messages.
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn assert_status(&self, status: u16) -> &Reply {
        assert_eq!(
            self.status, status,
            "{}: expected status {status}, got {}; body: {}",
            self.what, self.status, self.text
        );
        self
    }

    /// Asserts the status and a JSON `Content-Type`, and returns the parsed body.
    pub fn expect_json(&self, status: u16) -> Value {
        self.assert_status(status);
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{}: a JSON body must come with Content-Type application/json, got {content_type:?}",
            self.what
        );
        self.json()
    }

    /// The body parsed as JSON, whatever the status.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!("{}: the body is not JSON ({e}): {:?}", self.what, self.text)
        })
    }

    /// Asserts the status and that the body is exactly `{"detail": detail}`.
    pub fn assert_detail(&self, status: u16, detail: Value) {
        assert_eq!(
            self.expect_json(status),
            json!({ "detail": detail }),
            "{}: unexpected body",
            self.what
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The `id` of a product or order.
pub fn id_of(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {value}"))
}

/// The ids of a JSON array of products or orders, in answer order.
pub fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {list}"))
        .iter()
        .map(id_of)
        .collect()
}

/// The contract's 400/409 body for a forbidden status move.
pub fn transition_error(current: &str, requested: &str) -> Value {
    json!({
        "error": "Invalid status transition",
        "current_status": current,
        "requested_status": requested,
        "message": format!("Cannot transition from {current} to {requested}"),
    })
}

/// Asserts a 422 in FastAPI's list form and returns each entry's `loc`, as strings.
pub fn validation_locs(reply: &Reply) -> Vec<Vec<String>> {
    let body = reply.expect_json(422);
    let entries = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: 422 detail must be a list: {body}", reply.what));
    assert!(!entries.is_empty(), "{}: empty 422 list", reply.what);
    entries
        .iter()
        .map(|entry| {
            for key in ["msg", "type"] {
                let text = entry[key].as_str().unwrap_or_default();
                assert!(
                    !text.is_empty(),
                    "{}: entry without `{key}`: {entry}",
                    reply.what
                );
            }
            let loc = entry["loc"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: entry without a `loc` list: {entry}", reply.what));
            assert!(!loc.is_empty(), "{}: empty `loc` in {entry}", reply.what);
            loc.iter()
                .map(|part| match part {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// Asserts a 422 whose entries name exactly these locations (in any order).
pub fn assert_validation_error(reply: &Reply, expected: &[&[&str]]) {
    let mut got = validation_locs(reply);
    got.sort();
    let mut want: Vec<Vec<String>> = expected
        .iter()
        .map(|loc| loc.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    want.sort();
    assert_eq!(
        got, want,
        "{}: 422 must list every offending field",
        reply.what
    );
}

/// The route template the server registers under `prefix`, e.g. `/products/{` gives
/// `/products/{product_id}`.
pub fn route_template(prefix: &str) -> &'static str {
    inventory_server::routes::ROUTES
        .iter()
        .map(|(template, _)| *template)
        .find(|template| template.starts_with(prefix))
        .unwrap_or_else(|| panic!("no route starting with {prefix} in routes::ROUTES"))
}

/// The name of the path parameter of the route under `prefix`: `product_id` for `/products/{`.
pub fn path_parameter(prefix: &str) -> String {
    let template = route_template(prefix);
    let start = template.find('{').expect("the template has a parameter") + 1;
    let end = template[start..]
        .find('}')
        .map(|i| start + i)
        .expect("the parameter is closed");
    template[start..end].to_owned()
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
