//! Payment webhooks: signature verification over the raw body, event ids, and the body.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::validation::{self, BodyReader, FieldError, ValidationErrors};

type HmacSha256 = Hmac<Sha256>;

/// The longest event id accepted from a sender.
pub const MAX_EVENT_ID_LEN: usize = 255;

/// Checks `X-Webhook-Signature`: hex HMAC-SHA256 of the raw body, optional `sha256=` prefix,
/// compared in constant time.
///
/// ```
/// use inventory_core::WebhookVerifier;
/// // GitHub's published example.
/// let v = WebhookVerifier::new(b"It's a Secret to Everybody");
/// let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// assert!(v.verify(Some(sig), b"Hello, World!").is_ok());
/// assert!(v.verify(Some(sig), b"Hello, World?").is_err());
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    // Keyed once: cloning a keyed HMAC is cheaper than re-deriving the key pads per request.
    mac: HmacSha256,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str("WebhookVerifier { .. }")
    }
}

impl WebhookVerifier {
    /// A verifier for `secret` (any length; HMAC accepts every key).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC takes keys of any length, so this cannot fail; fall back to an empty key rather
        // than panic, which would only make every signature wrong.
        let mac = HmacSha256::new_from_slice(secret)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        WebhookVerifier { mac }
    }

    /// The hex signature a sender computes for `body` (for clients and tests).
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Verifies the header value against the exact bytes received.
    ///
    /// A missing header, a non-hex or wrong-length value, and a wrong signature are all
    /// [`Error::InvalidSignature`]; the comparison takes the same time wherever bytes differ.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), Error> {
        let header = header.ok_or(Error::InvalidSignature)?.trim();
        let hex_sig = header.strip_prefix("sha256=").unwrap_or(header);
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex_sig, &mut expected).map_err(|_| Error::InvalidSignature)?;
        let mut mac = self.mac.clone();
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&expected)
            .map_err(|_| Error::InvalidSignature)
    }
}

