//! Each operation's request body, parameters and every answer it can give besides its success,
//! in the shape the pipeline sends it (`error.rs`): a string `detail`, a transition object, the
//! 422 list, ...

use serde_json::{Map, Value, json};

use super::schemas;

/// An answer besides success: its status, when it is given, and its body's schema names
/// (several: the body is one of them).
type Answer = (u16, &'static str, &'static [&'static str]);

/// One documented operation.
struct Operation {
    path: &'static str,
    method: &'static str,
    /// The request body's schema, if it takes one.
    body: Option<&'static str>,
    /// Its own answers; those every operation shares are added by [`shared`].
    answers: &'static [Answer],
}

const UNKNOWN_PRODUCT: Answer = (404, "Unknown product", &["Detail"]);
const UNKNOWN_ORDER: Answer = (404, "Unknown order", &["Detail"]);
const UNKNOWN_LOCATION: Answer = (404, "Unknown location", &["Detail"]);
const CONCURRENT: Answer = (409, "Changed concurrently; retry", &["Detail"]);
const STALE: Answer = (
    412,
    "If-Match no longer holds: the row changed since (its current ETag in the answer)",
    &["PreconditionFailed"],
);
const UNCONDITIONAL: Answer = (
    428,
    "REQUIRE_IF_MATCH is set and the request has no If-Match",
    &["Detail"],
);

const OPERATIONS: &[Operation] = &[
    Operation {
        path: "/products",
        method: "post",
        body: Some("ProductCreate"),
        answers: &[(
            409,
            "Duplicate SKU, or a request with the same Idempotency-Key still in flight (Retry-After)",
            &["Detail"],
        )],
    },
    Operation {
        path: "/products/bulk",
        method: "post",
        body: Some("ProductBatch"),
        answers: &[(
            409,
            "A request with the same Idempotency-Key still in flight (Retry-After), or a concurrent change; retry",
            &["Detail"],
        )],
    },
    Operation {
        path: "/products",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/products/{product_id}",
        method: "get",
        body: None,
        answers: &[UNKNOWN_PRODUCT],
    },
    Operation {
        path: "/products/{product_id}",
        method: "put",
        body: Some("ProductUpdate"),
        answers: &[
            UNKNOWN_PRODUCT,
            (
                409,
                "The new SKU is taken, the stock is not the `if_current` of the compare-and-set form, or the stock asked for is below what other locations hold",
                &["Detail", "StockChanged"],
            ),
            STALE,
            UNCONDITIONAL,
        ],
    },
    Operation {
        path: "/products/{product_id}",
        method: "delete",
        body: None,
        answers: &[
            UNKNOWN_PRODUCT,
            (
                409,
                "Orders reference the product; order history is kept",
                &["Detail"],
            ),
            STALE,
            UNCONDITIONAL,
        ],
    },
    Operation {
        path: "/products/{product_id}/adjustments",
        method: "post",
        body: Some("AdjustmentRequest"),
        answers: &[
            UNKNOWN_PRODUCT,
            (
                409,
                "The stock (or the location's available units) would go below zero, or above its maximum",
                &["InsufficientStock", "Detail"],
            ),
        ],
    },
    Operation {
        path: "/products/{product_id}/adjustments",
        method: "get",
        body: None,
        answers: &[UNKNOWN_PRODUCT],
    },
    Operation {
        path: "/orders",
        method: "post",
        body: Some("OrderCreate"),
        answers: &[
            (
                404,
                "Unknown product, or a line names an unknown location",
                &["Detail"],
            ),
            (
                409,
                "Insufficient stock, or a request with the same Idempotency-Key still in flight (Retry-After)",
                &["InsufficientStock", "Detail"],
            ),
        ],
    },
    Operation {
        path: "/orders",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/orders/{order_id}",
        method: "get",
        body: None,
        answers: &[UNKNOWN_ORDER],
    },
    Operation {
        path: "/orders/{order_id}",
        method: "put",
        body: Some("OrderStatusUpdate"),
        answers: &[
            (400, "A move the status table forbids", &["TransitionError"]),
            UNKNOWN_ORDER,
            CONCURRENT,
            STALE,
            UNCONDITIONAL,
        ],
    },
    Operation {
        path: "/orders/{order_id}",
        method: "delete",
        body: None,
        answers: &[
            (
                400,
                "The order is SHIPPED or already CANCELED",
                &["TransitionError"],
            ),
            UNKNOWN_ORDER,
            CONCURRENT,
            STALE,
            UNCONDITIONAL,
        ],
    },
    Operation {
        path: "/orders/{order_id}/events",
        method: "get",
        body: None,
        answers: &[UNKNOWN_ORDER],
    },
    Operation {
        path: "/webhooks/payment",
        method: "post",
        body: Some("PaymentWebhook"),
        answers: &[
            (
                400,
                "Event already processed (its id, or its body)",
                &["EventReplayed"],
            ),
            (401, "Missing or invalid signature", &["Detail"]),
            UNKNOWN_ORDER,
            (
                409,
                "The order is CANCELED or SHIPPED, the amount is not its total, it expired unpaid, or it changed concurrently",
                &[
                    "TransitionError",
                    "AmountMismatch",
                    "OrderExpired",
                    "Detail",
                ],
            ),
            (503, "No WEBHOOK_SECRET is configured", &["Detail"]),
        ],
    },
    Operation {
        path: "/products/{product_id}/levels",
        method: "get",
        body: None,
        answers: &[UNKNOWN_PRODUCT],
    },
    Operation {
        path: "/locations",
        method: "post",
        body: Some("LocationCreate"),
        answers: &[(409, "Another location has this code", &["Detail"])],
    },
    Operation {
        path: "/locations",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/locations/{location_id}",
        method: "get",
        body: None,
        answers: &[UNKNOWN_LOCATION],
    },
    Operation {
        path: "/transfers",
        method: "post",
        body: Some("TransferCreate"),
        answers: &[
            (404, "Unknown product or location", &["Detail"]),
            (
                409,
                "More than the source's available units, or the destination would exceed the maximum",
                &["InsufficientStock", "Detail"],
            ),
        ],
    },
    Operation {
        path: "/health",
        method: "get",
        body: None,
        answers: &[(503, "The database does not answer", &["HealthUnavailable"])],
    },
    Operation {
        path: "/metrics",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/openapi.json",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/docs",
        method: "get",
        body: None,
        answers: &[],
    },
    Operation {
        path: "/redoc",
        method: "get",
        body: None,
        answers: &[],
    },
];

/// The answers every operation of `path` shares, given whether it takes a body and needs the
/// API key.
fn shared(op: &Operation, keyed: bool) -> Vec<Answer> {
    let mut answers: Vec<Answer> = vec![
        (500, "Internal server error", &["Detail"]),
        (
            413,
            "Body (or declared Content-Length) larger than MAX_BODY_BYTES",
            &["Detail"],
        ),
    ];
    if op.path != "/health" {
        answers.push((429, "Rate limited; retry after Retry-After", &["Detail"]));
    }
    if crate::routes::is_resource(op.path) {
        answers.push((
            503,
            "Database unavailable, or its disk full or read-only (writes); retry after Retry-After",
            &["Detail"],
        ));
        answers.push((
            422,
            "Invalid path, query, header or body: the offending inputs listed",
            &["ValidationError"],
        ));
    }
    if op.body.is_some() {
        answers.push((
            408,
            "The body did not arrive within BODY_READ_TIMEOUT",
            &["Detail"],
        ));
        answers.push((400, "The body could not be read", &["Detail"]));
        if !op.path.starts_with("/webhooks") {
            answers.push((415, "The body is not application/json", &["Detail"]));
        }
    }
    if keyed {
        answers.push((
            401,
            "Missing or invalid API key (when API_KEY is set)",
            &["Detail"],
        ));
    }
    answers
}

/// A response object for `answers` of one status: the descriptions joined, the schemas one of.
fn response(answers: &[&Answer]) -> Value {
    let description = answers
        .iter()
        .map(|(_, d, _)| *d)
        .collect::<Vec<_>>()
        .join("; or ");
    let mut names: Vec<&str> = answers
        .iter()
        .flat_map(|(_, _, s)| s.iter().copied())
        .collect();
    names.dedup();
    let refs: Vec<Value> = names
        .iter()
        .map(|n| json!({ "$ref": format!("#/components/schemas/{n}") }))
        .collect();
    let schema = match refs.as_slice() {
        [one] => one.clone(),
        _ => json!({ "oneOf": refs }),
    };
    let mut response = json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    });
    let status = answers.first().map_or(0, |(s, _, _)| *s);
    let mut headers = Map::new();
    if matches!(status, 429 | 503) || description.contains("Retry-After") {
        headers.insert("Retry-After".into(), json!({"schema": {"type": "string"}}));
    }
    if status == 412 {
        headers.insert("ETag".into(), json!({"schema": {"type": "string"}}));
    }
    if status == 401 && description.contains("API key") {
        headers.insert(
            "WWW-Authenticate".into(),
            json!({"schema": {"type": "string"}}),
        );
    }
    if !headers.is_empty() {
        response["headers"] = Value::Object(headers);
    }
    response
}

