//! Random headers and bodies through all three signature schemes and the body parser.
//!
//! Never panics, and: what a verifier signs it verifies (when the id and timestamp are valid);
//! a changed body never verifies; a verified body parses or fails as a validation error.
#![no_main]

use arbitrary::Arbitrary;
use inventory_core::Error;
use inventory_core::webhook::{
    EventId, PaymentEvent, SchemeVerifier, WEBHOOK_TOLERANCE_SECS, WebhookScheme,
};
use libfuzzer_sys::fuzz_target;

/// Header names the schemes read, plus anything else.
#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Known(u8),
    Raw(&'a str),
}

const KNOWN: [&str; 8] = [
    "x-webhook-signature",
    "X-Event-Id",
    "Stripe-Signature",
    "webhook-id",
    "Webhook-Timestamp",
    "webhook-signature",
    "x-event-id",
    "content-type",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Start from the headers the verifier itself signs, then add `extra` in front (the first
    /// header of a name wins, so extras override).
    signed: bool,
    id: Option<&'a str>,
    timestamp: i64,
    /// `now` is `timestamp + skew`.
    skew: i16,
    extra: Vec<(Name<'a>, &'a str)>,
    /// Flip one body byte after signing.
    tamper: Option<(u16, u8)>,
    /// Use the second of two secrets to sign (rotation).
    sign_with_old: bool,
    body: &'a [u8],
}

const SECRETS: [(WebhookScheme, [&str; 2]); 3] = [
    (WebhookScheme::Hex, ["s3cret", "0ld-s3cret"]),
    (WebhookScheme::Stripe, ["whsec_current", "whsec_previous"]),
    (
        WebhookScheme::Standard,
        [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
        ],
    ),
];

fuzz_target!(|input: Input<'_>| {
    let _ = PaymentEvent::parse(input.body);
    let now = input.timestamp.saturating_add(i64::from(input.skew));

    // The hex scheme with one secret on each raw header value as the signature.
    let single = SchemeVerifier::new(WebhookScheme::Hex, &["s3cret"]).expect("a valid secret");
    for (_, value) in &input.extra {
        let _ = single.verify(&[("x-webhook-signature", *value)], input.body, now);
    }

    for (scheme, secrets) in SECRETS {
        let verifier = SchemeVerifier::new(scheme, &secrets).expect("valid secrets");
        let signer = SchemeVerifier::new(scheme, &secrets[usize::from(input.sign_with_old)..])
            .expect("valid secrets");

        let mut headers: Vec<(String, String)> = input
            .extra
            .iter()
            .map(|(name, value)| {
                let name = match name {
                    Name::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()].to_owned(),
                    Name::Raw(s) => (*s).to_owned(),
                };
                (name, (*value).to_owned())
            })
            .collect();
        let signed = if input.signed {
            signer.sign(input.id, input.timestamp, input.body)
        } else {
            Vec::new()
        };
        headers.extend(signed.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));

        let mut body = input.body.to_vec();
        let mut tampered = false;
        if let Some((at, xor)) = input.tamper {
            if !body.is_empty() && xor != 0 {
                let at = usize::from(at) % body.len();
                body[at] ^= xor;
                tampered = true;
            }
        }

        let result = verifier.verify(&headers, &body, now);
        let verified = result.is_ok();

        // A failure is a signature failure or, for a signed but malformed event id, an
        // invalid header; nothing else.
        match &result {
            Ok(_) | Err(Error::InvalidSignature) | Err(Error::InvalidHeader { .. }) => {}
            Err(other) => panic!("{scheme}: unexpected error {other:?}"),
        }

        if input.signed && input.extra.is_empty() {
            let id_ok = input.id.is_none_or(|id| EventId::parse(id).is_ok());
            let time_ok = scheme == WebhookScheme::Hex
                || (input.timestamp >= 0
                    && input.timestamp.abs_diff(now) <= WEBHOOK_TOLERANCE_SECS.unsigned_abs());
            if tampered {
                assert!(
                    matches!(result, Err(Error::InvalidSignature)),
                    "{scheme}: tampered body verified: {result:?}"
                );
            } else if id_ok && time_ok {
                let id =
                    result.unwrap_or_else(|e| panic!("{scheme}: own signature refused: {e:?}"));
                let expected = match (scheme, input.id) {
                    (_, Some(id)) => Some(id.to_owned()),
                    (WebhookScheme::Standard, None) => {
                        Some(EventId::from_body(input.body).as_str().to_owned())
                    }
                    (_, None) => None,
                };
                assert_eq!(id.map(|id| id.as_str().to_owned()), expected, "{scheme}");
            }
        }
        if verified && !tampered {
            // A verified body goes on to the parser; it must not panic either.
            let _ = PaymentEvent::parse(&body);
        }
    }
});
