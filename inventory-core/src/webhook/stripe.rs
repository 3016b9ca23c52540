//! The `stripe` scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`, the
//! HMAC-SHA256 of `"{t}.{body}"` with the endpoint secret's bytes as they are (`whsec_…`
//! included). Any `v1` matching any configured secret passes; `v0` and unknown keys are ignored.

use super::{Key, MAC_LEN, MAX_SIGNATURES, check_timestamp, matches_any, parse_timestamp};
use crate::error::Error;

/// The header this scheme reads (lower case).
pub(super) const SIGNATURE_HEADER: &str = "stripe-signature";

/// The header value for `body` sent at `timestamp`, signed with `key`.
pub(super) fn sign(key: &Key, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = key.mac(&[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", ::hex::encode(mac))
}

/// Verifies the header: a well-formed `t` within the tolerance of `now`, and a `v1` entry that
/// matches one of `keys`. Only the first [`MAX_SIGNATURES`] `v1` entries are examined; an entry
/// that is not 64 hex digits is skipped, like Stripe's own libraries do.
pub(super) fn verify(keys: &[Key], header: &str, body: &[u8], now: i64) -> Result<(), Error> {
    let mut t: Option<&str> = None;
    let mut candidates = [[0u8; MAC_LEN]; MAX_SIGNATURES];
    let (mut v1_entries, mut readable) = (0usize, 0usize);
    for item in header.split(',') {
        let (key, value) = item.trim().split_once('=').ok_or(Error::InvalidSignature)?;
        match key {
            "t" if t.is_none() => t = Some(value),
            // Two timestamps: which one was signed is ambiguous, so neither is trusted.
            "t" => return Err(Error::InvalidSignature),
            "v1" => {
                v1_entries += 1;
                if v1_entries <= MAX_SIGNATURES
                    && ::hex::decode_to_slice(value, &mut candidates[readable]).is_ok()
                {
                    readable += 1;
                }
            }
            _ => {} // v0 (a test-mode signature) and any future scheme
        }
    }
    let t = t.ok_or(Error::InvalidSignature)?;
    check_timestamp(parse_timestamp(t)?, now)?;
    if readable > 0 && matches_any(keys, &[t.as_bytes(), b".", body], &candidates[..readable]) {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SchemeVerifier, WEBHOOK_TOLERANCE_SECS, WebhookScheme};
    use super::*;

    // A fixed vector published in Stripe's official .NET library, stripe/stripe-dotnet,
    // `src/Stripe.Tests.XUnit/events/when_constructing_an_event.cs` and `event.json` ("this was
    // sent in the header Stripe-Signature along with the body of event.json"): a real test-mode
    // delivery from Stripe. The body is event.json without a final newline; the header also
    // carries a `v0` entry, which must be ignored.
    // Checked independently with:
    //   python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"whsec_H68eTX02a4bCbiQOOoSAsIytOvuWZrQC",
    //     b"1493329224." + open("event.json","rb").read().rstrip(b"\n"), hashlib.sha256).hexdigest())'
    //   → 09b8e30b483570b410390cdac6327c036937e84a6316008a0143db833ac21a09
    const DOTNET_SECRET: &str = "whsec_H68eTX02a4bCbiQOOoSAsIytOvuWZrQC";
    const DOTNET_HEADER: &str = "t=1493329224,\
        v1=09b8e30b483570b410390cdac6327c036937e84a6316008a0143db833ac21a09,\
        v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
    const DOTNET_T: i64 = 1493329224;
    const DOTNET_V1: &str = "09b8e30b483570b410390cdac6327c036937e84a6316008a0143db833ac21a09";
    const DOTNET_BODY: &str = r#"{
  "id": "evt_1ADKLLLWlyqCpbLp0qRyqExL",
  "object": "event",
  "api_version": "2017-04-06",
  "created": 1493329207,
  "data": {
    "object": {
      "id": "ii_1ACxoELWlyqCpbLpBSzyGWHX",
      "object": "invoiceitem",
      "amount": 1000,
      "currency": "usd",
      "customer": "cus_AY3wPzBBv9DU2H",
      "date": 1493242586,
      "description": "Test Invoice Item",
      "discountable": false,
      "invoice": "in_1ADKLKLWlyqCpbLpMhrRBk7u",
      "livemode": false,
      "metadata": {
        "A": "Value-A",
        "B": "Value-B"
      },
      "period": {
        "start": 1493242586,
        "end": 1493242586
      },
      "plan": null,
      "proration": false,
      "quantity": null,
      "subscription": null
    },
    "previous_attributes": {
      "invoice": null
    }
  },
  "livemode": false,
  "pending_webhooks": 2,
  "request": null,
  "type": "invoiceitem.updated"
}"#;

    const SECRET: &str = "whsec_current";
    const OLD_SECRET: &str = "whsec_retired";
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"event":"payment.succeeded","order_id":7}"#;

    fn verifier(secrets: &[&str]) -> SchemeVerifier {
        SchemeVerifier::new(WebhookScheme::Stripe, secrets).expect("valid secrets")
    }

    fn check(v: &SchemeVerifier, header: &str, body: &[u8], now: i64) -> Result<(), Error> {
        v.verify(&[(SIGNATURE_HEADER, header)], body, now)
            .map(|_| ())
    }

    fn refused(v: &SchemeVerifier, header: &str, body: &[u8], now: i64) -> bool {
        matches!(check(v, header, body, now), Err(Error::InvalidSignature))
    }

    fn signed_with(secret: &str, t: i64, body: &[u8]) -> String {
        sign(&Key::new(secret.as_bytes()), t, body)
    }

    #[test]
    fn stripe_dotnet_published_vector() {
        let v = verifier(&[DOTNET_SECRET]);
        let body = DOTNET_BODY.as_bytes();
        assert!(check(&v, DOTNET_HEADER, body, DOTNET_T).is_ok());
        assert_eq!(
            signed_with(DOTNET_SECRET, DOTNET_T, body),
            format!("t={DOTNET_T},v1={DOTNET_V1}")
        );
        // The same delivery with a newline added to the body is not the signed body.
        assert!(refused(
            &v,
            DOTNET_HEADER,
            format!("{DOTNET_BODY}\n").as_bytes(),
            DOTNET_T
        ));
        // Another secret does not verify it.
        assert!(refused(&verifier(&[SECRET]), DOTNET_HEADER, body, DOTNET_T));
    }

    #[test]
    fn sign_round_trips_and_gives_the_event_id_header_when_asked() {
        let v = verifier(&[SECRET]);
        let headers = v.sign(Some("evt_1"), NOW, BODY);
        assert_eq!(headers[0].0, SIGNATURE_HEADER);
        let id = v.verify(&headers, BODY, NOW).expect("valid");
        assert_eq!(id.map(|id| id.as_str().to_owned()), Some("evt_1".into()));
        // Without X-Event-Id, the caller falls back to the body hash.
        let headers = v.sign(None, NOW, BODY);
        assert_eq!(v.verify(&headers, BODY, NOW).expect("valid"), None);
    }

    #[test]
    fn several_v1_entries_and_unknown_keys() {
        let v = verifier(&[SECRET]);
        let good = signed_with(SECRET, NOW, BODY);
        let good_v1 = good.split_once(",v1=").expect("v1").1;
        let other = signed_with("whsec_other", NOW, BODY);
        let other_v1 = other.split_once(",v1=").expect("v1").1;
        // Stripe sends one v1 per active secret while a secret is being rolled.
        let h = format!("t={NOW},v1={other_v1},v1={good_v1}");
        assert!(check(&v, &h, BODY, NOW).is_ok());
        // Order of entries does not matter, unknown keys and v0 are ignored, spaces tolerated.
        let h = format!("v0={good_v1}, v1={good_v1}, x=1, t={NOW}");
        assert!(check(&v, &h, BODY, NOW).is_ok());
        // An unreadable v1 beside a good one is skipped (as stripe-go's tests require).
        let h = format!("{good},v1=bad_signature");
        assert!(check(&v, &h, BODY, NOW).is_ok());
        // A good signature only under v0 (or another key) is not a v1 signature.
        assert!(refused(&v, &format!("t={NOW},v0={good_v1}"), BODY, NOW));
        assert!(refused(&v, &format!("t={NOW},v2={good_v1}"), BODY, NOW));
    }

    #[test]
    fn empty_missing_and_malformed_signatures_are_refused() {
        let v = verifier(&[SECRET]);
        let good = signed_with(SECRET, NOW, BODY);
        let good_v1 = good.split_once(",v1=").expect("v1").1.to_owned();
        for h in [
            format!("t={NOW},v1="),                   // empty signature after v1=
            format!("t={NOW},v1"),                    // no '='
            format!("t={NOW}"),                       // no v1 at all
            format!("v1={good_v1}"),                  // no t
            format!("t=,v1={good_v1}"),               // empty t
            format!("t=abc,v1={good_v1}"),            // non-numeric t
            format!("t=+{NOW},v1={good_v1}"),         // sign
            format!("t=-{NOW},v1={good_v1}"),         // negative
            format!("t={NOW},t={NOW},v1={good_v1}"),  // two timestamps
            format!("t={NOW},v1={}", &good_v1[..63]), // truncated
            format!("t={NOW},v1={}", &good_v1[..62]),
            format!("t={NOW},v1={good_v1}00"), // too long
            format!("t={NOW},v1={}", good_v1.replace('a', "g")), // not hex
            format!(
                "t={NOW},v1={}",
                good_v1.to_uppercase().replace(char::is_numeric, "Z")
            ),
            format!("{good},"), // trailing empty item
            String::new(),
        ] {
            assert!(refused(&v, &h, BODY, NOW), "{h}");
        }
        // Missing header altogether.
        assert!(matches!(
            v.verify(&[("x-webhook-signature", good.as_str())], BODY, NOW),
            Err(Error::InvalidSignature)
        ));
        // Tampered body; signature for another timestamp.
        assert!(refused(&v, &good, b"{}", NOW));
        let moved = good.replacen(&NOW.to_string(), &(NOW + 1).to_string(), 1);
        assert!(refused(&v, &moved, BODY, NOW));
    }

    #[test]
    fn timestamp_must_be_within_tolerance_both_ways() {
        let v = verifier(&[SECRET]);
        let tol = WEBHOOK_TOLERANCE_SECS;
        for (t, ok) in [
            (NOW - tol, true),
            (NOW + tol, true),
            (NOW - tol - 1, false), // too old: a replay
            (NOW + tol + 1, false), // from the future
            (0, false),
            (NOW - 86_400, false),
        ] {
            let h = signed_with(SECRET, t, BODY);
            assert_eq!(
                check(&v, &h, BODY, NOW).is_ok(),
                ok,
                "t = now {:+}",
                t - NOW
            );
        }
        // Extreme clocks do not overflow.
        let h = signed_with(SECRET, i64::MAX, BODY);
        assert!(refused(&v, &h, BODY, i64::MIN));
    }

    #[test]
    fn rotation_old_secret_passes_only_while_configured() {
        let old = signed_with(OLD_SECRET, NOW, BODY);
        let new = signed_with(SECRET, NOW, BODY);
        let both = verifier(&[SECRET, OLD_SECRET]);
        assert!(check(&both, &old, BODY, NOW).is_ok());
        assert!(check(&both, &new, BODY, NOW).is_ok());
        let rotated = verifier(&[SECRET]);
        assert!(check(&rotated, &new, BODY, NOW).is_ok());
        assert!(refused(&rotated, &old, BODY, NOW), "rotated-out secret");
        // A verifier signs with its first secret.
        let headers = both.sign(None, NOW, BODY);
        assert!(rotated.verify(&headers, BODY, NOW).is_ok());
    }

    #[test]
    fn a_difference_in_the_first_or_last_byte_is_refused() {
        // Timing is not asserted by tests. Comparison is `subtle::ConstantTimeEq` over all 32
        // bytes of each candidate against each key's MAC; this checks that every byte counts.
        let v = verifier(&[SECRET]);
        let good = signed_with(SECRET, NOW, BODY);
        let mut mac = ::hex::decode(good.split_once(",v1=").expect("v1").1).expect("hex");
        for i in [0, MAC_LEN - 1] {
            mac[i] ^= 0x80;
            assert!(refused(
                &v,
                &format!("t={NOW},v1={}", ::hex::encode(&mac)),
                BODY,
                NOW
            ));
            mac[i] ^= 0x80;
        }
        assert!(
            check(
                &v,
                &format!("t={NOW},v1={}", ::hex::encode(&mac)),
                BODY,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn work_is_bounded() {
        let v = verifier(&[SECRET]);
        let good = signed_with(SECRET, NOW, BODY);
        let good_v1 = good.split_once(",v1=").expect("v1").1;
        let junk = format!(",v1={}", "0".repeat(64)).repeat(MAX_SIGNATURES);
        // A good signature within the first MAX_SIGNATURES entries is found...
        let h = format!(
            "t={NOW}{},v1={good_v1}",
            &junk[..junk.len() / MAX_SIGNATURES * 9]
        );
        assert!(check(&v, &h, BODY, NOW).is_ok());
        // ...one past them is not looked at.
        let h = format!("t={NOW}{junk},v1={good_v1}");
        assert!(refused(&v, &h, BODY, NOW));
        // An oversized header is refused before any parsing.
        let h = format!("{good}{}", ",x=1".repeat(2_000));
        assert!(refused(&v, &h, BODY, NOW));
    }
}
