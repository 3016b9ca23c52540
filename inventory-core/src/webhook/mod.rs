//! Payment webhooks: signature verification over the raw body, event ids, and the body.
//!
//! Three signature schemes, chosen by `WEBHOOK_SCHEME` ([`WebhookScheme`]):
//!
//! | scheme | headers | signed content | key |
//! | --- | --- | --- | --- |
//! | `hex` (default) | `X-Webhook-Signature: [sha256=]<hex>`, `X-Event-Id` optional | the body | the secret's bytes |
//! | `stripe` | `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, `X-Event-Id` optional | `{t}.{body}` | the secret's bytes (`whsec_…` included) |
//! | `standard` | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> […]` | `{id}.{timestamp}.{body}` | base64-decoding of the secret after `whsec_` |
//!
//! All use HMAC-SHA256, compare in constant time, accept any of several configured secrets (key
//! rotation), and answer every failure with [`Error::InvalidSignature`]. The timestamped schemes
//! refuse a timestamp more than [`WEBHOOK_TOLERANCE_SECS`] away from now, in either direction.

mod event;
mod hex;
mod standard;
mod stripe;

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::error::Error;

pub use event::{EventId, MAX_EVENT_ID_LEN, PAYMENT_SUCCEEDED, PaymentEvent};
#[cfg(any(test, feature = "testing"))]
pub(crate) use hex::WebhookVerifier;

type HmacSha256 = Hmac<Sha256>;

/// The length of an HMAC-SHA256 in bytes.
const MAC_LEN: usize = 32;

/// How far a signed timestamp may be from now, in seconds, either way (`stripe`, `standard`).
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// At most this many signature entries of a header are examined; later ones are ignored.
const MAX_SIGNATURES: usize = 10;

/// A signature-scheme header longer than this is refused unread.
const MAX_HEADER_LEN: usize = 4096;

/// An HMAC-SHA256 key, keyed once: cloning a keyed HMAC is cheaper than re-deriving the key pads
/// per request.
#[derive(Clone)]
struct Key(HmacSha256);

impl Key {
    fn new(secret: &[u8]) -> Key {
        // HMAC takes keys of any length, so this cannot fail; fall back to an empty key rather
        // than panic, which would only make every signature wrong.
        Key(HmacSha256::new_from_slice(secret)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default())))
    }

    fn keyed(&self) -> HmacSha256 {
        self.0.clone()
    }

    /// The MAC of the concatenation of `parts`.
    fn mac(&self, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        let mut mac = self.keyed();
        for part in parts {
            mac.update(part);
        }
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }
}

/// Whether any candidate equals the MAC of `parts` under any key. Every pair is compared, each
/// in constant time over all 32 bytes, with no early exit.
fn matches_any(keys: &[Key], parts: &[&[u8]], candidates: &[[u8; MAC_LEN]]) -> bool {
    let mut found = Choice::from(0);
    for key in keys {
        let expected = key.mac(parts);
        for candidate in candidates {
            found |= expected.ct_eq(candidate);
        }
    }
    found.into()
}

/// A signed timestamp: unix seconds in plain decimal digits (no sign, no fraction).
fn parse_timestamp(text: &str) -> Result<i64, Error> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidSignature);
    }
    text.parse().map_err(|_| Error::InvalidSignature)
}

/// Refuses a timestamp more than the tolerance away from `now`, in the past or the future.
fn check_timestamp(timestamp: i64, now: i64) -> Result<(), Error> {
    if timestamp.abs_diff(now) > WEBHOOK_TOLERANCE_SECS.unsigned_abs() {
        return Err(Error::InvalidSignature);
    }
    Ok(())
}

/// Which signature scheme webhooks are checked with (env `WEBHOOK_SCHEME`: `hex`, `stripe` or
/// `standard`; `hex` by default).
///
/// ```
/// use inventory_core::webhook::WebhookScheme;
/// assert_eq!("stripe".parse::<WebhookScheme>().unwrap(), WebhookScheme::Stripe);
/// assert!("sha1".parse::<WebhookScheme>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WebhookScheme {
    /// `X-Webhook-Signature`: hex HMAC-SHA256 of the body (the original service's, and GitHub's).
    #[default]
    Hex,
    /// `Stripe-Signature: t=…,v1=…`.
    Stripe,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
}

impl WebhookScheme {
    /// Every scheme.
    pub const ALL: [WebhookScheme; 3] = [
        WebhookScheme::Hex,
        WebhookScheme::Stripe,
        WebhookScheme::Standard,
    ];

