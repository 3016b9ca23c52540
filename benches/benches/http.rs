//! The HTTP path in-process: the real `inventory_server::Application` on a temporary SQLite
//! database (defaults: `synchronous=FULL`, group commit), driven over loopback by a keep-alive
//! client, beside the bare warp baseline served from the same process and runtime.
//! `cargo bench -p inventory-benches --bench http`
//!
//! Client and server share the process's two worker threads, so these figures are per-request
//! costs of the whole round trip; the ratio ours/baseline is the meaningful number (the load
//! test measures the same across processes).

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inventory_server::{Application, Settings};

const CONCURRENCY: [usize; 2] = [1, 16];

struct Servers {
    ours: String,
    bare: String,
    product_id: i64,
    stop: inventory_server::ShutdownHandle,
    server: tokio::task::JoinHandle<Result<(), inventory_server::StartupError>>,
    stop_bare: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Servers {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("db").display());
    let mut settings = Settings::for_database(url);
    settings.webhook_secret = Some("bench-secret".into());
    let app = Application::build(settings).await.expect("server starts");
    let ours = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind baseline");
    let bare = format!(
        "http://{}",
        listener.local_addr().expect("baseline address")
    );
    let (stop_bare, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(inventory_benches::baseline::serve_until(
        listener,
        async move {
            let _ = stopped.await;
        },
    ));

    let client = reqwest::Client::new();
    let mut product_id = 0;
    for n in 1..=100 {
        let body = serde_json::json!({
            "sku": inventory_benches::baseline::sku(n),
            "name": inventory_benches::baseline::name(n),
            "price": 49.99,
            "stock": 1_000_000_000_000i64,
        });
        let response = client
            .post(format!("{ours}/products"))
            .json(&body)
            .send()
            .await
            .expect("POST /products");
        assert_eq!(response.status(), 201, "seeding product {n}");
        if n == 1 {
            let created: serde_json::Value = response.json().await.expect("product JSON");
            product_id = created["id"].as_i64().expect("id");
        }
    }
    Servers {
        ours,
        bare,
        product_id,
        stop,
        server,
        stop_bare: Some(stop_bare),
        _dir: dir,
    }
}

/// Sends `total` requests from `concurrency` tasks sharing one keep-alive client.
async fn drive(
    client: &reqwest::Client,
    request: &Request,
    concurrency: usize,
    total: u64,
) -> Duration {
    let concurrency = concurrency as u64;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let share = total / concurrency + u64::from(task < total % concurrency);
        let (client, request) = (client.clone(), request.clone());
        tasks.spawn(async move {
            for _ in 0..share {
                let builder = match &request.body {
                    None => client.get(&request.url),
                    Some(body) => client
                        .post(&request.url)
                        .header("content-type", "application/json")
                        .body(*body),
                };
                let response = builder.send().await.expect("request sent");
                let status = response.status().as_u16();
                let bytes = response.bytes().await.expect("body read");
                assert!(
                    status == request.expect,
                    "{} answered {status}: {bytes:?}",
                    request.url
                );
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client task");
    }
    start.elapsed()
}

#[derive(Clone)]
struct Request {
    url: String,
    body: Option<&'static str>,
    expect: u16,
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut servers = rt.block_on(start());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let order_body: &'static str = Box::leak(
        format!(r#"{{"product_id": {}, "quantity": 1}}"#, servers.product_id).into_boxed_str(),
    );
    let cases = [
        (
            "GET /products/{id}",
            Request {
                url: format!("{}/products/{}", servers.ours, servers.product_id),
                body: None,
                expect: 200,
            },
        ),
        (
            "baseline GET /product",
            Request {
                url: format!("{}/product", servers.bare),
                body: None,
                expect: 200,
            },
        ),
        (
            "GET /products?limit=100",
            Request {
                url: format!("{}/products?limit=100", servers.ours),
                body: None,
                expect: 200,
            },
        ),
        (
            "baseline GET /products",
            Request {
                url: format!("{}/products", servers.bare),
                body: None,
                expect: 200,
            },
        ),
        (
            "POST /orders",
            Request {
                url: format!("{}/orders", servers.ours),
                body: Some(order_body),
                expect: 201,
            },
        ),
    ];
    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (name, request) in &cases {
        for concurrency in CONCURRENCY {
            group.bench_with_input(
                BenchmarkId::new(*name, concurrency),
                &concurrency,
                |b, &concurrency| {
                    b.to_async(&rt).iter_custom(|iters| {
                        let (client, request) = (client.clone(), request.clone());
                        async move { drive(&client, &request, concurrency, iters).await }
                    })
                },
            );
        }
    }
    group.finish();
    servers.stop.shutdown();
    if let Some(stop) = servers.stop_bare.take() {
        let _ = stop.send(());
    }
    // The server closes its store before the temporary directory goes.
    rt.block_on(servers.server)
        .expect("server task")
        .expect("server stops cleanly");
}

criterion_group!(benches, http);
criterion_main!(benches);
