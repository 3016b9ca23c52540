//! The `hex` scheme: `X-Webhook-Signature: [sha256=]<hex HMAC-SHA256 of the raw body>`, the
//! scheme of the original service and of GitHub. No timestamp: replays are caught by event id.

#[cfg(test)]
use hmac::Mac;

use super::{Key, MAC_LEN, matches_any};
use crate::error::Error;

/// The header this scheme reads (lower case).
pub(super) const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// Checks `X-Webhook-Signature`: hex HMAC-SHA256 of the raw body, optional `sha256=` prefix,
/// compared in constant time.
///
/// The single-secret `hex` scheme, for this crate's tests and conformance suite; the public
/// API is [`SchemeVerifier`](super::SchemeVerifier), which runs it (and the `stripe` and
/// `standard` schemes) with several secrets for key rotation.
///
/// ```
/// use inventory_core::webhook::{SchemeVerifier, WebhookScheme};
/// // GitHub's published example.
/// let v = SchemeVerifier::new(WebhookScheme::Hex, &["It's a Secret to Everybody"])?;
/// let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// let headers = [("x-webhook-signature", sig)];
/// assert!(v.verify(&headers, b"Hello, World!", 0).is_ok());
/// assert!(v.verify(&headers, b"Hello, World?", 0).is_err());
/// # Ok::<_, inventory_core::webhook::WebhookConfigError>(())
/// ```
#[derive(Clone)]
#[cfg(any(test, feature = "testing"))]
pub(crate) struct WebhookVerifier {
    key: Key,
}

#[cfg(any(test, feature = "testing"))]
impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str("WebhookVerifier { .. }")
    }
}

#[cfg(any(test, feature = "testing"))]
impl WebhookVerifier {
    /// A verifier for `secret` (any length; HMAC accepts every key).
    pub(crate) fn new(secret: &[u8]) -> Self {
        WebhookVerifier {
            key: Key::new(secret),
        }
    }

    /// The hex signature a sender computes for `body` (for clients and tests).
    pub(crate) fn sign(&self, body: &[u8]) -> String {
        sign(&self.key, body)
    }

    /// Verifies the header value against the exact bytes received.
    ///
    /// A missing header, a non-hex or wrong-length value, and a wrong signature are all
    /// [`Error::InvalidSignature`]; the comparison takes the same time wherever bytes differ.
    #[cfg(test)]
    pub(crate) fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), Error> {
        let expected = decode(header.ok_or(Error::InvalidSignature)?)?;
        let mut mac = self.key.keyed();
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&expected)
            .map_err(|_| Error::InvalidSignature)
    }
}

/// The header value's 32 bytes: 64 hex digits, optionally after `sha256=`.
fn decode(header: &str) -> Result<[u8; MAC_LEN], Error> {
    let header = header.trim();
    let hex_sig = header.strip_prefix("sha256=").unwrap_or(header);
    let mut sig = [0u8; MAC_LEN];
    ::hex::decode_to_slice(hex_sig, &mut sig).map_err(|_| Error::InvalidSignature)?;
    Ok(sig)
}

/// The header value for `body` under `key`.
pub(super) fn sign(key: &Key, body: &[u8]) -> String {
    ::hex::encode(key.mac(&[body]))
}

