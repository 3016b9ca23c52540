//! A request as the handlers see it, and the readers of its parts (path ids, query, JSON body).

use bytes::Bytes;
use inventory_core::idempotency::IdempotencyKey;
use inventory_core::validation::Problem;
use serde_json::Value;
use warp::http::{HeaderMap, Method};

use crate::error::ApiError;
use crate::fastapi::{IDEMPOTENCY_KEY_HEADER, Invalid};

/// The parts of a request a handler reads.
#[derive(Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path segments, without a trailing empty one (`/products/` → `["products"]`), and
    /// without the version prefix (`/v1/products` → `["products"]`).
    pub segments: Vec<String>,
    /// The prefix the client used, `"/v1"` or `""`: links the answer carries (`Location`, the
    /// next page) keep the form the client chose.
    pub base: &'static str,
    /// The raw query string (without `?`).
    pub query: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, already bounded by `MAX_BODY_BYTES`.
    pub body: Bytes,
}

impl Request {
    /// The `Idempotency-Key` for `scope`, if the client sent one.
    pub fn idempotency_key<S: inventory_core::Store>(
        &self,
        inventory: &inventory_core::Inventory<S>,
        scope: &'static str,
    ) -> Result<Option<IdempotencyKey>, ApiError> {
        match self.headers.get(IDEMPOTENCY_KEY_HEADER) {
            None => Ok(None),
            Some(v) => {
                // A value that is not even text is refused like any other malformed key.
                let key = v.to_str().unwrap_or("\u{0}");
                inventory
                    .idempotency_key(scope, key, &self.body)
                    .map(Some)
                    .map_err(|problem| Invalid::header(IDEMPOTENCY_KEY_HEADER, &problem).into())
            }
        }
    }
}

impl Request {
    /// A header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, after checking it is declared as JSON (415 otherwise). Malformed JSON
    /// is a 422 in FastAPI's list form.
    pub fn json(&self) -> Result<Value, ApiError> {
        let is_json = self.header("content-type").is_some_and(|ct| {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Invalid::whole_body(Problem::Missing).into());
        }
        // Strict: a duplicate key anywhere is a 422, never "the last one wins".
        Ok(inventory_core::parse_json_body(&self.body)?)
    }

    /// The query's parameters, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A path id: a positive integer, or 422 naming the parameter.
pub fn path_id(segment: &str, name: &str) -> Result<i64, ApiError> {
    // The integer rule of JSON bodies: `7.0` is 7 (as JSON Schema counts integers), `7.5` no id.
    inventory_core::integer_text(segment).ok_or_else(|| {
        Invalid::new(
            ["path", name],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
        )
        .into()
    })
}

/// Reads query parameters by name, collecting every error.
pub struct QueryReader {
    pairs: Vec<(String, String)>,
    errors: Vec<Invalid>,
}

impl QueryReader {
    /// Reads `request`'s query.
    pub fn new(request: &Request) -> Self {
        QueryReader {
            pairs: request.query_pairs(),
            errors: Vec::new(),
        }
    }

    /// The parameter's one value. Sent twice, it is ambiguous (which one would count?): an
    /// error, as a duplicate JSON key is.
    fn raw(&mut self, name: &str) -> Option<String> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name);
        let first = values.next()?.1.clone();
        if values.next().is_some() {
            return self.fail(
                name,
                "Sent more than once; send the parameter once",
                "duplicate_parameter",
            );
        }
        Some(first)
    }

    /// An integer within `min ..= max`, or `None` when absent. The text is read exactly (no
    /// space around it).
    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let raw = self.raw(name)?;
        match inventory_core::integer_text(&raw).ok_or(()) {
            Err(()) => self.fail(
                name,
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
            ),
            Ok(n) if n < min => {
                let msg = format!("Input should be greater than or equal to {min}");
                self.fail(name, &msg, "greater_than_equal")
            }
            Ok(n) if n > max => {
                let msg = format!("Input should be less than or equal to {max}");
                self.fail(name, &msg, "less_than_equal")
            }
            Ok(n) => Some(n),
        }
    }

    /// A value parsed by `parse`, whose error text becomes the message.
    pub fn parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        kind: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(e) => self.fail(name, &e.to_string(), kind),
        }
    }

    fn fail<T>(&mut self, name: &str, msg: &str, kind: &'static str) -> Option<T> {
        self.errors.push(Invalid::new(["query", name], msg, kind));
        None
    }

    /// Ends reading: any error found is a 422.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}
