//! FastAPI's validation answer, `422 {"detail": [{"loc": [...], "msg": ..., "type": ...}]}`:
//! the one place that knows pydantic's names.
//!
//! The core says *what* is wrong with an input, as typed values
//! ([`inventory_core::validation::FieldError`]: a path inside the body and a [`Problem`]). This
//! module says it the way the seed's clients read it: `loc` is where the value was sent
//! (`"body"`, `"path"`, `"query"`, `"header"`) followed by the path inside it, `msg` is the
//! problem's text, and `type` is pydantic's name for the rule that failed.

use inventory_core::validation::{FieldError, JsonType, PathSegment, Problem};
use inventory_core::webhook::MAX_EVENT_ID_LEN;
use inventory_core::{BatchError, MoneyError, RangeError, TextError, ValidationErrors};
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

/// The header a client's idempotency key travels in (lowercase, as `loc` names it).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// One step of a `loc`: a name, or a list index (written as a JSON number, as FastAPI does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LocPart {
    /// Where the value was sent, or a field's name.
    Name(String),
    /// An element of a list.
    Index(usize),
}

impl From<&str> for LocPart {
    fn from(name: &str) -> Self {
        LocPart::Name(name.to_owned())
    }
}

impl From<&PathSegment> for LocPart {
    fn from(segment: &PathSegment) -> Self {
        match segment {
            PathSegment::Field(name) => LocPart::Name(name.clone()),
            PathSegment::Index(i) => LocPart::Index(*i),
        }
    }
}

/// One item of a 422's `detail`: FastAPI's `{"loc": [...], "msg": ..., "type": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    /// Where: `["body", "price"]`, `["path", "product_id"]`, `["query", "limit"]`,
    /// `["header", "idempotency-key"]`.
    pub loc: Vec<LocPart>,
    /// What is wrong, for people.
    pub msg: String,
    /// Pydantic's name for the rule: `missing`, `greater_than`, `string_too_long`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Invalid {
    /// An error at `loc` (the server's own checks of paths, queries and headers).
    pub fn new<'a>(
        loc: impl IntoIterator<Item = &'a str>,
        msg: impl Into<String>,
        kind: &'static str,
    ) -> Self {
        Invalid {
            loc: loc.into_iter().map(LocPart::from).collect(),
            msg: msg.into(),
            kind,
        }
    }

    /// A core error about the request body: `loc` is `"body"` then the error's path.
    pub fn body(error: &FieldError) -> Self {
        let loc = std::iter::once(LocPart::from("body"))
            .chain(error.path().iter().map(LocPart::from))
            .collect();
        Invalid {
            loc,
            msg: error.problem().to_string(),
            kind: kind(error.problem()),
        }
    }

    /// The whole body is `problem` (empty, not JSON, ...).
    pub fn whole_body(problem: Problem) -> Self {
        Invalid::body(&FieldError::new(Vec::new(), problem))
    }

    /// A malformed header value. The wording is the one this server has always answered: the
    /// idempotency key's rule in one sentence, an event id's length or its characters.
    pub fn header(header: &str, problem: &TextError) -> Self {
        let msg = if header == IDEMPOTENCY_KEY_HEADER {
            "must be 1 to 255 visible ASCII characters".to_owned()
        } else {
            match problem {
                TextError::Empty | TextError::TooLong { .. } => {
                    format!("must be 1 to {MAX_EVENT_ID_LEN} characters")
                }
                _ => "must be visible ASCII characters".to_owned(),
            }
        };
        Invalid::new(["header", header], msg, "value_error")
    }
}

/// Every body error of `errors`, in the order the core found them.
pub fn body_errors(errors: &ValidationErrors) -> Vec<Invalid> {
    errors.errors().iter().map(Invalid::body).collect()
}

/// At most this many entries of a 422 list are sent; one more entry then says how many were
/// left out, so a body of thousands of bad fields cannot make an answer many times its size.
pub const MAX_LISTED_ERRORS: usize = 20;

/// The 422 answer listing `items`: the first [`MAX_LISTED_ERRORS`], then (when there were more)
/// `{"loc": [where, e.g. "body"], "msg": "N more errors not shown", "type": "too_many_errors"}`.
pub fn response(items: &[Invalid]) -> Response {
    #[derive(Serialize)]
    struct Detail<'a> {
        detail: &'a [Invalid],
    }
    if items.len() <= MAX_LISTED_ERRORS {
        return crate::error::json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Detail { detail: items },
        );
    }
    let rest = items.len() - MAX_LISTED_ERRORS;
    let place = items[MAX_LISTED_ERRORS]
        .loc
        .first()
        .cloned()
        .unwrap_or_else(|| LocPart::from("body"));
    let mut listed = items[..MAX_LISTED_ERRORS].to_vec();
    listed.push(Invalid {
        loc: vec![place],
        msg: format!("{rest} more errors not shown"),
        kind: "too_many_errors",
    });
    crate::error::json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &Detail { detail: &listed },
    )
}

