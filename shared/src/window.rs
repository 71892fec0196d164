//! Send windows: the hours of the day a campaign may message people, in one time zone or in
//! each recipient's own.
//!
//! A campaign with `--window 09:00-20:00 --window-tz Europe/Berlin` sends only while it is
//! between 09:00 and 20:00 in Berlin; a message due outside waits for the next opening. With
//! `--window-tz recipient`, the zone is the recipient's, from their number's country. A country
//! with several zones (the US, Russia, Brazil, …) is treated as open only while the window is
//! open in *all* of them, so that nobody in it is messaged at night; a window too narrow to be
//! open in all of a country's zones at once is refused at enqueue for that country's rows.
//!
//! The country → zones table (`data/country-zones.txt`) is tzdata's `zone.tab` (public domain)
//! reduced to a country and its zones per line; `scripts/gen-country-zones.sh` regenerates it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::phone::PhoneNumber;

/// How far ahead an opening is looked for: a window opens at least once a day, so a week
/// covers any daylight-saving change.
const SEARCH_DAYS: u64 = 8;

/// A daily send window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Opening time, local.
    pub start: NaiveTime,
    /// Closing time, local; before `start` for a window across midnight (`20:00-08:00`).
    pub end: NaiveTime,
    /// Whose clock.
    pub zone: WindowZone,
}

/// The clock a window is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowZone {
    /// One zone for every recipient.
    Fixed(Tz),
    /// Each recipient's zone(s), from their number's country.
    Recipient,
}

/// Why a window cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The hours are not `HH:MM-HH:MM`.
    #[error("window {0:?}: write HH:MM-HH:MM in 24-hour time, e.g. 09:00-20:00")]
    Hours(String),
    /// Opening and closing are the same time.
    #[error(
        "window {0:?} opens and closes at the same time: leave --window out to send at any hour"
    )]
    Empty(String),
    /// The zone is not an IANA zone.
    #[error("time zone {0:?} is unknown: give an IANA name such as Europe/Berlin, or `recipient`")]
    Zone(String),
    /// The window is never open in all of a country's zones at once.
    #[error(
        "the window {window} is never open in all of {country}'s time zones at once: widen it, or give --window-tz with one zone"
    )]
    NeverOpen {
        /// The window, as written.
        window: String,
        /// The country (ISO code).
        country: String,
    },
    /// The number's country has no known zone.
    #[error(
        "no time zone is known for the country of +{0}: give --window-tz with a zone for this campaign"
    )]
    NoZone(String),
}

impl SendWindow {
    /// Reads `HH:MM-HH:MM` and a zone (`recipient` or an IANA name).
    pub fn parse(hours: &str, zone: &str) -> Result<SendWindow, WindowError> {
        let (start, end) = hours
            .split_once('-')
            .ok_or_else(|| WindowError::Hours(hours.to_string()))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| WindowError::Hours(hours.to_string()))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(WindowError::Empty(hours.to_string()));
        }
        let zone = match zone.trim() {
            z if z.eq_ignore_ascii_case("recipient") => WindowZone::Recipient,
            z => WindowZone::Fixed(z.parse().map_err(|_| WindowError::Zone(z.to_string()))?),
        };
        Ok(SendWindow { start, end, zone })
    }

    /// The zones a message to `to` is timed in.
    pub fn zones_of(&self, to: &PhoneNumber) -> Result<Zones, WindowError> {
        match self.zone {
            WindowZone::Fixed(tz) => Ok(Zones {
                country: None,
                zones: vec![tz],
            }),
            WindowZone::Recipient => {
                let country =
                    country_of(to).ok_or_else(|| WindowError::NoZone(to.digits().into()))?;
                let zones = COUNTRY_ZONES
                    .get(country.as_str())
                    .cloned()
                    .ok_or_else(|| WindowError::NoZone(to.digits().into()))?;
                Ok(Zones {
                    country: Some(country),
                    zones,
                })
            }
        }
    }

    /// Whether `at` is inside the window in each of `zones`.
    pub fn is_open(&self, at: DateTime<Utc>, zones: &Zones) -> bool {
        zones.zones.iter().all(|tz| self.open_in(at, *tz))
    }

    /// The first moment at or after `at` when the window is open in all of `zones`.
    pub fn next_opening(
        &self,
        at: DateTime<Utc>,
        zones: &Zones,
    ) -> Result<DateTime<Utc>, WindowError> {
        if self.is_open(at, zones) {
            return Ok(at);
        }
        // Where all zones are open together, that stretch begins at one zone's opening.
        let mut openings: Vec<DateTime<Utc>> = zones
            .zones
            .iter()
            .flat_map(|tz| self.openings(at, *tz))
            .filter(|t| *t >= at)
            .collect();
        openings.sort_unstable();
        openings
            .into_iter()
            .find(|t| self.is_open(*t, zones))
            .ok_or_else(|| WindowError::NeverOpen {
                window: self.to_string(),
                country: zones.country.clone().unwrap_or_default(),
            })
    }

    fn open_in(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz).time();
        // Minutes, so that seconds past the closing minute count as closed.
        let local = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or(local);
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// The window's openings in `tz` on the days around `at`.
    fn openings(&self, at: DateTime<Utc>, tz: Tz) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let first: NaiveDate = at.with_timezone(&tz).date_naive() - Days::new(1);
        (0..=SEARCH_DAYS).filter_map(move |d| {
            let day = first.checked_add_days(Days::new(d))?;
            let mut local = day.and_time(self.start);
            // An opening inside a daylight-saving gap happens when the gap ends.
            for _ in 0..3 {
                if let Some(t) = tz.from_local_datetime(&local).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
                local += chrono::Duration::minutes(30);
            }
            None
        })
    }
}