/// Completes every documented operation: body, parameter schemas, security, and answers.
pub(super) fn complete(doc: &mut Value) {
    for op in OPERATIONS {
        let Some(operation) = doc
            .pointer_mut(&format!("/paths/{}/{}", escape(op.path), op.method))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let keyed = op.method != "get"
            && (op.path.starts_with("/products") || op.path.starts_with("/orders"));
        if let Some(name) = op.body {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {
                    "schema": {"$ref": format!("#/components/schemas/{name}")}}}}),
            );
        }
        if keyed {
            // Either scheme, or none when the server runs without API_KEY.
            operation.insert(
                "security".into(),
                json!([{"bearer": []}, {"api_key": []}, {}]),
            );
        }
        let conditional = op.answers.iter().any(|(status, _, _)| *status == 412);
        if conditional {
            let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
            if let Some(list) = parameters.as_array_mut() {
                list.push(json!({
                    "name": "If-Match", "in": "header", "required": false,
                    "description": "The ETag of the row as last read (or `*`): the write is made only if the row has not changed since, else 412.",
                    "schema": {"type": "string"}}));
            }
        }
        if let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        {
            for parameter in parameters {
                complete_parameter(parameter);
            }
        }
        let mut answers: Vec<Answer> = op.answers.to_vec();
        answers.extend(shared(op, keyed));
        answers.sort_by_key(|(status, _, _)| *status);
        let responses = operation
            .entry("responses")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(responses) = responses else { continue };
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
        statuses.dedup();
        for status in statuses {
            let same: Vec<&Answer> = answers.iter().filter(|(s, _, _)| *s == status).collect();
            responses.insert(status.to_string(), response(&same));
        }
        // The row's version, on every answer that shows one product or order.
        let versioned = matches!(op.path, "/products/{product_id}" | "/orders/{order_id}")
            && matches!(op.method, "get" | "put");
        if let Some(ok) = responses.get_mut("200").and_then(Value::as_object_mut)
            && versioned
        {
            let headers = ok.entry("headers").or_insert_with(|| json!({}));
            headers["ETag"] = json!({
                "description": "The row's version, for If-Match",
                "schema": {"type": "string"}});
        }
    }
}

