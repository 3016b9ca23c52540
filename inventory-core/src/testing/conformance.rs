//! Single-client cases: every trait operation and every error it can answer.

use super::webhooks::event;
use super::{StoreExt, adjustment, by_event, new_order, new_product, only_line, stock, t0};
use crate::StatusChange;
use crate::store::EventEffect;
use crate::{
    ChangeSource, Error, Money, OrderFilter, OrderStatus, Page, ProductName, ProductPatch, Sku,
    Store,
};

fn page(skip: u64, limit: u32) -> Page {
    Page::new(skip, limit).expect("valid page")
}

/// Create, read, list, partially update and delete a product.
pub async fn product_crud<S: Store + Clone>(store: S) {
    let created = store
        .create(new_product("CRUD-1", 4999, 50))
        .await
        .expect("create");
    assert!(created.id > 0);
    assert_eq!(created.sku.as_str(), "CRUD-1");
    assert_eq!(created.price.cents(), 4999);
    assert_eq!(created.stock, 50);
    assert_eq!(store.get_product(created.id).await.expect("get"), created);

    let patch = ProductPatch::new()
        .with_name(ProductName::parse("Renamed").expect("valid"))
        .with_price(Money::from_cents(1).expect("valid"));
    let updated = store
        .update_product(created.id, patch, t0())
        .await
        .expect("update");
    assert_eq!(updated.name.as_str(), "Renamed");
    assert_eq!(updated.price.cents(), 1);
    assert_eq!(
        (updated.sku.as_str(), updated.stock.get()),
        ("CRUD-1", 50),
        "untouched fields kept"
    );
    assert_eq!(store.get_product(created.id).await.expect("get"), updated);

    let patch = ProductPatch::new()
        .with_sku(Sku::parse("CRUD-2").expect("valid"))
        .with_stock(stock(7));
    let updated = store
        .update_product(created.id, patch, t0())
        .await
        .expect("update");
    assert_eq!((updated.sku.as_str(), updated.stock.get()), ("CRUD-2", 7));

    store
        .delete_product(created.id, None)
        .await
        .expect("delete");
    assert!(matches!(
        store.get_product(created.id).await,
        Err(Error::ProductNotFound { .. })
    ));
    assert!(
        store
            .list_products(Page::default())
            .await
            .expect("list")
            .is_empty()
    );
}

/// Listing is ordered by id and honours skip, limit and the `after` cursor.
pub async fn product_list_pages_by_id<S: Store + Clone>(store: S) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let p = store.create(new_product(&format!("P-{i}"), 100, i)).await;
        ids.push(p.expect("create").id);
    }
    let all: Vec<i64> = store
        .list_products(Page::default())
        .await
        .expect("list")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(all, ids);
    let some: Vec<i64> = store
        .list_products(page(2, 3))
        .await
        .expect("list")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(some, ids[2..5]);
    let after: Vec<i64> = store
        .list_products(page(0, 2).after(ids[4]))
        .await
        .expect("list")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(after, ids[5..7]);
    assert!(
        store
            .list_products(page(10, 5))
            .await
            .expect("list")
            .is_empty()
    );
}

/// A SKU is unique on create and on update, and a refused write changes nothing.
pub async fn duplicate_sku_is_refused<S: Store + Clone>(store: S) {
    let a = store
        .create(new_product("DUP-A", 100, 1))
        .await
        .expect("create");
    let b = store
        .create(new_product("DUP-B", 100, 1))
        .await
        .expect("create");
    match store.create(new_product("DUP-A", 200, 5)).await {
        Err(Error::DuplicateSku { sku }) => assert_eq!(sku.as_str(), "DUP-A"),
        other => panic!("expected DuplicateSku, got {other:?}"),
    }
    let patch = ProductPatch::new()
        .with_sku(Sku::parse("DUP-A").expect("valid"))
        .with_stock(stock(99));
    assert!(matches!(
        store.update_product(b.id, patch, t0()).await,
        Err(Error::DuplicateSku { .. })
    ));
    assert_eq!(
        store.get_product(b.id).await.expect("get").stock,
        1,
        "refused update changed stock"
    );
    // Keeping one's own SKU is not a conflict.
    let same = ProductPatch::new().with_sku(a.sku.clone());
    assert_eq!(
        store
            .update_product(a.id, same, t0())
            .await
            .expect("update")
            .sku,
        a.sku
    );
    assert_eq!(
        store
            .list_products(Page::default())
            .await
            .expect("list")
            .len(),
        2
    );
}

