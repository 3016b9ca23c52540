//! The flash sale: one SKU with little stock, many buyers at the same instant, each ordering
//! one unit once over its own connection (as distinct shoppers do; no keep-alive pool to hide
//! behind). Exactly `stock` orders must succeed and every other answer must be the 409; any
//! other status, a connection error, or stock left over is a failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Barrier;

/// How long one buyer waits for its answer (queued in the listen backlog included).
const BUYER_TIMEOUT: Duration = Duration::from_secs(120);

/// What a flash sale did.
#[derive(Debug, Clone, Serialize)]
pub struct FlashSale {
    /// Buyers, all released at once.
    pub buyers: usize,
    /// The SKU's stock before the sale.
    pub stock: i64,
    /// 201 answers.
    pub sold: usize,
    /// 409 answers.
    pub refused: usize,
    /// Any other answer or no answer, with the first few reasons.
    pub errors: usize,
    /// Up to five of the errors, for the message.
    pub first_errors: Vec<String>,
    /// The SKU's stock after the sale, as `GET /products/{id}` answers it.
    pub stock_after: i64,
    /// From releasing the buyers to the last answer, s.
    pub seconds: f64,
    /// Each buyer's time from sending to its full answer, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// See `p50_ms`.
    pub max_ms: f64,
}

impl FlashSale {
    /// Whether the sale sold exactly the stock, refused everyone else with a 409, and left
    /// nothing on the shelf; otherwise why not.
    pub fn check(&self) -> Result<(), String> {
        let expected_sold = usize::try_from(self.stock).unwrap_or(0).min(self.buyers);
        if self.sold == expected_sold
            && self.refused == self.buyers - expected_sold
            && self.errors == 0
            && self.stock_after == self.stock - expected_sold as i64
        {
            Ok(())
        } else {
            Err(format!(
                "flash sale: {} buyers for {} units sold {}, refused {}, {} errors {:?}, stock after {}",
                self.buyers,
                self.stock,
                self.sold,
                self.refused,
                self.errors,
                self.first_errors,
                self.stock_after
            ))
        }
    }

    /// One line for the report.
    pub fn summary(&self) -> String {
        format!(
            "{} buyers, stock {}: {} sold (201), {} refused (409), {} errors, stock after {}; \
             {:.2} s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.buyers,
            self.stock,
            self.sold,
            self.refused,
            self.errors,
            self.stock_after,
            self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// Creates the SKU `sku` with `stock` units on the server at `base` and runs the sale.
pub async fn run(base: &str, sku: &str, buyers: usize, stock: i64) -> Result<FlashSale, String> {
    let setup = reqwest::Client::new();
    let created: serde_json::Value = setup
        .post(format!("{base}/products"))
        .json(&serde_json::json!({"sku": sku, "name": "Flash sale", "price": 9.99, "stock": stock}))
        .send()
        .await
        .map_err(|e| format!("flash sale: create the SKU: {e}"))?
        .json()
        .await
        .map_err(|e| format!("flash sale: create the SKU: {e}"))?;
    let id = created["id"]
        .as_i64()
        .ok_or_else(|| format!("flash sale: create the SKU answered {created}"))?;
    // No idle connection is kept: each buyer opens its own and closes it with its answer.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(BUYER_TIMEOUT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let url: Arc<str> = Arc::from(format!("{base}/orders"));
    let body: Arc<str> = Arc::from(format!(r#"{{"product_id": {id}, "quantity": 1}}"#));
    let gate = Arc::new(Barrier::new(buyers + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..buyers {
        let (client, url, body, gate) = (client.clone(), url.clone(), body.clone(), gate.clone());
        tasks.spawn(async move {
            gate.wait().await;
            let sent = Instant::now();
            let outcome = match client
                .post(&*url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
            {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.bytes().await {
                        Ok(_) => Ok(status),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            (outcome, sent.elapsed())
        });
    }
    gate.wait().await;
    let started = Instant::now();
    let mut sale = FlashSale {
        buyers,
        stock,
        sold: 0,
        refused: 0,
        errors: 0,
        first_errors: Vec::new(),
        stock_after: -1,
        seconds: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        max_ms: 0.0,
    };
    let mut latencies = Vec::with_capacity(buyers);
    while let Some(joined) = tasks.join_next().await {
        let (outcome, took) = joined.map_err(|e| format!("buyer task: {e}"))?;
        latencies.push(took.as_secs_f64() * 1e3);
        match outcome {
            Ok(201) => sale.sold += 1,
            Ok(409) => sale.refused += 1,
            other => {
                sale.errors += 1;
                if sale.first_errors.len() < 5 {
                    sale.first_errors.push(match other {
                        Ok(status) => format!("status {status}"),
                        Err(e) => e,
                    });
                }
            }
        }
    }
    sale.seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or(0.0)
    };
    (sale.p50_ms, sale.p99_ms, sale.max_ms) = (at(0.50), at(0.99), at(1.0));
    let after: serde_json::Value = setup
        .get(format!("{base}/products/{id}"))
        .send()
        .await
        .map_err(|e| format!("flash sale: read the SKU: {e}"))?
        .json()
        .await
        .map_err(|e| format!("flash sale: read the SKU: {e}"))?;
    sale.stock_after = after["stock"].as_i64().unwrap_or(-1);
    Ok(sale)
}
