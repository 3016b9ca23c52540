//! What a webhook carries once its signature is checked: the event id and the body.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::money::Amount;
use crate::text::{TextError, TextRule};
use crate::validation::{self, BodyReader, ValidationErrors};

/// The longest event id accepted from a sender.
pub const MAX_EVENT_ID_LEN: usize = 255;

/// The id under which an event is recorded, so it is applied at most once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// The sender's `X-Event-Id` when given (1–255 visible ASCII characters), else the hex
    /// SHA-256 of the body, so that a byte-identical replay is still recognised.
    pub fn from_header_or_body(header: Option<&str>, body: &[u8]) -> Result<EventId, Error> {
        match header {
            Some(h) => EventId::from_header("x-event-id", h),
            None => Ok(EventId::from_body(body)),
        }
    }

    /// The id that stands in when the sender gives none: the hex SHA-256 of the body.
    pub fn from_body(body: &[u8]) -> EventId {
        EventId(::hex::encode(Sha256::digest(body)))
    }

    /// The id in header `name`; a malformed one is [`Error::InvalidHeader`] naming it.
    pub(crate) fn from_header(name: &str, value: &str) -> Result<EventId, Error> {
        EventId::parse(value).map_err(|problem| Error::InvalidHeader {
            header: name.to_owned(),
            problem,
        })
    }

    const RULE: TextRule = TextRule {
        max: MAX_EVENT_ID_LEN,
        whitespace: false,
        ascii: true,
        invisible: false,
    };

    /// Checks an event id's text: 1–255 visible ASCII characters.
    pub fn parse(s: &str) -> Result<EventId, TextError> {
        Self::RULE.owned(s).map(EventId)
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
    /// The amount paid, when sent; it must equal the order's total.
    pub amount: Option<Amount>,
    /// The currency, when sent.
    pub currency: Option<String>,
}

/// The rule of a webhook's `event` type (no control character: PostgreSQL cannot store NUL in
/// `text`, and every backend must answer alike).
const EVENT_RULE: TextRule = TextRule {
    max: PaymentEvent::MAX_EVENT_CHARS,
    whitespace: true,
    ascii: false,
    invisible: true,
};

/// The rule of a webhook's `currency`.
const CURRENCY_RULE: TextRule = TextRule {
    max: PaymentEvent::MAX_CURRENCY_CHARS,
    whitespace: false,
    ascii: false,
    invisible: true,
};

impl PaymentEvent {
    /// The most characters of `event`.
    pub const MAX_EVENT_CHARS: usize = 100;
    /// The most characters of `currency`.
    pub const MAX_CURRENCY_CHARS: usize = 10;

    /// Whether `c` may appear in `event` (any but a control character; not only whitespace).
    pub fn is_allowed_event_char(c: char) -> bool {
        EVENT_RULE.allows(c)
    }

    /// Whether `c` may appear in `currency` (no control character, no whitespace).
    pub fn is_allowed_currency_char(c: char) -> bool {
        CURRENCY_RULE.allows(c)
    }

    /// Parses the raw body; invalid JSON (a duplicate key included) and invalid fields are
    /// validation errors.
    pub fn parse(body: &[u8]) -> Result<PaymentEvent, ValidationErrors> {
        let value: Value = crate::json::parse_json_body(body)?;
        let mut r = BodyReader::new(&value);
        let event = r.required("event", |v| Ok(EVENT_RULE.owned(validation::string(v)?)?));
        let order_id = if event.as_deref() == Some(PAYMENT_SUCCEEDED) {
            r.required("order_id", crate::order::id_field)
        } else {
            r.optional("order_id", crate::order::id_field)
        };
        let amount = r.optional("amount", |v| {
            Ok(validation::number_text(v)?.parse::<Amount>()?)
        });
        let currency = r.optional("currency", |v| {
            Ok(CURRENCY_RULE.owned(validation::string(v)?)?)
        });
        r.finish(&[], true)?;
        let event = event.ok_or_else(validation::internal_inconsistency)?;
        Ok(PaymentEvent {
            event,
            order_id,
            amount,
            currency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_from_header_or_body_hash() {
        let id = EventId::from_header_or_body(Some("evt_1"), b"x").expect("valid");
        assert_eq!(id.as_str(), "evt_1");
        let a = EventId::from_header_or_body(None, b"{}").expect("hash");
        let b = EventId::from_header_or_body(None, b"{}").expect("hash");
        let c = EventId::from_header_or_body(None, b"{ }").expect("hash");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, EventId::from_body(b"{}"));
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
        assert_eq!(e.amount.map(Amount::cents), Some(10010));
        assert!(PaymentEvent::parse(br#"{"event":"payment.succeeded"}"#).is_err());
        assert!(PaymentEvent::parse(br#"{"event":"refund.created"}"#).is_ok());
        assert!(PaymentEvent::parse(b"not json").is_err());
        let errs = PaymentEvent::parse(br#"{"order_id":"x","amount":1.001}"#).expect_err("invalid");
        assert_eq!(errs.errors().len(), 3);
    }

    #[test]
    fn stored_texts_refuse_control_characters_and_bodies_duplicate_keys() {
        for body in [
            r#"{"event":"payment.succeeded\u0000","order_id":1}"#,
            r#"{"event":"refund\u001b[31m"}"#,
            r#"{"event":"x","currency":"US\u0000"}"#,
        ] {
            let errs = PaymentEvent::parse(body.as_bytes()).expect_err(body);
            assert_eq!(
                errs.errors()[0].problem(),
                &crate::validation::Problem::Text(crate::TextError::Control)
            );
        }
        let errs =
            PaymentEvent::parse(br#"{"event":"payment.succeeded","order_id":1,"order_id":2}"#)
                .expect_err("duplicate");
        assert_eq!(
            errs.errors()[0].to_string(),
            "order_id: Duplicate key 'order_id' in a JSON object"
        );
        // Characters, not bytes: 100 accented letters are a valid type.
        let long = format!(r#"{{"event":"{}"}}"#, "é".repeat(100));
        assert!(PaymentEvent::parse(long.as_bytes()).is_ok());
    }
}