/// Every operation on a missing row answers the matching not-found error.
pub async fn missing_rows_are_not_found<S: Store + Clone>(store: S) {
    let nf = |r: &Result<_, Error>| matches!(r, Err(Error::ProductNotFound { id: 999 }));
    assert!(nf(&store.get_product(999).await.map(drop)));
    assert!(nf(&store
        .update_product(999, ProductPatch::default(), t0())
        .await
        .map(drop)));
    let patch = ProductPatch::new().with_stock(stock(1));
    assert!(nf(&store.update_product(999, patch, t0()).await.map(drop)));
    assert!(nf(&store.delete_product(999, None).await));
    assert!(nf(&store
        .adjust_stock(999, &adjustment(1, "test"), t0())
        .await
        .map(drop)));
    assert!(nf(&store.order(new_order(999, 1)).await.map(drop)));
    let onf = |r: &Result<_, Error>| matches!(r, Err(Error::OrderNotFound { id: 999 }));
    assert!(onf(&store.get_order(999).await.map(drop)));
    let t = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    assert!(onf(&store
        .change_status(999, &StatusChange::new(t, ChangeSource::Api), t0())
        .await
        .map(drop)));
    let record = event("nf-1", Some(999));
    let effect = EventEffect::ChangeStatus {
        order_id: 999,
        change: by_event(&record, t),
    };
    assert!(onf(&store
        .apply_event(&record, &effect, t0())
        .await
        .map(drop)));
    assert!(
        !store.event_processed(&record.id).await.expect("read"),
        "failed event recorded"
    );
}

/// Order history is never destroyed: a product with orders stays.
pub async fn product_with_orders_cannot_be_deleted<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("DEL-1", 100, 5))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 1)).await.expect("order");
    let cancel = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    store
        .change_status(o.id, &StatusChange::new(cancel, ChangeSource::Api), t0())
        .await
        .expect("cancel");
    assert!(
        matches!(store.delete_product(p.id, None).await, Err(Error::ProductHasOrders { id }) if id == p.id)
    );
    assert_eq!(store.get_product(p.id).await.expect("still there").stock, 5);
    assert_eq!(
        store.get_order(o.id).await.expect("order kept").status,
        OrderStatus::Canceled
    );
}

/// Placing an order takes stock and snapshots price and total; a later price change leaves it.
pub async fn place_order_takes_stock_and_snapshots_price<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("ORD-1", 4999, 50))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 3)).await.expect("order");
    assert_eq!(
        (
            only_line(&o).product_id,
            only_line(&o).quantity.get(),
            o.status
        ),
        (p.id, 3, OrderStatus::Pending)
    );
    assert_eq!(
        (only_line(&o).unit_price.cents(), o.total.cents()),
        (4999, 14997)
    );
    assert_eq!((o.created_at, o.updated_at), (t0(), t0()));
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 47);
    assert_eq!(store.get_order(o.id).await.expect("get"), o);

    let patch = ProductPatch::new().with_price(Money::from_cents(1).expect("valid"));
    store
        .update_product(p.id, patch, t0())
        .await
        .expect("reprice");
    let again = store.get_order(o.id).await.expect("get");
    assert_eq!(
        (only_line(&again).unit_price.cents(), again.total.cents()),
        (4999, 14997)
    );
    let second = store
        .order(new_order(p.id, 47))
        .await
        .expect("all the rest");
    assert!(second.id > o.id);
    assert_eq!(
        (only_line(&second).unit_price.cents(), second.total.cents()),
        (1, 47)
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 0);
}

