//! Upgrading a database written by the first release (schema V1: no ledger, no history): V2
//! backfills both so that the invariant verifier finds nothing wrong, and the store carries on.

use std::path::Path;

use inventory_core::testing::{StoreExt, adjustment, new_order, new_product, order_summary};
use inventory_core::{
    ChangeSource, Inventory, MovementKind, OrderStatus, Page, StatusChange, Store,
    time::macros::datetime,
};
use inventory_store_sqlite::{SqliteStore, latest_schema_version};

/// The migrations of earlier releases, in order.
const MIGRATIONS: [(&str, &str); 5] = [
    ("V1__initial", include_str!("../migrations/V1__initial.sql")),
    (
        "V2__ledger_history_idempotency",
        include_str!("../migrations/V2__ledger_history_idempotency.sql"),
    ),
    (
        "V3__orders_by_creation",
        include_str!("../migrations/V3__orders_by_creation.sql"),
    ),
    (
        "V4__row_versions",
        include_str!("../migrations/V4__row_versions.sql"),
    ),
    (
        "V5__order_lines",
        include_str!("../migrations/V5__order_lines.sql"),
    ),
];

/// A database migrated to `version` only, as the release of that schema left it: its SQL run
/// by refinery, so that the history (and each checksum) is exactly what the store finds in the
/// field.
fn database_at(path: &Path, version: usize) -> rusqlite::Connection {
    let migrations: Vec<_> = MIGRATIONS[..version]
        .iter()
        .map(|(name, sql)| refinery::Migration::unapplied(name, sql).expect("migration"))
        .collect();
    let mut conn = rusqlite::Connection::open(path).expect("raw open");
    refinery::Runner::new(&migrations)
        .run(&mut conn)
        .expect("migrate");
    conn
}

/// A database migrated to V1 only, as the first release left it.
fn v1_database(path: &Path) -> rusqlite::Connection {
    database_at(path, 1)
}

/// Microseconds since the epoch of 2026-11-24 10:00 UTC, plus `minutes`.
fn at(minutes: i64) -> i64 {
    datetime!(2026-11-24 10:00 UTC).unix_timestamp() * 1_000_000 + minutes * 60_000_000
}

/// Rows as V1 wrote them. Stock is what V1 kept: initial − units of live orders (cancels
/// returned theirs) ± adjustments it did not record.
fn fill_v1(conn: &rusqlite::Connection) {
    conn.execute_batch(&format!(
        "INSERT INTO products (id, sku, name, price_cents, stock, created_at, updated_at) VALUES
             (1, 'A', 'Product A', 100, 7, {t0}, {t9}),
             (2, 'B', 'Product B', 250, 0, {t0}, {t9}),
             (3, 'C', 'Product C', 999, 5, {t1}, {t1});
         INSERT INTO orders (id, product_id, quantity, status, unit_price_cents, total_cents,
                             created_at, updated_at) VALUES
             (1, 1, 2, 'PENDING',  100, 200, {t2}, {t2}),
             (2, 1, 1, 'PAID',     100, 100, {t2}, {t3}),
             (3, 1, 3, 'SHIPPED',  100, 300, {t3}, {t9}),
             (4, 1, 4, 'CANCELED', 100, 400, {t3}, {t4}),
             (5, 2, 1, 'CANCELED', 250, 250, {t4}, {t9}),
             (6, 2, 2, 'PAID',     250, 500, {t4}, {t9});
         INSERT INTO webhook_events (event_id, kind, order_id, processed_at) VALUES
             ('evt-1', 'payment.succeeded', 2, {t3});",
        t0 = at(0),
        t1 = at(1),
        t2 = at(2),
        t3 = at(3),
        t4 = at(4),
        t9 = at(9),
    ))
    .expect("V1 rows");
}

