//! Field-level validation errors, and the reading of JSON bodies field by field so that *every*
//! offending field is reported at once (serde's derive stops at the first).
//!
//! The errors are typed: which field, which rule. How they are shown (FastAPI's `loc`/`msg`/
//! `type` over HTTP, say) is the caller's business.

use std::fmt;

use serde_json::{Map, Value};

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
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
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
    /// A status that does not exist.
    #[error(transparent)]
    Status(#[from] UnknownStatus),
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

/// A JSON integer (floats such as `3.5`, strings and booleans refused).
pub(crate) fn integer(v: &Value) -> Result<i64, Problem> {
    v.as_number()
        .and_then(serde_json::Number::as_i64)
        .ok_or(Problem::WrongType(JsonType::Integer))
}

/// A JSON integer checked by a count's constructor.
pub(crate) fn count<T>(
    v: &Value,
    new: impl FnOnce(i64) -> Result<T, RangeError>,
) -> Result<T, Problem> {
    Ok(new(integer(v)?)?)
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
