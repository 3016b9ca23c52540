//! Operations: `/health`, `/metrics`, and `/openapi.json` checked against the router's own table.

use std::collections::{BTreeMap, BTreeSet};

use inventory_server::routes::ROUTES;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, route_template};

both_backends!(
    health_is_ok,
    metrics_are_prometheus_text,
    openapi_has_the_metadata,
    openapi_documents_exactly_the_served_routes,
    openapi_documents_every_status_with_a_schema,
    every_listed_route_is_served,
);

async fn health_is_ok(app: TestApp) {
    assert_eq!(
        app.get("/health").await.expect_json(200),
        json!({"status": "ok"})
    );
}

async fn metrics_are_prometheus_text(app: TestApp) {
    app.get("/products").await.expect_json(200);
    app.get("/products/999").await.assert_status(404);
    app.get("/nope/secret-path").await.assert_status(404);
    let reply = app.get("/metrics").await;
    reply.assert_status(200);
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text format: {content_type:?}"
    );
    assert!(
        reply.text.contains("http_requests_total"),
        "/metrics counts requests:\n{}",
        reply.text
    );
    // Requests are counted by route template, never by raw path (unbounded label values).
    let counted = reply.text.lines().any(|line| {
        line.starts_with("http_requests_total{")
            && line.contains(route_template("/products/{"))
            && line.contains("\"404\"")
    });
    assert!(
        counted,
        "GET /products/999 → 404 counted under its route:\n{}",
        reply.text
    );
    for raw in ["/products/999", "secret-path"] {
        assert!(
            !reply.text.contains(raw),
            "/metrics must not carry the raw path {raw}"
        );
    }
    // Every sample line is `name{labels} value`: a number at the end.
    for line in reply
        .text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().unwrap_or_default();
        let number = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
        assert!(number, "not a Prometheus sample line: {line}");
    }
}

async fn openapi(app: &TestApp) -> Value {
    app.get("/openapi.json").await.expect_json(200)
}

async fn openapi_has_the_metadata(app: TestApp) {
    let doc = openapi(&app).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document: {}",
        doc["openapi"]
    );
    assert_eq!(
        doc["info"]["title"],
        json!("Orders & Inventory Microservice")
    );
    assert_eq!(doc["info"]["version"], json!("1.0.0"));
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    for tag in ["products", "orders", "webhooks"] {
        assert!(tags.contains(tag), "tag {tag} in {tags:?}");
    }
    // The same document with a trailing slash.
    assert_eq!(app.get("/openapi.json/").await.expect_json(200), doc);
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// path → methods (lower-case), from the document.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("`paths` is an object: {}", doc["paths"]));
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .map(|ops| {
                    ops.keys()
                        .filter(|k| HTTP_METHODS.contains(&k.as_str()))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            (path.clone(), methods)
        })
        .collect()
}

/// path → methods (lower-case), from the router's table.
fn served() -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (template, methods) in ROUTES {
        map.entry(inventory_server::routes::documented_path(template))
            .or_default()
            .extend(methods.iter().map(|m| m.to_ascii_lowercase()));
    }
    map
}

async fn openapi_documents_exactly_the_served_routes(app: TestApp) {
    let served = served();
    // The contract's routes are all in the router's table.
    let product = route_template("/products/{");
    let order = route_template("/orders/{");
    let contract: [(&str, &[&str]); 6] = [
        ("/products", &["get", "post"]),
        (product, &["get", "put", "delete"]),
        ("/orders", &["get", "post"]),
        (order, &["get", "put", "delete"]),
        ("/webhooks/payment", &["post"]),
        ("/health", &["get"]),
    ];
    for (path, methods) in contract {
        let listed = served
            .get(&inventory_server::routes::documented_path(path))
            .cloned()
            .unwrap_or_default();
        let wanted: BTreeSet<String> = methods.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(listed, wanted, "routes::ROUTES for {path}");
    }
    let documented = documented(&openapi(&app).await);
    assert_eq!(
        documented, served,
        "/openapi.json `paths` (left) must describe exactly the routes the router serves \
         (routes::ROUTES, right)"
    );
}

