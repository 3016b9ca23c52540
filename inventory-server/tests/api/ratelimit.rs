//! Rate limiting (issue 9): per client address, GCRA with a burst, 429 with `Retry-After`;
//! `/health` exempt; `X-Forwarded-For` (its last entry) only with `TRUST_PROXY`.
//!
//! Deterministic without sleeping: at 1 request per second with a burst of 3, a client that
//! sends 8 requests back to back has used its burst long before a second has refilled it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::extra::{assert_connection_reusable_or_closed, refused_write_then_health};
use crate::helpers::{Api, Backend, Reply, spawn_app_with};

both_backends!(
    @backend a_burst_then_429_with_retry_after,
    health_is_never_limited,
    limited_writes_change_nothing,
    forwarded_for_is_ignored_without_trust_proxy,
    with_trust_proxy_each_forwarded_client_has_its_own_budget,
    zero_turns_limiting_off,
    a_limited_large_write_leaves_the_connection_usable,
);

const BURST: u32 = 3;
const EXTRA: usize = 5;

/// `GET path` with an optional `X-Forwarded-For`.
async fn get_from(api: &Api, path: &str, forwarded_for: Option<&str>) -> Reply {
    let mut request = api.request(Method::GET, path);
    if let Some(xff) = forwarded_for {
        request = request.header("X-Forwarded-For", xff);
    }
    api.send(request).await
}

/// Sends `BURST + EXTRA` GETs back to back; returns their statuses.
async fn burst(api: &Api, forwarded_for: Option<&str>) -> Vec<Reply> {
    let mut replies = Vec::new();
    for _ in 0..BURST as usize + EXTRA {
        replies.push(get_from(api, "/products", forwarded_for).await);
    }
    replies
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}

/// The first `BURST` answers pass; at least one later one is a well-formed 429.
fn assert_limited_after_burst(replies: &[Reply]) {
    let got = statuses(replies);
    assert!(
        got[..BURST as usize].iter().all(|s| *s == 200),
        "the burst must pass: {got:?}"
    );
    assert!(got.iter().all(|s| *s == 200 || *s == 429), "{got:?}");
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "no 429 after the burst: {got:?}");
    for reply in limited {
        assert_too_many(reply);
    }
}

fn assert_too_many(reply: &Reply) {
    let body = reply.expect_json(429);
    assert!(body["detail"].is_string(), "{}: {body}", reply.what);
    let retry_after = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{}: a 429 needs Retry-After", reply.what));
    let seconds: u64 = retry_after.parse().unwrap_or_else(|_| {
        panic!(
            "{}: Retry-After must be whole seconds, got {retry_after:?}",
            reply.what
        )
    });
    // At 1 request per second the wait for the next one is at most a second (rounded up).
    assert!(
        (1..=2).contains(&seconds),
        "{}: Retry-After {seconds}",
        reply.what
    );
    assert!(reply.header("x-request-id").is_some(), "{}", reply.what);
}

async fn a_burst_then_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = BURST;
    })
    .await;
    let replies = burst(&app, None).await;
    assert_limited_after_burst(&replies);
    // Every route counts, also unknown ones and the OpenAPI document.
    assert_too_many(&app.get("/openapi.json").await);
    assert_too_many(&app.get("/no-such-route").await);
    app.stop().await;
}

async fn health_is_never_limited(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = BURST;
    })
    .await;
    for i in 0..BURST as usize + EXTRA {
        let reply = app.get("/health").await;
        assert_eq!(reply.status, 200, "health check #{i}: {}", reply.text);
    }
    // Health checks took nothing from the budget: a full burst is still available...
    let replies = burst(&app, None).await;
    assert_limited_after_burst(&replies);
    // ...and with the budget spent, /health still answers.
    for _ in 0..3 {
        app.get("/health").await.assert_status(200);
        app.get("/health/").await.assert_status(200);
    }
    app.stop().await;
}

async fn limited_writes_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = BURST;
        s.trust_proxy = true;
    })
    .await;
    let client = Some("203.0.113.7");
    let mut statuses = Vec::new();
    let mut created = 0;
    for i in 0..BURST as usize + EXTRA {
        let request = app
            .request(Method::POST, "/products")
            .header("X-Forwarded-For", "203.0.113.7")
            .json(&json!({"sku": format!("RL-{i}"), "name": "R", "price": 1.0, "stock": 1}));
        let reply = app.send(request).await;
        if reply.status == 201 {
            created += 1;
        } else {
            assert_too_many(&reply);
        }
        statuses.push(reply.status);
    }
    assert_eq!(
        &statuses[..BURST as usize],
        &[201; BURST as usize],
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    // Read as another client: exactly the admitted creates exist.
    let reader = Some("203.0.113.8");
    let list = get_from(&app, "/products", reader).await.expect_json(200);
    let skus: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["sku"].as_str().expect("a sku"))
        .collect();
    assert_eq!(skus.len(), created, "one product per 201: {skus:?}");
    for (i, status) in statuses.iter().enumerate() {
        let sku = format!("RL-{i}");
        assert_eq!(
            skus.contains(&sku.as_str()),
            *status == 201,
            "{sku} answered {status}"
        );
    }
    // The limited client is still limited.
    assert_too_many(&get_from(&app, "/products", client).await);
    app.stop().await;
}

async fn forwarded_for_is_ignored_without_trust_proxy(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = BURST;
    })
    .await;
    // Every request claims another address; without TRUST_PROXY they are all 127.0.0.1.
    let mut replies = Vec::new();
    for i in 0..BURST as usize + EXTRA {
        let xff = format!("198.51.100.{}", i + 1);
        replies.push(get_from(&app, "/products", Some(&xff)).await);
    }
    assert_limited_after_burst(&replies);
    app.stop().await;
}

async fn with_trust_proxy_each_forwarded_client_has_its_own_budget(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = BURST;
        s.trust_proxy = true;
    })
    .await;
    let first = burst(&app, Some("192.0.2.1")).await;
    assert_limited_after_burst(&first);
    // The last entry is the client: entries before it are the client's own claims, and
    // changing them does not escape the limit. (Sent right after the burst: well within the
    // second it takes to refill one request.)
    for spoof in [
        "10.9.9.9, 192.0.2.1",
        "1.2.3.4,192.0.2.1",
        "5.6.7.8, 9.9.9.9, 192.0.2.1",
    ] {
        assert_too_many(&get_from(&app, "/products", Some(spoof)).await);
    }
    // Another client, seen through the proxy, has its whole burst.
    let second = burst(&app, Some("192.0.2.2")).await;
    assert_limited_after_burst(&second);
    // While a new last entry is a new client.
    get_from(&app, "/products", Some("192.0.2.1, 192.0.2.3"))
        .await
        .assert_status(200);
    // Without the header the peer address (127.0.0.1) is the client, with its own budget.
    let direct = burst(&app, None).await;
    assert_limited_after_burst(&direct);
    app.stop().await;
}

async fn zero_turns_limiting_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 0;
        s.rate_limit_burst = 1;
    })
    .await;
    for i in 0..50 {
        let reply = app.get("/products").await;
        assert_eq!(reply.status, 200, "request #{i} with RATE_LIMIT=0");
    }
    app.stop().await;
}

async fn a_limited_large_write_leaves_the_connection_usable(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 1;
        s.rate_limit_burst = 1;
    })
    .await;
    app.get("/products").await.assert_status(200);
    // The budget is spent: a body just under the 64 KiB limit is refused (429) unread.
    let transcript = refused_write_then_health(app.port, "", 60_000).await;
    assert_connection_reusable_or_closed(&transcript, "429 Too Many Requests");
    app.stop().await;
}
