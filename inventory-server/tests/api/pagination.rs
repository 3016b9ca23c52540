//! Cursor pagination (issue 9): `after=<id>` with `limit` on `/products` and `/orders`, a
//! `Link: <…>; rel="next"` header while a full page is answered (filters kept), stable under
//! concurrent inserts; `skip`/`limit` keep working.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::{Api, Reply, TestApp, assert_validation_error, id_of, ids_of};

both_backends!(
    following_links_visits_every_product_once_in_order,
    no_link_once_no_row_remains,
    after_alone_and_skip_limit_keep_working,
    order_links_keep_the_filters,
    walking_products_is_stable_under_concurrent_inserts,
    walking_orders_is_stable_under_concurrent_inserts,
    walking_products_skips_nothing_when_earlier_rows_are_deleted,
    invalid_cursors_are_422,
);

/// The target of the `Link: <target>; rel="next"` header, if any; panics on a malformed one.
fn next_link(reply: &Reply) -> Option<String> {
    let values: Vec<&str> = reply
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().expect("a text Link header"))
        .collect();
    assert!(
        values.len() <= 1,
        "{}: several Link headers {values:?}",
        reply.what
    );
    let value = values.first()?;
    let (target, params) = value
        .strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .unwrap_or_else(|| panic!("{}: malformed Link {value:?}", reply.what));
    assert_eq!(
        params.trim(),
        "; rel=\"next\"",
        "{}: Link {value:?}",
        reply.what
    );
    assert!(target.starts_with('/'), "{}: Link {value:?}", reply.what);
    Some(target.to_owned())
}

/// The query parameters of a link target, in order.
fn query_of(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded_pairs(query)
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Follows the Link headers from `start`; returns the ids of every page, and the pages' sizes.
/// Calls `between` after each page (to insert rows mid-walk).
async fn walk(
    api: &Api,
    start: &str,
    mut between: impl AsyncFnMut(usize),
) -> (Vec<i64>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        assert!(sizes.len() < 1000, "the walk does not end");
        let reply = api.get(&path).await;
        let page = ids_of(&reply.expect_json(200));
        sizes.push(page.len());
        ids.extend(page);
        next = next_link(&reply);
        between(sizes.len()).await;
    }
    (ids, sizes)
}

fn assert_strictly_increasing(ids: &[i64]) {
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids must be visited once each, in id order: {ids:?}"
    );
}

async fn create_products(api: &Api, prefix: &str, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(id_of(
            &api.create_product(&format!("{prefix}-{i}"), 1.0, 100).await,
        ));
    }
    ids
}

async fn following_links_visits_every_product_once_in_order(app: TestApp) {
    let all = create_products(&app, "PG", 7).await;
    let first = app.get("/products?limit=3").await;
    assert_eq!(ids_of(&first.expect_json(200)), all[..3]);
    assert_eq!(
        next_link(&first).as_deref(),
        Some(format!("/products?after={}&limit=3", all[2]).as_str())
    );
    let (ids, sizes) = walk(&app, "/products?limit=3", async |_| {}).await;
    assert_eq!(ids, all);
    assert_eq!(sizes, vec![3, 3, 1]);
    // With the trailing slash too.
    let (ids, _) = walk(&app, "/products/?limit=2", async |_| {}).await;
    assert_eq!(ids, all);
}

async fn no_link_once_no_row_remains(app: TestApp) {
    let all = create_products(&app, "NF", 6).await;
    // An exact multiple: the last page is full, and has no link since no row follows it.
    let (ids, sizes) = walk(&app, "/products?limit=3", async |_| {}).await;
    assert_eq!(ids, all);
    assert_eq!(sizes, vec![3, 3]);
    let last_full = app
        .get(&format!("/products?after={}&limit=3", all[2]))
        .await;
    assert_eq!(ids_of(&last_full.expect_json(200)), all[3..]);
    assert_eq!(next_link(&last_full), None);
    let last = app
        .get(&format!("/products?after={}&limit=3", all[5]))
        .await;
    assert_eq!(last.expect_json(200), json!([]));
    assert_eq!(next_link(&last), None);
    // The default limit (100) is not reached: no link.
    let reply = app.get("/products").await;
    assert_eq!(ids_of(&reply.expect_json(200)), all);
    assert_eq!(next_link(&reply), None);
    let reply = app.get("/products?limit=7").await;
    assert_eq!(next_link(&reply), None, "6 rows do not fill a page of 7");
}