/// A parameter's schema from the rule that reads it.
fn complete_parameter(parameter: &mut Value) {
    let place = parameter["in"].as_str().unwrap_or_default().to_owned();
    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
    let schema = match (place.as_str(), name.as_str()) {
        ("path", _) => Some(schemas::path_id()),
        ("query", name) => schemas::query(name),
        ("header", "Idempotency-Key") => Some(schemas::idempotency_key()),
        ("header", "X-Event-Id" | "webhook-id") => Some(schemas::event_id()),
        ("header", "X-Webhook-Signature") => Some(json!({
            "type": "string", "pattern": "^(sha256=)?[0-9a-fA-F]{64}$"})),
        _ => None,
    };
    if let Some(schema) = schema {
        parameter["schema"] = schema;
    }
}

/// A JSON pointer token for a path (`/` and `~` escaped).
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_route_table_is_completed() {
        for (path, methods) in crate::routes::ROUTES {
            for method in *methods {
                let method = method.to_ascii_lowercase();
                assert!(
                    OPERATIONS
                        .iter()
                        .any(|op| op.path == *path && op.method == method),
                    "{method} {path} has no entry"
                );
            }
        }
        let doc = super::super::document();
        for op in OPERATIONS {
            let path = crate::routes::documented_path(op.path);
            let pointer = format!("/paths/{}/{}/responses/500", escape(&path), op.method);
            assert!(doc.pointer(&pointer).is_some(), "{pointer}");
            if let Some(body) = op.body {
                let schema = &doc["components"]["schemas"][body];
                assert!(schema.is_object(), "{body}");
            }
        }
    }
}