#[tokio::test]
async fn a_v1_database_is_upgraded_with_a_consistent_ledger_and_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v1.db");
    let conn = v1_database(&path);
    fill_v1(&conn);
    drop(conn);

    let store = SqliteStore::open(&path).await.expect("open a V1 database");
    let inventory = Inventory::new(store.clone());
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);

    // A: stock 7, held 2 + 1 + 3 → initial 13; then each order, and the cancel of order 4.
    let ledger = store.list_movements(1, Page::default()).await.expect("A");
    let rows: Vec<_> = ledger
        .iter()
        .map(|m| (m.kind, m.delta.get(), m.order_id, m.reason.as_str()))
        .collect();
    use MovementKind::*;
    assert_eq!(
        rows,
        vec![
            (Initial, 13, None, "initial"),
            (OrderPlaced, -2, Some(1), "order_placed"),
            (OrderPlaced, -1, Some(2), "order_placed"),
            (OrderPlaced, -3, Some(3), "order_placed"),
            (OrderPlaced, -4, Some(4), "order_placed"),
            (OrderCanceled, 4, Some(4), "order_canceled"),
        ]
    );
    assert!(ledger.windows(2).all(|w| w[0].id < w[1].id));
    let dated: Vec<_> = ledger
        .iter()
        .map(|m| m.created_at.unix_timestamp())
        .collect();
    let secs = |m: i64| at(m) / 1_000_000;
    assert_eq!(
        dated,
        vec![secs(0), secs(2), secs(2), secs(3), secs(3), secs(4)]
    );
    // C has no orders: its ledger is its stock.
    let c = store.list_movements(3, Page::default()).await.expect("C");
    assert_eq!(
        c.iter()
            .map(|m| (m.kind, m.delta.get()))
            .collect::<Vec<_>>(),
        vec![(Initial, 5)]
    );

    // One history row per order: placed, and now in its status.
    for (id, status) in [(1, OrderStatus::Pending), (3, OrderStatus::Shipped)] {
        let history = store.order_history(id).await.expect("history");
        let rows: Vec<_> = history
            .iter()
            .map(|e| (e.from_status, e.to_status, e.source.clone()))
            .collect();
        assert_eq!(rows, vec![(None, status, ChangeSource::Api)]);
    }

    // The store carries on from there, and the invariant keeps holding.
    let o = store.order(new_order(1, 2)).await.expect("order");
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    let cancel = StatusChange::new(cancel, ChangeSource::Api);
    store
        .change_status(1, &cancel, o.created_at)
        .await
        .expect("cancel a V1 order");
    store
        .adjust_stock(2, &adjustment(3, "found"), o.created_at)
        .await
        .expect("adjust");
    let p = store
        .create(new_product("D", 100, 4))
        .await
        .expect("create");
    assert!(p.id > 3, "a new product gets a new id");
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);
    assert_eq!(
        store.order_history(1).await.expect("history").len(),
        2,
        "the cancel is recorded after the backfilled row"
    );
    store.close().await.expect("close");

    // Migrated once: every version in the history, and reopening applies nothing.
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(
        Inventory::new(store.clone())
            .verify_invariants()
            .await
            .expect("verify"),
        vec![]
    );
    store.close().await.expect("close");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM refinery_schema_history ORDER BY version")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("versions");
    assert_eq!(versions, (1..=latest_schema_version()).collect::<Vec<_>>());
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("the migrations folder")
        .count() as i64;
    assert_eq!(
        latest_schema_version(),
        migrations,
        "one version per migration file"
    );
}

#[tokio::test]
async fn an_empty_v1_database_is_upgraded_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v1.db");
    drop(v1_database(&path));
    let store = SqliteStore::open(&path).await.expect("open");
    let p = store
        .create(new_product("E", 100, 0))
        .await
        .expect("create");
    let ledger = store.list_movements(p.id, Page::default()).await;
    let kinds: Vec<_> = ledger
        .expect("ledger")
        .iter()
        .map(|m| (m.kind, m.delta.get()))
        .collect();
    assert_eq!(kinds, vec![(MovementKind::Initial, 0)]);
    let levels = store.product_levels(p.id).await.expect("levels");
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].location_id(), inventory_core::DEFAULT_LOCATION);
}

