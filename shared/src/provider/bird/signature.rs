//! Bird's webhook signature: `messagebird-signature` is the base64 of the HMAC-SHA256, keyed
//! with the webhook's signing key, of `timestamp \n URL \n sha256(body)` (the SHA-256 as its
//! 32 raw bytes), with `messagebird-request-timestamp` (unix seconds) alongside. The URL is the
//! one Bird called: the public URL behind the operator's proxy. Pure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::Mac;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::provider::signature::{SignatureError, check_timestamp, hmac_sha256, verify_mac};

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "messagebird-signature";
/// The header with the unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "messagebird-request-timestamp";

/// The signature headers of one request, as received (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `messagebird-signature`.
    pub signature: Option<&'a str>,
    /// `messagebird-request-timestamp`.
    pub timestamp: Option<&'a str>,
}

/// Checks a callback's signature: both headers are there, the timestamp is recent, and the
/// HMAC matches (compared in constant time).
pub fn verify(
    key: &SecretString,
    headers: &Headers<'_>,
    url: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let signature = headers
        .signature
        .ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
    check_timestamp(TIMESTAMP_HEADER, headers.timestamp, now)?;
    let timestamp = headers.timestamp.unwrap_or_default().trim();
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Malformed(SIGNATURE_HEADER))?;
    verify_mac(mac(key, timestamp, url, body), &signature)
}

/// The `messagebird-signature` Bird sends for a request signed at `timestamp` (for tests and
/// tools that play Bird's part).
pub fn sign(key: &SecretString, timestamp: i64, url: &str, body: &[u8]) -> String {
    let mac = mac(key, &timestamp.to_string(), url, body);
    STANDARD.encode(mac.finalize().into_bytes())
}

fn mac(key: &SecretString, timestamp: &str, url: &str, body: &[u8]) -> hmac::Hmac<Sha256> {
    let mut mac = hmac_sha256(key);
    mac.update(format!("{timestamp}\n{url}\n").as_bytes());
    mac.update(&Sha256::digest(body));
    mac
}

#[cfg(test)]
mod tests {
    use hmac::Hmac;

    use super::*;

    const URL: &str = "https://hooks.example.com/hooks/bird";
    const BODY: &[u8] = br#"{"service":"channels"}"#;
    const NOW: i64 = 1_733_300_000;

    fn key() -> SecretString {
        SecretString::from("bird-signing-key")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_url_and_the_raw_body_sha256() {
        let mut message = format!("{NOW}\n{URL}\n").into_bytes();
        message.extend_from_slice(&Sha256::digest(BODY));
        assert_eq!(message.len(), format!("{NOW}\n{URL}\n").len() + 32);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"bird-signing-key").unwrap();
        mac.update(&message);
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sign(&key(), NOW, URL, BODY), expected);
    }

    #[test]
    fn a_correct_signature_is_accepted_and_everything_else_refused() {
        use SignatureError::*;
        let signature = sign(&key(), NOW, URL, BODY);
        let timestamp = NOW.to_string();
        let other_key = sign(&SecretString::from("other"), NOW, URL, BODY);
        let (future, stale) = ((NOW + 301).to_string(), (NOW - 3600).to_string());
        let stale_signature = sign(&key(), NOW - 3600, URL, BODY);
        let (sig, ts) = (Some(signature.as_str()), Some(timestamp.as_str()));
        let headers = |(signature, timestamp)| Headers {
            signature,
            timestamp,
        };
        assert_eq!(
            verify(&key(), &headers((sig, ts)), URL, BODY, now()),
            Ok(())
        );
        let http = "http://hooks.example.com/hooks/bird";
        let refused = [
            ("another body", (sig, ts), URL, &b"{}"[..], Mismatch),
            ("another URL", (sig, ts), http, BODY, Mismatch),
            (
                "another key",
                (Some(other_key.as_str()), ts),
                URL,
                BODY,
                Mismatch,
            ),
            (
                "no signature",
                (None, ts),
                URL,
                BODY,
                Missing(SIGNATURE_HEADER),
            ),
            (
                "no timestamp",
                (sig, None),
                URL,
                BODY,
                Missing(TIMESTAMP_HEADER),
            ),
            (
                "not base64",
                (Some("%%%"), ts),
                URL,
                BODY,
                Malformed(SIGNATURE_HEADER),
            ),
            (
                "from the future",
                (sig, Some(future.as_str())),
                URL,
                BODY,
                Future(301),
            ),
            (
                "stale",
                (Some(stale_signature.as_str()), Some(stale.as_str())),
                URL,
                BODY,
                Stale(3600),
            ),
        ];
        for (what, sent, url, body, expect) in refused {
            let answer = verify(&key(), &headers(sent), url, body, now());
            assert_eq!(answer, Err(expect), "{what}");
        }
    }
}