impl fmt::Display for SendWindow {
    /// As stored and shown: `09:00-20:00 Europe/Berlin` or `09:00-20:00 recipient`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} ",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )?;
        match self.zone {
            WindowZone::Fixed(tz) => write!(f, "{}", tz.name()),
            WindowZone::Recipient => f.write_str("recipient"),
        }
    }
}

impl FromStr for SendWindow {
    type Err = WindowError;

    /// Reads what `Display` writes.
    fn from_str(s: &str) -> Result<SendWindow, WindowError> {
        let (hours, zone) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| WindowError::Hours(s.to_string()))?;
        SendWindow::parse(hours, zone)
    }
}

impl serde::Serialize for SendWindow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SendWindow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The zones one recipient's messages are timed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zones {
    /// The recipient's country (ISO code), for a recipient window.
    country: Option<String>,
    zones: Vec<Tz>,
}

/// Every country's zones, from tzdata's `zone.tab`.
static COUNTRY_ZONES: LazyLock<HashMap<&'static str, Vec<Tz>>> = LazyLock::new(|| {
    include_str!("../data/country-zones.txt")
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let country = fields.next()?;
            // A zone chrono-tz does not know (a newer tzdata) is skipped, not fatal.
            let zones: Vec<Tz> = fields.filter_map(|z| z.parse().ok()).collect();
            (!zones.is_empty()).then_some((country, zones))
        })
        .collect()
});

/// The country (ISO code) of a number.
fn country_of(number: &PhoneNumber) -> Option<String> {
    let parsed = phonenumber::parse(None, number.e164()).ok()?;
    parsed.country().id().map(|id| id.as_ref().to_string())
}

/// Recipients' zones by the first digits of their numbers, so that an upload parses one number
/// per prefix instead of every number (the country never depends on more than six digits).
#[derive(Debug, Default)]
pub struct ZoneCache {
    by_prefix: HashMap<String, Result<Zones, WindowError>>,
}

