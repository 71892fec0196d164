//! `wacast status`: one campaign's state, counters, the rows its upload rejected by reason,
//! cost, send times, rate, estimated completion, top failure reasons, and what the providers' callbacks reported (the funnel sent → delivered
//! → read → replied, late failures by code, opt-outs, deferrals); `--watch` refreshes it until
//! the campaign is finished.
//!
//! Everything is bounded: the counters are one HGETALL; the send rate is the change of the
//! final counters between two reads (one second apart, or between two refreshes of `--watch`);
//! first and last send come from at most [`SEND_TIME_SAMPLES`] evenly spaced rows, failure
//! reasons from at most [`FAILURE_SAMPLES`] rows of the failed set, late failures from at most
//! [`LATE_FAILURE_ROWS`] rows.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::keys::sender_name;
use wacast_shared::queue::{
    CampaignRecord, FailureReasons, LateFailures, Queue, RejectSample, SendTimes,
};

use crate::cli::{Format, GlobalArgs, StatusArgs};
use crate::cmd::output::{self, Lines};
use crate::cmd::{campaign_view, connect};

/// How long the send rate of a one-off status is measured.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Rows of the failed set read for the failure reasons.
const FAILURE_SAMPLES: usize = 1000;

/// Rows read for the first and last send times.
const SEND_TIME_SAMPLES: u64 = 2000;

/// Rows read at most for the late failures (no index lists them: they are found by reading the
/// rows' `delivery`, a thousand per round trip, until all are found).
const LATE_FAILURE_ROWS: u64 = 50_000;

/// Failure reasons (and late failure reasons) shown as text.
const TOP_REASONS: usize = 5;

