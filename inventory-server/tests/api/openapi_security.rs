//! `/openapi.json` documents the guarantees of issues 9 and 10: the API-key security schemes
//! and 401 on writes, 429 everywhere but `/health`, `Idempotency-Key` on the creates, the
//! `after` cursor and `Link` header on the lists, and the ledger and history routes.

use serde_json::{Value, json};

use crate::helpers::TestApp;

both_backends!(openapi_documents_the_new_guarantees);

const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &doc["paths"][inventory_server::routes::documented_path(path)][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

fn responses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

/// The `name` of each parameter `in` that place (references resolved).
fn parameters(doc: &Value, op: &Value, place: &str) -> Vec<String> {
    op["parameters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| match p["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().expect("a reference");
                doc["components"]["parameters"][name].clone()
            }
            None => p.clone(),
        })
        .filter(|p| p["in"] == json!(place))
        .map(|p| p["name"].as_str().expect("a parameter name").to_owned())
        .collect()
}

/// The names of the security schemes an operation accepts.
fn security(op: &Value) -> Vec<String> {
    op["security"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().cloned())
        .collect()
}

async fn openapi_documents_the_new_guarantees(app: TestApp) {
    let doc = app.get("/openapi.json").await.expect_json(200);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], json!("http"), "{schemes}");
    assert_eq!(schemes["bearer"]["scheme"], json!("bearer"), "{schemes}");
    assert_eq!(schemes["api_key"]["type"], json!("apiKey"), "{schemes}");
    assert_eq!(schemes["api_key"]["in"], json!("header"), "{schemes}");
    assert_eq!(schemes["api_key"]["name"], json!("X-API-Key"), "{schemes}");

    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let bare = path.strip_prefix("/v1").unwrap_or(path);
        let writable = bare.starts_with("/products") || bare.starts_with("/orders");
        for method in METHODS {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let codes = responses(op);
            let what = format!("{method} {path}");
            if path == "/health" {
                assert!(
                    !codes.contains(&"429".to_owned()),
                    "{what}: /health is never limited"
                );
            } else {
                assert!(
                    codes.contains(&"429".to_owned()),
                    "{what} must document 429: {codes:?}"
                );
            }
            let write = method != "get";
            if writable && write {
                assert!(
                    codes.contains(&"401".to_owned()),
                    "{what} must document 401: {codes:?}"
                );
                let accepted = security(op);
                for scheme in ["bearer", "api_key"] {
                    assert!(
                        accepted.contains(&scheme.to_owned()),
                        "{what} must accept {scheme}: {accepted:?}"
                    );
                }
            } else {
                assert!(
                    security(op).iter().all(|s| s != "bearer" && s != "api_key"),
                    "{what} needs no API key"
                );
            }
        }
    }

    for path in ["/products", "/orders"] {
        let create = operation(&doc, path, "post");
        let headers = parameters(&doc, create, "header");
        assert!(
            headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("Idempotency-Key")),
            "POST {path} must document Idempotency-Key: {headers:?}"
        );
        let codes = responses(create);
        for code in ["201", "401", "409", "422", "429"] {
            assert!(
                codes.contains(&code.to_owned()),
                "POST {path}: {code} missing from {codes:?}"
            );
        }
        let list = operation(&doc, path, "get");
        let query = parameters(&doc, list, "query");
        for name in ["after", "limit", "skip"] {
            assert!(
                query.contains(&name.to_owned()),
                "GET {path}: no `{name}` in {query:?}"
            );
        }
        let ok_headers = &list["responses"]["200"]["headers"];
        assert!(
            ok_headers
                .as_object()
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("link"))),
            "GET {path} must document the Link header: {ok_headers}"
        );
    }

    let adjustments = "/products/{product_id}/adjustments";
    let adjust = operation(&doc, adjustments, "post");
    let codes = responses(adjust);
    for code in ["200", "401", "404", "409", "422"] {
        assert!(
            codes.contains(&code.to_owned()),
            "POST {adjustments}: {code} missing from {codes:?}"
        );
    }
    let codes = responses(operation(&doc, adjustments, "get"));
    for code in ["200", "404", "422"] {
        assert!(
            codes.contains(&code.to_owned()),
            "GET {adjustments}: {code} missing from {codes:?}"
        );
    }
    let events = "/orders/{order_id}/events";
    let codes = responses(operation(&doc, events, "get"));
    for code in ["200", "404", "422"] {
        assert!(
            codes.contains(&code.to_owned()),
            "GET {events}: {code} missing from {codes:?}"
        );
    }
    // The webhook documents the expired order's 409.
    let codes = responses(operation(&doc, "/webhooks/payment", "post"));
    assert!(codes.contains(&"409".to_owned()), "{codes:?}");
}
