//! Smoke tests against a running server — local or deployed — covering the seed's smoke and
//! webhook flows: create product, create order, stock reduced, insufficient stock, status
//! transitions valid and invalid, signed payment, replay refused, bad signature refused.
//!
//! ```sh
//! cargo run -p inventory-server --example smoke -- --base-url http://localhost:8000 --webhook-secret dev-secret
//! ```
//! Exits 0 when every check passes, 1 otherwise.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Smoke {
    client: Client,
    base: String,
    secret: String,
    failures: usize,
}

impl Smoke {
    fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        if ok {
            println!("ok    {name}");
        } else {
            println!("FAIL  {name}: {detail}");
            self.failures += 1;
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req, path).await
    }

    async fn webhook(
        &self,
        body: &str,
        signature: Option<String>,
        event_id: &str,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/webhooks/payment", self.base))
            .header("Content-Type", "application/json")
            .header("X-Event-Id", event_id)
            .body(body.to_owned());
        if let Some(sig) = signature {
            req = req.header("X-Webhook-Signature", sig);
        }
        answer(req, "/webhooks/payment").await
    }
}

/// Sends a request; a failure to get an answer counts as a 503 so the check reports it.
async fn answer(req: reqwest::RequestBuilder, path: &str) -> (StatusCode, Value) {
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            (status, resp.json().await.unwrap_or(Value::Null))
        }
        Err(e) => {
            eprintln!("request to {path} failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, Value::Null)
        }
    }
}

/// The `X-Webhook-Signature` a sender attaches to `body`: the hex HMAC-SHA256 with `secret`, from
/// the core's own signer (empty for an empty secret, which no server accepts).
fn hex_signature(secret: &str, body: &str) -> String {
    SchemeVerifier::new(WebhookScheme::Hex, &[secret])
        .ok()
        .and_then(|v| {
            v.sign(None, 0, body.as_bytes())
                .into_iter()
                .find(|(name, _)| *name == "x-webhook-signature")
        })
        .map(|(_, signature)| signature)
        .unwrap_or_default()
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let base = arg(&args, "--base-url")
        .or_else(|| std::env::var("BASE_URL").ok())
        .unwrap_or_else(|| "http://localhost:8000".into());
    let secret = arg(&args, "--webhook-secret")
        .or_else(|| std::env::var("WEBHOOK_SECRET").ok())
        .unwrap_or_else(|| "dev-secret".into());
    let mut s = Smoke {
        client: Client::new(),
        base: base.trim_end_matches('/').to_owned(),
        secret,
        failures: 0,
    };
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    use reqwest::Method as M;

    let (st, body) = s.send(M::GET, "/health", None).await;
    s.check("health answers 200", st == StatusCode::OK, st);
    if st != StatusCode::OK {
        println!("server at {} is not healthy; stopping", s.base);
        return ExitCode::FAILURE;
    }
    let _ = body;

    let (st, product) = s
        .send(M::POST, "/products/", Some(&json!({"sku": format!("SMOKE-{run}"), "name": "Smoke", "price": 10.50, "stock": 10})))
        .await;
    s.check("create product → 201", st == StatusCode::CREATED, &product);
    let pid = product["id"].as_i64().unwrap_or(0);
    s.check(
        "price kept exactly",
        product["price"] == json!(10.50),
        &product["price"],
    );

    let (st, order) = s
        .send(
            M::POST,
            "/orders/",
            Some(&json!({"product_id": pid, "quantity": 3})),
        )
        .await;
    s.check("create order → 201", st == StatusCode::CREATED, &order);
    let oid = order["id"].as_i64().unwrap_or(0);
    s.check(
        "order is PENDING",
        order["status"] == "PENDING",
        &order["status"],
    );

    let (_, product) = s.send(M::GET, &format!("/products/{pid}"), None).await;
    s.check(
        "stock reduced to 7",
        product["stock"] == 7,
        &product["stock"],
    );

    let (st, err) = s
        .send(
            M::POST,
            "/orders/",
            Some(&json!({"product_id": pid, "quantity": 100})),
        )
        .await;
    s.check("insufficient stock → 409", st == StatusCode::CONFLICT, st);
    s.check(
        "409 says what is available",
        err["detail"]["available"] == 7,
        &err,
    );

    let (st, err) = s
        .send(
            M::PUT,
            &format!("/orders/{oid}"),
            Some(&json!({"status": "SHIPPED"})),
        )
        .await;
    s.check(
        "PENDING → SHIPPED refused with 400",
        st == StatusCode::BAD_REQUEST,
        &err,
    );

    let body =
        json!({"event": "payment.succeeded", "order_id": oid, "amount": 31.50, "currency": "USD"})
            .to_string();
    let good = hex_signature(&s.secret, &body);
    let bad = hex_signature("not-the-secret", &body);
    let event = format!("smoke-{run}");
    let (st, _) = s.webhook(&body, Some(bad), &event).await;
    s.check("bad signature → 401", st == StatusCode::UNAUTHORIZED, st);
    let (st, _) = s.webhook(&body, None, &event).await;
    s.check(
        "missing signature → 401",
        st == StatusCode::UNAUTHORIZED,
        st,
    );
    let (st, paid) = s
        .webhook(&body, Some(format!("sha256={good}")), &event)
        .await;
    s.check(
        "signed payment → 200 PAID",
        st == StatusCode::OK && paid["order_status"] == "PAID",
        &paid,
    );
    let (st, replay) = s.webhook(&body, Some(good), &event).await;
    s.check("replay → 400", st == StatusCode::BAD_REQUEST, &replay);

    let (st, o) = s
        .send(
            M::PUT,
            &format!("/orders/{oid}"),
            Some(&json!({"status": "SHIPPED"})),
        )
        .await;
    s.check(
        "PAID → SHIPPED → 200",
        st == StatusCode::OK && o["status"] == "SHIPPED",
        &o,
    );
    let (st, _) = s.send(M::DELETE, &format!("/orders/{oid}"), None).await;
    s.check(
        "cancel a SHIPPED order → 400",
        st == StatusCode::BAD_REQUEST,
        st,
    );

    if s.failures == 0 {
        println!("all smoke checks passed against {}", s.base);
        ExitCode::SUCCESS
    } else {
        println!("{} smoke check(s) failed against {}", s.failures, s.base);
        ExitCode::FAILURE
    }
}
