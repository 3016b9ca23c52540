//! Group commit on PostgreSQL: concurrent keyless orders share transactions, and a batch that
//! fails in the database fails none of its other orders.

mod common;

use std::sync::Arc;

use common::{TestDb, test_options};
use inventory_core::testing::{new_order, new_product, t0};
use inventory_core::{Error, Inventory, Store};
use inventory_store_postgres::PostgresStore;
use tokio::sync::Barrier;

/// Places `orders` orders of one unit of `product` at once (released together by a barrier);
/// each one's outcome.
async fn place_at_once(
    store: &PostgresStore,
    product: i64,
    orders: usize,
) -> Vec<Result<i64, Error>> {
    let gate = Arc::new(Barrier::new(orders));
    let tasks: Vec<_> = (0..orders)
        .map(|_| {
            let (store, gate) = (store.clone(), gate.clone());
            tokio::spawn(async move {
                gate.wait().await;
                store
                    .place_order(new_order(product, 1), t0(), None)
                    .await
                    .map(|o| o.into_inner().id)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_share_transactions_and_sell_exactly_the_stock() {
    let db = TestDb::create().await;
    let store = PostgresStore::connect_with(&db.url, test_options())
        .await
        .expect("connect");
    let product = store
        .create_product(new_product("HOT-1", 500, 50), t0(), None)
        .await
        .expect("create")
        .into_inner();
    let outcomes = place_at_once(&store, product.id, 80).await;
    let placed = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::InsufficientStock { .. })))
        .count();
    assert_eq!((placed, refused), (50, 30), "{outcomes:?}");
    assert_eq!(store.get_product(product.id).await.expect("get").stock, 0);

    // Every placed order is committed, with its line, ledger and history rows, and fewer
    // transactions wrote them than there are orders (xmin: the inserting transaction).
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT count(*) AS orders, count(DISTINCT xmin::text) AS transactions,
                    (SELECT count(*) FROM order_lines) AS lines,
                    (SELECT count(*) FROM stock_movements WHERE kind = 'order_placed') AS ledger,
                    (SELECT count(*) FROM order_events) AS history
             FROM orders",
            &[],
        )
        .await
        .expect("count");
    let count = |c: &str| row.get::<_, i64>(c);
    assert_eq!(
        (
            count("orders"),
            count("lines"),
            count("ledger"),
            count("history")
        ),
        (50, 50, 50, 50)
    );
    assert!(
        count("transactions") < 50,
        "group commit wrote {} orders in {} transactions",
        count("orders"),
        count("transactions")
    );
    let violations = Inventory::new(store.clone())
        .verify_invariants()
        .await
        .expect("verify");
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_failing_in_the_database_fails_only_its_own_order() {
    let db = TestDb::create().await;
    let store = PostgresStore::connect_with(&db.url, test_options())
        .await
        .expect("connect");
    let good = store
        .create_product(new_product("GOOD-1", 500, 1000), t0(), None)
        .await
        .expect("create")
        .into_inner();
    let bad = store
        .create_product(new_product("BAD-1", 500, 1000), t0(), None)
        .await
        .expect("create")
        .into_inner();
    // A trigger makes the database itself refuse any line of `bad`: whatever batch holds such
    // an order fails as a whole, and its other orders must still be placed.
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.product_id = {} THEN RAISE EXCEPTION 'refused by the test'; END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_bad BEFORE INSERT ON order_lines
                 FOR EACH ROW EXECUTE FUNCTION refuse_bad();",
            bad.id
        ))
        .await
        .expect("trigger");
    let (goods, bads) = tokio::join!(
        place_at_once(&store, good.id, 40),
        place_at_once(&store, bad.id, 8)
    );
    assert!(goods.iter().all(Result::is_ok), "{goods:?}");
    assert!(
        bads.iter().all(|o| matches!(o, Err(Error::Backend(_)))),
        "{bads:?}"
    );
    assert_eq!(store.get_product(good.id).await.expect("get").stock, 960);
    assert_eq!(store.get_product(bad.id).await.expect("get").stock, 1000);
    let orders: i64 = client
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(orders, 40);
}