async fn after_alone_and_skip_limit_keep_working(app: TestApp) {
    let all = create_products(&app, "SK", 6).await;
    let reply = app.get(&format!("/products?after={}", all[1])).await;
    assert_eq!(ids_of(&reply.expect_json(200)), all[2..]);
    assert_eq!(next_link(&reply), None);
    let reply = app.get("/products?after=0&limit=2").await;
    assert_eq!(ids_of(&reply.expect_json(200)), all[..2]);
    // The seed's skip/limit.
    let reply = app.get("/products?skip=2&limit=2").await;
    assert_eq!(ids_of(&reply.expect_json(200)), all[2..4]);
    // A full skip/limit page links on by cursor, and the link leads to the rows after it.
    let link = next_link(&reply).expect("a full page links to the next");
    let next = app.get(&link).await;
    assert_eq!(ids_of(&next.expect_json(200)), all[4..]);
    let reply = app.get("/products?skip=5&limit=2").await;
    assert_eq!(ids_of(&reply.expect_json(200)), all[5..]);
    assert_eq!(next_link(&reply), None);
    // A cursor past every id: empty.
    let reply = app.get(&format!("/products?after={}", all[5] + 1000)).await;
    assert_eq!(reply.expect_json(200), json!([]));
    // Orders too.
    let product = all[0];
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(id_of(&app.create_order(product, 1).await));
    }
    let reply = app.get(&format!("/orders?after={}", orders[0])).await;
    assert_eq!(ids_of(&reply.expect_json(200)), orders[1..]);
    let reply = app.get("/orders?skip=1&limit=2").await;
    assert_eq!(ids_of(&reply.expect_json(200)), orders[1..3]);
}

async fn order_links_keep_the_filters(app: TestApp) {
    let products = create_products(&app, "OF", 2).await;
    let (a, b) = (products[0], products[1]);
    let mut a_paid = Vec::new();
    let mut a_all = Vec::new();
    for i in 0..9 {
        let product = if i % 3 == 2 { b } else { a };
        let id = id_of(&app.create_order(product, 1).await);
        if product == a {
            a_all.push(id);
            if i % 2 == 0 {
                app.set_order_status(id, "PAID").await.assert_status(200);
                a_paid.push(id);
            }
        }
    }
    let start = format!("/orders?product_id={a}&limit=2");
    let first = app.get(&start).await;
    let link = next_link(&first).expect("a full first page links on");
    let params = query_of(&link);
    assert!(link.starts_with("/orders?"), "{link}");
    assert!(
        params.contains(&("product_id".to_owned(), a.to_string())),
        "{link}"
    );
    assert!(
        params.contains(&("limit".to_owned(), "2".to_owned())),
        "{link}"
    );
    assert!(
        params.contains(&("after".to_owned(), a_all[1].to_string())),
        "{link}"
    );
    let (ids, _) = walk(&app, &start, async |_| {}).await;
    assert_eq!(ids, a_all, "only product {a}'s orders, each once");

    let start = format!("/orders?status=PAID&product_id={a}&limit=1");
    let first = app.get(&start).await;
    let params = query_of(&next_link(&first).expect("a link"));
    assert!(
        params.contains(&("status".to_owned(), "PAID".to_owned())),
        "{params:?}"
    );
    let (ids, _) = walk(&app, &start, async |_| {}).await;
    assert_eq!(ids, a_paid);
    let (ids, _) = walk(&app, "/orders?status=PENDING&limit=2", async |_| {}).await;
    let mut pending: Vec<i64> = ids_of(&app.get("/orders?limit=1000").await.expect_json(200))
        .into_iter()
        .filter(|id| !a_paid.contains(id))
        .collect();
    pending.sort_unstable();
    assert_eq!(ids, pending);
}

