//! How the pages show the queue's values: times in the campaign's time zone with UTC on
//! hover, masked numbers, the state, the progress bar, the send rate and the estimated
//! completion from the per-minute counters. Pure, but for [`Pace::read`].

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use wacast_shared::campaign::{Campaign, CampaignState};
use wacast_shared::queue::{CampaignRecord, MinuteCount, Queue, QueueError, RejectSample};
use wacast_shared::window::WindowZone;

use crate::cmd::campaign_view;
use crate::cmd::output::duration_text;
use crate::ingest::Reason;

/// The zone a campaign's times are shown in: its send window's, else UTC (a window on the
/// recipients' own zones has no one zone).
pub(crate) fn zone_of(campaign: &Campaign) -> Tz {
    match campaign.window.as_ref().map(|w| &w.zone) {
        Some(WindowZone::Fixed(zone)) => *zone,
        _ => Tz::UTC,
    }
}

/// A time in `zone`, with the UTC time on hover and in `datetime`; `-` for none.
pub(crate) fn time(at: Option<DateTime<Utc>>, zone: Tz) -> Markup {
    match at {
        None => html! { span.muted { "-" } },
        Some(at) => html! {
            time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true))
                title=(at.format("%Y-%m-%d %H:%M:%S UTC")) {
                (at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z"))
            }
        },
    }
}

/// The state, with its reason when paused.
pub(crate) fn state(record: &CampaignRecord) -> Markup {
    let state = record.state.as_str();
    html! { span class={"state state-" (state)} { (state) } }
}

/// The share of final messages as a `<progress>` bar with its percentage.
pub(crate) fn progress(record: &CampaignRecord) -> Markup {
    let share = campaign_view::progress(record);
    html! {
        progress value=(format!("{share:.4}")) max="1" aria-label="progress" {
            (format!("{:.1}%", share * 100.0))
        }
        " " span.muted { (format!("{:.1}%", share * 100.0)) }
    }
}

/// Digits a run needs to be taken for a phone number: no shorter number reaches anybody, and
/// the other numbers in the ingest's messages (fields, lengths, bytes) are shorter.
const PHONE_DIGITS: usize = 7;

/// `text` (a message about a row) with every phone number in it masked to its last four
/// digits, as lists show numbers. A number is a run of at least [`PHONE_DIGITS`] digits,
/// perhaps after a `+`, with spaces, `-`, `.`, `/` and parentheses between them, as people
/// write numbers; a date (`2026-05-01`) is none.
pub(crate) fn mask_numbers(text: &str) -> String {
    let is_separator = |c: char| matches!(c, ' ' | '-' | '.' | '/' | '(' | ')');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run from this digit to the last digit before anything but a separator.
        let mut end = i;
        let mut j = i;
        while j < chars.len() && (chars[j].is_ascii_digit() || is_separator(chars[j])) {
            if chars[j].is_ascii_digit() {
                end = j;
            }
            j += 1;
        }
        let run = &chars[i..=end];
        let digits = run.iter().filter(|c| c.is_ascii_digit()).count();
        let shape: String = run
            .iter()
            .take(10)
            .map(|&c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        if digits < PHONE_DIGITS || shape == "9999-99-99" {
            out.extend(run);
        } else {
            let mut hidden = digits - 4;
            for &c in run {
                if c.is_ascii_digit() && hidden > 0 {
                    out.push('*');
                    hidden -= 1;
                } else {
                    out.push(c);
                }
            }
        }
        i = end + 1;
    }
    out
}

/// Rejected rows by reason, as the dry run finds them and the campaign keeps them: per reason
/// its code and count, what to do about it, and the first rows with their line numbers
/// (numbers in the messages masked, as in every list).
pub(crate) fn rejects(groups: &[RejectSample]) -> Markup {
    html! {
        @for group in groups {
            h3 { code { (group.code) } " (" (group.count) ")" }
            @if let Some(reason) = Reason::of_code(&group.code) {
                p.hint { "hint: " (reason.hint()) }
            }
            table {
                thead { tr { th.num scope="col" { "Line" } th scope="col" { "Reason" } } }
                tbody {
                    @for row in &group.rows {
                        tr { td.num { (row.line) } td { (mask_numbers(&row.message)) } }
                    }
                }
            }
            @if group.count > group.rows.len() as u64 {
                p.muted { "… and " (group.count - group.rows.len() as u64) " more." }
            }
        }
    }
}

