//! Reading a JSON body strictly: a key that appears twice in one object, at any depth, is an
//! error rather than "the last one wins" (`{"quantity": 1, "quantity": 1000000}` means nothing
//! a client can rely on, and two parsers may read it differently).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::validation::{FieldError, PathSegment, Problem, ValidationErrors};

/// Parses a request body as JSON. Malformed JSON is [`Problem::NotJson`] about the whole
/// body; a duplicate key is [`Problem::DuplicateKey`] at the key's place, e.g.
/// `items.0.sku`.
///
/// ```
/// use inventory_core::parse_json_body;
/// assert!(parse_json_body(br#"{"a": {"b": 1}, "c": [1, 2]}"#).is_ok());
/// let e = parse_json_body(br#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
/// assert_eq!(e.to_string(), "a.b: Duplicate key 'b' in a JSON object");
/// assert!(parse_json_body(b"{").is_err());
/// ```
pub fn parse_json_body(body: &[u8]) -> Result<Value, ValidationErrors> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let checked = Check {
        path: Vec::new(),
        duplicate: &mut duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    if let Some(path) = duplicate {
        let key = match path.last() {
            Some(PathSegment::Field(key)) => key.clone(),
            _ => String::new(),
        };
        return Err(ValidationErrors::single(FieldError::new(
            path,
            Problem::DuplicateKey(key),
        )));
    }
    checked
        .and_then(|()| serde_json::from_slice(body))
        .map_err(|e| {
            ValidationErrors::single(FieldError::new(Vec::new(), Problem::NotJson(e.to_string())))
        })
}

/// Walks a JSON value without building it, refusing the first duplicate key.
struct Check<'a> {
    path: Vec<PathSegment>,
    duplicate: &'a mut Option<Vec<PathSegment>>,
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Check { path, duplicate } = self;
        let mut index = 0usize;
        loop {
            let mut here = path.clone();
            here.push(PathSegment::Index(index));
            let element = Check {
                path: here,
                duplicate: &mut *duplicate,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Check { path, duplicate } = self;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let mut here = path.clone();
            here.push(PathSegment::Field(key.clone()));
            if !seen.insert(key) {
                *duplicate = Some(here);
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Check {
                path: here,
                duplicate: &mut *duplicate,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> String {
        parse_json_body(body.as_bytes())
            .expect_err("refused")
            .errors()[0]
            .to_string()
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            refusal(r#"{"product_id": 1, "quantity": 1, "quantity": 1000000}"#),
            "quantity: Duplicate key 'quantity' in a JSON object"
        );
        assert_eq!(
            refusal(r#"{"a": [{"x": 1}, {"y": 1, "y": 2}]}"#),
            "a.1.y: Duplicate key 'y' in a JSON object"
        );
        // Escapes spelling the same key are the same key.
        assert_eq!(
            refusal(r#"{"a": 1, "\u0061": 2}"#),
            "a: Duplicate key 'a' in a JSON object"
        );
    }

    #[test]
    fn valid_json_is_read_exactly_and_malformed_json_is_json_invalid() {
        let v = parse_json_body(br#"{"price": 49.99, "a": {"a": {"a": 1}}, "b": [1, 1]}"#)
            .expect("valid");
        assert_eq!(v["price"].to_string(), "49.99");
        for bad in ["", "{", r#"{"a": 1} x"#, "[1,]"] {
            let e = parse_json_body(bad.as_bytes()).expect_err(bad);
            assert!(e.errors()[0].path().is_empty(), "{bad}");
            assert!(
                matches!(e.errors()[0].problem(), Problem::NotJson(_)),
                "{bad}"
            );
        }
    }
}