    /// The name used in `WEBHOOK_SCHEME`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookScheme::Hex => "hex",
            WebhookScheme::Stripe => "stripe",
            WebhookScheme::Standard => "standard",
        }
    }
}

impl fmt::Display for WebhookScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookScheme {
    type Err = WebhookConfigError;

    /// `hex`, `stripe` or `standard`, in any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        WebhookScheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| WebhookConfigError::UnknownScheme(name.chars().take(40).collect()))
    }
}

/// A webhook configuration that cannot work. The secrets themselves are never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookConfigError {
    /// `WEBHOOK_SCHEME` names no scheme.
    #[error("unknown webhook scheme '{0}': expected hex, stripe or standard")]
    UnknownScheme(String),
    /// No secret was given.
    #[error("no webhook secret configured")]
    NoSecret,
    /// A secret is empty.
    #[error("webhook secret #{index} is empty")]
    EmptySecret {
        /// Its position in the list, from 0.
        index: usize,
    },
    /// A `standard` secret is not `whsec_` followed by base64.
    #[error(
        "webhook secret #{index} is not 'whsec_' followed by base64, as the standard scheme needs"
    )]
    InvalidSecret {
        /// Its position in the list, from 0.
        index: usize,
    },
}

/// Looks a request header up by name.
///
/// Callers pass the name in lower case; implementations match it case-insensitively and
/// return the first value. Implemented for lists of `(name, value)` pairs (arrays, slices,
/// `Vec`s) and for `HashMap<String, String>`.
pub trait HeaderLookup {
    /// The value of header `name` (given in lower case), if present.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> HeaderLookup for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<S: BuildHasher> HeaderLookup for HashMap<String, String, S> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) => Some(v),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }
}

impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

/// A header a scheme needs: missing, empty or oversized is an invalid signature.
fn required<'h>(headers: &'h dyn HeaderLookup, name: &str) -> Result<&'h str, Error> {
    match headers.header(name) {
        Some(v) if !v.is_empty() && v.len() <= MAX_HEADER_LEN => Ok(v),
        _ => Err(Error::InvalidSignature),
    }
}

/// The sender's `X-Event-Id`, when sent (`hex` and `stripe`).
fn sender_event_id(headers: &dyn HeaderLookup) -> Result<Option<EventId>, Error> {
    headers
        .header("x-event-id")
        .map(|id| EventId::from_header("x-event-id", id))
        .transpose()
}

/// Verifies webhooks in one [`WebhookScheme`] against one or more secrets.
///
/// Several secrets are for key rotation: a signature made with any of them passes, and
/// [`sign`](Self::sign) uses the first. Drop the old secret once senders have moved on and its
/// signatures are refused.
///
/// ```
/// use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
/// // The Standard Webhooks specification's test vector.
/// let v = SchemeVerifier::new(
///     WebhookScheme::Standard,
///     &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
/// )?;
/// let headers = [
///     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
///     ("webhook-timestamp", "1614265330"),
///     ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
/// ];
/// let body = br#"{"test": 2432232314}"#;
/// let id = v.verify(&headers, body, 1614265330)?.expect("the webhook-id");
/// assert_eq!(id.as_str(), "msg_p5jXN8AQM9LWM0D4loKWxJek");
/// // Ten minutes later the same delivery is refused: a replay.
/// assert!(v.verify(&headers, body, 1614265330 + 600).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SchemeVerifier {
    scheme: WebhookScheme,
    /// Never empty.
    keys: Vec<Key>,
}

impl fmt::Debug for SchemeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secrets.
        f.debug_struct("SchemeVerifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.keys.len())
            .finish()
    }
}

