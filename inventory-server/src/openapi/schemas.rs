//! The schemas of what the server accepts and answers when it refuses, built from the core's
//! own constants and character rules (never copies of their values), and from the pipeline's
//! error bodies.

use inventory_core::idempotency::IdempotencyKey;
use inventory_core::webhook::{MAX_EVENT_ID_LEN, PAYMENT_SUCCEEDED, PaymentEvent};
use inventory_core::{
    Adjustments, Cart, LocationCode, LocationName, MAX_CENTS, MAX_STOCK, PRIORITY_RANGE,
    ProductBatch, ProductName, Quantity, Reason, Sku,
};
use serde_json::{Value, json};

use crate::error;
use crate::fastapi::MAX_LISTED_ERRORS;

/// The inclusive ranges of characters for which `selected` holds, in order.
pub fn ranges(selected: impl Fn(char) -> bool) -> Vec<(char, char)> {
    let mut out: Vec<(char, char)> = Vec::new();
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        if !selected(c) {
            continue;
        }
        match out.last_mut() {
            Some((_, high)) if u32::from(*high) + 1 == u32::from(c) => *high = c,
            _ => out.push((c, c)),
        }
    }
    out
}

/// The inside of a regular-expression class listing `ranges`, read alike by ECMA-262 (with the
/// `u` flag, as JSON Schema wants), Python's `re` and Rust's `regex`: `\uXXXX` escapes for the
/// basic plane, the characters themselves above it (no escape is common to all three there).
pub fn class(ranges: &[(char, char)]) -> String {
    let one = |c: char| {
        if u32::from(c) <= 0xFFFF {
            format!("\\u{:04X}", u32::from(c))
        } else {
            c.to_string()
        }
    };
    ranges
        .iter()
        .map(|&(low, high)| {
            if low == high {
                one(low)
            } else {
                format!("{}-{}", one(low), one(high))
            }
        })
        .collect()
}

/// A text of the characters `allows` accepts (a core type's `is_allowed_char`), and, where
/// whitespace is allowed, not only whitespace, as the core's rule checks it.
pub fn text_pattern(allows: impl Fn(char) -> bool) -> String {
    let refused = class(&ranges(|c| !allows(c)));
    if ranges(|c| c.is_whitespace() && allows(c)).is_empty() {
        return format!("^[^{refused}]+$");
    }
    let blank = class(&ranges(|c| !allows(c) || c.is_whitespace()));
    format!("^[^{refused}]*[^{blank}][^{refused}]*$")
}

/// A SKU: none of the characters [`Sku::is_allowed_char`] refuses.
pub fn sku_pattern() -> String {
    text_pattern(Sku::is_allowed_char)
}

/// A header id (`Idempotency-Key`, `X-Event-Id`): visible ASCII.
pub fn visible_ascii_pattern() -> String {
    format!("^[{}]+$", class(&ranges(|c| c.is_ascii_graphic())))
}

/// An amount of cents as the exact JSON number the server reads.
fn cents(n: i64) -> Value {
    let text = format!("{}.{:02}", n / 100, (n % 100).abs());
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "format": "int64", "minimum": min, "maximum": max})
}

fn text(max: usize, pattern: String) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": pattern})
}

/// `Idempotency-Key`.
pub fn idempotency_key() -> Value {
    text(IdempotencyKey::MAX_LEN, visible_ascii_pattern())
}

/// `X-Event-Id`.
pub fn event_id() -> Value {
    text(MAX_EVENT_ID_LEN, visible_ascii_pattern())
}

/// An id in a path: any 64-bit integer (one that is no row's id is a 404).
pub fn path_id() -> Value {
    int(i64::MIN, i64::MAX)
}

