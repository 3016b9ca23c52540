//! `GET /orders?created_after=&created_before=`: RFC 3339 instants, the half-open interval
//! `[created_after, created_before)`, combined with `status`, `product_id` and the cursor, the
//! next page's link keeping them; a malformed instant is a 422 naming the parameter.

use inventory_core::time::format_description::well_known::Rfc3339;
use inventory_core::time::{Duration, OffsetDateTime};

use crate::helpers::extra::{manual_clock, spawn_app_on_clock};
use crate::helpers::{Backend, TestApp, assert_validation_error, id_of, ids_of};

both_backends!(
    @backend orders_are_filtered_by_creation_time,
    malformed_instants_are_422_naming_the_parameter,
);

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formattable")
}

/// `/orders?…` with the query values percent-encoded (a `+` offset included).
fn listing(params: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("/orders?{}", q.finish())
}

async fn orders_are_filtered_by_creation_time(backend: Backend) {
    let clock = manual_clock();
    let app: TestApp = spawn_app_on_clock(backend, clock.clone(), |_| {}).await;
    let start = inventory_core::clock::Clock::now(&clock);
    let a = id_of(&app.create_product("DATE-A", 1.0, 100).await);
    let b = id_of(&app.create_product("DATE-B", 1.0, 100).await);
    // Four orders an hour apart: at start, +1h (of B), +2h, +3h.
    let mut ids = Vec::new();
    for product in [a, b, a, a] {
        ids.push(id_of(&app.create_order(product, 1).await));
        clock.advance(Duration::hours(1));
    }
    let at = |hours: i64| rfc3339(start + Duration::hours(hours));
    let list = |params: Vec<(&'static str, String)>| {
        let app = &app;
        async move { ids_of(&app.get(&listing(&params)).await.expect_json(200)) }
    };
    // Start included, end excluded.
    assert_eq!(
        list(vec![("created_after", at(1)), ("created_before", at(3))]).await,
        ids[1..3]
    );
    assert_eq!(list(vec![("created_after", at(2))]).await, ids[2..4]);
    assert_eq!(list(vec![("created_before", at(1))]).await, ids[..1]);
    // Bounds finer than the microseconds stores keep answer alike on both backends.
    let nano = Duration::nanoseconds(1);
    let hour_one = start + Duration::hours(1);
    assert_eq!(
        list(vec![
            ("created_after", rfc3339(hour_one - nano)),
            ("created_before", rfc3339(hour_one + nano)),
        ])
        .await,
        ids[1..2]
    );
    assert!(
        list(vec![
            ("created_after", rfc3339(hour_one + nano)),
            ("created_before", at(2))
        ])
        .await
        .is_empty()
    );
    // Any offset names the same instant.
    let in_paris = (start + Duration::hours(2))
        .to_offset(inventory_core::time::UtcOffset::from_hms(1, 0, 0).expect("offset"));
    assert_eq!(
        list(vec![("created_after", rfc3339(in_paris))]).await,
        ids[2..4]
    );
    // An unencoded `+` arrives as a space and still reads as the offset.
    let plus = format!("/orders?created_after={}", rfc3339(in_paris));
    assert!(plus.contains('+'), "{plus}");
    assert_eq!(ids_of(&app.get(&plus).await.expect_json(200)), ids[2..4]);
    // With the other filters and the cursor; the next page's link keeps the interval.
    assert_eq!(
        list(vec![
            ("created_after", at(0)),
            ("created_before", at(4)),
            ("product_id", a.to_string()),
        ])
        .await,
        vec![ids[0], ids[2], ids[3]]
    );
    assert_eq!(
        list(vec![("created_before", at(4)), ("status", "PAID".into())]).await,
        Vec::<i64>::new()
    );
    let first = app
        .get(&listing(&[
            ("created_after", at(1)),
            ("created_before", at(4)),
            ("limit", "2".into()),
        ]))
        .await;
    assert_eq!(ids_of(&first.expect_json(200)), ids[1..3]);
    let link = first.header("link").expect("a next page").to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("a URL in the link");
    assert!(next.contains("created_after="), "{link}");
    assert_eq!(ids_of(&app.get(next).await.expect_json(200)), ids[3..4]);
    // An empty interval holds nothing.
    assert!(
        list(vec![("created_after", at(2)), ("created_before", at(2))])
            .await
            .is_empty()
    );
}

async fn malformed_instants_are_422_naming_the_parameter(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    for bad in [
        "yesterday",
        "2026-11-01",
        "2026-13-01T00:00:00Z",
        "1700000000",
    ] {
        let reply = app
            .get(&listing(&[("created_after", bad.to_owned())]))
            .await;
        assert_validation_error(&reply, &[&["query", "created_after"]]);
        let reply = app
            .get(&listing(&[("created_before", bad.to_owned())]))
            .await;
        assert_validation_error(&reply, &[&["query", "created_before"]]);
    }
    let reply = app
        .get("/orders?created_after=2026-11-01T00:00:00Z&created_after=2026-12-01T00:00:00Z")
        .await;
    assert_validation_error(&reply, &[&["query", "created_after"]]);
}