/// Pydantic's `type` for a problem.
pub fn kind(problem: &Problem) -> &'static str {
    match problem {
        Problem::Missing => "missing",
        Problem::Unknown => "extra_forbidden",
        Problem::NotAnObject => "model_attributes_type",
        Problem::NotJson(_) => "json_invalid",
        Problem::DuplicateKey(_) => "duplicate_key",
        Problem::WrongType(t) => json_type_kind(*t),
        Problem::Text(e) => text_kind(e),
        Problem::Range(e) => range_kind(e),
        Problem::Money(e) => money_kind(e),
        Problem::Status(_) => "enum",
        Problem::StockForm => "stock_form",
        Problem::Batch(e) => batch_kind(e),
        _ => "value_error",
    }
}

fn json_type_kind(t: JsonType) -> &'static str {
    match t {
        JsonType::String => "string_type",
        JsonType::Integer => "int_type",
        JsonType::Number => "decimal_type",
        JsonType::Array => "list_type",
        _ => "value_error",
    }
}

fn batch_kind(e: &BatchError) -> &'static str {
    match e {
        BatchError::Length { min, len, .. } if len < min => "too_short",
        BatchError::Length { .. } => "too_long",
        BatchError::DuplicateSku { .. } => "duplicate_sku",
        _ => "value_error",
    }
}

fn text_kind(e: &TextError) -> &'static str {
    match e {
        TextError::Empty => "string_too_short",
        TextError::TooLong { .. } => "string_too_long",
        _ => "string_pattern_mismatch",
    }
}

fn range_kind(e: &RangeError) -> &'static str {
    match e {
        RangeError::TooSmall { min: 0 } => "greater_than_equal",
        RangeError::TooSmall { .. } => "greater_than",
        RangeError::TooLarge { .. } => "less_than_equal",
        _ => "value_error",
    }
}

fn money_kind(e: &MoneyError) -> &'static str {
    match e {
        MoneyError::NotPositive => "greater_than",
        MoneyError::TooManyDecimals => "decimal_max_places",
        MoneyError::TooLarge { .. } => "less_than_equal",
        MoneyError::Negative => "greater_than_equal",
        _ => "decimal_parsing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(e: &FieldError) -> serde_json::Value {
        serde_json::to_value(Invalid::body(e)).expect("serializes")
    }

    #[test]
    fn body_errors_are_prefixed_and_named_as_pydantic_does() {
        let price = FieldError::field("price", MoneyError::NotPositive);
        assert_eq!(
            rendered(&price),
            json!({"loc": ["body", "price"], "msg": "must be greater than 0", "type": "greater_than"})
        );
        let whole = FieldError::new(Vec::new(), Problem::NotAnObject);
        assert_eq!(
            rendered(&whole),
            json!({
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "type": "model_attributes_type",
            })
        );
    }

    #[test]
    fn indices_are_json_numbers() {
        let e = FieldError::new(
            vec![
                PathSegment::Field("items".into()),
                PathSegment::Index(2),
                PathSegment::Field("quantity".into()),
            ],
            Problem::Range(RangeError::TooSmall { min: 1 }),
        );
        assert_eq!(
            rendered(&e),
            json!({
                "loc": ["body", "items", 2, "quantity"],
                "msg": "Input should be greater than 0",
                "type": "greater_than",
            })
        );
    }

    #[test]
    fn kinds() {
        let cases: [(Problem, &str); 17] = [
            (Problem::Missing, "missing"),
            (Problem::Unknown, "extra_forbidden"),
            (Problem::NotJson("x".into()), "json_invalid"),
            (Problem::WrongType(JsonType::String), "string_type"),
            (Problem::WrongType(JsonType::Integer), "int_type"),
            (Problem::WrongType(JsonType::Number), "decimal_type"),
            (TextError::Empty.into(), "string_too_short"),
            (TextError::TooLong { max: 64 }.into(), "string_too_long"),
            (TextError::Whitespace.into(), "string_pattern_mismatch"),
            (RangeError::TooSmall { min: 0 }.into(), "greater_than_equal"),
            (RangeError::TooSmall { min: 1 }.into(), "greater_than"),
            (RangeError::TooLarge { max: 9 }.into(), "less_than_equal"),
            (RangeError::Zero.into(), "value_error"),
            (MoneyError::TooManyDecimals.into(), "decimal_max_places"),
            (MoneyError::Negative.into(), "greater_than_equal"),
            (MoneyError::NotANumber.into(), "decimal_parsing"),
            (inventory_core::UnknownStatus.into(), "enum"),
        ];
        for (problem, expected) in cases {
            assert_eq!(kind(&problem), expected, "{problem:?}");
        }
    }

    #[test]
    fn header_errors_keep_their_wording() {
        let key = Invalid::header(IDEMPOTENCY_KEY_HEADER, &TextError::Control);
        assert_eq!(
            serde_json::to_value(key).expect("serializes"),
            json!({
                "loc": ["header", "idempotency-key"],
                "msg": "must be 1 to 255 visible ASCII characters",
                "type": "value_error",
            })
        );
        let long = Invalid::header("x-event-id", &TextError::TooLong { max: 255 });
        assert_eq!(long.msg, "must be 1 to 255 characters");
        let spaced = Invalid::header("webhook-id", &TextError::Whitespace);
        assert_eq!(spaced.msg, "must be visible ASCII characters");
        assert_eq!(
            spaced.loc,
            [LocPart::from("header"), LocPart::from("webhook-id")]
        );
    }
}
