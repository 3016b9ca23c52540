//! Listing orders by creation time: the half-open interval `[created_after, created_before)`,
//! combined with the other filters and the cursor, the same on every store.

use time::Duration;

use super::{StoreExt, new_order, new_product, t0};
use crate::{OrderFilter, OrderStatus, Page, Store};

/// Orders created an hour apart; the interval keeps exactly those inside it, its start
/// included and its end excluded, with status, product and cursor applied as well.
pub async fn list_orders_filters_by_creation_time<S: Store + Clone>(store: S) {
    let a = store
        .create(new_product("TIME-A", 100, 100))
        .await
        .expect("create");
    let b = store
        .create(new_product("TIME-B", 100, 100))
        .await
        .expect("create");
    let hour = |n: i64| t0() + Duration::hours(n);
    let mut ids = Vec::new();
    for (n, product) in [(0, a.id), (1, b.id), (2, a.id), (3, a.id)] {
        let order = store
            .place_order(new_order(product, 1), hour(n), None)
            .await
            .expect("order")
            .into_inner();
        assert_eq!(order.created_at, hour(n));
        ids.push(order.id);
    }
    let list = |filter: OrderFilter, page: Page| {
        let store = store.clone();
        async move {
            let orders = store.list_orders(filter, page).await.expect("list");
            orders.iter().map(|o| o.id).collect::<Vec<_>>()
        }
    };
    let between = |from: i64, to: i64| OrderFilter {
        created_after: Some(hour(from)),
        created_before: Some(hour(to)),
        ..OrderFilter::default()
    };
    // Start included, end excluded.
    assert_eq!(list(between(1, 3), Page::default()).await, ids[1..3]);
    // One bound alone.
    let since = OrderFilter {
        created_after: Some(hour(2)),
        ..OrderFilter::default()
    };
    assert_eq!(list(since, Page::default()).await, ids[2..4]);
    let until = OrderFilter {
        created_before: Some(hour(1)),
        ..OrderFilter::default()
    };
    assert_eq!(list(until, Page::default()).await, ids[..1]);
    // A microsecond either side of an order's creation.
    let just_after = OrderFilter {
        created_after: Some(hour(1) + Duration::microseconds(1)),
        created_before: Some(hour(2) + Duration::microseconds(1)),
        ..OrderFilter::default()
    };
    assert_eq!(list(just_after, Page::default()).await, ids[2..3]);
    // Bounds finer than a microsecond (stores keep microseconds) are rounded up, alike on
    // every store: an order at exactly `hour(1)` is after `hour(1) - 1 ns` and before
    // `hour(1) + 1 ns`.
    let nano = Duration::nanoseconds(1);
    let around = OrderFilter {
        created_after: Some(hour(1) - nano),
        created_before: Some(hour(1) + nano),
        ..OrderFilter::default()
    }
    .at_stored_precision();
    assert_eq!(list(around, Page::default()).await, ids[1..2]);
    let just_past = OrderFilter {
        created_after: Some(hour(1) + nano),
        created_before: Some(hour(2) - nano),
        ..OrderFilter::default()
    }
    .at_stored_precision();
    assert!(list(just_past, Page::default()).await.is_empty());
    assert!(around.admits_creation(hour(1)) && !just_past.admits_creation(hour(1)));
    // With the product, the status and the cursor.
    let of_a = OrderFilter {
        product_id: Some(a.id),
        ..between(0, 4)
    };
    assert_eq!(
        list(of_a, Page::default()).await,
        vec![ids[0], ids[2], ids[3]]
    );
    let page = Page::new(0, 1).expect("page").after(ids[0]);
    assert_eq!(list(of_a, page).await, ids[2..3]);
    let pending_of_b = OrderFilter {
        status: Some(OrderStatus::Pending),
        product_id: Some(b.id),
        ..between(0, 4)
    };
    assert_eq!(list(pending_of_b, Page::default()).await, ids[1..2]);
    let paid = OrderFilter {
        status: Some(OrderStatus::Paid),
        ..between(0, 4)
    };
    assert!(list(paid, Page::default()).await.is_empty());
    // An empty or reversed interval holds nothing.
    assert!(list(between(2, 2), Page::default()).await.is_empty());
    assert!(list(between(3, 1), Page::default()).await.is_empty());
}
