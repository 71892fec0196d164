//! A row's times: when it goes out, until when it may, and when it is handed over. Computed
//! here once, from the campaign's options and the row's overrides, for the enqueue (the due
//! time), the worker (expiry) and the provider request (seven's `delay` and `ttl`, Bird's
//! `scheduledFor` and `validity`). Pure.

use chrono::{DateTime, Duration, Utc};

use crate::campaign::Campaign;
use crate::message::RowOverrides;

/// One row's times, the campaign's with the row's overrides applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// When the message goes out.
    pub send_at: DateTime<Utc>,
    /// How long after `send_at` it may still go out, in minutes.
    pub ttl_minutes: u32,
    /// How long before `send_at` it is handed to the provider, which holds it (0: at
    /// `send_at`).
    pub handoff_ahead_minutes: u32,
}

impl Schedule {
    /// The campaign's own times, which a row without overrides keeps.
    pub fn campaign(campaign: &Campaign) -> Schedule {
        Schedule {
            send_at: campaign.send_at,
            ttl_minutes: campaign.ttl_minutes,
            handoff_ahead_minutes: campaign.handoff_ahead_minutes,
        }
    }

    /// The times of `campaign`'s row with these `overrides`.
    pub fn of(campaign: &Campaign, overrides: &RowOverrides) -> Schedule {
        Schedule::campaign(campaign).with(overrides)
    }

    /// These times with a row's overrides applied.
    pub fn with(self, overrides: &RowOverrides) -> Schedule {
        Schedule {
            send_at: overrides.send_at.unwrap_or(self.send_at),
            ttl_minutes: overrides.ttl_minutes.unwrap_or(self.ttl_minutes),
            ..self
        }
    }

    /// The end of the message's validity: its send time plus its ttl.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.send_at + Duration::minutes(i64::from(self.ttl_minutes))
    }

    /// Whether the validity ended before `now`: the message expires unsent.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now > self.expires_at()
    }

    /// When the queue hands the message to a worker: its send time, or earlier by the hand-off
    /// lead (a send window moves it to the window's opening instead, which needs tzdata: see
    /// [`crate::window`]).
    pub fn due_at(&self) -> DateTime<Utc> {
        self.send_at - Duration::minutes(i64::from(self.handoff_ahead_minutes))
    }

    /// The send time to hand to the provider with the request: only for a campaign handed
    /// over ahead of its send time, and only while that time is ahead of `now`. At or after it
    /// there is nothing to hold.
    pub fn hold_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.handoff_ahead_minutes > 0 && self.send_at > now).then_some(self.send_at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn schedule() -> Schedule {
        Schedule {
            send_at: at(10_000),
            ttl_minutes: 60,
            handoff_ahead_minutes: 0,
        }
    }

    #[test]
    fn overrides_replace_the_campaigns_times() {
        let overrides = RowOverrides {
            send_at: Some(at(20_000)),
            ttl_minutes: Some(5),
            ..RowOverrides::default()
        };
        let row = schedule().with(&overrides);
        assert_eq!((row.send_at, row.ttl_minutes), (at(20_000), 5));
        assert_eq!(schedule().with(&RowOverrides::default()), schedule());
    }

    #[test]
    fn a_message_expires_after_its_send_time_plus_ttl() {
        let s = schedule();
        assert_eq!(s.expires_at(), at(10_000 + 3_600));
        assert!(!s.is_expired(at(10_000 + 3_600)));
        assert!(s.is_expired(at(10_000 + 3_601)));
    }

    #[test]
    fn a_handed_over_message_is_due_early_and_held_until_its_send_time() {
        let plain = schedule();
        assert_eq!(plain.due_at(), plain.send_at);
        assert_eq!(plain.hold_until(at(0)), None);
        let ahead = Schedule {
            handoff_ahead_minutes: 10,
            ..schedule()
        };
        assert_eq!(ahead.due_at(), at(10_000 - 600));
        assert_eq!(ahead.hold_until(at(9_500)), Some(at(10_000)));
        assert_eq!(ahead.hold_until(at(10_000)), None);
    }
}
