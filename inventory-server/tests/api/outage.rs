//! Database out of reach (PostgreSQL): the server talks to PostgreSQL through a TCP proxy the
//! test can cut and restore. While it is cut every database route answers 503 with
//! `Retry-After`; once it is back the server answers normally again, with no restart. A database
//! dropped under the server is out of reach as well.

use std::net::SocketAddr;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::helpers::{Backend, id_of, spawn_app_with, test_database_url};

/// A TCP forwarder from a local port to `target`, that can be cut (listener closed, every
/// connection dropped) and restored on the same port.
struct Proxy {
    addr: SocketAddr,
    target: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String, addr: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind the proxy on {addr}: {e}"));
        let addr = listener.local_addr().expect("the proxy's address");
        let (stop, mut stopped) = watch::channel(false);
        let upstream = target.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { break };
                        let upstream = upstream.clone();
                        connections.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                                // Ends when either side closes; errors only mean it was cut.
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        });
                    }
                    _ = stopped.changed() => break,
                }
            }
            // Dropping the listener and every connection: PostgreSQL is out of reach.
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        });
        Proxy {
            addr,
            target,
            stop,
            task,
        }
    }

    /// Cuts every connection and stops listening; returns once that is done.
    async fn cut(self) -> (String, SocketAddr) {
        // An error only means the task is gone already.
        let _ = self.stop.send(true);
        self.task.await.expect("the proxy task panicked");
        (self.target, self.addr)
    }
}

/// `host:port` of a `postgres://` URL (port 5432 when absent).
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// `url` with its `host:port` replaced by `with`.
fn replace_host_port(url: &str, with: &str) -> String {
    let original = host_port(url);
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (head, tail) = url.split_at(authority_start);
    let authority_end = tail.find(['/', '?']).unwrap_or(tail.len());
    let (authority, path) = tail.split_at(authority_end);
    let userinfo = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"));
    let host = authority.rsplit('@').next().unwrap_or_default();
    assert!(original.starts_with(host), "{host} is the host of {url}");
    format!("{head}{}{with}{path}", userinfo.unwrap_or_default())
}

#[test]
fn urls_are_rewritten_to_the_proxy() {
    let url = "postgres://postgres@127.0.0.1:5432/inv_api_1";
    assert_eq!(host_port(url), "127.0.0.1:5432");
    assert_eq!(
        replace_host_port(url, "127.0.0.1:9"),
        "postgres://postgres@127.0.0.1:9/inv_api_1"
    );
    let bare = "postgresql://db.internal/x?sslmode=disable";
    assert_eq!(host_port(bare), "db.internal:5432");
    assert_eq!(
        replace_host_port(bare, "127.0.0.1:9"),
        "postgresql://127.0.0.1:9/x?sslmode=disable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_reach_is_503_then_recovers() {
    let target = host_port(&test_database_url());
    let local: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let proxy = Proxy::start(target, local).await;
    let via = proxy.addr.to_string();
    let app = spawn_app_with(Backend::Postgres, |settings| {
        settings.database_url = replace_host_port(&settings.database_url, &via);
    })
    .await;
    let product = app.create_product("PROD", 1.0, 5).await;
    let id = id_of(&product);
    let (target, addr) = proxy.cut().await;

    let new_product = json!({"sku": "NEW", "name": "New", "price": 1.0, "stock": 1});
    let replies = [
        app.post_json("/products", &new_product).await,
        app.post_json("/orders", &json!({"product_id": id, "quantity": 1}))
            .await,
        app.get("/health").await,
        app.get("/products").await,
        app.get(&format!("/products/{id}")).await,
        app.get("/orders").await,
    ];
    for reply in &replies {
        let body = reply.expect_json(503);
        let retry_after = reply.header("retry-after").unwrap_or_default();
        assert!(
            retry_after.trim().parse::<u64>().is_ok(),
            "{}: 503 needs a Retry-After in seconds, got {retry_after:?}",
            reply.what
        );
        if !reply.what.ends_with("/health") {
            assert!(body["detail"].is_string(), "{}: {body}", reply.what);
        }
    }

    // PostgreSQL is reachable again on the same address: the server recovers by itself.
    let proxy = Proxy::start(target, addr).await;
    assert_eq!(
        app.get("/health").await.expect_json(200),
        json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/products").await.expect_json(200),
        json!([product])
    );
    assert_eq!(app.stock(id).await, 5, "the refused order took nothing");
    app.stop().await;
    proxy.cut().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_dropped_is_503() {
    let app = crate::helpers::spawn_app(Backend::Postgres).await;
    let id = id_of(&app.create_product("PROD", 1.0, 1).await);
    app.drop_postgres_database().await;
    for path in [
        "/health".to_owned(),
        "/products".to_owned(),
        format!("/products/{id}"),
    ] {
        let reply = app.get(&path).await;
        reply.expect_json(503);
        assert!(
            reply.header("retry-after").is_some(),
            "{}: 503 needs Retry-After",
            reply.what
        );
    }
    let reply = app
        .post_json("/orders", &json!({"product_id": id, "quantity": 1}))
        .await;
    reply.expect_json(503);
    app.stop().await;
}
