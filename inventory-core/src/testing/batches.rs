//! Batches, the same on every store: a bulk write creates and updates by SKU in one step, with
//! the ledger rows and versions single writes have; a key replays it; concurrent batches over
//! the same SKUs neither deadlock nor duplicate; a list of adjustments applies all or none.

use std::sync::Arc;

use time::Duration;
use tokio::task::JoinSet;

use super::{StoreExt, adjustments, new_product, t0};
use crate::idempotency::{IdempotencyKey, Idempotent};
use crate::{
    BatchOutcome, Error, Inventory, MovementKind, Page, ProductBatch, Sku, Store, Upserted, Version,
};

fn batch(items: &[(&str, i64, i64)]) -> ProductBatch {
    let items = items
        .iter()
        .map(|(sku, price, stock)| new_product(sku, *price, *stock))
        .collect();
    ProductBatch::new(items).expect("valid test batch")
}

async fn upsert<S: Store>(store: &S, b: &ProductBatch) -> Result<BatchOutcome, Error> {
    match store.upsert_products(b, t0(), None).await? {
        Idempotent::Created(outcome) => Ok(outcome),
        Idempotent::Replayed(_) => panic!("a batch without a key was replayed"),
    }
}

async fn ledger_kinds<S: Store>(store: &S, id: i64) -> Vec<(MovementKind, i64)> {
    let rows = store
        .list_movements(id, Page::default())
        .await
        .expect("ledger");
    rows.iter().map(|m| (m.kind, m.delta.get())).collect()
}

async fn assert_invariants<S: Store + Clone>(store: &S) {
    let violations = Inventory::new(store.clone())
        .verify_invariants()
        .await
        .expect("check");
    assert!(violations.is_empty(), "{violations:?}");
}

/// A batch creates the unknown SKUs, overwrites the known one, leaves an identical one alone,
/// and answers in the request's order, with the ledger rows a create and a `PUT` would write.
pub async fn bulk_creates_and_updates_by_sku<S: Store + Clone>(store: S) {
    let known = store
        .create(new_product("BULK-B", 100, 5))
        .await
        .expect("create");
    let same = store
        .create(new_product("BULK-D", 300, 7))
        .await
        .expect("create");
    let b = batch(&[
        ("BULK-C", 250, 3),
        ("BULK-B", 120, 8),
        ("BULK-D", 300, 7),
        ("BULK-A", 50, 0),
    ]);
    let outcome = upsert(&store, &b).await.expect("batch");
    let results: Vec<Upserted> = outcome.items.iter().map(|i| i.result).collect();
    assert_eq!(
        results,
        [
            Upserted::Created,
            Upserted::Updated,
            Upserted::Unchanged,
            Upserted::Created
        ]
    );
    assert_eq!(
        (outcome.created, outcome.updated, outcome.unchanged),
        (2, 1, 1)
    );
    let skus: Vec<&str> = outcome
        .items
        .iter()
        .map(|i| i.product.sku.as_str())
        .collect();
    assert_eq!(skus, ["BULK-C", "BULK-B", "BULK-D", "BULK-A"]);

    let updated = &outcome.items[1].product;
    assert_eq!(updated.id, known.id, "an update keeps the product's id");
    assert_eq!((updated.price.cents(), updated.stock.get()), (120, 8));
    assert_eq!(updated.version, known.version.next());
    assert_eq!(&store.get_product(known.id).await.expect("get"), updated);
    assert_eq!(
        ledger_kinds(&store, known.id).await,
        [(MovementKind::Initial, 5), (MovementKind::Set, 3)]
    );

    let unchanged = store.get_product(same.id).await.expect("get");
    assert_eq!(unchanged, same, "an identical item writes nothing");
    assert_eq!(
        ledger_kinds(&store, same.id).await,
        [(MovementKind::Initial, 7)]
    );

    for item in [&outcome.items[0], &outcome.items[3]] {
        let p = &item.product;
        assert_eq!(p.version, Version::FIRST);
        assert_eq!(&store.get_product(p.id).await.expect("get"), p);
        assert_eq!(
            ledger_kinds(&store, p.id).await,
            [(MovementKind::Initial, p.stock.get())]
        );
    }
    let all = store.list_products(Page::default()).await.expect("list");
    assert_eq!(all.len(), 4, "no SKU twice");
    assert_invariants(&store).await;
}

/// With a key, the same batch again is answered from the first time and writes nothing; the
/// key with another batch is refused, also writing nothing.
pub async fn bulk_with_key_replays_and_refuses_other_batches<S: Store + Clone>(store: S) {
    let key = |body: &str| {
        IdempotencyKey::new(
            "POST /products/bulk",
            "bulk-1",
            body.as_bytes(),
            t0() - Duration::hours(24),
        )
        .expect("key")
    };
    let b = batch(&[("KEY-A", 100, 1), ("KEY-B", 100, 2)]);
    let first = store
        .upsert_products(&b, t0(), Some(&key("a")))
        .await
        .expect("batch");
    let Idempotent::Created(first) = first else {
        panic!("the first call writes")
    };
    let changed = batch(&[("KEY-A", 100, 9), ("KEY-B", 100, 9)]);
    // A replay answers what the first call did, even though the rows have not changed since.
    match store
        .upsert_products(&b, t0(), Some(&key("a")))
        .await
        .expect("replay")
    {
        Idempotent::Replayed(again) => {
            let json = |o: &BatchOutcome| serde_json::to_value(o).expect("json");
            assert_eq!(json(&again), json(&first));
        }
        Idempotent::Created(_) => panic!("a replay wrote again"),
    }
    assert!(matches!(
        store.upsert_products(&changed, t0(), Some(&key("b"))).await,
        Err(Error::IdempotencyKeyReused { .. })
    ));
    for item in &first.items {
        let now = store.get_product(item.product.id).await.expect("get");
        assert_eq!(
            now, item.product,
            "neither the replay nor the refusal wrote"
        );
    }
    assert_eq!(
        store
            .list_products(Page::default())
            .await
            .expect("list")
            .len(),
        2
    );
}

