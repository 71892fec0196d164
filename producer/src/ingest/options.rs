//! Delivery options as text → checked values: `delay` (send time), `ttl`, `label`, `language`.
//!
//! The same parsers read the campaign's flags and the per-row override columns, so a value that
//! works in one place works in the other.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// seven's limit on a label's length.
pub(crate) const MAX_LABEL_LEN: usize = 100;

/// The longest ttl accepted, in minutes: 30 days. A longer validity is almost certainly a
/// mistake (seconds or milliseconds typed as minutes).
pub(crate) const MAX_TTL_MINUTES: u32 = 43_200;

/// How to read a send time: the zone of times written without an offset, and the instant that
/// relative times (`+30m`) count from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) tz: Tz,
    pub(crate) now: DateTime<Utc>,
}

/// Reads a send time: RFC 3339 (`2026-05-01T09:00:00+02:00`), `YYYY-MM-DD hh:mm[:ss]` in the
/// clock's zone, unix seconds, `now`, or relative to now (`+30m`, `+2h`, `+1d`, `+1h30m`).
pub(crate) fn parse_delay(text: &str, clock: Clock) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("delay is empty".into());
    }
    if text.eq_ignore_ascii_case("now") {
        return Ok(clock.now);
    }
    if let Some(relative) = text.strip_prefix('+') {
        return parse_relative(relative)
            .map(|d| clock.now + d)
            .ok_or_else(|| {
                format!("delay {text:?} is not a relative time: write +30m, +2h, +1d or +1h30m")
            });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: i64 = text
            .parse()
            .map_err(|_| format!("delay {text:?} is too large"))?;
        // Unix time in milliseconds is 13 digits until the year 2286; in seconds, 10.
        if seconds >= 100_000_000_000 {
            return Err(format!(
                "delay {text:?} looks like milliseconds: give unix time in seconds"
            ));
        }
        return DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("delay {text:?} is out of range"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return match clock.tz.from_local_datetime(&local) {
                LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
                // The hour repeated when clocks go back: the first of the two is what a
                // person scheduling "02:30" most likely means.
                LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
                LocalResult::None => Err(format!(
                    "delay {text:?} does not exist in {} (clocks go forward then): pick another time",
                    clock.tz
                )),
            };
        }
    }
    Err(format!(
        "delay {text:?} is not a time: write 2026-05-01 09:00 (in --tz), 2026-05-01T09:00:00+02:00, \
         unix seconds, or +30m"
    ))
}