/// A cost with four decimals.
pub(crate) fn cost(value: f64) -> String {
    format!("{value:.4}")
}

/// How fast a campaign sends now, and when it will be done at that pace.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Pace {
    /// Messages recorded sent per second over the last minute.
    pub(crate) per_s: f64,
    /// Now + open messages / rate, when it sends and has work left.
    pub(crate) eta: Option<DateTime<Utc>>,
}

impl Pace {
    /// The pace from the last two minutes' counts: the current minute's sends, plus the
    /// previous minute's for the part of the last 60 seconds that falls into it.
    pub(crate) fn from_minutes(minutes: &[MinuteCount], now: DateTime<Utc>, open: u64) -> Pace {
        let [.., previous, current] = minutes else {
            return Pace::default();
        };
        let into_minute = (now - current.minute).num_milliseconds().clamp(0, 60_000) as f64;
        let last_60s = current.sent as f64 + previous.sent as f64 * (1.0 - into_minute / 60_000.0);
        let per_s = last_60s / 60.0;
        let eta = (per_s > 0.0 && open > 0)
            .then(|| Duration::try_milliseconds((open as f64 / per_s * 1000.0) as i64))
            .flatten()
            .map(|d| now + d);
        Pace { per_s, eta }
    }

    /// Whether `record` may be sending, so that it has a pace: started, and neither paused
    /// (no rate to show, no completion to project) nor settled.
    pub(crate) fn applies(record: &CampaignRecord) -> bool {
        record.started_at.is_some()
            && record.state != CampaignState::Paused
            && !campaign_view::is_settled(record)
    }

    /// The pace of a campaign that may be sending; none for others (no read).
    pub(crate) async fn read(
        queue: &Queue,
        record: &CampaignRecord,
        now: DateTime<Utc>,
    ) -> Result<Pace, QueueError> {
        if !Pace::applies(record) {
            return Ok(Pace::default());
        }
        let minutes = queue
            .per_minute(&record.campaign.id, now - Duration::minutes(1), now)
            .await?;
        Ok(Pace::from_minutes(&minutes, now, record.counters.open()))
    }

    pub(crate) fn rate_text(&self) -> String {
        if self.per_s == 0.0 {
            "-".into()
        } else {
            format!("{:.1}/s", self.per_s)
        }
    }

    /// The estimated completion in `zone`, with how long until then.
    pub(crate) fn eta(&self, now: DateTime<Utc>, zone: Tz) -> Markup {
        match self.eta {
            None => html! { span.muted { "-" } },
            Some(at) => html! { (time(Some(at), zone)) " (in " (duration_text(at - now)) ")" },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(at: &str, sent: u64) -> MinuteCount {
        MinuteCount {
            minute: at.parse().unwrap(),
            sent,
            delivered: 0,
        }
    }

    #[test]
    fn numbers_in_a_message_are_masked_but_dates_and_counts_are_not() {
        assert_eq!(
            mask_numbers("number +4915112345678 is on an earlier row too"),
            "number +*********5678 is on an earlier row too"
        );
        assert_eq!(
            mask_numbers("phone \"0151 234-5678\" has no country code"),
            "phone \"**** ***-5678\" has no country code"
        );
        assert_eq!(
            mask_numbers("phone \"0151 23\" is not a valid number for DE"),
            "phone \"0151 23\" is not a valid number for DE"
        );
        let other = "delay \"2026-05-01 07:00\": the row has 70000 bytes, more than 65536";
        assert_eq!(mask_numbers(other), other);
    }

    #[test]
    fn the_pace_weighs_the_previous_minute_by_what_is_left_of_it() {
        let minutes = [
            minute("2026-05-01T07:00:00Z", 600),
            minute("2026-05-01T07:01:00Z", 300),
        ];
        // 30 s into the minute: 300 now and half of the previous 600 → 600 a minute, 10/s.
        let now: DateTime<Utc> = "2026-05-01T07:01:30Z".parse().unwrap();
        let pace = Pace::from_minutes(&minutes, now, 1000);
        assert!((pace.per_s - 10.0).abs() < 1e-9);
        assert_eq!(pace.eta, Some(now + Duration::seconds(100)));
        assert_eq!(Pace::from_minutes(&minutes, now, 0).eta, None);
        assert_eq!(Pace::from_minutes(&minutes[..1], now, 10), Pace::default());
    }
}
