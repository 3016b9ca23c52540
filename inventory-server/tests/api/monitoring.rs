//! `deploy/`: every metric the Grafana dashboard and the Prometheus alert rules name is one the
//! server exports, so neither can silently watch a series that does not exist.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestApp, id_of, payment_body, spawn_app_with};

fn deploy_file(path: &str) -> String {
    let full = format!("{}/../deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The metric names an expression text uses: an identifier followed by `{` or `[`, without the
/// recording rules (they have a `:`) and `up` (Prometheus's own).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        let ident = b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit() || b == b':';
        match (ident, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let name = &text[s..i];
                if (b == b'{' || b == b'[')
                    && name.contains('_')
                    && !name.contains(':')
                    && name.as_bytes()[0].is_ascii_lowercase()
                {
                    names.insert(name.to_owned());
                }
                start = None;
            }
            _ => {}
        }
    }
    names
}

/// Reads `/metrics` until `done` holds for it, or fails at the deadline (the expiry sweeper runs
/// on its own period).
async fn metrics_until(app: &TestApp, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = app.get("/metrics").await.text;
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "metrics never complete:\n{text}");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_and_the_alerts_is_exported() {
    let dashboard = deploy_file("grafana/inventory-dashboard.json");
    let alerts = deploy_file("prometheus/alerts.yml");
    let mut used = metric_names(&dashboard);
    used.extend(metric_names(&alerts));
    for expected in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "orders_placed_total",
        "stock_outs_total",
        "webhook_events_total",
        "db_pool_connections",
        "sqlite_writer_commands_total",
    ] {
        assert!(used.contains(expected), "{expected} not found in {used:?}");
    }
    // Traffic that makes every series exist: orders, a stock-out, status changes, a webhook,
    // and an order left to expire (ORDER_TTL = 1 s; the sweeper runs every second).
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.order_ttl = Some(Duration::from_secs(1));
    })
    .await;
    let product = id_of(&app.create_product("MON-1", 1.0, 10).await);
    let paid = id_of(&app.create_order(product, 1).await);
    app.signed_webhook(&payment_body(paid), None)
        .await
        .assert_status(200);
    let shipped = app.set_order_status(paid, "SHIPPED").await;
    shipped.assert_status(200);
    app.post_json(
        "/orders",
        &serde_json::json!({"product_id": product, "quantity": 1000}),
    )
    .await
    .assert_status(409);
    app.create_order(product, 1).await;
    let mut text = metrics_until(&app, |t| t.contains("orders_expired_total")).await;
    // The pool's gauges exist where there is a pool: read them from a server on PostgreSQL.
    let postgres = crate::helpers::spawn_app(Backend::Postgres).await;
    text.push_str(&postgres.get("/metrics").await.text);
    let exported: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "named in deploy/ but not exported: {missing:?}"
    );
}