/// A query parameter by name, as the listing routes read it.
pub fn query(name: &str) -> Option<Value> {
    use inventory_core::Page;
    Some(match name {
        "skip" | "after" => int(0, i64::MAX),
        "limit" => json!({"type": "integer", "minimum": 1,
                          "maximum": Page::MAX_LIMIT, "default": Page::DEFAULT_LIMIT}),
        "product_id" => int(1, i64::MAX),
        "created_after" | "created_before" => json!({"type": "string", "format": "date-time"}),
        _ => return None,
    })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn product_fields() -> Value {
    json!({
        "sku": {"description": "Unique. No whitespace, no control character, no invisible format character (Unicode Cf: zero-width space, bidirectional overrides, byte-order mark...).",
                "type": "string", "minLength": 1, "maxLength": Sku::MAX_CHARS, "pattern": sku_pattern()},
        "name": text(ProductName::MAX_CHARS, text_pattern(ProductName::is_allowed_char)),
        "price": {"description": "At most two decimals, held exactly.",
                  "type": "number", "minimum": cents(1), "maximum": cents(MAX_CENTS),
                  "multipleOf": cents(1)},
        "stock": int(0, MAX_STOCK),
    })
}

/// The request bodies, by component name.
fn request_bodies() -> Vec<(&'static str, Value)> {
    let product = product_fields();
    let mut update = product.clone();
    update["stock"] = json!({"oneOf": [int(0, MAX_STOCK), {
        "type": "object", "additionalProperties": false, "required": ["set", "if_current"],
        "properties": {"set": int(0, MAX_STOCK), "if_current": int(0, MAX_STOCK)}}]});
    let largest_total = MAX_CENTS.saturating_mul(Quantity::MAX);
    vec![
        (
            "ProductCreate",
            json!({
                "description": "A product to create. Unknown fields are refused.",
                "type": "object", "additionalProperties": false,
                "required": ["sku", "name", "price", "stock"], "properties": product,
                "example": {"sku": "PROD-001", "name": "Widget", "price": 49.99, "stock": 50},
            }),
        ),
        (
            "ProductUpdate",
            json!({
                "description": "A partial update: any subset of the product's fields. Unknown fields are refused. `stock` may be the compare-and-set form `{\"set\": 40, \"if_current\": 45}`: set only if the stock is still 45, else 409 with the current stock.",
                "type": "object", "additionalProperties": false, "properties": update,
                "example": {"price": 44.99, "stock": 100},
            }),
        ),
        (
            "OrderCreate",
            json!({
                "description": format!("An order to place: a cart of 1 to {max} `lines` (lines of one product are merged, their quantities summed; the merged quantity must stay within bounds), or the seed's one-line form `{{\"product_id\", \"quantity\"}}`. All lines or none: if any line is short, nothing is taken and the 409 lists every short line. Unknown fields are refused.", max = Cart::MAX_LINES),
                "type": "object", "additionalProperties": false,
                "properties": {
                    "product_id": int(1, i64::MAX),
                    "quantity": int(1, Quantity::MAX),
                    "lines": {
                        "type": "array", "minItems": 1, "maxItems": Cart::MAX_LINES,
                        "items": {
                            "type": "object", "additionalProperties": false,
                            "required": ["product_id", "quantity"],
                            "properties": {
                                "product_id": int(1, i64::MAX),
                                "quantity": int(1, Quantity::MAX),
                                "location_id": {"description": "Take this line from this location only (404 if it does not exist); otherwise the engine allocates.", "type": "integer", "format": "int64", "minimum": 1},
                            },
                        },
                    },
                },
                // Either form, never both: `lines` alone, or `product_id` with `quantity`.
                "oneOf": [
                    {"required": ["product_id", "quantity"], "not": {"required": ["lines"]}},
                    {"required": ["lines"], "not": {"anyOf": [{"required": ["product_id"]}, {"required": ["quantity"]}]}},
                ],
                "example": {"lines": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]},
            }),
        ),
        (
            "OrderStatusUpdate",
            json!({
                "description": "A status change; only `status` may be sent.",
                "type": "object", "additionalProperties": false, "required": ["status"],
                "properties": {"status": reference("OrderStatus")},
                "example": {"status": "SHIPPED"},
            }),
        ),
        (
            "AdjustmentCreate",
            json!({
                "description": "A manual stock adjustment. Unknown fields are refused. Stock never goes below 0 (409).",
                "type": "object", "additionalProperties": false, "required": ["delta", "reason"],
                "properties": {
                    "delta": {"description": "Units to add (negative: remove); not 0.",
                              "type": "integer", "format": "int64", "minimum": -MAX_STOCK,
                              "maximum": MAX_STOCK, "not": {"const": 0}},
                    "reason": text(Reason::MAX_CHARS, text_pattern(Reason::is_allowed_char)),
                    "location_id": {"description": "The location adjusted (default: 1, the default location); its available units never go below 0. A location that does not exist is a 422 on this field.", "type": "integer", "format": "int64", "minimum": 1},
                },
                "example": {"delta": -3, "reason": "damaged"},
            }),
        ),
        (
            "AdjustmentRequest",
            json!({
                "description": "One adjustment, or a list of 1 to 100 applied in order in one step (all or none).",
                "oneOf": [reference("AdjustmentCreate"), {
                    "type": "array", "minItems": 1, "maxItems": Adjustments::MAX_ITEMS,
                    "items": reference("AdjustmentCreate")}],
                "example": [{"delta": 20, "reason": "delivery"}, {"delta": -2, "reason": "damaged"}],
            }),
        ),
        (
            "LocationCreate",
            json!({
                "description": "A location to create. Unknown fields are refused.",
                "type": "object", "additionalProperties": false, "required": ["code", "name"],
                "properties": {
                    "code": text(LocationCode::MAX_CHARS, text_pattern(LocationCode::is_allowed_char)),
                    "name": text(LocationName::MAX_CHARS, text_pattern(LocationName::is_allowed_char)),
                    "priority": {"description": "Allocation order, lower first (default 0, the default location's; ties by lower id).",
                                 "type": "integer", "format": "int32",
                                 "minimum": PRIORITY_RANGE.start(), "maximum": PRIORITY_RANGE.end()},
                },
                "example": {"code": "WH-EAST", "name": "East warehouse", "priority": 1},
            }),
        ),
        (
            "TransferCreate",
            json!({
                "description": "Units of one product to move between two different locations. Unknown fields are refused.",
                "type": "object", "additionalProperties": false,
                "required": ["product_id", "from_location_id", "to_location_id", "quantity"],
                "properties": {
                    "product_id": int(1, i64::MAX),
                    "from_location_id": int(1, i64::MAX),
                    "to_location_id": int(1, i64::MAX),
                    "quantity": int(1, Quantity::MAX),
                },
                "example": {"product_id": 1, "from_location_id": 1, "to_location_id": 2, "quantity": 5},
            }),
        ),
        (
            "ProductBatch",
            json!({
                "description": "Products to create or update by SKU, each SKU once. Unknown fields are refused.",
                "type": "object", "additionalProperties": false, "required": ["products"],
                "properties": {"products": {
                    "type": "array", "minItems": 1, "maxItems": ProductBatch::MAX_ITEMS,
                    "items": reference("ProductCreate")}},
                "example": {"products": [
                    {"sku": "PROD-001", "name": "Widget", "price": 44.99, "stock": 80},
                    {"sku": "PROD-002", "name": "Gadget", "price": 19.5, "stock": 10}]},
            }),
        ),
        (
            "PaymentWebhook",
            json!({
                "description": "A payment event. Unknown fields are tolerated. A key twice in one object is a 422.",
                "type": "object", "required": ["event"],
                "properties": {
                    "event": text(PaymentEvent::MAX_EVENT_CHARS, text_pattern(PaymentEvent::is_allowed_event_char)),
                    "order_id": int(1, i64::MAX),
                    "amount": {"description": "When sent, must equal the order's total.",
                               "type": "number", "minimum": 0, "maximum": cents(largest_total),
                               "multipleOf": cents(1)},
                    "currency": text(PaymentEvent::MAX_CURRENCY_CHARS, text_pattern(PaymentEvent::is_allowed_currency_char)),
                },
                "if": {"properties": {"event": {"const": PAYMENT_SUCCEEDED}}},
                "then": {"required": ["order_id"]},
                "example": {"event": PAYMENT_SUCCEEDED, "order_id": 7, "amount": 149.97, "currency": "USD"},
            }),
        ),
    ]
}

