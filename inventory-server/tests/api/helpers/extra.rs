//! Additions for the API-guarantee and ledger suites: a server on a [`ManualClock`], the
//! database a server runs on, raw SQL on PostgreSQL, the `check` command, and requests with
//! extra headers.

use std::time::Duration;

use inventory_core::clock::ManualClock;
use inventory_core::time::OffsetDateTime;
use inventory_server::Settings;
use reqwest::Method;
use serde_json::Value;

use super::{Api, Backend, Reply, TestApp, TestDatabase, WEBHOOK_SECRET, admin_connect};

/// A manual clock showing the current time, to the whole second.
pub fn manual_clock() -> ManualClock {
    let now = OffsetDateTime::now_utc();
    ManualClock::new(now.replace_nanosecond(0).unwrap_or(now))
}

/// Like [`super::spawn_app_with`], with the server's engine on `clock`.
pub async fn spawn_app_on_clock(
    backend: Backend,
    clock: ManualClock,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let mut settings = Settings::for_database(database.url());
    settings.webhook_secret = Some(WEBHOOK_SECRET.to_owned());
    configure(&mut settings);
    super::start_with_clock(settings, Some(database), clock).await
}

/// A fresh database of `backend` for a test that starts a server itself (dropped with it).
pub async fn fresh_database(backend: Backend) -> TestDatabase {
    TestDatabase::create(backend).await
}

impl TestApp {
    /// The `DATABASE_URL` the server runs on.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }
}

impl TestDatabase {
    /// Its `DATABASE_URL`.
    pub fn database_url(&self) -> &str {
        self.url()
    }
}

/// Runs `sql` on the PostgreSQL database at `url`, behind the server's back.
pub async fn postgres_execute(url: &str, sql: &str) {
    let client = admin_connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What `inventory-server check` did: exit code and output.
#[derive(Debug)]
pub struct CheckRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real binary, `inventory-server check`, against `database_url`, with no other
/// setting from the environment (and no `.env`: it runs in an empty directory).
pub async fn run_check(database_url: &str) -> CheckRun {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("an empty working directory");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_inventory-server"));
        command.arg("check").current_dir(dir.path());
        for variable in Settings::VARIABLES {
            command.env_remove(variable);
        }
        let output = command
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .expect("run inventory-server check");
        CheckRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("the check task panicked")
}

impl Api {
    /// A request with a JSON body and extra headers.
    pub async fn send_json_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Reply {
        let mut request = self.request(method, path).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// `POST path` with `Idempotency-Key: key`.
    pub async fn post_with_key(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send_json_with(Method::POST, path, &[("Idempotency-Key", key)], body)
            .await
    }

    /// `POST /webhooks/payment` with these raw bytes and exactly these extra headers.
    pub async fn webhook_with(&self, body: &str, headers: &[(&str, String)]) -> Reply {
        let mut request = self
            .request(Method::POST, "/webhooks/payment")
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        self.send(request).await
    }
}

/// On one raw connection: `POST /products` with a JSON body of about `body_len` bytes and the
/// `extra_headers` (each ending in CRLF), then, pipelined, `GET /health` with
/// `Connection: close`. Returns everything the server sent until it closed.
pub async fn refused_write_then_health(port: u16, extra_headers: &str, body_len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(
        r#"{{"sku": "RAW", "name": "{}", "price": 1.0, "stock": 1}}"#,
        "x".repeat(body_len)
    );
    let request = format!(
        "POST /products HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra_headers}\r\n{body}\
         GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the server");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the requests");
    let mut out = Vec::new();
    // The server closes after the second answer (or earlier); the timeout only bounds a hang.
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&out).into_owned()
}

/// The first answer has `status`; then either it said `Connection: close`, or the pipelined
/// `GET /health` was answered too. Keeping the connection open in name and then dropping it
/// fails pooling clients' next request.
pub fn assert_connection_reusable_or_closed(transcript: &str, status: &str) {
    let head = transcript.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.starts_with(&format!("HTTP/1.1 {status}")),
        "first answer: {head}"
    );
    let closes = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "connection:close");
    let second = transcript.matches("HTTP/1.1 ").count() >= 2;
    assert!(
        closes || second,
        "the {status} answer keeps the connection alive (no `Connection: close`), but the \
         server then closed it without answering the next request on it:\n{transcript}"
    );
}
