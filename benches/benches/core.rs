//! Core benchmarks: the engine without a database.
//! `cargo bench -p inventory-benches --bench core`
//!
//! Targets (issue 8): `memory/place_order` ≥ 2 M ops/s single-threaded (≤ 500 ns per call);
//! `webhook/verify 200 B` < 2 µs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inventory_core::time::OffsetDateTime;
use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
use inventory_core::{MemoryStore, Money, NewOrder, OrderStatus, Quantity, Stock, Store};

fn money(c: &mut Criterion) {
    c.bench_function("money/parse 49.99", |b| {
        b.iter(|| black_box("49.99").parse::<Money>())
    });
    c.bench_function("money/parse 12345678.90", |b| {
        b.iter(|| black_box("12345678.90").parse::<Money>())
    });
}

fn status_machine(c: &mut Criterion) {
    c.bench_function("status/all 16 transitions", |b| {
        b.iter(|| {
            let mut allowed = 0;
            for from in OrderStatus::ALL {
                for to in OrderStatus::ALL {
                    allowed += usize::from(black_box(from).transition_to(black_box(to)).is_ok());
                }
            }
            allowed
        })
    });
}

/// A payment event padded to exactly `size` bytes, as a sender would post it.
fn webhook_body(size: usize) -> Vec<u8> {
    let head = br#"{"event": "payment.succeeded", "order_id": 7, "amount": 100.0, "currency": "USD", "note": ""#;
    let mut body = head.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), size);
    body
}

fn webhook(c: &mut Criterion) {
    // What the server runs: the configured scheme over the request's headers.
    let scheme = SchemeVerifier::new(WebhookScheme::Hex, &["bench-secret"]).expect("valid secret");
    let mut group = c.benchmark_group("webhook");
    for size in [200usize, 2048] {
        let body = webhook_body(size);
        // The signature header alone: the HMAC check, without an event id to read.
        let signature = scheme.sign(None, 0, &body);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("verify {size} B"), |b| {
            b.iter(|| scheme.verify(black_box(&signature), black_box(&body), 0))
        });
        let headers = scheme.sign(Some("evt_1"), 0, &body);
        group.bench_function(format!("scheme verify {size} B"), |b| {
            b.iter(|| scheme.verify(black_box(&headers), black_box(&body), 0))
        });
    }
    group.finish();
}

fn product_json(c: &mut Criterion) {
    let product = inventory_core::Product {
        id: 1,
        sku: inventory_core::Sku::parse("PROD-001").expect("valid"),
        name: inventory_core::ProductName::parse("Widget").expect("valid"),
        price: Money::from_cents(4999).expect("valid"),
        stock: Stock::new(50).expect("valid"),
        version: inventory_core::Version::FIRST,
    };
    // What `MemoryStore::place_order` serializes for its idempotency record on every call.
    let at = OffsetDateTime::now_utc();
    let order = inventory_core::Order {
        id: 7,
        status: OrderStatus::Pending,
        lines: vec![inventory_core::OrderLine::new(
            1,
            Quantity::new(3).expect("valid"),
            Money::from_cents(4999).expect("valid"),
        )],
        total: Money::from_cents(4999)
            .expect("valid")
            .times(Quantity::new(3).expect("valid")),
        created_at: at,
        updated_at: at,
        version: inventory_core::Version::FIRST,
    };
    c.bench_function("json/encode order", |b| {
        b.iter(|| serde_json::to_vec(black_box(&order)))
    });
    c.bench_function("json/encode product", |b| {
        b.iter(|| serde_json::to_vec(black_box(&product)))
    });
    let list = vec![product; 100];
    c.bench_function("json/encode 100 products", |b| {
        b.iter(|| serde_json::to_vec(black_box(&list)))
    });
    // The bare baseline's encoding of the same data (f64 price), for scale.
    let bare: Vec<_> = (1..=100).map(inventory_benches::baseline::sample).collect();
    c.bench_function("json/encode 100 bare products (baseline)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&bare)))
    });
}

fn memory_store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let now = OffsetDateTime::now_utc();
    let mut group = c.benchmark_group("memory");
    group.throughput(Throughput::Elements(1));
    // Every order stays in memory (with its ledger and history rows): a fresh store every
    // `FRESH` calls keeps a long run from growing to gigabytes. Set-up and teardown are not
    // timed, and one `block_on` wraps each timed loop, so the figure is the call itself.
    const FRESH: u64 = 100_000;
    group.bench_function("place_order", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(FRESH);
                let store = MemoryStore::new();
                let id = rt.block_on(inventory_benches::seed(&store));
                let order = NewOrder::new(id, Quantity::new(1).expect("valid"));
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..n {
                        let _ =
                            black_box(store.place_order(black_box(order).into(), now, None).await);
                    }
                });
                timed += start.elapsed();
                left -= n;
            }
            timed
        })
    });
    let store = MemoryStore::new();
    let id = rt.block_on(inventory_benches::seed(&store));
    group.bench_function("get_product", |b| {
        b.to_async(&rt).iter(|| store.get_product(black_box(id)))
    });
    group.finish();
}

criterion_group!(
    benches,
    money,
    status_machine,
    webhook,
    product_json,
    memory_store
);
criterion_main!(benches);