pub(crate) async fn run(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    if args.watch {
        return watch(&queue, &id, global.format, args.interval).await;
    }
    let started = Instant::now();
    let first = connect::load(&queue, &id).await?;
    let (record, rate) = if measures_rate(&first) {
        tokio::time::sleep(RATE_WINDOW).await;
        let second = connect::load(&queue, &id).await?;
        let rate = Rate::between(&first, &second, started.elapsed());
        (second, rate)
    } else {
        (first, None)
    };
    let snapshot = Snapshot::read(&queue, record, rate).await?;
    match global.format {
        Format::Json => output::print_json(&snapshot.to_json())?,
        Format::Text => output::print(&snapshot.to_text())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Refreshes until the campaign is settled: a redraw on a terminal, a line per refresh
/// otherwise.
async fn watch(
    queue: &Queue,
    id: &CampaignId,
    format: Format,
    interval: Duration,
) -> anyhow::Result<ExitCode> {
    let redraw = format == Format::Text && std::io::stdout().is_terminal();
    let mut previous: Option<(Instant, CampaignRecord)> = None;
    loop {
        let at = Instant::now();
        let record = connect::load(queue, id).await?;
        let rate = previous
            .as_ref()
            .and_then(|(then, old)| Rate::between(old, &record, at.duration_since(*then)));
        let settled = campaign_view::is_settled(&record);
        let snapshot = Snapshot::read(queue, record.clone(), rate).await?;
        match format {
            Format::Json => output::print_json(&snapshot.to_json())?,
            // Home, clear: the whole screen is the latest status.
            Format::Text if redraw => {
                output::print(&format!("\x1b[H\x1b[2J{}", snapshot.to_text()))?
            }
            Format::Text => output::print(&format!("{}\n", snapshot.to_line()))?,
        }
        if settled {
            return Ok(ExitCode::SUCCESS);
        }
        previous = Some((at, record));
        tokio::time::sleep(interval).await;
    }
}

/// Whether a rate is worth measuring: the campaign is sending and has work left.
fn measures_rate(record: &CampaignRecord) -> bool {
    record.state == CampaignState::Running && record.counters.open() > 0
}

/// Messages that became final per second, between two reads.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rate {
    per_s: f64,
    window: Duration,
}

impl Rate {
    fn between(old: &CampaignRecord, new: &CampaignRecord, window: Duration) -> Option<Rate> {
        if !measures_rate(new) || window.is_zero() {
            return None;
        }
        let done = |r: &CampaignRecord| {
            let c = &r.counters;
            c.sent + c.failed + c.expired + c.unknown
        };
        // A retry in between moves messages back to queued: never a negative rate.
        let delta = done(new).saturating_sub(done(old));
        Some(Rate {
            per_s: delta as f64 / window.as_secs_f64(),
            window,
        })
    }
}

/// Everything `status` shows, read at one moment.
struct Snapshot {
    record: CampaignRecord,
    observed_at: DateTime<Utc>,
    rate: Option<Rate>,
    send_times: SendTimes,
    failures: FailureReasons,
    late_failures: LateFailures,
    /// The rows the upload rejected, by reason.
    rejects: Vec<RejectSample>,
    /// The share of its rate the campaign's sender may use now, after the provider's 429s.
    sender_rate_factor: f64,
}

impl Snapshot {
    async fn read(
        queue: &Queue,
        record: CampaignRecord,
        rate: Option<Rate>,
    ) -> anyhow::Result<Snapshot> {
        let id = &record.campaign.id;
        let send_times = if record.counters.sent > 0 {
            queue.send_times(id, record.rows, SEND_TIME_SAMPLES).await?
        } else {
            // Nothing sent: no time to look for, and that is exact.
            SendTimes {
                exact: true,
                ..SendTimes::default()
            }
        };
        let failures = queue.failure_reasons(id, FAILURE_SAMPLES).await?;
        let late_failures = queue
            .late_failures(
                id,
                record.rows,
                record.counters.delivery_failed,
                LATE_FAILURE_ROWS,
            )
            .await?;
        let rejects = if record.counters.rejected > 0 {
            queue.upload_rejects(id).await?
        } else {
            Vec::new()
        };
        let sender = sender_name(record.campaign.provider, &record.campaign.from);
        let sender_rate_factor = queue.sender_backoff(&sender).await?;
        Ok(Snapshot {
            rejects,
            record,
            observed_at: Utc::now(),
            sender_rate_factor,
            rate,
            send_times,
            failures,
            late_failures,
        })
    }

    /// When the open messages will be final at the measured rate.
    fn estimated_completion(&self) -> Option<DateTime<Utc>> {
        let open = self.record.counters.open();
        let rate = self.rate?.per_s;
        if open == 0 || rate <= 0.0 {
            return None;
        }
        let secs = open as f64 / rate;
        chrono::Duration::try_milliseconds((secs * 1000.0) as i64).map(|d| self.observed_at + d)
    }

    fn to_json(&self) -> Value {
        let mut out = campaign_view::campaign_json(&self.record);
        out.insert(
            "observed_at".into(),
            output::time_json(Some(self.observed_at)),
        );
        out.insert(
            "first_sent_at".into(),
            output::time_json(self.send_times.first),
        );
        out.insert(
            "last_sent_at".into(),
            output::time_json(self.send_times.last),
        );
        out.insert(
            "send_times".into(),
            json!({
                "rows_examined": self.send_times.examined,
                "exact": self.send_times.exact,
            }),
        );
        out.insert("sender_rate_factor".into(), json!(self.sender_rate_factor));
        out.insert(
            "rate_per_s".into(),
            self.rate
                .map_or(Value::Null, |r| json!((r.per_s * 10.0).round() / 10.0)),
        );
        out.insert(
            "rate_window_s".into(),
            self.rate.map_or(Value::Null, |r| {
                json!((r.window.as_secs_f64() * 1000.0).round() / 1000.0)
            }),
        );
        out.insert(
            "estimated_completion".into(),
            output::time_json(self.estimated_completion()),
        );
        let top: Vec<Value> = self
            .failures
            .reasons
            .iter()
            .map(|r| {
                json!({
                    "status": r.status.as_str(),
                    "error_code": r.code,
                    "error": r.error,
                    "count": r.count,
                })
            })
            .collect();
        out.insert(
            "failures".into(),
            json!({
                "in_failed_set": self.failures.in_set,
                "examined": self.failures.examined,
                "exact": self.failures.exact(),
                "top": top,
            }),
        );
        let rejects: Vec<Value> = self
            .rejects
            .iter()
            .map(|r| json!({"code": r.code, "count": r.count, "rows": r.rows}))
            .collect();
        out.insert("rejects".into(), Value::Array(rejects));
        let late = &self.late_failures;
        let top: Vec<Value> = late
            .reasons
            .iter()
            .map(|r| json!({"error_code": r.code, "error": r.error, "count": r.count}))
            .collect();
        out.insert(
            "late_failures".into(),
            json!({
                "found": late.found,
                "rows_examined": late.examined,
                "exact": late.exact,
                "top": top,
            }),
        );
        Value::Object(out)
    }

    fn to_text(&self) -> String {
        let r = &self.record;
        let c = &r.counters;
        let campaign = &r.campaign;
        let mut lines = Lines::default();
        match &campaign.label {
            Some(label) => lines.line("campaign", format!("{} (label {label})", campaign.id)),
            None => lines.line("campaign", &campaign.id),
        }
        let state = match (&r.pause_reason, r.state) {
            (Some(reason), CampaignState::Paused) => format!("paused: {reason}"),
            _ => r.state.as_str().to_string(),
        };
        lines.line("state", state);
        if let Some(waiting) = campaign_view::waiting_now(r, self.observed_at) {
            lines.line(
                "waiting",
                format!(
                    "{} until {}",
                    waiting.describe(),
                    output::time_in(Some(waiting.until), campaign.tz)
                ),
            );
        }
        if let Some(window) = &campaign.window {
            lines.line("window", window);
        }
        lines.line(
            "message",
            format!(
                "{}, from {}",
                campaign_view::message_text(campaign),
                campaign.from.digits()
            ),
        );
        if self.sender_rate_factor < 1.0 {
            lines.line(
                "sender",
                format!(
                    "slowed to {:.0}% of its rate after the provider's 429s (it recovers a tenth \
                     every 5 s)",
                    self.sender_rate_factor * 100.0
                ),
            );
        }
        lines.line(
            "created",
            output::time_in(Some(campaign.created_at), campaign.tz),
        );
        let handoff = match campaign.handoff_ahead_minutes {
            0 => String::new(),
            m => format!(" (handed to seven up to {m} min ahead)"),
        };
        lines.line(
            "send at",
            format!(
                "{}{handoff}",
                output::time_in(Some(campaign.send_at), campaign.tz)
            ),
        );
        if r.ingest == wacast_shared::queue::Ingest::Running {
            lines.line(
                "enqueue",
                "unfinished: run the same `wacast enqueue` again to finish it",
            );
        }
        lines.line("progress", campaign_view::progress_text(r));
        let [open, done] = campaign_view::counters_text(c);
        lines.line("messages", open);
        lines.line("", done);
        lines.line("retries", c.retries);
        let by_reason: Vec<String> = self
            .rejects
            .iter()
            .map(|r| format!("{} {}", r.code, r.count))
            .collect();
        let by_reason = if by_reason.is_empty() {
            String::new()
        } else {
            format!(": {}", by_reason.join(", "))
        };
        lines.line(
            "rejected",
            format!("{} rows at enqueue{by_reason}", c.rejected),
        );
        lines.line("cost", format!("{:.4}", c.cost));
        if c.sent + c.delivered > 0 {
            lines.line("funnel", campaign_view::funnel_text(c));
        }
        self.late_failures_text(&mut lines);
        if c.opted_out > 0 {
            lines.line(
                "opted out",
                format!(
                    "{} recipients (a STOP reply or WhatsApp's 131050): on the opt-out list",
                    c.opted_out
                ),
            );
        }
        if c.deferred > 0 {
            lines.line(
                "deferred",
                format!(
                    "{} times a message hit the recipient's marketing limit (131049) and was \
                     queued again for later",
                    c.deferred
                ),
            );
        }
        let approx = if self.send_times.exact {
            String::new()
        } else {
            format!(" (approximate: {} rows sampled)", self.send_times.examined)
        };
        lines.line(
            "first send",
            output::time_in(self.send_times.first, campaign.tz),
        );
        lines.line(
            "last send",
            format!(
                "{}{approx}",
                output::time_in(self.send_times.last, campaign.tz)
            ),
        );
        if let Some(rate) = self.rate {
            lines.line("rate", format!("{:.1} messages/s", rate.per_s));
        }
        if let Some(eta) = self.estimated_completion() {
            lines.line(
                "eta",
                format!(
                    "{} (in {})",
                    output::time_in(Some(eta), campaign.tz),
                    output::duration_text(eta - self.observed_at)
                ),
            );
        }
        if r.state == CampaignState::Scheduled && campaign.send_at > self.observed_at {
            lines.line(
                "starts in",
                output::duration_text(campaign.send_at - self.observed_at),
            );
        }
        lines.line("started", output::time_in(r.started_at, campaign.tz));
        lines.line("finished", output::time_in(r.finished_at, campaign.tz));
        let f = &self.failures;
        if f.in_set > 0 {
            let scope = if f.exact() {
                "all examined".to_string()
            } else {
                format!("a random sample of {} examined", f.examined)
            };
            lines.line(
                "failures",
                format!("{} failed or unknown ({scope}); most common:", f.in_set),
            );
            for reason in f.reasons.iter().take(TOP_REASONS) {
                lines.line(
                    "",
                    format!(
                        "{:>6}  {:<8} {:<10} {}",
                        reason.count,
                        reason.status.as_str(),
                        reason.code.as_deref().unwrap_or("-"),
                        reason.error.as_deref().unwrap_or("-")
                    ),
                );
            }
        }
        lines.into_string()
    }

    /// The late failures: how many, and the most common codes with the provider's whole text.
    fn late_failures_text(&self, lines: &mut Lines) {
        let n = self.record.counters.delivery_failed;
        if n == 0 {
            return;
        }
        let late = &self.late_failures;
        let scope = if late.exact {
            "all found".to_string()
        } else {
            format!(
                "{} found in the first {} rows examined",
                late.found, late.examined
            )
        };
        lines.line(
            "undelivered",
            format!("{n} sent, then reported failed ({scope}); by code:"),
        );
        for reason in late.reasons.iter().take(TOP_REASONS) {
            lines.line(
                "",
                format!(
                    "{:>6}  {:<10} {}",
                    reason.count,
                    reason.code.as_deref().unwrap_or("-"),
                    reason.error.as_deref().unwrap_or("-")
                ),
            );
        }
    }

    /// One line per refresh, for a pipe.
    fn to_line(&self) -> String {
        let r = &self.record;
        let c = &r.counters;
        let rate = self
            .rate
            .map_or_else(|| "-".into(), |r| format!("{:.1}/s", r.per_s));
        let eta = self.estimated_completion().map_or_else(
            || "-".into(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        format!(
            "{} {} {} {:.1}% queued={} claimed={} sending={} sent={} failed={} expired={} \
             cancelled={} unknown={} delivered={} read={} replied={} cost={:.4} rate={rate} \
             eta={eta}",
            self.observed_at.format("%Y-%m-%dT%H:%M:%SZ"),
            r.campaign.id,
            r.state.as_str(),
            campaign_view::progress(r) * 100.0,
            c.queued,
            c.claimed,
            c.sending,
            c.sent,
            c.failed,
            c.expired,
            c.cancelled,
            c.unknown,
            c.delivered,
            c.read,
            c.replied,
            c.cost,
        )
    }
}
