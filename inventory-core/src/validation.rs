//! Field-level validation errors, and the reading of JSON bodies field by field so that *every*
//! offending field is reported at once (serde's derive stops at the first).
//!
//! The errors are typed: which field, which rule. How they are shown (FastAPI's `loc`/`msg`/
//! `type` over HTTP, say) is the caller's business.

use std::fmt;

use serde_json::{Map, Value};

use crate::batch::BatchError;
use crate::money::MoneyError;
use crate::status::UnknownStatus;
use crate::text::TextError;
use crate::units::RangeError;

/// One step of the path to an invalid value inside an input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A field of an object.
    Field(String),
    /// An element of a list.
    Index(usize),
}

impl fmt::Display for PathSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSegment::Field(name) => f.write_str(name),
            PathSegment::Index(i) => i.fmt(f),
        }
    }
}

/// The JSON type a field should have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonType {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A number (integer or decimal).
    Number,
    /// A list.
    Array,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Array => "list",
        })
    }
}

/// What is wrong with one value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent.
    #[error("Field required")]
    Missing,
    /// A field the input does not have.
    #[error("Extra inputs are not permitted")]
    Unknown,
    /// The input is not a JSON object.
    #[error("Input should be a valid dictionary or object to extract fields from")]
    NotAnObject,
    /// The input is not JSON at all.
    #[error("JSON decode error: {0}")]
    NotJson(String),
    /// A key that appears twice in one JSON object (the last one would otherwise win, and two
    /// parsers may disagree on which is meant).
    #[error("Duplicate key '{0}' in a JSON object")]
    DuplicateKey(String),
    /// The value has the wrong JSON type.
    #[error("Input should be a valid {0}")]
    WrongType(JsonType),
    /// A text breaking its rule.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A number out of its range.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// An amount of money that is not one.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A stock that is neither a number nor `{"set": n, "if_current": m}`.
    #[error("Input should be an integer or {{\"set\": integer, \"if_current\": integer}}")]
    StockForm,
    /// A status that does not exist.
    #[error(transparent)]
    Status(#[from] UnknownStatus),
    /// A list that cannot be a batch: its length, or an item repeating another's key.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// An id naming a location that does not exist, where the request's target exists (an
    /// adjustment of an existing product).
    #[error("Location with ID {id} not found")]
    UnknownLocation {
        /// The id given.
        id: i64,
    },
    /// A transfer that moves nothing anywhere.
    #[error(transparent)]
    Transfer(#[from] crate::location::TransferError),
}

/// One invalid input: where it is inside the input, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    path: Vec<PathSegment>,
    problem: Problem,
}

impl FieldError {
    /// An error at `path` (empty: the input as a whole).
    pub fn new(path: Vec<PathSegment>, problem: Problem) -> Self {
        FieldError { path, problem }
    }

    /// An error in the top-level field `name`.
    pub fn field(name: &str, problem: impl Into<Problem>) -> Self {
        FieldError::new(vec![PathSegment::Field(name.to_owned())], problem.into())
    }

    /// The same error inside a larger input: `prefix` comes before its path (an item's error
    /// inside a list is `within(&[Index(3)])`).
    pub fn within(&self, prefix: &[PathSegment]) -> Self {
        let mut path = prefix.to_vec();
        path.extend(self.path.iter().cloned());
        FieldError::new(path, self.problem.clone())
    }

    /// The path to the value inside the input; empty for the input as a whole.
    pub fn path(&self) -> &[PathSegment] {
        &self.path
    }

    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            s.fmt(f)?;
        }
        if !self.path.is_empty() {
            f.write_str(": ")?;
        }
        self.problem.fmt(f)
    }
}

/// A non-empty list of [`FieldError`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        ValidationErrors::single(e)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

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
                errors: vec![FieldError::new(Vec::new(), Problem::NotAnObject)],
            },
        }
    }

    /// A field that must be present.
    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Problem>,
    ) -> Option<T> {
        let map = self.map?;
        match map.get(name) {
            None => {
                self.errors.push(FieldError::field(name, Problem::Missing));
                None
            }
            Some(v) => self.parse(name, v, parse),
        }
    }

    /// A field that may be absent. Present-but-invalid (including `null`) is an error.
    pub(crate) fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Problem>,
    ) -> Option<T> {
        let v = self.map?.get(name)?;
        self.parse(name, v, parse)
    }

    fn parse<T>(
        &mut self,
        name: &str,
        v: &Value,
        parse: impl FnOnce(&Value) -> Result<T, Problem>,
    ) -> Option<T> {
        match parse(v) {
            Ok(t) => Some(t),
            Err(problem) => {
                self.errors.push(FieldError::field(name, problem));
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
                self.errors.push(FieldError::field(key, Problem::Unknown));
            }
        }
        match ValidationErrors::from_vec(self.errors) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// A JSON string.
pub(crate) fn string(v: &Value) -> Result<&str, Problem> {
    v.as_str().ok_or(Problem::WrongType(JsonType::String))
}

/// A JSON integer: an integral number such as `3.0` counts, as in JSON Schema; `3.5`, strings
/// and booleans are refused.
pub(crate) fn integer(v: &Value) -> Result<i64, Problem> {
    v.as_number()
        .and_then(|n| integer_text(&n.to_string()))
        .ok_or(Problem::WrongType(JsonType::Integer))
}

/// A JSON integer checked by a count's constructor.
pub(crate) fn count<T>(
    v: &Value,
    new: impl FnOnce(i64) -> Result<T, RangeError>,
) -> Result<T, Problem> {
    Ok(new(integer(v)?)?)
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

/// The text of a JSON number, exactly as sent.
pub(crate) fn number_text(v: &Value) -> Result<String, Problem> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Problem::WrongType(JsonType::Number)),
    }
}

/// A reader that returned no errors yet lacks a value would be a bug in this crate; answer it
/// as a validation error rather than panic on client input.
pub(crate) fn internal_inconsistency() -> ValidationErrors {
    ValidationErrors::single(FieldError::new(Vec::new(), Problem::NotAnObject))
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
