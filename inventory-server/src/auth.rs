//! API keys for writes: `Authorization: Bearer <key>` or `X-API-Key: <key>`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::http::{HeaderMap, Method};

/// The configured keys, kept only as SHA-256 digests: comparing fixed-length digests in
/// constant time reveals neither a key's bytes nor its length.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.digests.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Keys from `API_KEY` (several allow rotation); none means writes are open.
    pub fn new(keys: &[String]) -> Self {
        ApiKeys {
            digests: keys.iter().map(|k| digest(k)).collect(),
        }
    }

    /// Whether any key is configured.
    pub fn enabled(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether a request needs a key: writes (POST, PUT, DELETE, PATCH) on products, orders,
    /// locations and transfers.
    /// Reads stay open; the payment webhook has its own signature.
    pub fn required(&self, method: &Method, segments: &[String]) -> bool {
        self.enabled()
            && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            && matches!(
                segments.first().map(String::as_str),
                Some("products" | "orders" | "locations" | "transfers")
            )
    }

    /// Whether the request carries a configured key.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        let Some(key) = presented else { return false };
        let d = digest(key.trim());
        // Check every key, without stopping early, so timing does not tell which matched.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |acc, k| acc | k.ct_eq(&d))
            .into()
    }
}

/// The token of `Bearer <token>`: the scheme matched case-insensitively (RFC 9110 §11.1), one
/// or more spaces after it.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            warp::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
        h
    }

    #[test]
    fn accepts_any_configured_key_in_either_header() {
        let keys = ApiKeys::new(&["old-key-0123456789".into(), "new-key-0123456789".into()]);
        assert!(keys.accepts(&headers("authorization", "Bearer old-key-0123456789")));
        for scheme in ["bearer", "BEARER", "bEaReR", "Bearer  "] {
            let value = format!("{scheme} old-key-0123456789");
            assert!(keys.accepts(&headers("authorization", &value)), "{value}");
        }
        assert!(!keys.accepts(&headers("authorization", "Bearerold-key-0123456789")));
        assert!(keys.accepts(&headers("x-api-key", "new-key-0123456789")));
        assert!(!keys.accepts(&headers("x-api-key", "new-key-012345678")));
        assert!(!keys.accepts(&headers("authorization", "Basic new-key-0123456789")));
        assert!(!keys.accepts(&HeaderMap::new()));
    }

    #[test]
    fn only_writes_on_products_and_orders_need_a_key() {
        let keys = ApiKeys::new(&["k-0123456789abcdef".into()]);
        let seg = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        assert!(keys.required(&Method::POST, &seg("orders")));
        assert!(keys.required(&Method::DELETE, &seg("products/1")));
        assert!(!keys.required(&Method::GET, &seg("orders")));
        assert!(!keys.required(&Method::POST, &seg("webhooks/payment")));
        assert!(!ApiKeys::default().required(&Method::POST, &seg("orders")));
    }
}
