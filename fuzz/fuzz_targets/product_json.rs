//! Bytes → JSON → the product and order bodies through validation.
//!
//! Never panics, and: a refusal lists at least one error, each located in the body; what is
//! accepted is valid and survives a round trip; a valid new product is also a valid patch.
#![no_main]

use inventory_core::{
    NewOrder, NewProduct, ProductPatch, ValidationErrors, status_update_from_json,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn check_errors(what: &str, e: &ValidationErrors) {
    assert!(!e.errors().is_empty(), "{what}: empty error list");
    for err in e.errors() {
        assert_eq!(
            err.loc.first().map(String::as_str),
            Some("body"),
            "{what}: {err:?}"
        );
        assert!(
            !err.msg.is_empty() && !err.kind.is_empty(),
            "{what}: {err:?}"
        );
        // The "cannot happen" answer of the readers must never be reached.
        assert!(
            !(err.loc == ["body"] && err.msg == "Invalid body"),
            "{what}: internal inconsistency reached"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };

    match NewProduct::from_json(&value) {
        Ok(p) => {
            assert!(p.price.cents() > 0);
            assert!(p.stock >= 0);
            let again = serde_json::to_value(&p).expect("serializes");
            assert_eq!(NewProduct::from_json(&again).expect("round trip"), p);
            // Everything a new product may say, a patch may say too.
            let patch = ProductPatch::from_json(&value).expect("a full body is a valid patch");
            assert_eq!(patch.sku.as_ref(), Some(&p.sku));
            assert_eq!(patch.price, Some(p.price));
            assert_eq!(patch.stock, Some(p.stock));
        }
        Err(e) => check_errors("NewProduct", &e),
    }

    match ProductPatch::from_json(&value) {
        Ok(patch) => {
            let mut map = Map::new();
            if let Some(sku) = &patch.sku {
                map.insert("sku".into(), json!(sku));
            }
            if let Some(name) = &patch.name {
                map.insert("name".into(), json!(name));
            }
            if let Some(price) = patch.price {
                assert!(price.cents() > 0);
                map.insert("price".into(), json!(price));
            }
            if let Some(stock) = patch.stock {
                assert!(stock >= 0);
                map.insert("stock".into(), json!(stock));
            }
            let again = ProductPatch::from_json(&Value::Object(map)).expect("round trip");
            assert_eq!(again, patch);
        }
        Err(e) => check_errors("ProductPatch", &e),
    }

    match NewOrder::from_json(&value) {
        Ok(order) => {
            assert!(order.product_id >= 1);
            assert!(order.quantity.get() >= 1);
            let again = serde_json::to_value(order).expect("serializes");
            assert_eq!(NewOrder::from_json(&again).expect("round trip"), order);
        }
        Err(e) => check_errors("NewOrder", &e),
    }

    match status_update_from_json(&value) {
        Ok(status) => {
            let again = json!({ "status": status });
            assert_eq!(status_update_from_json(&again).expect("round trip"), status);
        }
        Err(e) => check_errors("status update", &e),
    }
});
