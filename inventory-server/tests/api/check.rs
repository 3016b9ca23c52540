//! `inventory-server check` (issue 10), the real binary: after a long varied sequence of HTTP
//! operations (orders, cancels, payments, shipping, adjustments, stock PUTs, idempotent
//! replays, expiries) it finds the database consistent and exits 0; after the database is
//! corrupted behind the server's back it exits 1 naming each violating product.

use inventory_core::time::Duration;
use serde_json::json;

use crate::helpers::extra::{manual_clock, postgres_execute, run_check, spawn_app_on_clock};
use crate::helpers::{Backend, TestApp, id_of, payment_body};

both_backends!(@backend check_passes_after_a_varied_history);

/// A tiny deterministic generator (64-bit LCG): the same "random" sequence on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Runs `steps` pseudo-random operations; returns the product ids. Every answer must be one
/// the contract allows for the operation (no 5xx).
async fn varied_history(
    app: &TestApp,
    clock: &inventory_core::clock::ManualClock,
    steps: usize,
) -> Vec<i64> {
    let mut rng = Lcg(0x5eed);
    let mut products = Vec::new();
    for i in 0..3 {
        products.push(id_of(
            &app.create_product(&format!("CHK-{i}"), 2.5, 20).await,
        ));
    }
    let mut orders: Vec<i64> = Vec::new();
    for step in 0..steps {
        let product = products[rng.below(products.len() as u64) as usize];
        let order = (!orders.is_empty()).then(|| orders[rng.below(orders.len() as u64) as usize]);
        let reply = match rng.below(10) {
            0 | 1 => {
                let body = json!({"product_id": product, "quantity": 1 + rng.below(6)});
                let reply = app.post_json("/orders", &body).await;
                if reply.status == 201 {
                    orders.push(id_of(&reply.json()));
                }
                reply
            }
            2 => {
                let key = format!("chk-key-{}", rng.below(4));
                let body = json!({"product_id": products[0], "quantity": 1});
                let reply = app.post_with_key("/orders", &key, &body).await;
                if reply.status == 201 && reply.header("idempotent-replayed").is_none() {
                    orders.push(id_of(&reply.json()));
                }
                reply
            }
            3 => match order {
                Some(order) => app.delete(&format!("/orders/{order}")).await,
                None => continue,
            },
            4 => match order {
                Some(order) => {
                    let status = ["PAID", "SHIPPED", "CANCELED", "PENDING"][rng.below(4) as usize];
                    app.set_order_status(order, status).await
                }
                None => continue,
            },
            5 => match order {
                Some(order) => {
                    let event = format!("evt-chk-{step}");
                    app.signed_webhook(&payment_body(order), Some(&event)).await
                }
                None => continue,
            },
            6 => {
                let delta = rng.below(9) as i64 - 5;
                let delta = if delta == 0 { 3 } else { delta };
                let body = json!({"delta": delta, "reason": format!("count {step}")});
                app.post_json(&format!("/products/{product}/adjustments"), &body)
                    .await
            }
            7 => {
                let body = json!({"stock": rng.below(30)});
                app.put_json(&format!("/products/{product}"), &body).await
            }
            8 => {
                // Time passes; some PENDING orders expire, found by the reads below.
                clock.advance(Duration::minutes(rng.below(12) as i64));
                match order {
                    Some(order) => app.get(&format!("/orders/{order}")).await,
                    None => continue,
                }
            }
            _ => app.get("/orders?limit=1000").await,
        };
        assert!(
            [200, 201, 204, 400, 409].contains(&reply.status),
            "step {step}: {} answered {}: {}",
            reply.what,
            reply.status,
            reply.text
        );
    }
    // Let every remaining PENDING order expire, and read them all (expiring them on access).
    clock.advance(Duration::hours(1));
    app.get("/orders?limit=1000").await.assert_status(200);
    products
}

