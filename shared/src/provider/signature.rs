//! What the providers' callback signatures share: the refusals ([`SignatureError`]), the
//! timestamp window a signed request must fall in, and the keyed HMAC-SHA256 both providers
//! sign with. Each provider's `signature.rs` says what it signs and how it spells the result.
//! Pure: the caller passes the time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How far a signed request's timestamp may be from our clock, either way: a replay of a
/// captured request is refused after this long, and the nonces seen are kept longer than this.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Why a callback's signature was refused; the endpoint answers 401 for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header the provider always sends is missing.
    #[error("the {0} header is missing")]
    Missing(&'static str),
    /// A header is there but not in the provider's format.
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    /// The timestamp is older than [`MAX_SKEW`]: a late replay, or a clock far off.
    #[error("the timestamp is {0} s old (at most 300 s are accepted)")]
    Stale(i64),
    /// The timestamp is more than [`MAX_SKEW`] ahead of our clock.
    #[error("the timestamp is {0} s in the future (at most 300 s are accepted)")]
    Future(i64),
    /// The signature is not the one the key gives: another key, another URL, or a changed body.
    #[error("the signature does not match")]
    Mismatch,
    /// The nonce was used before: a replay.
    #[error("the nonce was used before")]
    Replayed,
}

/// Reads a header's unix timestamp (whole seconds) and checks that it is within [`MAX_SKEW`]
/// of `now`.
pub fn check_timestamp(
    header: &'static str,
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, SignatureError> {
    let text = value.ok_or(SignatureError::Missing(header))?;
    let timestamp: i64 = text
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed(header))?;
    let age = now.timestamp().saturating_sub(timestamp);
    let skew = MAX_SKEW.as_secs() as i64;
    if age > skew {
        return Err(SignatureError::Stale(age));
    }
    if -age > skew {
        return Err(SignatureError::Future(-age));
    }
    Ok(timestamp)
}

/// An HMAC-SHA256 keyed with `key` (any key length is valid for HMAC).
pub(crate) fn hmac_sha256(key: &SecretString) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length")
}

/// Checks `mac` against the signature the request carried, in constant time.
pub(crate) fn verify_mac(mac: Hmac<Sha256>, signature: &[u8]) -> Result<(), SignatureError> {
    mac.verify_slice(signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2: a fixed vector, independent of either provider's recipe.
        let mut mac = hmac_sha256(&SecretString::from("Jefe"));
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.clone().finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let expected =
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap();
        assert_eq!(verify_mac(mac.clone(), &expected), Ok(()));
        assert_eq!(
            verify_mac(mac, &expected[..31]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_within_five_minutes_either_way_are_accepted() {
        let now = DateTime::from_timestamp(1_733_300_000, 0).unwrap();
        let check = |value: Option<&str>| check_timestamp("X-Timestamp", value, now);
        assert_eq!(check(Some("1733300000")), Ok(1_733_300_000));
        assert_eq!(check(Some(" 1733299700 ")), Ok(1_733_299_700));
        assert_eq!(check(Some("1733300300")), Ok(1_733_300_300));
        assert_eq!(check(Some("1733299699")), Err(SignatureError::Stale(301)));
        assert_eq!(check(Some("1733300301")), Err(SignatureError::Future(301)));
        assert_eq!(check(None), Err(SignatureError::Missing("X-Timestamp")));
        assert_eq!(
            check(Some("2024-12-04T10:00:00Z")),
            Err(SignatureError::Malformed("X-Timestamp"))
        );
    }
}
