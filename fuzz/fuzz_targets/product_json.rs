//! Bytes → JSON → the product and order bodies through validation.
//!
//! Never panics, and: a refusal lists at least one error with a message, each naming a field
//! the body has (or lacks, when it is reported missing), or the body itself when it is not an
//! object; what is accepted is valid and survives a round trip; a valid new product is also a
//! valid patch.
#![no_main]

use inventory_core::validation::{PathSegment, Problem};
use inventory_core::{
    NewOrder, NewProduct, ProductPatch, ValidationErrors, status_update_from_json,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn check_errors(what: &str, value: &Value, e: &ValidationErrors) {
    assert!(!e.errors().is_empty(), "{what}: empty error list");
    for err in e.errors() {
        assert!(
            !err.problem().to_string().is_empty(),
            "{what}: {err:?} has no message"
        );
        match err.path() {
            // The whole body: only when it is not an object. On an object this is also the
            // readers' "cannot happen" answer, which must never be reached.
            [] => assert!(
                *err.problem() == Problem::NotAnObject && !value.is_object(),
                "{what}: {err:?} on {value}"
            ),
            // A field the body has, unless it is the one reported missing.
            [PathSegment::Field(name)] => assert!(
                value.get(name).is_some() != (*err.problem() == Problem::Missing),
                "{what}: {err:?} on {value}"
            ),
            path => panic!("{what}: {err:?} is not a top-level field ({path:?})"),
        }
    }
}

/// The body that says `product`, as a client would send it.
fn product_json(product: &NewProduct) -> Value {
    json!({
        "sku": product.sku(),
        "name": product.name(),
        "price": product.price(),
        "stock": product.stock(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };

    match NewProduct::from_json(&value) {
        Ok(p) => {
            assert!(p.price().cents() > 0);
            assert!(p.stock() >= 0 && p.stock() <= inventory_core::MAX_STOCK);
            let again = product_json(&p);
            assert_eq!(NewProduct::from_json(&again).expect("round trip"), p);
            // Everything a new product may say, a patch may say too.
            let patch = ProductPatch::from_json(&value).expect("a full body is a valid patch");
            assert_eq!(patch.sku(), Some(p.sku()));
            assert_eq!(patch.name(), Some(p.name()));
            assert_eq!(patch.price(), Some(p.price()));
            assert_eq!(patch.stock(), Some(p.stock()));
        }
        Err(e) => check_errors("NewProduct", &value, &e),
    }

    match ProductPatch::from_json(&value) {
        Ok(patch) => {
            let mut map = Map::new();
            if let Some(sku) = patch.sku() {
                map.insert("sku".into(), json!(sku));
            }
            if let Some(name) = patch.name() {
                map.insert("name".into(), json!(name));
            }
            if let Some(price) = patch.price() {
                assert!(price.cents() > 0);
                map.insert("price".into(), json!(price));
            }
            if let Some(stock) = patch.stock() {
                assert!(stock >= 0 && stock <= inventory_core::MAX_STOCK);
                map.insert("stock".into(), json!(stock));
            }
            let again = ProductPatch::from_json(&Value::Object(map)).expect("round trip");
            assert_eq!(again, patch);
        }
        Err(e) => check_errors("ProductPatch", &value, &e),
    }

    match NewOrder::from_json(&value) {
        Ok(order) => {
            assert!(order.product_id() >= 1);
            assert!(order.quantity().get() >= 1);
            let again = json!({"product_id": order.product_id(), "quantity": order.quantity()});
            assert_eq!(NewOrder::from_json(&again).expect("round trip"), order);
        }
        Err(e) => check_errors("NewOrder", &value, &e),
    }

    match status_update_from_json(&value) {
        Ok(status) => {
            let again = json!({ "status": status });
            assert_eq!(status_update_from_json(&again).expect("round trip"), status);
        }
        Err(e) => check_errors("status update", &value, &e),
    }
});