/// Too little stock is refused with what is available, and changes nothing.
pub async fn insufficient_stock_changes_nothing<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("LOW-1", 100, 5))
        .await
        .expect("create");
    match store.order(new_order(p.id, 10)).await {
        Err(Error::InsufficientStock {
            product_id,
            requested,
            available,
            ..
        }) => {
            assert_eq!(
                (product_id, requested.get(), available.get()),
                (p.id, 10, 5)
            );
        }
        other => panic!("expected InsufficientStock, got {other:?}"),
    }
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 5);
    let orders = store
        .list_orders(OrderFilter::default(), Page::default())
        .await
        .expect("list");
    assert!(orders.is_empty(), "a refused order was stored");
}

/// Manual adjustments add and remove, never below zero.
pub async fn adjust_stock_never_below_zero<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("ADJ-1", 100, 5))
        .await
        .expect("create");
    assert_eq!(
        store
            .adjust_stock(p.id, &adjustment(10, "test"), t0())
            .await
            .expect("add")
            .stock,
        15
    );
    assert_eq!(
        store
            .adjust_stock(p.id, &adjustment(-15, "test"), t0())
            .await
            .expect("remove")
            .stock,
        0
    );
    match store
        .adjust_stock(p.id, &adjustment(-1, "test"), t0())
        .await
    {
        Err(Error::InsufficientStock {
            requested,
            available,
            ..
        }) if requested == 1 && available == 0 => {}
        other => panic!("expected InsufficientStock, got {other:?}"),
    }
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 0);
}

/// A status change applies only if the order is still in the status it was planned from.
pub async fn status_changes_are_compare_and_set<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("CAS-1", 100, 10))
        .await
        .expect("create");
    let o = store.order(new_order(p.id, 2)).await.expect("order");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let later = t0() + time::Duration::minutes(5);
    let paid = store
        .change_status(o.id, &StatusChange::new(pay, ChangeSource::Api), later)
        .await
        .expect("pay");
    assert_eq!(
        (paid.status, paid.updated_at, paid.created_at),
        (OrderStatus::Paid, later, t0())
    );
    // Planned from PENDING again: stale, refused, nothing changes (no double restore either).
    let cancel_stale = OrderStatus::Pending
        .transition_to(OrderStatus::Canceled)
        .expect("allowed");
    match store
        .change_status(
            o.id,
            &StatusChange::new(cancel_stale, ChangeSource::Api),
            t0(),
        )
        .await
    {
        Err(Error::StatusConflict {
            id,
            expected,
            current,
        }) => {
            assert_eq!(
                (id, expected, current),
                (o.id, OrderStatus::Pending, OrderStatus::Paid)
            );
        }
        other => panic!("expected StatusConflict, got {other:?}"),
    }
    assert_eq!(
        store.get_order(o.id).await.expect("get").status,
        OrderStatus::Paid
    );
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 8);
    // A no-op transition checks the status and writes nothing.
    let noop = OrderStatus::Paid
        .transition_to(OrderStatus::Paid)
        .expect("no-op");
    assert_eq!(
        store
            .change_status(o.id, &StatusChange::new(noop, ChangeSource::Api), t0())
            .await
            .expect("noop")
            .updated_at,
        later
    );
    let wrong_noop = OrderStatus::Pending
        .transition_to(OrderStatus::Pending)
        .expect("no-op");
    assert!(matches!(
        store
            .change_status(
                o.id,
                &StatusChange::new(wrong_noop, ChangeSource::Api),
                t0()
            )
            .await,
        Err(Error::StatusConflict { .. })
    ));
    let ship = OrderStatus::Paid
        .transition_to(OrderStatus::Shipped)
        .expect("allowed");
    assert_eq!(
        store
            .change_status(o.id, &StatusChange::new(ship, ChangeSource::Api), t0())
            .await
            .expect("ship")
            .status,
        OrderStatus::Shipped
    );
}