/// A database left by the release before orders had lines (schema V4), filled as that release
/// wrote it: products with versions, orders in every status, their ledger and history rows.
fn v4_database(path: &Path) -> rusqlite::Connection {
    let conn = database_at(path, 4);
    conn.execute_batch(&format!(
        "INSERT INTO products (id, sku, name, price_cents, stock, created_at, updated_at, version)
         VALUES (1, 'V4-1', 'One', 1000, 6, {t0}, {t2}, 3),
                (2, 'V4-2', 'Two', 250, 1, {t0}, {t3}, 2);
         INSERT INTO orders (id, product_id, quantity, status, unit_price_cents, total_cents,
                             created_at, updated_at, version) VALUES
             (1, 1, 2, 'PENDING',  1000, 2000, {t2}, {t2}, 1),
             (2, 1, 2, 'CANCELED', 1000, 2000, {t2}, {t3}, 2),
             (3, 2, 4, 'SHIPPED',   250, 1000, {t3}, {t5}, 3);
         INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at)
         VALUES (1, 8, 'initial', 'initial', NULL, {t0}),
                (2, 5, 'initial', 'initial', NULL, {t0}),
                (1, -2, 'order_placed', 'order_placed', 1, {t2}),
                (1, -2, 'order_placed', 'order_placed', 2, {t2}),
                (1, 2, 'order_canceled', 'order_canceled', 2, {t3}),
                (2, -4, 'order_placed', 'order_placed', 3, {t3});
         INSERT INTO order_events (order_id, from_status, to_status, source, event_id, created_at)
         VALUES (1, NULL, 'PENDING', 'api', NULL, {t2}),
                (2, NULL, 'PENDING', 'api', NULL, {t2}),
                (2, 'PENDING', 'CANCELED', 'api', NULL, {t3}),
                (3, NULL, 'PENDING', 'api', NULL, {t3}),
                (3, 'PENDING', 'PAID', 'webhook', 'evt-v4', {t4}),
                (3, 'PAID', 'SHIPPED', 'api', NULL, {t5});
         INSERT INTO webhook_events (event_id, kind, order_id, processed_at)
         VALUES ('evt-v4', 'payment.succeeded', 3, {t4});",
        t0 = at(0),
        t2 = at(2),
        t3 = at(3),
        t4 = at(4),
        t5 = at(5),
    ))
    .expect("V4 rows");
    conn
}

#[tokio::test]
async fn a_v4_database_is_upgraded_to_one_line_orders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v4.db");
    drop(v4_database(&path));

    let store = SqliteStore::open(&path).await.expect("open a V4 database");
    let inventory = Inventory::new(store.clone());
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);
    let orders = store
        .list_orders(inventory_core::OrderFilter::default(), Page::default())
        .await
        .expect("orders");
    assert_eq!(
        orders.iter().map(order_summary).collect::<Vec<_>>(),
        vec![
            (1, OrderStatus::Pending, vec![(1, 2, 1000)], 2000),
            (2, OrderStatus::Canceled, vec![(1, 2, 1000)], 2000),
            (3, OrderStatus::Shipped, vec![(2, 4, 250)], 1000),
        ]
    );
    assert_eq!(orders[2].version.get(), 3, "versions are kept");
    let of_product = |product_id| inventory_core::OrderFilter {
        product_id: Some(product_id),
        ..Default::default()
    };
    let ids = |orders: Vec<inventory_core::Order>| orders.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .list_orders(of_product(2), Page::default())
            .await
            .expect("filter")),
        vec![3]
    );
    let seen = inventory_core::webhook::EventId::parse("evt-v4").expect("id");
    assert!(store.event_processed(&seen).await.expect("seen"));

    // Cancelling an old order returns its units; a new cart spans old products; ids go on.
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    let now = orders[0].created_at;
    store
        .change_status(1, &StatusChange::new(cancel, ChangeSource::Api), now)
        .await
        .expect("cancel an old order");
    assert_eq!(store.get_product(1).await.expect("product").stock.get(), 8);
    let o = store
        .order(inventory_core::testing::cart(&[(1, 3), (2, 1)]))
        .await
        .expect("a cart over the old products");
    assert!(o.id > 3, "ids continue after the old orders");
    assert_eq!(order_summary(&o).2, vec![(1, 3, 1000), (2, 1, 250)]);
    assert_eq!(
        ids(store
            .list_orders(of_product(2), Page::default())
            .await
            .expect("filter")),
        vec![3, o.id]
    );
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);
    store.close().await.expect("close");
}

