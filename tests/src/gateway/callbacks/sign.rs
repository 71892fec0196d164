//! The providers' callback signatures, computed the way their documentation describes, on the
//! provider's side: the mock signs, wacast verifies (with its own code, which this module must
//! never call, so that a misreading on either side shows up as a 401).
//!
//! - Bird: `messagebird-signature` = base64(HMAC-SHA256(key, timestamp + "\n" + URL + "\n" +
//!   SHA-256(raw body) as its 32 raw bytes)), `messagebird-request-timestamp` = unix seconds.
//! - seven: `X-Signature` = lowercase hex HMAC-SHA256(key, timestamp + "\n" + nonce + "\n" +
//!   "POST" + "\n" + URL + "\n" + lowercase hex MD5(raw body)), `X-Timestamp` = unix seconds,
//!   `X-Nonce` = 32 alphanumerics.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Header names, as the providers send them.
pub const BIRD_SIGNATURE: &str = "messagebird-signature";
/// Bird's timestamp header.
pub const BIRD_TIMESTAMP: &str = "messagebird-request-timestamp";
/// seven's signature header.
pub const SEVEN_SIGNATURE: &str = "X-Signature";
/// seven's timestamp header.
pub const SEVEN_TIMESTAMP: &str = "X-Timestamp";
/// seven's nonce header.
pub const SEVEN_NONCE: &str = "X-Nonce";

fn hmac(key: &str, message: &[u8]) -> Vec<u8> {
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Bird's headers for `body` posted to `url` at `timestamp` (unix seconds).
pub fn bird_headers(
    key: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
) -> Vec<(&'static str, String)> {
    let timestamp = timestamp.to_string();
    let mut message = Vec::with_capacity(timestamp.len() + url.len() + 34);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(url.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&Sha256::digest(body));
    vec![
        (BIRD_SIGNATURE, BASE64.encode(hmac(key, &message))),
        (BIRD_TIMESTAMP, timestamp),
    ]
}

/// seven's headers for `body` posted to `url` at `timestamp` (unix seconds) with `nonce`.
pub fn seven_headers(
    key: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let body_md5 = hex::encode(Md5::digest(body));
    let message = format!("{timestamp}\n{nonce}\nPOST\n{url}\n{body_md5}");
    vec![
        (SEVEN_SIGNATURE, hex::encode(hmac(key, message.as_bytes()))),
        (SEVEN_TIMESTAMP, timestamp.to_string()),
        (SEVEN_NONCE, nonce.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_signs_timestamp_url_and_the_body_digest() {
        let headers = bird_headers("key", "https://x.test/hooks/bird", b"{}", 1_733_300_000);
        assert_eq!(headers[1], (BIRD_TIMESTAMP, "1733300000".to_owned()));
        let mut message = b"1733300000\nhttps://x.test/hooks/bird\n".to_vec();
        message.extend_from_slice(&Sha256::digest(b"{}"));
        let mut mac = HmacSha256::new_from_slice(b"key").unwrap();
        mac.update(&message);
        let raw = BASE64.decode(&headers[0].1).unwrap();
        mac.verify_slice(&raw).unwrap();
    }

    #[test]
    fn seven_signs_timestamp_nonce_method_url_and_the_body_md5() {
        let headers = seven_headers("key", "https://x.test/hooks/seven", b"{}", 1, "n0nce");
        // MD5 of "{}" is 99914b932bd37a50b983c5e7c90ae93b.
        let message =
            "1\nn0nce\nPOST\nhttps://x.test/hooks/seven\n99914b932bd37a50b983c5e7c90ae93b";
        let mut mac = HmacSha256::new_from_slice(b"key").unwrap();
        mac.update(message.as_bytes());
        assert_eq!(headers[0].1, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(headers[2], (SEVEN_NONCE, "n0nce".to_owned()));
    }
}
