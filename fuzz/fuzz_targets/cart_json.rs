//! Bytes → JSON → `Cart::from_json`, the `POST /orders` body.
//!
//! Never panics, and: a refusal lists at least one error with a message, each naming a
//! top-level field, a line or a field of a line the body has (`lines.<i>[.<field>]`, `i` in
//! range); an accepted cart has 1 to `Cart::MAX_LINES` lines, one per product, and each
//! product's quantity is the sum of the body's lines for it.
#![no_main]

use std::collections::BTreeMap;

use inventory_core::{Cart, integer_text};
use inventory_core::validation::PathSegment;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A JSON number's integer, as the validation counts it (`3.0` is 3).
fn int(v: &Value) -> Option<i64> {
    v.as_number().and_then(|n| integer_text(&n.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match Cart::from_json(&body) {
        Err(e) => {
            assert!(!e.errors().is_empty(), "empty error list for {body}");
            let lines = body.get("lines").and_then(Value::as_array);
            for err in e.errors() {
                assert!(!err.problem().to_string().is_empty(), "{err:?}");
                match err.path() {
                    [] => assert!(!body.is_object(), "{err:?} on an object: {body}"),
                    [PathSegment::Field(_)] => {}
                    // A line that is not an object, or a field of one.
                    [PathSegment::Field(f), PathSegment::Index(i)]
                    | [PathSegment::Field(f), PathSegment::Index(i), PathSegment::Field(_)] => {
                        assert_eq!(f, "lines", "{err:?}");
                        let n = lines.map_or(0, Vec::len);
                        assert!(*i < n, "{err:?}: line {i} of {n}");
                    }
                    path => panic!("{err:?}: unexpected path {path:?} for {body}"),
                }
            }
        }
        Ok(cart) => {
            let lines = cart.lines();
            assert!((1..=Cart::MAX_LINES).contains(&lines.len()), "{body}");
            let Some(sent) = body.get("lines").and_then(Value::as_array) else {
                // The seed's form: one line.
                assert_eq!(lines.len(), 1, "{body}");
                assert_eq!(Some(lines[0].product_id()), int(&body["product_id"]));
                assert_eq!(Some(lines[0].quantity().get()), int(&body["quantity"]));
                return;
            };
            let mut summed: BTreeMap<i64, i64> = BTreeMap::new();
            for line in sent {
                let (Some(p), Some(q)) = (int(&line["product_id"]), int(&line["quantity"]))
                else {
                    panic!("accepted a line without integer fields: {body}");
                };
                *summed.entry(p).or_default() += q;
            }
            let got: BTreeMap<i64, i64> = lines
                .iter()
                .map(|l| (l.product_id(), l.quantity().get()))
                .collect();
            assert_eq!(got.len(), lines.len(), "one line per product: {body}");
            assert_eq!(got, summed, "{body}");
        }
    }
});