/// A database left by the release before stock was kept per location (schema V5), filled as
/// that release wrote it: carts of several lines in every status, their ledger and history
/// rows, and a deleted product whose ledger rows had the highest ids.
fn v5_database(path: &Path) -> rusqlite::Connection {
    let conn = database_at(path, 5);
    conn.execute_batch(&format!(
        "INSERT INTO products (id, sku, name, price_cents, stock, created_at, updated_at, version)
         VALUES (1, 'V5-1', 'One', 100, 4, {t0}, {t4}, 5),
                (2, 'V5-2', 'Two', 250, 0, {t0}, {t3}, 3),
                (3, 'V5-3', 'Three', 300, 2, {t0}, {t0}, 1),
                (4, 'V5-4', 'Gone', 500, 3, {t0}, {t0}, 1);
         INSERT INTO orders (id, status, total_cents, created_at, updated_at, version) VALUES
             (1, 'PENDING',  450, {t2}, {t2}, 1),
             (2, 'PAID',     100, {t2}, {t3}, 2),
             (3, 'SHIPPED',  750, {t3}, {t4}, 3),
             (4, 'CANCELED', 500, {t3}, {t4}, 2);
         INSERT INTO order_lines (order_id, line, product_id, quantity, unit_price_cents,
                                  total_cents) VALUES
             (1, 0, 1, 2, 100, 200), (1, 1, 2, 1, 250, 250),
             (2, 0, 1, 1, 100, 100),
             (3, 0, 2, 3, 250, 750),
             (4, 0, 1, 5, 100, 500);
         INSERT INTO stock_movements (id, product_id, delta, kind, reason, order_id, created_at)
         VALUES (1, 1, 7, 'initial', 'initial', NULL, {t0}),
                (2, 2, 4, 'initial', 'initial', NULL, {t0}),
                (3, 3, 2, 'initial', 'initial', NULL, {t0}),
                (4, 1, -2, 'order_placed', 'order_placed', 1, {t2}),
                (5, 2, -1, 'order_placed', 'order_placed', 1, {t2}),
                (6, 1, -1, 'order_placed', 'order_placed', 2, {t2}),
                (7, 2, -3, 'order_placed', 'order_placed', 3, {t3}),
                (8, 1, -5, 'order_placed', 'order_placed', 4, {t3}),
                (9, 1, 5, 'order_canceled', 'order_canceled', 4, {t4}),
                (10, 4, 3, 'initial', 'initial', NULL, {t0});
         DELETE FROM stock_movements WHERE product_id = 4;
         DELETE FROM products WHERE id = 4;
         INSERT INTO order_events (order_id, from_status, to_status, source, event_id, created_at)
         VALUES (1, NULL, 'PENDING', 'api', NULL, {t2}),
                (2, NULL, 'PENDING', 'api', NULL, {t2}),
                (2, 'PENDING', 'PAID', 'api', NULL, {t3}),
                (3, NULL, 'PENDING', 'api', NULL, {t3}),
                (3, 'PENDING', 'PAID', 'api', NULL, {t3}),
                (3, 'PAID', 'SHIPPED', 'api', NULL, {t4}),
                (4, NULL, 'PENDING', 'api', NULL, {t3}),
                (4, 'PENDING', 'CANCELED', 'api', NULL, {t4});",
        t0 = at(0),
        t2 = at(2),
        t3 = at(3),
        t4 = at(4),
    ))
    .expect("V5 rows");
    conn
}

/// `(location, on_hand, committed)` of each level of the product.
async fn levels_of(store: &SqliteStore, product_id: i64) -> Vec<(i64, i64, i64)> {
    store
        .product_levels(product_id)
        .await
        .expect("levels")
        .iter()
        .map(|l| (l.location_id(), l.on_hand().get(), l.committed().get()))
        .collect()
}