/// What the contract says each operation can answer, besides 500.
fn contract_statuses(product: &str, order: &str) -> Vec<(String, &'static str, Vec<u16>)> {
    let db = |codes: &[u16]| [codes, &[503]].concat();
    vec![
        ("/products".into(), "get", db(&[200, 422])),
        ("/products".into(), "post", db(&[201, 409, 413, 415, 422])),
        (product.into(), "get", db(&[200, 404, 422])),
        (product.into(), "put", db(&[200, 404, 409, 413, 415, 422])),
        (product.into(), "delete", db(&[204, 404, 409, 422])),
        ("/orders".into(), "get", db(&[200, 422])),
        (
            "/orders".into(),
            "post",
            db(&[201, 404, 409, 413, 415, 422]),
        ),
        (order.into(), "get", db(&[200, 404, 422])),
        (order.into(), "put", db(&[200, 400, 404, 413, 415, 422])),
        (order.into(), "delete", db(&[204, 400, 404, 422])),
        (
            "/webhooks/payment".into(),
            "post",
            db(&[200, 400, 401, 404, 409, 413, 422]),
        ),
        ("/health".into(), "get", vec![200, 503]),
    ]
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {pointer}")),
        None => value,
    }
}

async fn openapi_documents_every_status_with_a_schema(app: TestApp) {
    let doc = openapi(&app).await;
    let product = route_template("/products/{");
    let order = route_template("/orders/{");
    let mut missing = Vec::new();
    for (path, method, statuses) in contract_statuses(product, order) {
        let operation = &doc["paths"][inventory_server::routes::documented_path(&path)][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        let tag = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if tag != "health" {
            let tags = operation["tags"].as_array().cloned().unwrap_or_default();
            assert!(
                tags.contains(&json!(tag)),
                "{method} {path} is tagged {tag}: {tags:?}"
            );
        }
        for status in statuses {
            let response = resolve(&doc, &operation["responses"][status.to_string()]);
            if response.is_null() {
                missing.push(format!("{method} {path}: {status} not documented"));
                continue;
            }
            if status == 204 {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            if !schema.is_object() {
                missing.push(format!(
                    "{method} {path}: {status} has no application/json schema"
                ));
            }
        }
        if path.ends_with('}') {
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let in_path = parameters
                .iter()
                .map(|p| resolve(&doc, p))
                .any(|p| p["in"] == json!("path") && p["schema"]["type"] == json!("integer"));
            assert!(
                in_path,
                "{method} {path} documents its integer path parameter"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented answers:\n{}",
        missing.join("\n")
    );
}

async fn every_listed_route_is_served(app: TestApp) {
    for (template, methods) in ROUTES {
        // `{param}` becomes 1: no such row exists yet, so item routes answer their own 404.
        let mut path = String::new();
        let mut rest = *template;
        while let Some(start) = rest.find('{') {
            path.push_str(&rest[..start]);
            path.push('1');
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |i| start + i + 1);
            rest = &rest[end..];
        }
        path.push_str(rest);
        for method in *methods {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .unwrap_or_else(|_| panic!("{method} is an HTTP method"));
            let mut request = app.request(method.clone(), &path);
            if method == Method::POST || method == Method::PUT {
                request = request.json(&json!({}));
            }
            let reply = app.send(request).await;
            assert_ne!(
                reply.status, 405,
                "{}: listed in ROUTES but refused",
                reply.what
            );
            let unrouted = reply.status == 404
                && serde_json::from_str::<Value>(&reply.text).ok()
                    == Some(json!({"detail": "Not Found"}));
            assert!(!unrouted, "{}: listed in ROUTES but not routed", reply.what);
        }
    }
}