/// An error body whose `detail` is an object with these fields (`error` the constant given).
fn detail_object(description: &str, error: &str, fields: Value) -> Value {
    let mut properties = json!({"error": {"const": error}, "message": {"type": "string"}});
    let mut required = vec![json!("error")];
    if let (Some(p), Some(f)) = (properties.as_object_mut(), fields.as_object()) {
        for (name, schema) in f {
            p.insert(name.clone(), schema.clone());
            required.push(json!(name));
        }
    }
    json!({
        "description": description,
        "type": "object", "required": ["detail"],
        "properties": {"detail": {"type": "object", "required": required, "properties": properties}},
    })
}

/// The error bodies, by component name.
fn error_bodies() -> Vec<(&'static str, Value)> {
    let id = json!({"type": "integer"});
    let status = reference("OrderStatus");
    vec![
        (
            "Detail",
            json!({
                "description": "An error with a message: `{\"detail\": \"...\"}`.",
                "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string"}},
                "example": {"detail": "Product with ID 999 not found"},
            }),
        ),
        (
            "ValidationItem",
            json!({
                "type": "object", "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"description": "Where: `[\"body\", \"price\"]`, `[\"path\", \"product_id\"]`, `[\"query\", \"limit\"]`, `[\"header\", \"idempotency-key\"]`; an item of a list by its index, as FastAPI does: `[\"body\", \"products\", 3, \"price\"]`.",
                            "type": "array", "minItems": 1,
                            "items": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            }),
        ),
        (
            "ValidationError",
            json!({
                "description": format!("Every invalid input listed, up to {MAX_LISTED_ERRORS}; beyond, one more entry of type `too_many_errors` says how many were left out."),
                "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "array", "minItems": 1,
                                          "maxItems": MAX_LISTED_ERRORS + 1,
                                          "items": reference("ValidationItem")}},
                "example": {"detail": [{"loc": ["body", "price"], "msg": "must be greater than 0", "type": "greater_than"}]},
            }),
        ),
        (
            "TransitionError",
            detail_object(
                "A status move the table forbids.",
                error::TRANSITION_ERROR,
                json!({"current_status": status.clone(), "requested_status": status}),
            ),
        ),
        (
            "PreconditionFailed",
            detail_object(
                "The row changed since the ETag sent in If-Match; nothing was written.",
                error::PRECONDITION_FAILED,
                json!({"id": id.clone(), "etag": {"type": "string"}}),
            ),
        ),
        (
            "StockChanged",
            detail_object(
                "The stock is not the compare-and-set's `if_current`; nothing was written.",
                error::STOCK_CHANGED,
                json!({"product_id": id.clone(), "expected": id.clone(), "current": id.clone()}),
            ),
        ),
        ("InsufficientStock", {
            let mut body = detail_object(
                "Too little stock; what is available now. For an order, the fields name its first short line; an order of several lines also lists every short line in `lines` (nothing was taken).",
                error::INSUFFICIENT_STOCK,
                json!({"requested": id.clone(), "available": id.clone(), "product_id": id.clone()}),
            );
            body["properties"]["detail"]["properties"]["lines"] = json!({
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["line", "product_id", "requested", "available"],
                    "properties": {
                        "line": {"description": "The line's index in the cart, after merging.", "type": "integer", "minimum": 0},
                        "location_id": {"description": "The location the line named, if it named one.", "type": "integer", "minimum": 1},
                        "product_id": id.clone(), "requested": id.clone(), "available": id.clone(),
                    },
                },
            });
            body
        }),
        (
            "EventReplayed",
            detail_object(
                "This event (its id, or its body) was already processed.",
                error::EVENT_REPLAYED,
                json!({"event_id": {"type": "string"}}),
            ),
        ),
        (
            "AmountMismatch",
            detail_object(
                "The amount differs from the order's total; the order stays unpaid.",
                error::AMOUNT_MISMATCH,
                json!({"order_id": id.clone(), "expected": {"type": "number"},
                   "received": {"type": "number"}}),
            ),
        ),
        (
            "OrderExpired",
            detail_object(
                "The order expired unpaid (ORDER_TTL) and was canceled.",
                error::ORDER_EXPIRED,
                json!({"order_id": id}),
            ),
        ),
        (
            "HealthUnavailable",
            json!({
                "type": "object", "required": ["status", "detail"],
                "properties": {"status": {"const": "unavailable"}, "detail": {"type": "string"}},
            }),
        ),
    ]
}