async fn check_passes_after_a_varied_history(backend: Backend) {
    let clock = manual_clock();
    let app = spawn_app_on_clock(backend, clock.clone(), |s| {
        s.order_ttl = Some(std::time::Duration::from_secs(15 * 60));
    })
    .await;
    let products = varied_history(&app, &clock, 150).await;
    // The ledger sums to the stock, seen over HTTP too; and the history was varied enough to
    // hold every kind of movement.
    let mut kinds = std::collections::BTreeSet::new();
    for product in &products {
        let ledger = app
            .get(&format!("/products/{product}/adjustments?limit=1000"))
            .await
            .expect_json(200);
        for movement in ledger.as_array().expect("a list") {
            kinds.insert(movement["kind"].as_str().expect("a kind").to_owned());
        }
        let sum: i64 = ledger
            .as_array()
            .expect("a list")
            .iter()
            .map(|m| m["delta"].as_i64().expect("delta"))
            .sum();
        assert_eq!(sum, app.stock(*product).await, "product {product}");
    }
    let all = [
        "adjustment",
        "expired",
        "initial",
        "order_canceled",
        "order_placed",
        "set",
    ];
    assert_eq!(kinds.iter().map(String::as_str).collect::<Vec<_>>(), all);
    let database = app.stop().await.expect("the server owned its database");
    let run = run_check(database.database_url()).await;
    assert_eq!(run.code, Some(0), "check on a healthy database: {run:?}");
    assert!(
        run.stdout.lines().any(|l| l.starts_with("ok")),
        "check prints ok: {run:?}"
    );
    assert!(!run.stdout.contains("violation"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_corrupted_product_postgres() {
    let clock = manual_clock();
    let app = spawn_app_on_clock(Backend::Postgres, clock.clone(), |_| {}).await;
    let products = varied_history(&app, &clock, 60).await;
    let (bumped, untouched, hidden) = (products[0], products[1], products[2]);
    // An order that holds stock, on `hidden`.
    app.put_json(&format!("/products/{hidden}"), &json!({"stock": 10}))
        .await
        .assert_status(200);
    let held = id_of(&app.create_order(hidden, 2).await);
    let url = app.database_url().to_owned();
    let database = app.stop().await.expect("the server owned its database");
    let healthy = run_check(&url).await;
    assert_eq!(healthy.code, Some(0), "before the corruption: {healthy:?}");

    // Stock changed without a ledger row...
    postgres_execute(
        &url,
        &format!("UPDATE products SET stock = stock + 1 WHERE id = {bumped}"),
    )
    .await;
    // ...and an order canceled without returning its units (stock and ledger still agree).
    postgres_execute(
        &url,
        &format!("UPDATE orders SET status = 'CANCELED' WHERE id = {held}"),
    )
    .await;
    let run = run_check(&url).await;
    assert_eq!(run.code, Some(1), "check on a corrupted database: {run:?}");
    let violations: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("violation"))
        .collect();
    // The bumped product's stock disagrees with its ledger; the hidden order's product also
    // has more committed at its location than live orders hold there: a line for each.
    assert_eq!(
        violations.len(),
        3,
        "one line per violating product and location: {run:?}"
    );
    assert!(
        violations
            .iter()
            .any(|l| l.contains(&format!("product {hidden} at location 1:"))),
        "the location's committed units are checked: {run:?}"
    );
    assert!(
        run.stdout.contains("2 product(s) violate"),
        "products counted once: {run:?}"
    );
    for product in [bumped, hidden] {
        let named = format!("product {product}:");
        assert!(
            violations.iter().any(|l| l.contains(&named)),
            "no violation names product {product}: {run:?}"
        );
    }
    let spared = format!("product {untouched}:");
    assert!(
        !violations.iter().any(|l| l.contains(&spared)),
        "product {untouched} is consistent: {run:?}"
    );
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_2_when_the_database_cannot_be_opened() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/missing/dir/inventory.db", dir.path().display());
    let run = run_check(&url).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(!run.stdout.contains("ok"), "{run:?}");
    assert!(!run.stderr.is_empty(), "the reason is printed: {run:?}");
}