impl SchemeVerifier {
    /// A verifier for `scheme` accepting any of `secrets` (at least one, none empty).
    ///
    /// `hex` and `stripe` secrets are used as they are; a `standard` secret is `whsec_` followed
    /// by base64 (the prefix may be left out, as the reference libraries allow), and one that is
    /// not valid base64 is an error.
    pub fn new(scheme: WebhookScheme, secrets: &[&str]) -> Result<Self, WebhookConfigError> {
        if secrets.is_empty() {
            return Err(WebhookConfigError::NoSecret);
        }
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                if secret.is_empty() {
                    return Err(WebhookConfigError::EmptySecret { index });
                }
                match scheme {
                    WebhookScheme::Hex | WebhookScheme::Stripe => Ok(Key::new(secret.as_bytes())),
                    WebhookScheme::Standard => standard::decode_secret(secret)
                        .map(|key| Key::new(&key))
                        .ok_or(WebhookConfigError::InvalidSecret { index }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SchemeVerifier { scheme, keys })
    }

    /// The scheme checked.
    pub fn scheme(&self) -> WebhookScheme {
        self.scheme
    }

    /// Verifies a delivery: its signature over the exact `body` bytes and, for `stripe` and
    /// `standard`, its timestamp within [`WEBHOOK_TOLERANCE_SECS`] of `now` (unix seconds) in
    /// either direction.
    ///
    /// Returns the event id the scheme supplies: `standard`'s `webhook-id` (required, and signed);
    /// for `hex` and `stripe` the `X-Event-Id` header when sent. `None` means the caller uses
    /// [`EventId::from_body`].
    ///
    /// Every signature or timestamp failure, including a missing header, is
    /// [`Error::InvalidSignature`]; an event id that is signed but malformed is
    /// [`Error::InvalidHeader`].
    pub fn verify(
        &self,
        headers: &dyn HeaderLookup,
        body: &[u8],
        now: i64,
    ) -> Result<Option<EventId>, Error> {
        match self.scheme {
            WebhookScheme::Hex => {
                let signature = required(headers, hex::SIGNATURE_HEADER)?;
                hex::verify(&self.keys, signature, body)?;
                sender_event_id(headers)
            }
            WebhookScheme::Stripe => {
                let signature = required(headers, stripe::SIGNATURE_HEADER)?;
                stripe::verify(&self.keys, signature, body, now)?;
                sender_event_id(headers)
            }
            WebhookScheme::Standard => {
                let id = required(headers, standard::ID_HEADER)?;
                let timestamp = required(headers, standard::TIMESTAMP_HEADER)?;
                let signature = required(headers, standard::SIGNATURE_HEADER)?;
                standard::verify(&self.keys, id, timestamp, signature, body, now)?;
                EventId::from_header(standard::ID_HEADER, id).map(Some)
            }
        }
    }

    /// The headers a sender attaches to `body` in this scheme, signed with the first secret (for
    /// clients and tests). Names are lower case.
    ///
    /// `id` becomes `X-Event-Id` (`hex`, `stripe`; left out when `None`) or `webhook-id`
    /// (`standard`; the body's hash when `None`). `timestamp` (unix seconds) is ignored by `hex`.
    pub fn sign(
        &self,
        id: Option<&str>,
        timestamp: i64,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let key = &self.keys[0];
        let mut headers = Vec::with_capacity(3);
        match self.scheme {
            WebhookScheme::Hex => headers.push((hex::SIGNATURE_HEADER, hex::sign(key, body))),
            WebhookScheme::Stripe => {
                headers.push((stripe::SIGNATURE_HEADER, stripe::sign(key, timestamp, body)));
            }
            WebhookScheme::Standard => {
                let id = id.map_or_else(
                    || EventId::from_body(body).as_str().to_owned(),
                    str::to_owned,
                );
                let signature = standard::sign(key, &id, timestamp, body);
                headers.push((standard::ID_HEADER, id));
                headers.push((standard::TIMESTAMP_HEADER, timestamp.to_string()));
                headers.push((standard::SIGNATURE_HEADER, signature));
                return headers;
            }
        }
        if let Some(id) = id {
            headers.push(("x-event-id", id.to_owned()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names() {
        for scheme in WebhookScheme::ALL {
            assert_eq!(scheme.as_str().parse::<WebhookScheme>(), Ok(scheme));
            assert_eq!(scheme.to_string(), scheme.as_str());
        }
        assert_eq!(
            " Standard ".parse::<WebhookScheme>(),
            Ok(WebhookScheme::Standard)
        );
        assert_eq!(WebhookScheme::default(), WebhookScheme::Hex);
        assert!(matches!(
            "svix".parse::<WebhookScheme>(),
            Err(WebhookConfigError::UnknownScheme(s)) if s == "svix"
        ));
        assert!("".parse::<WebhookScheme>().is_err());
    }

    #[test]
    fn configuration_errors() {
        for scheme in WebhookScheme::ALL {
            assert_eq!(
                SchemeVerifier::new(scheme, &[]).map(|_| ()),
                Err(WebhookConfigError::NoSecret)
            );
            assert_eq!(
                SchemeVerifier::new(scheme, &["whsec_AAAA", ""]).map(|_| ()),
                Err(WebhookConfigError::EmptySecret { index: 1 })
            );
        }
        // Hex and Stripe secrets are opaque bytes; only Standard decodes base64.
        assert!(SchemeVerifier::new(WebhookScheme::Hex, &["not base64!"]).is_ok());
        assert!(SchemeVerifier::new(WebhookScheme::Stripe, &["whsec_not base64!"]).is_ok());
        assert_eq!(
            SchemeVerifier::new(WebhookScheme::Standard, &["whsec_not base64!"]).map(|_| ()),
            Err(WebhookConfigError::InvalidSecret { index: 0 })
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let v = SchemeVerifier::new(WebhookScheme::Stripe, &["whsec_topsecret"]).expect("valid");
        let shown = format!("{v:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        let shown = format!("{:?}", WebhookVerifier::new(b"topsecret"));
        assert!(!shown.contains("topsecret"), "{shown}");
    }

    #[test]
    fn header_lookup_is_case_insensitive_everywhere() {
        let pairs = [("Stripe-Signature", "a"), ("stripe-signature", "b")];
        assert_eq!(pairs.header("stripe-signature"), Some("a"));
        assert_eq!(pairs.to_vec().header("stripe-signature"), Some("a"));
        let slice: &[(&str, &str)] = &pairs;
        assert_eq!(slice.header("stripe-signature"), Some("a"));
        assert_eq!(pairs.header("x-event-id"), None);
        let owned: Vec<(String, String)> = vec![("X-Event-Id".into(), "e".into())];
        assert_eq!(owned.header("x-event-id"), Some("e"));
        let mut map = HashMap::new();
        map.insert("Webhook-Id".to_owned(), "msg_1".to_owned());
        assert_eq!(map.header("webhook-id"), Some("msg_1"));
        assert_eq!(map.header("webhook-timestamp"), None);
    }

    #[test]
    fn every_scheme_signs_what_it_verifies_and_reports_the_event_id() {
        let body = br#"{"event":"payment.succeeded","order_id":7}"#;
        let now = 1_700_000_000;
        for (scheme, secret) in [
            (WebhookScheme::Hex, "s3cret"),
            (WebhookScheme::Stripe, "whsec_s3cret"),
            (
                WebhookScheme::Standard,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ] {
            let v = SchemeVerifier::new(scheme, &[secret]).expect("valid");
            let with_id = v.sign(Some("evt_42"), now, body);
            let id = v.verify(&with_id, body, now).expect("verifies");
            assert_eq!(id.expect("id").as_str(), "evt_42", "{scheme}");
            let without = v.sign(None, now, body);
            let id = v.verify(&without, body, now).expect("verifies");
            match scheme {
                // The Standard scheme always has an id; the signer used the body hash.
                WebhookScheme::Standard => assert_eq!(id, Some(EventId::from_body(body))),
                _ => assert_eq!(id, None),
            }
            // A tampered body fails in every scheme, and so does an empty header set.
            assert!(matches!(
                v.verify(&with_id, b"{}", now),
                Err(Error::InvalidSignature)
            ));
            let none: [(&str, &str); 0] = [];
            assert!(matches!(
                v.verify(&none, body, now),
                Err(Error::InvalidSignature)
            ));
        }
    }

    #[test]
    fn a_malformed_sender_event_id_is_a_validation_error_after_the_signature() {
        let body = b"{}";
        for scheme in [WebhookScheme::Hex, WebhookScheme::Stripe] {
            let v = SchemeVerifier::new(scheme, &["s3cret"]).expect("valid");
            let mut headers = v.sign(None, 0, body);
            headers.push(("x-event-id", "has space".into()));
            assert!(matches!(
                v.verify(&headers, body, 0),
                Err(Error::InvalidHeader { .. })
            ));
            // With a bad signature the signature is reported first.
            assert!(matches!(
                v.verify(&headers, b"[]", 0),
                Err(Error::InvalidSignature)
            ));
        }
    }

    #[test]
    fn oversized_headers_are_refused() {
        let v = SchemeVerifier::new(WebhookScheme::Hex, &["s3cret"]).expect("valid");
        let long = format!("sha256={}", "0".repeat(MAX_HEADER_LEN));
        assert!(matches!(
            v.verify(&[("x-webhook-signature", long.as_str())], b"", 0),
            Err(Error::InvalidSignature)
        ));
    }
}