/// Concurrent batches naming the same SKUs in different orders, half of them new: every batch
/// succeeds (no deadlock, no unique violation reaches the caller), each SKU exists once, and
/// its row is what one of the batches wrote.
pub async fn concurrent_batches_over_the_same_skus<S: Store + Clone>(store: S) {
    const WRITERS: i64 = 8;
    const SKUS: usize = 40;
    for i in (0..SKUS).step_by(2) {
        store
            .create(new_product(&format!("RACE-{i:02}"), 100, 1))
            .await
            .expect("create");
    }
    let store = Arc::new(store);
    let mut tasks = JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            // Each writer visits the SKUs in its own rotation of the list, reversed for half.
            let mut skus: Vec<usize> = (0..SKUS).collect();
            skus.rotate_left((w as usize * 7) % SKUS);
            if w % 2 == 1 {
                skus.reverse();
            }
            let items: Vec<_> = skus
                .iter()
                .map(|i| new_product(&format!("RACE-{i:02}"), 100 + w, 10 + w))
                .collect();
            let b = ProductBatch::new(items).expect("batch");
            upsert(&*store, &b).await
        });
    }
    let mut created = 0;
    while let Some(done) = tasks.join_next().await {
        let outcome = done.expect("task").expect("every batch succeeds");
        assert_eq!(outcome.items.len(), SKUS);
        created += outcome.created;
    }
    // Racing creates of one new SKU: one batch creates it, the others find it and update it.
    assert_eq!(
        created,
        SKUS / 2,
        "each new SKU created by exactly one batch"
    );
    let all = store.list_products(Page::default()).await.expect("list");
    assert_eq!(all.len(), SKUS, "each SKU exists once");
    for p in &all {
        let w = p.price.cents() - 100;
        assert!((0..WRITERS).contains(&w), "{p:?}");
        assert_eq!(p.stock.get(), 10 + w, "one writer's row, not a mix: {p:?}");
        Sku::parse(p.sku.as_str()).expect("sku");
    }
    assert_invariants(&*store).await;
}

/// A list of adjustments applies in order, one ledger row each and one version step; a list
/// whose second step would go below zero changes nothing, though its net effect is positive.
pub async fn adjustment_lists_apply_all_or_none<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("ADJ-LIST", 100, 2))
        .await
        .expect("create");
    let after = store
        .adjust_stock(
            p.id,
            &adjustments(&[(10, "delivery"), (-3, "damaged"), (1, "found")]),
            t0(),
        )
        .await
        .expect("adjust");
    assert_eq!(after.stock.get(), 10);
    assert_eq!(after.version, p.version.next());
    assert_eq!(store.get_product(p.id).await.expect("get"), after);
    let ledger = store
        .list_movements(p.id, Page::default())
        .await
        .expect("ledger");
    let rows: Vec<(i64, &str)> = ledger
        .iter()
        .skip(1)
        .map(|m| (m.delta.get(), m.reason.as_str()))
        .collect();
    assert_eq!(rows, [(10, "delivery"), (-3, "damaged"), (1, "found")]);
    assert!(
        ledger
            .iter()
            .skip(1)
            .all(|m| m.kind == MovementKind::Adjustment)
    );

    let refused = store
        .adjust_stock(
            p.id,
            &adjustments(&[(-5, "picked"), (-6, "too many"), (20, "delivery")]),
            t0(),
        )
        .await;
    match refused {
        Err(Error::InsufficientStock {
            product_id,
            requested,
            available,
            ..
        }) => {
            assert_eq!(product_id, p.id);
            assert_eq!(
                (requested.get(), available.get()),
                (6, 5),
                "the failing step"
            );
        }
        other => panic!("expected insufficient stock, got {other:?}"),
    }
    assert_eq!(
        store.get_product(p.id).await.expect("get"),
        after,
        "nothing changed"
    );
    assert_eq!(
        store
            .list_movements(p.id, Page::default())
            .await
            .expect("ledger")
            .len(),
        4,
        "no ledger row of the refused list"
    );
    assert_invariants(&store).await;
}

/// A renamed or deleted product's SKU is free again, for a create and for a batch alike; the
/// new SKU is taken.
pub async fn skus_are_freed_by_rename_and_delete<S: Store + Clone>(store: S) {
    let renamed = store
        .create(new_product("FREE-1", 100, 1))
        .await
        .expect("create");
    let deleted = store
        .create(new_product("FREE-2", 100, 1))
        .await
        .expect("create");
    let patch = crate::ProductPatch::new().with_sku(Sku::parse("FREE-3").expect("sku"));
    store
        .update_product(renamed.id, patch, t0())
        .await
        .expect("rename");
    store
        .delete_product(deleted.id, None)
        .await
        .expect("delete");
    assert!(matches!(
        store.create(new_product("FREE-3", 100, 1)).await,
        Err(Error::DuplicateSku { .. })
    ));
    store
        .create(new_product("FREE-1", 100, 1))
        .await
        .expect("the old SKU is free");
    let outcome = upsert(&store, &batch(&[("FREE-2", 100, 1), ("FREE-3", 100, 5)]))
        .await
        .expect("batch");
    assert_eq!(outcome.items[0].result, Upserted::Created);
    assert_eq!(outcome.items[1].result, Upserted::Updated);
    assert_eq!(outcome.items[1].product.id, renamed.id);
}