/// Adds the request and error bodies to `components.schemas`.
pub(super) fn add_components(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, schema) in request_bodies().into_iter().chain(error_bodies()) {
        schemas.insert(name.to_owned(), schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `c` is in the class `ranges` describes.
    fn within(ranges: &[(char, char)], c: char) -> bool {
        ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
    }

    fn all_chars() -> impl Iterator<Item = char> {
        (0..=u32::from(char::MAX)).filter_map(char::from_u32)
    }

    #[test]
    fn classes_are_written_alike_for_every_engine() {
        assert_eq!(
            class(&[('\u{0}', '\u{1f}'), ('a', 'a')]),
            "\\u0000-\\u001F\\u0061"
        );
        assert_eq!(class(&[('\u{e0001}', '\u{e0001}')]), "\u{e0001}");
        assert_eq!(
            ranges(|c| c == 'a' || c == 'b' || c == 'd'),
            [('a', 'b'), ('d', 'd')]
        );
    }

    #[test]
    fn the_sku_class_is_exactly_what_the_core_refuses() {
        let refused = ranges(|c| !Sku::is_allowed_char(c));
        for c in all_chars() {
            assert_eq!(
                Sku::parse(&c.to_string()).is_err(),
                within(&refused, c),
                "{c:?}"
            );
        }
        // The look-alikes of the issue are among them.
        for c in ['\u{200B}', '\u{202E}', '\u{FEFF}'] {
            assert!(within(&refused, c));
        }
    }

    #[test]
    fn the_text_classes_are_exactly_what_the_core_refuses() {
        let control = ranges(char::is_control);
        let blank = ranges(|c| c.is_control() || c.is_whitespace());
        for c in all_chars()
            .step_by(7)
            .chain(['\u{85}', '\u{a0}', ' ', '\t', '\u{3000}'])
        {
            let inside = format!("a{c}");
            let reason =
                |s: &str| inventory_core::Adjustment::from_json(&json!({"delta": 1, "reason": s}));
            let event = |s: &str| PaymentEvent::parse(json!({"event": s}).to_string().as_bytes());
            assert_eq!(
                ProductName::parse(&inside).is_err(),
                within(&control, c),
                "{c:?}"
            );
            assert_eq!(reason(&inside).is_err(), within(&control, c), "{c:?}");
            assert_eq!(event(&inside).is_err(), within(&control, c), "{c:?}");
            let currency = |s: &str| {
                PaymentEvent::parse(json!({"event": "x", "currency": s}).to_string().as_bytes())
            };
            assert_eq!(
                currency(&inside).is_err(),
                within(&blank, c),
                "currency {c:?}"
            );
            assert_eq!(
                PaymentEvent::is_allowed_currency_char(c),
                !within(&blank, c),
                "{c:?}"
            );
            let alone = c.to_string();
            assert_eq!(
                ProductName::parse(&alone).is_err(),
                within(&blank, c),
                "{c:?}"
            );
            assert_eq!(reason(&alone).is_err(), within(&blank, c), "{c:?}");
        }
    }

    #[test]
    fn money_bounds_are_the_exact_decimals() {
        assert_eq!(cents(1).to_string(), "0.01");
        assert_eq!(cents(MAX_CENTS).to_string(), "99999999.99");
        let price: inventory_core::Money = cents(MAX_CENTS).to_string().parse().expect("a price");
        assert_eq!(price.cents(), MAX_CENTS);
    }
}
