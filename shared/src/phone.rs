//! `PhoneNumber`: a recipient or sender number in E.164, normalised once at the edge.
//!
//! Parsing is the only way to make one, so every `PhoneNumber` in the program is valid. seven's
//! wire wants the digits without `+` ([`PhoneNumber::digits`]), Bird's wants `+` and the digits
//! ([`PhoneNumber::e164`]).

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;

/// A phone number in E.164 form, stored as its digits without the leading `+`.
///
/// Serialised as those digits; deserialising checks the shape ([`PhoneNumber::from_stored`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PhoneNumber::from_stored(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(n: PhoneNumber) -> String {
        n.0
    }
}

/// Why a text is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but blanks.
    #[error("phone number is empty")]
    Empty,
    /// A national number (no `+` or `00`) and no default region to read it in.
    #[error("phone {0:?} has no country code and no default region was given (use --region)")]
    NoRegion(String),
    /// The default region is not an ISO 3166 alpha-2 code.
    #[error("unknown region {0:?} (expected a two-letter country code such as DE)")]
    UnknownRegion(String),
    /// The text cannot be read as a number.
    #[error("phone {0:?} is not a phone number")]
    Unparsable(String),
    /// The text reads as a number, but not a valid one for its country.
    #[error("phone {0:?} is not a valid number for its country")]
    Invalid(String),
    /// The text holds a letter. The `phonenumber` crate reads letters as keypad digits
    /// (`0176 40000ab` → `+49 176 4000022`), which would message someone else.
    #[error(
        "phone {0:?} holds a letter: write the number in digits only (letters would be read as \
         keypad digits, and an extension such as `x12` cannot be dialled by WhatsApp)"
    )]
    Letters(String),
}

/// A default region for national numbers, checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(CountryId);

impl FromStr for Region {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CountryId::from_str(&s.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| PhoneError::UnknownRegion(s.to_string()))
    }
}

impl PhoneNumber {
    /// Parses a number as people write it: `+49 151 2345678`, `0049-151-2345678`, or, with a
    /// default region, `0151 2345678`. The number must be valid for its country.
    pub fn parse(raw: &str, region: Option<Region>) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        // Refused rather than left to the crate, which maps letters to keypad digits (a vanity
        // number `1-800-FLOWERS`, a typo `0176 40000ab`) and drops an extension (`x12`, `ext.
        // 12`): both would reach a number the file does not name. WhatsApp messages a mobile
        // number, never an extension, so no letter has a use here.
        if trimmed.chars().any(char::is_alphabetic) {
            return Err(PhoneError::Letters(trimmed.to_string()));
        }
        // `00` is the international prefix in most of the world; treating it as `+` lets files
        // written for dialling be read without a region.
        let international = if let Some(rest) = trimmed.strip_prefix("00") {
            Some(format!("+{rest}"))
        } else if trimmed.starts_with('+') {
            Some(trimmed.to_string())
        } else {
            None
        };
        let parsed = match (&international, region) {
            (Some(text), _) => phonenumber::parse(None, text),
            (None, Some(Region(id))) => phonenumber::parse(Some(id), trimmed),
            (None, None) => {
                // Digits only and long enough may already be E.164 without the `+`, as seven's
                // own examples write numbers (`4917612345678`).
                if trimmed.len() >= 8 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                    phonenumber::parse(None, format!("+{trimmed}"))
                } else {
                    return Err(PhoneError::NoRegion(trimmed.to_string()));
                }
            }
        }
        .map_err(|_| PhoneError::Unparsable(trimmed.to_string()))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::Invalid(trimmed.to_string()));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(PhoneNumber(e164.trim_start_matches('+').to_string()))
    }

    /// Wraps digits already known to be E.164 (read back from Redis, where only parsed numbers
    /// are written). Checks the shape only, not the numbering plan.
    pub fn from_stored(digits: &str) -> Result<Self, PhoneError> {
        let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(PhoneNumber(digits.to_string()))
        } else {
            Err(PhoneError::Unparsable(digits.to_string()))
        }
    }

    /// The digits without `+`, as seven's API writes numbers.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// `+` and the digits, as Bird's API writes numbers.
    pub fn e164(&self) -> String {
        format!("+{}", self.0)
    }

    /// The number masked to its last four digits, for logs.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any number-like text to its last four characters, for logs (`*******5678`).
pub fn mask(text: &str) -> String {
    let n = text.chars().count();
    let keep = n.min(4);
    let mut out: String = "*".repeat(n - keep);
    out.extend(text.chars().skip(n - keep));
    out
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    // Debug output ends up in logs; mask it like every other number we log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, region: Option<&str>, expect: Result<&str, ()>) {
        let region = region.map(|r| r.parse::<Region>().unwrap());
        let got = PhoneNumber::parse(raw, region);
        match expect {
            Ok(digits) => assert_eq!(got.expect(raw).digits(), digits, "{raw}"),
            Err(()) => assert!(got.is_err(), "{raw} should be rejected, got {got:?}"),
        }
    }

    #[test]
    fn parses_the_ways_people_write_numbers() {
        check("+49 151 23456789", None, Ok("4915123456789"));
        check("0049-151-23456789", None, Ok("4915123456789"));
        check("0151 23456789", Some("DE"), Ok("4915123456789"));
        check("4917612345678", None, Ok("4917612345678"));
        check("(0176) 1234-5678", Some("de"), Ok("4917612345678"));
        check("0151 23456789", None, Err(()));
        check("", Some("DE"), Err(()));
        check("+49 12", None, Err(()));
        check("hello", Some("DE"), Err(()));
    }

    #[test]
    fn letters_are_refused_not_read_as_keypad_digits() {
        // The crate would read these as +49 176 4000022 and +1 800 3569377.
        for raw in [
            "0176 40000ab",
            "+49 176 40000ab",
            "1-800-FLOWERS",
            "+4917612345678 x12",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw, Some("DE".parse().unwrap())),
                Err(PhoneError::Letters(raw.to_string())),
                "{raw}"
            );
        }
        let err = PhoneNumber::parse("+4917612345678 ext. 12", None).unwrap_err();
        assert!(err.to_string().contains("holds a letter"), "{err}");
    }

    #[test]
    fn masks_all_but_the_last_four_digits() {
        let n = PhoneNumber::parse("+4917612345678", None).unwrap();
        assert_eq!(n.masked(), "*********5678");
        assert_eq!(format!("{n:?}"), "PhoneNumber(*********5678)");
        assert_eq!(mask("12"), "12");
    }

    #[test]
    fn unknown_region_is_named() {
        assert_eq!(
            "XX".parse::<Region>(),
            Err(PhoneError::UnknownRegion("XX".into()))
        );
    }
}