#[tokio::test]
async fn a_v5_database_is_upgraded_to_stock_at_the_default_location() {
    use inventory_core::{Allocation, DEFAULT_LOCATION as AT_1, Quantity, Transfer};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v5.db");
    drop(v5_database(&path));

    let store = SqliteStore::open(&path).await.expect("open a V5 database");
    let inventory = Inventory::new(store.clone());
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);
    let locations = store.list_locations().await.expect("locations");
    assert_eq!(locations.len(), 1);
    assert_eq!(
        (locations[0].id, locations[0].code.as_str()),
        (AT_1, "default")
    );
    assert_eq!(locations[0].name.as_str(), "Default");
    // Everything at the default location: on hand = stock + committed, committed = the units
    // of PENDING and PAID lines (orders 1 and 2; the shipped and the canceled hold none).
    assert_eq!(levels_of(&store, 1).await, vec![(AT_1, 7, 3)]);
    assert_eq!(levels_of(&store, 2).await, vec![(AT_1, 1, 1)]);
    assert_eq!(levels_of(&store, 3).await, vec![(AT_1, 2, 0)]);
    // Every line, wholly at the default location.
    let orders = store
        .list_orders(inventory_core::OrderFilter::default(), Page::default())
        .await
        .expect("orders");
    assert_eq!(orders.len(), 4);
    for o in &orders {
        for l in &o.lines {
            let whole = Allocation {
                location_id: AT_1,
                quantity: l.quantity,
            };
            assert_eq!(l.allocations, vec![whole], "order {}", o.id);
        }
        assert_eq!(&store.get_order(o.id).await.expect("get"), o);
    }
    // Every ledger row, at the default location, ids and order kept.
    for product_id in [1, 2, 3] {
        let ledger = store
            .list_movements(product_id, Page::default())
            .await
            .expect("ledger");
        assert!(ledger.iter().all(|m| m.location_id == AT_1));
    }
    let ids: Vec<i64> = store
        .list_movements(1, Page::default())
        .await
        .expect("ledger")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec![1, 4, 6, 8, 9]);

    // The store carries on: shipping takes the paid units off the shelf, a cancel releases the
    // pending ones where they were, a transfer writes the new kinds.
    let change = |from: OrderStatus, to| {
        StatusChange::new(from.transition_to(to).expect("allowed"), ChangeSource::Api)
    };
    let now = orders[0].created_at;
    let ship = change(OrderStatus::Paid, OrderStatus::Shipped);
    store.change_status(2, &ship, now).await.expect("ship");
    assert_eq!(levels_of(&store, 1).await, vec![(AT_1, 6, 2)]);
    let cancel = change(OrderStatus::Pending, OrderStatus::Canceled);
    store.change_status(1, &cancel, now).await.expect("cancel");
    assert_eq!(levels_of(&store, 1).await, vec![(AT_1, 6, 0)]);
    assert_eq!(levels_of(&store, 2).await, vec![(AT_1, 1, 0)]);
    assert_eq!(store.get_product(1).await.expect("get").stock.get(), 6);
    let released = store
        .list_movements(2, Page::default())
        .await
        .expect("ledger")
        .pop()
        .expect("a row");
    assert_eq!(
        (released.kind, released.location_id, released.delta.get()),
        (MovementKind::OrderCanceled, AT_1, 1)
    );
    assert!(
        released.id > 10,
        "a new row's id follows the deleted product's rows, not only the remaining ones"
    );
    let east = inventory_core::NewLocation::new(
        inventory_core::LocationCode::parse("V6-EAST").expect("code"),
        inventory_core::LocationName::parse("East").expect("name"),
        1,
    )
    .expect("location");
    let east = store
        .create_location(east)
        .await
        .expect("a second location");
    assert_eq!(east.id, 2);
    let two = Quantity::new(2).expect("quantity");
    let transfer = Transfer::new(1, AT_1, east.id, two).expect("transfer");
    store
        .transfer_stock(&transfer, now)
        .await
        .expect("transfer");
    assert_eq!(
        levels_of(&store, 1).await,
        vec![(AT_1, 4, 0), (east.id, 2, 0)]
    );
    let kinds: Vec<_> = store
        .list_movements(1, Page::default())
        .await
        .expect("ledger")
        .iter()
        .rev()
        .take(2)
        .map(|m| (m.kind, m.location_id, m.delta.get(), m.order_id))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (MovementKind::TransferIn, east.id, 2, None),
            (MovementKind::TransferOut, AT_1, -2, None),
        ]
    );
    let o = store
        .order(inventory_core::testing::cart(&[(1, 5), (3, 1)]))
        .await
        .expect("a cart over the old products");
    assert!(o.id > 4, "ids continue after the old orders");
    assert_eq!(inventory.verify_invariants().await.expect("verify"), vec![]);
    store.close().await.expect("close");

    // The rebuilt ledger kept its index and its AUTOINCREMENT counter, under its own name.
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_sequence ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    assert_eq!(names, vec!["products", "stock_movements"]);
    let index: String = conn
        .query_row(
            "SELECT tbl_name FROM sqlite_master WHERE name = 'stock_movements_by_product'",
            [],
            |r| r.get(0),
        )
        .expect("the index");
    assert_eq!(index, "stock_movements");
}
