//! The `standard` scheme (Standard Webhooks, standardwebhooks.com): headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature`, the last a space-separated list of
//! `v1,<base64 HMAC-SHA256>` entries; the signed content is `"{id}.{timestamp}.{body}"`; the key
//! is the base64-decoding of the secret after its `whsec_` prefix.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Key, MAC_LEN, MAX_SIGNATURES, check_timestamp, matches_any, parse_timestamp};
use crate::error::Error;

/// The headers this scheme reads (lower case).
pub(super) const ID_HEADER: &str = "webhook-id";
pub(super) const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub(super) const SIGNATURE_HEADER: &str = "webhook-signature";

/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// The length of a 32-byte MAC in padded base64.
const MAC_BASE64_LEN: usize = 44;

/// The key bytes of a secret `whsec_<base64>` (the prefix is optional, as in the reference
/// libraries); `None` when the rest is not base64 or decodes to nothing.
pub(super) fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    BASE64.decode(b64).ok().filter(|key| !key.is_empty())
}

/// The `webhook-signature` value (one `v1,` entry) for the message.
pub(super) fn sign(key: &Key, id: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = key.mac(&[id.as_bytes(), b".", t.as_bytes(), b".", body]);
    format!("v1,{}", BASE64.encode(mac))
}

/// Verifies the three header values: a well-formed timestamp within the tolerance of `now`, and
/// a `v1` entry matching one of `keys`. Only the first [`MAX_SIGNATURES`] `v1` entries are
/// examined; other versions (such as `v1a`, asymmetric) are ignored.
pub(super) fn verify(
    keys: &[Key],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Error> {
    check_timestamp(parse_timestamp(timestamp)?, now)?;
    let mut candidates = [[0u8; MAC_LEN]; MAX_SIGNATURES];
    let mut readable = 0usize;
    let v1 = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .take(MAX_SIGNATURES);
    for (_, sig) in v1 {
        if sig.len() == MAC_BASE64_LEN
            && BASE64.decode_slice(sig, &mut candidates[readable]) == Ok(MAC_LEN)
        {
            readable += 1;
        }
    }
    let content = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    if readable > 0 && matches_any(keys, &content, &candidates[..readable]) {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SchemeVerifier, WEBHOOK_TOLERANCE_SECS, WebhookConfigError, WebhookScheme};
    use super::*;

    // The Standard Webhooks test vector, published in the reference libraries of
    // standard-webhooks/standard-webhooks ("sign function works" in
    // libraries/javascript/src/webhook.test.ts; the same in the Go, PHP, Python... tests).
    // Checked independently with:
    //   python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
    //     base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    //     b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}",
    //     hashlib.sha256).digest()).decode())'
    //   → g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const T: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    // Another valid secret, for rotation: base64 of 24 bytes 0x00..0x17.
    const NEW_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";

    fn verifier(secrets: &[&str]) -> SchemeVerifier {
        SchemeVerifier::new(WebhookScheme::Standard, secrets).expect("valid secrets")
    }

    fn headers<'a>(id: &'a str, t: &'a str, sig: &'a str) -> [(&'static str, &'a str); 3] {
        [
            (ID_HEADER, id),
            (TIMESTAMP_HEADER, t),
            (SIGNATURE_HEADER, sig),
        ]
    }

    fn check(v: &SchemeVerifier, sig: &str, t: i64, body: &[u8], now: i64) -> Result<(), Error> {
        let t = t.to_string();
        v.verify(&headers(ID, &t, sig), body, now).map(|_| ())
    }

    fn refused(v: &SchemeVerifier, sig: &str, t: i64, body: &[u8], now: i64) -> bool {
        matches!(check(v, sig, t, body, now), Err(Error::InvalidSignature))
    }

    fn signed_with(secret: &str, t: i64, body: &[u8]) -> String {
        sign(
            &Key::new(&decode_secret(secret).expect("secret")),
            ID,
            t,
            body,
        )
    }

    #[test]
    fn standard_webhooks_published_vector() {
        assert_eq!(signed_with(SECRET, T, BODY), SIG);
        let v = verifier(&[SECRET]);
        let id = v
            .verify(&headers(ID, &T.to_string(), SIG), BODY, T)
            .expect("valid")
            .expect("the webhook-id is the event id");
        assert_eq!(id.as_str(), ID);
        // Header names are matched case-insensitively.
        let mixed = [
            ("Webhook-Id", ID),
            ("WEBHOOK-TIMESTAMP", "1614265330"),
            ("Webhook-Signature", SIG),
        ];
        assert!(v.verify(&mixed, BODY, T).is_ok());
        // The secret without its prefix is the same key, as in the reference libraries.
        assert!(
            check(
                &verifier(&["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]),
                SIG,
                T,
                BODY,
                T
            )
            .is_ok()
        );
        // And `sign` produces the three headers that verify.
        let signed = v.sign(Some(ID), T, BODY);
        assert!(signed.contains(&(SIGNATURE_HEADER, SIG.to_owned())));
        assert!(v.verify(&signed, BODY, T).is_ok());
    }

    #[test]
    fn multi_signature_header_as_in_the_reference_tests() {
        // From the reference libraries' "multi sig payload is valid": unknown versions and
        // non-matching v1 entries around the valid one.
        let v = verifier(&[SECRET]);
        let sigs = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= \
             v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIG} \
             v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        );
        assert!(check(&v, &sigs, T, BODY, T).is_ok());
        // A good MAC under another version label is not a v1 signature.
        let v1a = SIG.replacen("v1,", "v1a,", 1);
        assert!(refused(&v, &v1a, T, BODY, T));
    }

    #[test]
    fn empty_partial_and_malformed_signatures_are_refused() {
        let v = verifier(&[SECRET]);
        let b64 = &SIG[3..];
        for sig in [
            "v1,".to_owned(), // empty signature after v1,
            "v1".to_owned(),
            String::new(),
            " ".to_owned(),
            SIG[..8].to_owned(), // partial, as in the reference tests
            "v1,dawfeoifkpqwoekfpqoekf".to_owned(), // invalid, as in the reference tests
            format!("v1,{}", &b64[..43]), // truncated
            format!("v1,{}", b64.trim_end_matches('=')), // padding dropped
            format!("v1,{b64}AAAA"), // too long
            format!("v1,{}", b64.replace('+', "-")), // URL-safe alphabet is not the standard's
            format!("v1,{}", b64.replace('g', "*")), // not base64
            format!("v1, {b64}"),
            format!("v1;{b64}"),
            b64.to_owned(), // no version
        ] {
            assert!(refused(&v, &sig, T, BODY, T), "{sig:?}");
        }
        // Tampered body, id or timestamp.
        assert!(refused(&v, SIG, T, br#"{"test": 2432232315}"#, T));
        let t = T.to_string();
        assert!(v.verify(&headers("msg_other", &t, SIG), BODY, T).is_err());
        assert!(refused(&v, SIG, T + 1, BODY, T));
        // Leading zeros change the signed text, so they do not verify either.
        assert!(
            v.verify(&headers(ID, &format!("0{T}"), SIG), BODY, T)
                .is_err()
        );
    }

    #[test]
    fn every_header_is_required() {
        let v = verifier(&[SECRET]);
        let t = T.to_string();
        let all = headers(ID, &t, SIG);
        for missing in 0..3 {
            let some: Vec<(&str, &str)> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing)
                .map(|(_, h)| *h)
                .collect();
            assert!(
                matches!(v.verify(&some, BODY, T), Err(Error::InvalidSignature)),
                "without {}",
                all[missing].0
            );
        }
        for bad_t in [
            "",
            "hello",
            "1614265330.5",
            "-1614265330",
            "+1614265330",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    v.verify(&headers(ID, bad_t, SIG), BODY, T),
                    Err(Error::InvalidSignature)
                ),
                "{bad_t:?}"
            );
        }
        assert!(matches!(
            v.verify(&headers("", &t, SIG), BODY, T),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn a_signed_but_malformed_webhook_id_is_a_validation_error() {
        let v = verifier(&[SECRET]);
        let id = "msg with spaces";
        let headers = v.sign(Some(id), T, BODY);
        match v.verify(&headers, BODY, T) {
            Err(Error::InvalidHeader { header, .. }) => {
                assert_eq!(header, ID_HEADER);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        // Unsigned, the same header is a signature failure first.
        let t = T.to_string();
        assert!(matches!(
            v.verify(
                &[
                    (ID_HEADER, id),
                    (TIMESTAMP_HEADER, &t),
                    (SIGNATURE_HEADER, SIG)
                ],
                BODY,
                T
            ),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn timestamp_must_be_within_tolerance_both_ways() {
        let v = verifier(&[SECRET]);
        let tol = WEBHOOK_TOLERANCE_SECS;
        for (now, ok) in [
            (T, true),
            (T + tol, true),
            (T - tol, true),
            (T + tol + 1, false), // signed too long ago: a replay
            (T - tol - 1, false), // signed in the future
            (T + 86_400, false),
        ] {
            assert_eq!(
                check(&v, SIG, T, BODY, now).is_ok(),
                ok,
                "now = t {:+}",
                now - T
            );
        }
    }

    #[test]
    fn rotation_old_secret_passes_only_while_configured() {
        let old = signed_with(SECRET, T, BODY);
        let new = signed_with(NEW_SECRET, T, BODY);
        let both = verifier(&[NEW_SECRET, SECRET]);
        assert!(check(&both, &old, T, BODY, T).is_ok());
        assert!(check(&both, &new, T, BODY, T).is_ok());
        // During rotation a sender may sign with both keys in one header.
        assert!(
            check(
                &verifier(&[NEW_SECRET]),
                &format!("{old} {new}"),
                T,
                BODY,
                T
            )
            .is_ok()
        );
        let rotated = verifier(&[NEW_SECRET]);
        assert!(check(&rotated, &new, T, BODY, T).is_ok());
        assert!(refused(&rotated, &old, T, BODY, T), "rotated-out secret");
    }

    #[test]
    fn secrets_must_be_base64() {
        for bad in [
            "whsec_",
            "whsec_not base64!",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "",
        ] {
            assert!(
                matches!(
                    SchemeVerifier::new(WebhookScheme::Standard, &[SECRET, bad]),
                    Err(WebhookConfigError::InvalidSecret { index: 1 }
                        | WebhookConfigError::EmptySecret { index: 1 })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_difference_in_the_first_or_last_byte_is_refused() {
        // Timing is not asserted by tests. Comparison is `subtle::ConstantTimeEq` over all 32
        // bytes of each candidate against each key's MAC; this checks that every byte counts.
        let v = verifier(&[SECRET]);
        let mut mac = BASE64.decode(&SIG[3..]).expect("base64");
        for i in [0, MAC_LEN - 1] {
            mac[i] ^= 0x01;
            assert!(refused(
                &v,
                &format!("v1,{}", BASE64.encode(&mac)),
                T,
                BODY,
                T
            ));
            mac[i] ^= 0x01;
        }
        assert!(check(&v, &format!("v1,{}", BASE64.encode(&mac)), T, BODY, T).is_ok());
    }

    #[test]
    fn work_is_bounded() {
        let v = verifier(&[SECRET]);
        let junk = format!("v1,{} ", "A".repeat(43) + "=").repeat(MAX_SIGNATURES);
        let nine = &junk[..junk.len() / MAX_SIGNATURES * 9];
        assert!(check(&v, &format!("{nine}{SIG}"), T, BODY, T).is_ok());
        assert!(refused(&v, &format!("{junk}{SIG}"), T, BODY, T));
        let long = format!("{SIG}{}", " v2,x".repeat(2_000));
        assert!(refused(&v, &long, T, BODY, T));
    }
}