async fn walking_products_is_stable_under_concurrent_inserts(app: TestApp) {
    let existing = create_products(&app, "EX", 25).await;
    // A background writer inserts while the walk runs...
    let writer = {
        let api = app.api.clone();
        tokio::spawn(async move { create_products(&api, "BG", 25).await })
    };
    // ...and the walker itself inserts between pages, so inserts surely happen mid-walk.
    let api = app.api.clone();
    let (ids, _) = walk(&app, "/products?limit=4", async |page| {
        api.create_product(&format!("MID-{page}"), 1.0, 1).await;
    })
    .await;
    let inserted = writer.await.expect("the writer panicked");
    assert_strictly_increasing(&ids);
    let seen: BTreeSet<i64> = ids.iter().copied().collect();
    let missing: Vec<i64> = existing
        .iter()
        .copied()
        .filter(|id| !seen.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "rows that existed at the start were skipped: {missing:?}"
    );
    // Whatever was inserted meanwhile is either seen once or after the end: never repeated.
    let everything = ids_of(&app.get("/products?limit=1000").await.expect_json(200));
    assert!(seen.iter().all(|id| everything.contains(id)));
    assert!(inserted.iter().all(|id| everything.contains(id)));
}

async fn walking_orders_is_stable_under_concurrent_inserts(app: TestApp) {
    let product = id_of(&app.create_product("WALK", 1.0, 1000).await);
    let mut existing = Vec::new();
    for _ in 0..20 {
        existing.push(id_of(&app.create_order(product, 1).await));
    }
    let writer = {
        let api = app.api.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                api.create_order(product, 1).await;
            }
        })
    };
    let api = app.api.clone();
    let start = format!("/orders?product_id={product}&limit=3");
    let (ids, _) = walk(&app, &start, async |_| {
        api.create_order(product, 1).await;
    })
    .await;
    writer.await.expect("the writer panicked");
    assert_strictly_increasing(&ids);
    let seen: BTreeSet<i64> = ids.iter().copied().collect();
    assert!(
        existing.iter().all(|id| seen.contains(id)),
        "skipped rows: {ids:?}"
    );
}

/// A cursor, unlike an offset, does not shift when rows already visited disappear.
async fn walking_products_skips_nothing_when_earlier_rows_are_deleted(app: TestApp) {
    let all = create_products(&app, "DEL", 12).await;
    let api = app.api.clone();
    let mut deleted = Vec::new();
    let (ids, _) = walk(&app, "/products?limit=3", async |page| {
        // After each page, delete two rows of the pages already seen.
        for id in all
            .iter()
            .take(page * 3)
            .filter(|id| !deleted.contains(*id))
            .take(2)
            .copied()
            .collect::<Vec<_>>()
        {
            api.delete(&format!("/products/{id}"))
                .await
                .assert_status(204);
            deleted.push(id);
        }
    })
    .await;
    assert!(!deleted.is_empty());
    assert_eq!(
        ids, all,
        "every row is visited once, in order, despite the deletions"
    );
}

async fn invalid_cursors_are_422(app: TestApp) {
    for path in ["/products", "/orders"] {
        let reply = app.get(&format!("{path}?after=abc")).await;
        assert_validation_error(&reply, &[&["query", "after"]]);
        let reply = app.get(&format!("{path}?after=-1")).await;
        assert_validation_error(&reply, &[&["query", "after"]]);
        let reply = app.get(&format!("{path}?after=x&limit=0")).await;
        assert_validation_error(&reply, &[&["query", "after"], &["query", "limit"]]);
    }
}
