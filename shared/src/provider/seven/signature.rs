//! seven's webhook signature: `X-Signature` is the lowercase hex HMAC-SHA256, keyed with the
//! signing key of the webhook, of `timestamp \n nonce \n POST \n URL \n md5(body)` (the MD5 as
//! lowercase hex), with `X-Timestamp` (unix seconds) and `X-Nonce` (32 alphanumerics) sent
//! alongside. The URL is the one seven called: the public URL behind the operator's proxy.
//! [`verify`] checks the headers; the nonce is then taken once in Redis by the caller. Pure.

use chrono::{DateTime, Utc};
use hmac::Mac;
use md5::{Digest, Md5};
use secrecy::SecretString;

use crate::provider::signature::{SignatureError, check_timestamp, hmac_sha256, verify_mac};

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";
/// The header with the unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
/// The header with the request's one-time nonce.
pub const NONCE_HEADER: &str = "X-Nonce";

/// The longest nonce accepted: seven sends 32 characters; the nonce becomes part of a Redis key.
const MAX_NONCE_LEN: usize = 64;

/// The signature headers of one request, as received (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `X-Signature`.
    pub signature: Option<&'a str>,
    /// `X-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Nonce`.
    pub nonce: Option<&'a str>,
}

/// Checks a callback's signature: the headers are there, the timestamp is recent, the nonce is
/// plain, and the HMAC matches (compared in constant time). Returns the nonce, which the caller
/// must take once (`Queue::claim_nonce`) to refuse replays.
pub fn verify<'a>(
    key: &SecretString,
    headers: &Headers<'a>,
    url: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<&'a str, SignatureError> {
    let signature = headers
        .signature
        .ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
    let nonce = headers
        .nonce
        .map(str::trim)
        .ok_or(SignatureError::Missing(NONCE_HEADER))?;
    if nonce.is_empty()
        || nonce.len() > MAX_NONCE_LEN
        || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(SignatureError::Malformed(NONCE_HEADER));
    }
    check_timestamp(TIMESTAMP_HEADER, headers.timestamp, now)?;
    let timestamp = headers.timestamp.unwrap_or_default().trim();
    let signature =
        hex::decode(signature.trim()).map_err(|_| SignatureError::Malformed(SIGNATURE_HEADER))?;
    verify_mac(mac(key, timestamp, nonce, url, body), &signature)?;
    Ok(nonce)
}

/// The `X-Signature` seven sends for a request signed at `timestamp` with `nonce` (for tests
/// and tools that play seven's part).
pub fn sign(key: &SecretString, timestamp: i64, nonce: &str, url: &str, body: &[u8]) -> String {
    let mac = mac(key, &timestamp.to_string(), nonce, url, body);
    hex::encode(mac.finalize().into_bytes())
}

fn mac(
    key: &SecretString,
    timestamp: &str,
    nonce: &str,
    url: &str,
    body: &[u8],
) -> hmac::Hmac<sha2::Sha256> {
    let body_md5 = hex::encode(Md5::digest(body));
    let mut mac = hmac_sha256(key);
    mac.update(format!("{timestamp}\n{nonce}\nPOST\n{url}\n{body_md5}").as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use hmac::Hmac;
    use sha2::Sha256;

    use super::*;

    const URL: &str = "https://hooks.example.com/hooks/seven";
    const BODY: &[u8] = br#"{"webhook_event":"dlr"}"#;
    const NONCE: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const NOW: i64 = 1_733_300_000;

    fn key() -> SecretString {
        SecretString::from("seven-signing-key")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_nonce_method_url_and_body_md5() {
        // Computed step by step, as seven's documentation describes it.
        let body_md5 = format!("{:x}", Md5::digest(BODY));
        assert_eq!(body_md5.len(), 32);
        let message = format!("{NOW}\n{NONCE}\nPOST\n{URL}\n{body_md5}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"seven-signing-key").unwrap();
        mac.update(message.as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(sign(&key(), NOW, NONCE, URL, BODY), expected);
        // seven sends the digest as 64 lowercase hex digits.
        assert_eq!(expected.len(), 64);
        assert!(
            expected
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_correct_signature_is_accepted_and_everything_else_refused() {
        use SignatureError::*;
        let signature = sign(&key(), NOW, NONCE, URL, BODY);
        let timestamp = NOW.to_string();
        let upper = signature.to_uppercase();
        let other_key = sign(&SecretString::from("other"), NOW, NONCE, URL, BODY);
        let (stale, earlier) = ((NOW - 301).to_string(), (NOW - 1).to_string());
        let stale_signature = sign(&key(), NOW - 301, NONCE, URL, BODY);
        let (sig, ts, n) = (
            Some(signature.as_str()),
            Some(timestamp.as_str()),
            Some(NONCE),
        );
        let headers = |(signature, timestamp, nonce)| Headers {
            signature,
            timestamp,
            nonce,
        };
        for accepted in [(sig, ts, n), (Some(upper.as_str()), ts, n)] {
            assert_eq!(
                verify(&key(), &headers(accepted), URL, BODY, now()),
                Ok(NONCE)
            );
        }
        let other_url = "https://other.example.com/hooks/seven";
        let refused = [
            ("another body", (sig, ts, n), URL, &b"{}"[..], Mismatch),
            ("another URL", (sig, ts, n), other_url, BODY, Mismatch),
            (
                "another key",
                (Some(other_key.as_str()), ts, n),
                URL,
                BODY,
                Mismatch,
            ),
            ("another nonce", (sig, ts, Some("x1")), URL, BODY, Mismatch),
            (
                "another time",
                (sig, Some(earlier.as_str()), n),
                URL,
                BODY,
                Mismatch,
            ),
            (
                "no signature",
                (None, ts, n),
                URL,
                BODY,
                Missing(SIGNATURE_HEADER),
            ),
            (
                "no timestamp",
                (sig, None, n),
                URL,
                BODY,
                Missing(TIMESTAMP_HEADER),
            ),
            (
                "no nonce",
                (sig, ts, None),
                URL,
                BODY,
                Missing(NONCE_HEADER),
            ),
            (
                "a nonce unfit for a key",
                (sig, ts, Some("a:b")),
                URL,
                BODY,
                Malformed(NONCE_HEADER),
            ),
            (
                "not hex",
                (Some("not hex"), ts, n),
                URL,
                BODY,
                Malformed(SIGNATURE_HEADER),
            ),
            (
                "stale",
                (Some(stale_signature.as_str()), Some(stale.as_str()), n),
                URL,
                BODY,
                Stale(301),
            ),
        ];
        for (what, sent, url, body, expect) in refused {
            let answer = verify(&key(), &headers(sent), url, body, now());
            assert_eq!(answer, Err(expect), "{what}");
        }
    }
}