impl ZoneCache {
    /// The zones of `to` under `window`.
    pub fn zones(&mut self, window: &SendWindow, to: &PhoneNumber) -> Result<Zones, WindowError> {
        if let WindowZone::Fixed(_) = window.zone {
            return window.zones_of(to);
        }
        let digits = to.digits();
        let prefix = &digits[..digits.len().min(6)];
        self.by_prefix
            .entry(prefix.to_string())
            .or_insert_with(|| window.zones_of(to))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn number(digits: &str) -> PhoneNumber {
        PhoneNumber::from_stored(digits).unwrap()
    }

    #[test]
    fn windows_read_and_print_as_stored() {
        let w = SendWindow::parse("09:00-20:00", "Europe/Berlin").unwrap();
        assert_eq!(w.to_string(), "09:00-20:00 Europe/Berlin");
        assert_eq!(w.to_string().parse::<SendWindow>().unwrap(), w);
        let r = SendWindow::parse("08:30-21:00", "recipient").unwrap();
        assert_eq!(r.to_string().parse::<SendWindow>().unwrap(), r);
        for (hours, zone, fix) in [
            ("9-20", "UTC", "HH:MM-HH:MM"),
            ("09:00-09:00", "UTC", "leave --window out"),
            ("09:00-20:00", "Mars/Olympus", "IANA name"),
        ] {
            let error = SendWindow::parse(hours, zone).unwrap_err().to_string();
            assert!(error.contains(fix), "{error}");
        }
    }

    #[test]
    fn a_message_outside_the_window_waits_for_the_next_opening() {
        let w = SendWindow::parse("09:00-20:00", "Europe/Berlin").unwrap();
        let zones = w.zones_of(&number("4915112345678")).unwrap();
        // 21:30 in Berlin (winter, UTC+1): next morning at 09:00 local = 08:00 UTC.
        let late = utc("2026-11-21T20:30:00Z");
        assert!(!w.is_open(late, &zones));
        assert_eq!(
            w.next_opening(late, &zones).unwrap(),
            utc("2026-11-22T08:00:00Z")
        );
        // Inside: now.
        let noon = utc("2026-11-21T11:00:00Z");
        assert_eq!(w.next_opening(noon, &zones).unwrap(), noon);
        // Across the spring daylight-saving change (29 March 2026): 09:00 is UTC+2.
        assert_eq!(
            w.next_opening(utc("2026-03-28T20:00:00Z"), &zones).unwrap(),
            utc("2026-03-29T07:00:00Z")
        );
    }

    #[test]
    fn a_window_across_midnight_is_open_at_night() {
        let w = SendWindow::parse("22:00-06:00", "UTC").unwrap();
        let zones = w.zones_of(&number("4915112345678")).unwrap();
        assert!(w.is_open(utc("2026-11-21T23:00:00Z"), &zones));
        assert!(w.is_open(utc("2026-11-21T05:59:00Z"), &zones));
        assert_eq!(
            w.next_opening(utc("2026-11-21T12:00:00Z"), &zones).unwrap(),
            utc("2026-11-21T22:00:00Z")
        );
    }

    #[test]
    fn recipient_windows_follow_the_numbers_country() {
        let w = SendWindow::parse("09:00-20:00", "recipient").unwrap();
        let mut cache = ZoneCache::default();
        let at = utc("2026-11-21T07:00:00Z");
        // Berlin is at 08:00: opens at 09:00 local. Tokyo is at 16:00: open.
        let de = cache.zones(&w, &number("4915112345678")).unwrap();
        assert_eq!(
            w.next_opening(at, &de).unwrap(),
            utc("2026-11-21T08:00:00Z")
        );
        let jp = cache.zones(&w, &number("819012345678")).unwrap();
        assert_eq!(w.next_opening(at, &jp).unwrap(), at);
        // The US spans New York to Honolulu: open only when it is 09:00 in Honolulu (19:00
        // UTC) until 20:00 in New York (01:00 UTC).
        let us = cache.zones(&w, &number("12125550123")).unwrap();
        assert_eq!(
            w.next_opening(at, &us).unwrap(),
            utc("2026-11-21T19:00:00Z")
        );
        assert!(!w.is_open(utc("2026-11-22T01:00:00Z"), &us));
        // Too narrow for all of Russia at once.
        let narrow = SendWindow::parse("09:00-10:00", "recipient").unwrap();
        let ru = cache.zones(&narrow, &number("79161234567")).unwrap();
        let error = narrow.next_opening(at, &ru).unwrap_err().to_string();
        assert!(error.contains("RU's time zones"), "{error}");
    }

    #[test]
    fn every_zone_of_the_table_is_known() {
        let known: usize = COUNTRY_ZONES.values().map(Vec::len).sum();
        let listed = include_str!("../data/country-zones.txt")
            .split_whitespace()
            .filter(|w| w.contains('/'))
            .count();
        assert_eq!(known, listed);
        assert!(COUNTRY_ZONES.len() > 240);
    }
}