/// Canceling a PENDING or PAID order returns its units, exactly once.
pub async fn cancel_restores_stock_only_before_shipping<S: Store + Clone>(store: S) {
    let p = store
        .create(new_product("CAN-1", 100, 10))
        .await
        .expect("create");
    let t = |a: OrderStatus, b: OrderStatus| a.transition_to(b).expect("allowed");
    use OrderStatus::*;
    let pending = store.order(new_order(p.id, 1)).await.expect("order");
    let paid = store.order(new_order(p.id, 2)).await.expect("order");
    let shipped = store.order(new_order(p.id, 3)).await.expect("order");
    store
        .change_status(
            paid.id,
            &StatusChange::new(t(Pending, Paid), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("pay");
    store
        .change_status(
            shipped.id,
            &StatusChange::new(t(Pending, Paid), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("pay");
    store
        .change_status(
            shipped.id,
            &StatusChange::new(t(Paid, Shipped), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("ship");
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 4);
    store
        .change_status(
            pending.id,
            &StatusChange::new(t(Pending, Canceled), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("cancel");
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 5);
    store
        .change_status(
            paid.id,
            &StatusChange::new(t(Paid, Canceled), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("cancel");
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 7);
    // Canceled again through a no-op: nothing more comes back.
    store
        .change_status(
            paid.id,
            &StatusChange::new(t(Canceled, Canceled), ChangeSource::Api),
            t0(),
        )
        .await
        .expect("noop");
    assert_eq!(store.get_product(p.id).await.expect("get").stock, 7);
    assert_eq!(
        store.get_order(shipped.id).await.expect("get").status,
        Shipped
    );
}

/// Orders list by id, filtered by status and product, paged.
pub async fn list_orders_filters_and_pages<S: Store + Clone>(store: S) {
    let a = store
        .create(new_product("LST-A", 100, 100))
        .await
        .expect("create");
    let b = store
        .create(new_product("LST-B", 100, 100))
        .await
        .expect("create");
    let pay = OrderStatus::Pending
        .transition_to(OrderStatus::Paid)
        .expect("allowed");
    let mut ids = Vec::new();
    for i in 0..6 {
        let product = if i % 2 == 0 { a.id } else { b.id };
        let o = store.order(new_order(product, 1)).await.expect("order");
        if i % 3 == 0 {
            store
                .change_status(o.id, &StatusChange::new(pay, ChangeSource::Api), t0())
                .await
                .expect("pay");
        }
        ids.push(o.id);
    }
    let list = |f: OrderFilter, p: Page| {
        let store = store.clone();
        async move {
            store
                .list_orders(f, p)
                .await
                .expect("list")
                .iter()
                .map(|o| o.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(OrderFilter::default(), Page::default()).await, ids);
    let paid = OrderFilter {
        status: Some(OrderStatus::Paid),
        product_id: None,
        ..OrderFilter::default()
    };
    assert_eq!(list(paid, Page::default()).await, vec![ids[0], ids[3]]);
    let of_a = OrderFilter {
        status: None,
        product_id: Some(a.id),
        ..OrderFilter::default()
    };
    assert_eq!(
        list(of_a, Page::default()).await,
        vec![ids[0], ids[2], ids[4]]
    );
    let both = OrderFilter {
        status: Some(OrderStatus::Pending),
        product_id: Some(b.id),
        ..OrderFilter::default()
    };
    assert_eq!(list(both, Page::default()).await, vec![ids[1], ids[5]]);
    assert_eq!(list(OrderFilter::default(), page(1, 2)).await, ids[1..3]);
    assert_eq!(
        list(OrderFilter::default(), page(0, 2).after(ids[3])).await,
        ids[4..6]
    );
    let none = OrderFilter {
        status: Some(OrderStatus::Shipped),
        product_id: None,
        ..OrderFilter::default()
    };
    assert!(list(none, Page::default()).await.is_empty());
}

/// The health check answers on a working store.
pub async fn ping_answers<S: Store + Clone>(store: S) {
    store.ping().await.expect("ping");
}