/// The id under which an event is recorded, so it is applied at most once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// The sender's `X-Event-Id` when given (1–255 visible ASCII characters), else the hex
    /// SHA-256 of the body, so that a byte-identical replay is still recognised.
    pub fn from_header_or_body(header: Option<&str>, body: &[u8]) -> Result<EventId, Error> {
        match header {
            Some(h) => EventId::parse(h).map_err(|msg| {
                Error::Validation(ValidationErrors::single(FieldError::new(
                    ["header", "x-event-id"],
                    msg,
                    "value_error",
                )))
            }),
            None => Ok(EventId(hex::encode(Sha256::digest(body)))),
        }
    }

    /// Checks an event id's text.
    pub fn parse(s: &str) -> Result<EventId, String> {
        if s.is_empty() || s.len() > MAX_EVENT_ID_LEN {
            return Err(format!("must be 1 to {MAX_EVENT_ID_LEN} characters"));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be visible ASCII characters".into());
        }
        Ok(EventId(s.to_owned()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The event type that pays an order.
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";

/// A webhook body. Unknown fields are tolerated: senders add fields over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The event type, e.g. `payment.succeeded`.
    pub event: String,
    /// The order concerned (required for `payment.succeeded`).
    pub order_id: Option<i64>,
    /// The amount paid in cents, when sent; it must equal the order's total.
    pub amount_cents: Option<i64>,
    /// The currency, when sent.
    pub currency: Option<String>,
}

impl PaymentEvent {
    /// Parses the raw body; invalid JSON and invalid fields are validation errors.
    pub fn parse(body: &[u8]) -> Result<PaymentEvent, ValidationErrors> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ValidationErrors::single(FieldError::new(
                ["body"],
                format!("JSON decode error: {e}"),
                "json_invalid",
            ))
        })?;
        let mut r = BodyReader::new(&value);
        let event = r.required("event", |v| {
            let s = validation::string(v)?;
            if s.is_empty() || s.len() > 100 {
                return Err((
                    "String should have 1 to 100 characters".into(),
                    "string_too_long",
                ));
            }
            Ok(s.to_owned())
        });
        let order_id = if event.as_deref() == Some(PAYMENT_SUCCEEDED) {
            r.required("order_id", crate::order::id_field)
        } else {
            r.optional("order_id", crate::order::id_field)
        };
        let amount_cents = r.optional("amount", |v| {
            let text = validation::number_text(v)?;
            let cents =
                crate::money::parse_cents(&text).map_err(|e| (e.to_string(), "decimal_parsing"))?;
            if cents < 0 {
                return Err((
                    "Input should be greater than or equal to 0".into(),
                    "greater_than_equal",
                ));
            }
            Ok(cents)
        });
        let currency = r.optional("currency", |v| {
            let s = validation::string(v)?;
            if s.is_empty() || s.len() > 10 {
                return Err((
                    "String should have 1 to 10 characters".into(),
                    "string_too_long",
                ));
            }
            Ok(s.to_owned())
        });
        r.finish(&[], true)?;
        let event = event.ok_or_else(crate::product::internal_inconsistency)?;
        Ok(PaymentEvent {
            event,
            order_id,
            amount_cents,
            currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB_SIG: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn github() -> WebhookVerifier {
        WebhookVerifier::new(b"It's a Secret to Everybody")
    }

    #[test]
    fn github_published_example() {
        let v = github();
        assert_eq!(v.sign(b"Hello, World!"), GITHUB_SIG);
        assert!(v.verify(Some(GITHUB_SIG), b"Hello, World!").is_ok());
        assert!(
            v.verify(Some(&format!("sha256={GITHUB_SIG}")), b"Hello, World!")
                .is_ok()
        );
    }

    #[test]
    fn refuses_tampering_and_malformed_signatures() {
        let v = github();
        let bad = |h: Option<&str>, body: &[u8]| {
            matches!(v.verify(h, body), Err(Error::InvalidSignature))
        };
        assert!(bad(Some(GITHUB_SIG), b"Hello, World! "));
        assert!(bad(Some(GITHUB_SIG), b""));
        assert!(bad(None, b"Hello, World!"));
        assert!(bad(Some(""), b"Hello, World!"));
        assert!(bad(Some(&GITHUB_SIG[..63]), b"Hello, World!"));
        assert!(bad(Some(&GITHUB_SIG[..62]), b"Hello, World!"));
        assert!(bad(Some(&format!("{GITHUB_SIG}00")), b"Hello, World!"));
        assert!(bad(Some(&GITHUB_SIG.replace('7', "z")), b"Hello, World!"));
        assert!(bad(Some(&format!("sha1={GITHUB_SIG}")), b"Hello, World!"));
        // A signature made with another secret.
        let other = WebhookVerifier::new(b"another secret").sign(b"Hello, World!");
        assert!(bad(Some(&other), b"Hello, World!"));
    }

    #[test]
    fn event_id_from_header_or_body_hash() {
        let id = EventId::from_header_or_body(Some("evt_1"), b"x").expect("valid");
        assert_eq!(id.as_str(), "evt_1");
        let a = EventId::from_header_or_body(None, b"{}").expect("hash");
        let b = EventId::from_header_or_body(None, b"{}").expect("hash");
        let c = EventId::from_header_or_body(None, b"{ }").expect("hash");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().len(), 64);
        assert!(EventId::from_header_or_body(Some(""), b"x").is_err());
        assert!(EventId::from_header_or_body(Some("a b"), b"x").is_err());
    }

    #[test]
    fn body_tolerates_unknown_fields_and_reads_amount_exactly() {
        let e = PaymentEvent::parse(
            br#"{"event":"payment.succeeded","order_id":7,"amount":100.10,"currency":"USD","extra":1}"#,
        )
        .expect("valid");
        assert_eq!(e.order_id, Some(7));
        assert_eq!(e.amount_cents, Some(10010));
        assert!(PaymentEvent::parse(br#"{"event":"payment.succeeded"}"#).is_err());
        assert!(PaymentEvent::parse(br#"{"event":"refund.created"}"#).is_ok());
        assert!(PaymentEvent::parse(b"not json").is_err());
        let errs = PaymentEvent::parse(br#"{"order_id":"x","amount":1.001}"#).expect_err("invalid");
        assert_eq!(errs.errors().len(), 3);
    }
}
