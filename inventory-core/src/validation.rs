//! Field-level validation errors, and the reading of JSON bodies field by field so that *every*
//! offending field is reported at once (serde's derive stops at the first).

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// One invalid input: where it is, what is wrong, and a machine-readable kind.
///
/// The shape is FastAPI's (`loc`, `msg`, `type`), so the seed's clients keep reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path to the value: `["body", "price"]`, `["path", "product_id"]`, `["query", "limit"]`.
    pub loc: Vec<String>,
    /// A human-readable message.
    pub msg: String,
    /// A stable kind such as `missing`, `extra_forbidden`, `greater_than`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// An error at `loc` with a message and a kind.
    pub fn new<L, S>(loc: L, msg: impl Into<String>, kind: impl Into<String>) -> Self
    where
        L: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldError {
            loc: loc.into_iter().map(Into::into).collect(),
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// A non-empty list of [`FieldError`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// A list holding one error.
    pub fn single(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }

    /// The errors, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Builds the list, or `None` when there is nothing wrong.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(ValidationErrors(errors))
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.loc.join("."), e.msg)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// What a field parser says about a value it refuses: a message and a kind.
pub(crate) type Refusal = (String, &'static str);

/// Reads a JSON object field by field, collecting every problem.
pub(crate) struct BodyReader<'a> {
    map: Option<&'a Map<String, Value>>,
    errors: Vec<FieldError>,
}

impl<'a> BodyReader<'a> {
    /// Starts reading `value`, which must be a JSON object.
    pub(crate) fn new(value: &'a Value) -> Self {
        match value {
            Value::Object(map) => BodyReader {
                map: Some(map),
                errors: Vec::new(),
            },
            _ => BodyReader {
                map: None,
                errors: vec![FieldError::new(
                    ["body"],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                )],
            },
        }
    }

    /// A field that must be present.
    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Refusal>,
    ) -> Option<T> {
        let map = self.map?;
        match map.get(name) {
            None => {
                self.errors
                    .push(FieldError::new(["body", name], "Field required", "missing"));
                None
            }
            Some(v) => self.parse(name, v, parse),
        }
    }

    /// A field that may be absent. Present-but-invalid (including `null`) is an error.
    pub(crate) fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Refusal>,
    ) -> Option<T> {
        let v = self.map?.get(name)?;
        self.parse(name, v, parse)
    }

    fn parse<T>(
        &mut self,
        name: &str,
        v: &Value,
        parse: impl FnOnce(&Value) -> Result<T, Refusal>,
    ) -> Option<T> {
        match parse(v) {
            Ok(t) => Some(t),
            Err((msg, kind)) => {
                self.errors.push(FieldError::new(["body", name], msg, kind));
                None
            }
        }
    }

    /// Ends reading: unknown fields are errors unless `tolerate_unknown`.
    pub(crate) fn finish(
        mut self,
        known: &[&str],
        tolerate_unknown: bool,
    ) -> Result<(), ValidationErrors> {
        if let (Some(map), false) = (self.map, tolerate_unknown) {
            for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                self.errors.push(FieldError::new(
                    ["body", key.as_str()],
                    "Extra inputs are not permitted",
                    "extra_forbidden",
                ));
            }
        }
        match ValidationErrors::from_vec(self.errors) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// A JSON string.
pub(crate) fn string(v: &Value) -> Result<&str, Refusal> {
    v.as_str()
        .ok_or_else(|| ("Input should be a valid string".into(), "string_type"))
}

/// A JSON integer within `min ..= max` (floats such as `3.5`, strings and booleans refused).
pub(crate) fn integer(v: &Value, min: i64, max: i64) -> Result<i64, Refusal> {
    let n = v
        .as_number()
        .and_then(serde_json::Number::as_i64)
        .ok_or_else(|| ("Input should be a valid integer".to_string(), "int_type"))?;
    if n < min {
        let kind = if min == 0 {
            "greater_than_equal"
        } else {
            "greater_than"
        };
        let msg = if min == 0 {
            "Input should be greater than or equal to 0".to_string()
        } else {
            format!("Input should be greater than {}", min - 1)
        };
        return Err((msg, kind));
    }
    if n > max {
        return Err((
            format!("Input should be less than or equal to {max}"),
            "less_than_equal",
        ));
    }
    Ok(n)
}

/// The text of a JSON number, exactly as sent.
pub(crate) fn number_text(v: &Value) -> Result<String, Refusal> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(("Input should be a valid number".into(), "decimal_type")),
    }
}
