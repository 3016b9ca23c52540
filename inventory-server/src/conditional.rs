//! Conditional requests (RFC 9110 §13): the `ETag` of a product or an order is its row version;
//! `If-Match` on a `PUT` or `DELETE` becomes the core's [`Precondition`], checked in the same
//! transaction as the write; with `REQUIRE_IF_MATCH`, a write without one is a 428.

use inventory_core::{Precondition, Version};
use warp::http::{HeaderValue, header};
use warp::reply::Response;

use crate::error::ApiError;
use crate::request::Request;

/// The strong entity-tag of a version: `"3"`.
pub fn etag(version: Version) -> String {
    format!("\"{version}\"")
}

/// `response` with the `ETag` of `version`.
pub fn with_etag(mut response: Response, version: Version) -> Response {
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Reads `If-Match`: `*`, or a list of entity-tags. A weak tag (`W/"3"`) never matches (RFC 9110
/// requires the strong comparison), nor does anything that is not one of our tags; a header of
/// only such entries is a precondition no row meets, answered 412. Several `If-Match` lines are
/// one list. Without the header: `None`, or 428 when `required`.
pub fn if_match(req: &Request, required: bool) -> Result<Option<Precondition>, ApiError> {
    let mut lines = req.headers.get_all(header::IF_MATCH).iter().peekable();
    if lines.peek().is_none() {
        return if required {
            Err(ApiError::PreconditionRequired)
        } else {
            Ok(None)
        };
    }
    let mut versions = Vec::new();
    for line in lines {
        let Ok(text) = line.to_str() else { continue };
        // `*` is the whole field value or nothing (`If-Match = "*" / #entity-tag`).
        if text.trim() == "*" {
            return Ok(Some(Precondition::Exists));
        }
        for tag in text.split(',').map(str::trim) {
            // Strong comparison is octet for octet: `"03"` is not our `"3"`.
            let version = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|n| n.parse::<i64>().ok().filter(|v| v.to_string() == n))
                .and_then(|n| Version::new(n).ok());
            versions.extend(version);
        }
    }
    Ok(Some(Precondition::OneOf(versions)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use warp::http::{HeaderMap, Method};

    fn request(values: &[&str]) -> Request {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::IF_MATCH, HeaderValue::from_str(v).expect("valid"));
        }
        Request {
            method: Method::PUT,
            segments: Vec::new(),
            base: "",
            query: String::new(),
            headers,
            body: Bytes::new(),
        }
    }

    fn v(n: i64) -> Version {
        Version::new(n).expect("valid")
    }

    #[test]
    fn if_match_lists_become_preconditions() {
        assert_eq!(if_match(&request(&[]), false).ok(), Some(None));
        assert!(matches!(
            if_match(&request(&[]), true),
            Err(ApiError::PreconditionRequired)
        ));
        assert_eq!(
            if_match(&request(&["*"]), false).ok().flatten(),
            Some(Precondition::Exists)
        );
        assert_eq!(
            if_match(&request(&["\"3\", \"5\"", "\"8\""]), false)
                .ok()
                .flatten(),
            Some(Precondition::OneOf(vec![v(3), v(5), v(8)]))
        );
        // Weak tags, foreign tags, other spellings of a number, a `*` inside a list, and noise
        // match nothing.
        assert_eq!(
            if_match(
                &request(&["W/\"3\", \"abc\", 7, \"0\", \"-1\", \"03\", *"]),
                false
            )
            .ok()
            .flatten(),
            Some(Precondition::OneOf(Vec::new()))
        );
        assert_eq!(etag(v(12)), "\"12\"");
    }
}
