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

/// The integer a number's text denotes exactly, if it denotes one that fits an `i64`: `3`,
/// `-12`, and as JSON Schema counts integers, `3.0` and `1.5e3` too; never `3.5`, never a
/// rounding. The rule for JSON numbers, and for integer query and path parameters alike.
///
/// ```
/// use inventory_core::integer_text;
/// assert_eq!(integer_text("1040.0"), Some(1040));
/// assert_eq!(integer_text("3.5"), None);
/// ```
pub fn integer_text(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (mantissa, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !digits_only(int_part) || !digits_only(frac_part) {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    // The value is digits × 10^scale.
    let scale = i64::from(exponent) - frac_part.len() as i64;
    let (digits, scale) = if scale < 0 {
        let cut = usize::try_from(-scale).ok()?;
        if cut > digits.len() {
            return digits.bytes().all(|b| b == b'0').then_some(0);
        }
        let (kept, dropped) = digits.split_at(digits.len() - cut);
        if !dropped.bytes().all(|b| b == b'0') {
            return None;
        }
        (kept, 0)
    } else {
        (digits, scale)
    };
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() as i64 + scale > 19 {
        return None;
    }
    let mut value: i128 = digits.parse().ok()?;
    for _ in 0..scale {
        value = value.checked_mul(10)?;
    }
    i64::try_from(if negative { -value } else { value }).ok()
}

/// A JSON integer within `min ..= max` (an integral number such as `3.0` counts, as in JSON
/// Schema; `3.5`, strings and booleans are refused).
pub(crate) fn integer(v: &Value, min: i64, max: i64) -> Result<i64, Refusal> {
    let n = v
        .as_number()
        .and_then(|n| integer_text(&n.to_string()))
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

#[cfg(test)]
mod tests {
    use super::integer_text;

    #[test]
    fn integral_numbers_are_integers_exactly() {
        for (text, value) in [
            ("3", Some(3)),
            ("-7", Some(-7)),
            ("1040.0", Some(1040)),
            ("1040.000", Some(1040)),
            ("1.5e3", Some(1500)),
            ("15E+2", Some(1500)),
            ("1000e-3", Some(1)),
            ("1500e-3", None),
            ("0.0", Some(0)),
            ("-0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("3.5", None),
            ("1e-1", None),
            ("1e19", None),
            ("1e999999999", None),
            ("12.3e1", Some(123)),
            ("", None),
            (".5", None),
            ("1.", None),
        ] {
            assert_eq!(integer_text(text), value, "{text}");
        }
    }
}