/// Verifies the header against every configured key (key rotation).
pub(super) fn verify(keys: &[Key], header: &str, body: &[u8]) -> Result<(), Error> {
    let sig = decode(header)?;
    if matches_any(keys, &[body], &[sig]) {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SchemeVerifier, WebhookScheme};
    use super::*;

    // GitHub's published example ("Validating webhook deliveries", docs.github.com):
    // secret `It's a Secret to Everybody`, payload `Hello, World!`.
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_SIG: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const BODY: &[u8] = b"Hello, World!";

    fn github() -> WebhookVerifier {
        WebhookVerifier::new(GITHUB_SECRET.as_bytes())
    }

    fn scheme(secrets: &[&str]) -> SchemeVerifier {
        SchemeVerifier::new(WebhookScheme::Hex, secrets).expect("valid secrets")
    }

    fn check(v: &SchemeVerifier, sig: &str, body: &[u8]) -> Result<(), Error> {
        v.verify(&[(SIGNATURE_HEADER, sig)], body, 0).map(|_| ())
    }

    #[test]
    fn github_published_example() {
        let v = github();
        assert_eq!(v.sign(BODY), GITHUB_SIG);
        assert!(v.verify(Some(GITHUB_SIG), BODY).is_ok());
        assert!(
            v.verify(Some(&format!("sha256={GITHUB_SIG}")), BODY)
                .is_ok()
        );
        let s = scheme(&[GITHUB_SECRET]);
        assert!(check(&s, GITHUB_SIG, BODY).is_ok());
        assert!(check(&s, &format!("sha256={GITHUB_SIG}"), BODY).is_ok());
        // Header names are matched case-insensitively, as HTTP wants.
        let headers = [("X-Webhook-Signature", GITHUB_SIG)];
        assert!(s.verify(&headers, BODY, 0).is_ok());
    }

    #[test]
    fn refuses_tampering_and_malformed_signatures() {
        let v = github();
        let s = scheme(&[GITHUB_SECRET]);
        let bad = |h: Option<&str>, body: &[u8]| {
            let old = matches!(v.verify(h, body), Err(Error::InvalidSignature));
            let headers: Vec<(&str, &str)> = h.map(|h| (SIGNATURE_HEADER, h)).into_iter().collect();
            let new = matches!(s.verify(&headers, body, 0), Err(Error::InvalidSignature));
            assert_eq!(old, new, "both verifiers agree on {h:?}");
            old
        };
        assert!(bad(Some(GITHUB_SIG), b"Hello, World! "));
        assert!(bad(Some(GITHUB_SIG), b""));
        assert!(bad(None, BODY));
        assert!(bad(Some(""), BODY));
        assert!(bad(Some("sha256="), BODY));
        assert!(bad(Some(&GITHUB_SIG[..63]), BODY));
        assert!(bad(Some(&GITHUB_SIG[..62]), BODY));
        assert!(bad(Some(&format!("{GITHUB_SIG}00")), BODY));
        assert!(bad(Some(&GITHUB_SIG.replace('7', "z")), BODY));
        assert!(bad(Some(&format!("sha1={GITHUB_SIG}")), BODY));
        // A signature made with another secret.
        let other = WebhookVerifier::new(b"another secret").sign(BODY);
        assert!(bad(Some(&other), BODY));
    }

    #[test]
    fn rotation_accepts_old_and_new_secret_and_retiring_the_old_one_refuses_it() {
        let old_sig = github().sign(BODY);
        let new_sig = WebhookVerifier::new(b"the new secret").sign(BODY);
        let both = scheme(&["the new secret", GITHUB_SECRET]);
        assert!(check(&both, &old_sig, BODY).is_ok());
        assert!(check(&both, &new_sig, BODY).is_ok());
        let new_only = scheme(&["the new secret"]);
        assert!(check(&new_only, &new_sig, BODY).is_ok());
        assert!(matches!(
            check(&new_only, &old_sig, BODY),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn a_difference_in_any_byte_is_refused() {
        // Timing is not asserted by tests: what is checked here is that the comparison looks at
        // every byte (first, middle, last), as `verify_slice` / `ConstantTimeEq` do over the full
        // 32 bytes, rather than, say, a prefix.
        let v = github();
        let s = scheme(&[GITHUB_SECRET]);
        let sig = ::hex::decode(GITHUB_SIG).expect("hex");
        for i in [0, 15, 31] {
            let mut flipped = sig.clone();
            flipped[i] ^= 0x01;
            let flipped = ::hex::encode(flipped);
            assert!(v.verify(Some(&flipped), BODY).is_err(), "byte {i}");
            assert!(check(&s, &flipped, BODY).is_err(), "byte {i}");
        }
    }
}