/// `30m`, `2h`, `1d`, `90s`, `1h30m` → a duration.
pub(crate) fn parse_relative(text: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let amount: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let part = match unit {
            's' => Duration::try_seconds(amount)?,
            'm' => Duration::try_minutes(amount)?,
            'h' => Duration::try_hours(amount)?,
            'd' => Duration::try_days(amount)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Some(total)
}

/// Reads a ttl in whole minutes, 1 to [`MAX_TTL_MINUTES`].
pub(crate) fn parse_ttl(text: &str) -> Result<u32, String> {
    let text = text.trim();
    match text.parse::<u32>() {
        Ok(minutes) if (1..=MAX_TTL_MINUTES).contains(&minutes) => Ok(minutes),
        _ => Err(format!(
            "ttl {text:?} is not a number of minutes from 1 to {MAX_TTL_MINUTES} (2880 = 48 hours)"
        )),
    }
}

/// Checks a label against seven's rule: at most 100 of `a-z A-Z 0-9 . - _ @`.
pub(crate) fn check_label(text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > MAX_LABEL_LEN {
        return Err(format!(
            "label {text:?} must have 1 to {MAX_LABEL_LEN} characters"
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')))
    {
        return Err(format!(
            "label {text:?} contains {bad:?}: use only letters, digits and . - _ @"
        ));
    }
    Ok(())
}

/// Checks a template language code as WhatsApp writes them: `de`, `en_US`, `pt_BR`, `zh_HK`.
pub(crate) fn check_language(text: &str) -> Result<(), String> {
    let (lang, region) = match text.split_once('_') {
        Some((lang, region)) => (lang, Some(region)),
        None => (text, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if lang_ok && region_ok {
        Ok(())
    } else {
        Err(format!(
            "language {text:?} is not a WhatsApp language code such as de, en or en_US"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(tz: &str) -> Clock {
        Clock {
            tz: tz.parse().unwrap(),
            now: "2026-03-01T12:00:00Z".parse().unwrap(),
        }
    }

    fn check(text: &str, tz: &str, expect: Result<&str, &str>) {
        let got = parse_delay(text, clock(tz));
        match expect {
            Ok(at) => assert_eq!(got, Ok(at.parse::<DateTime<Utc>>().unwrap()), "{text:?}"),
            Err(fragment) => {
                let err = got.expect_err(text);
                assert!(err.contains(fragment), "{text:?}: {err}");
            }
        }
    }

    #[test]
    fn delay_accepts_every_documented_form() {
        check(
            "2026-05-01T09:00:00+02:00",
            "UTC",
            Ok("2026-05-01T07:00:00Z"),
        );
        check(
            "2026-05-01T09:00:00Z",
            "Europe/Berlin",
            Ok("2026-05-01T09:00:00Z"),
        );
        check("2026-05-01 09:00:00", "UTC", Ok("2026-05-01T09:00:00Z"));
        check(
            "2026-05-01 09:00",
            "Europe/Berlin",
            Ok("2026-05-01T07:00:00Z"),
        );
        check(
            "2026-01-15 09:00",
            "Europe/Berlin",
            Ok("2026-01-15T08:00:00Z"),
        );
        check(
            "2026-05-01T09:00",
            "America/New_York",
            Ok("2026-05-01T13:00:00Z"),
        );
        check("1777626000", "Europe/Berlin", Ok("2026-05-01T09:00:00Z"));
        check(" now ", "UTC", Ok("2026-03-01T12:00:00Z"));
        check("+30m", "UTC", Ok("2026-03-01T12:30:00Z"));
        check("+2h", "UTC", Ok("2026-03-01T14:00:00Z"));
        check("+1d", "UTC", Ok("2026-03-02T12:00:00Z"));
        check("+1h30m", "UTC", Ok("2026-03-01T13:30:00Z"));
        check("+90s", "UTC", Ok("2026-03-01T12:01:30Z"));
        // The repeated hour when Berlin goes back to winter time: the first one.
        check(
            "2026-10-25 02:30",
            "Europe/Berlin",
            Ok("2026-10-25T00:30:00Z"),
        );
    }

    #[test]
    fn delay_errors_say_what_to_write() {
        check("", "UTC", Err("empty"));
        check("tomorrow", "UTC", Err("write 2026-05-01 09:00"));
        check("+30", "UTC", Err("+30m"));
        check("+30x", "UTC", Err("+30m"));
        check("+", "UTC", Err("+30m"));
        check("1777626000000", "UTC", Err("milliseconds"));
        check("2026-13-01 09:00", "UTC", Err("not a time"));
        check(
            "2026-03-29 02:30",
            "Europe/Berlin",
            Err("does not exist in Europe/Berlin"),
        );
    }

    #[test]
    fn ttl_label_and_language_rules() {
        assert_eq!(parse_ttl("2880"), Ok(2880));
        assert_eq!(parse_ttl(" 60 "), Ok(60));
        for bad in ["0", "-5", "1.5", "", "43201", "2h"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
        assert!(check_label("spring-sale_2026.v2@shop").is_ok());
        assert!(check_label("spring sale").unwrap_err().contains("' '"));
        assert!(check_label(&"a".repeat(101)).is_err());
        assert!(check_label("").is_err());
        for ok in ["de", "en", "en_US", "pt_BR", "fil"] {
            assert!(check_language(ok).is_ok(), "{ok}");
        }
        for bad in ["", "DE", "english", "en-US", "en_", "e"] {
            assert!(check_language(bad).is_err(), "{bad}");
        }
    }
}
