//! What a run reports when it ends ([`IngestReport`]): the summary (as text, or as one JSON
//! object with stable fields, which `wacast enqueue` prints on stdout), and an excerpt of the
//! rejected rows with a hint per reason (which it prints on stderr).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wacast_shared::campaign::CampaignId;
use wacast_shared::queue::{MAX_REJECT_ROWS, RejectSample, RejectedRow};

use crate::ingest::csv_import::{Reason, Rejected};

/// How many rejected rows are shown on stderr; the rest are in the rejects file.
const EXCERPT_ROWS: usize = 5;

/// How many rejected rows of each reason the console's dry run lists (and the campaign keeps);
/// the rest are counted.
const ROWS_PER_REASON: usize = MAX_REJECT_ROWS;

/// What a run did, and how to tell the operator.
#[derive(Debug)]
pub struct IngestReport {
    /// The counts.
    pub summary: Summary,
    /// The first rejected rows, and a hint per reason.
    pub excerpt: Excerpt,
    /// Whether the interrupt stopped the run before the end of the file: the campaign is then
    /// unfinished (the same request again finishes it), the summary counts the rows handled
    /// until then, and there is no preview.
    pub interrupted: bool,
}

impl IngestReport {
    /// What an interrupted run tells the operator: how far it got and what to do.
    pub fn interruption(&self) -> String {
        let what = if self.summary.dry_run {
            "nothing was written".to_string()
        } else {
            resume_hint(&self.summary.campaign)
        };
        format!("interrupted after {} rows: {what}", self.summary.rows)
    }
}

/// What to do about a campaign whose enqueue stopped half-way.
pub(crate) fn resume_hint(id: &CampaignId) -> String {
    format!(
        "campaign {id} is incomplete: run the same command again to finish it (rows already \
         enqueued are skipped)"
    )
}

/// The counts of one run.
#[derive(Debug)]
pub struct Summary {
    /// The campaign's id.
    pub campaign: CampaignId,
    /// Whether nothing was written to Redis.
    pub dry_run: bool,
    /// Whether the run resumed an interrupted one.
    pub resumed: bool,
    /// Data records read.
    pub rows: u64,
    /// Messages enqueued by this run (in a dry run: that would be).
    pub enqueued: u64,
    /// Rows an interrupted earlier run had enqueued already.
    pub already_enqueued: u64,
    /// Rows rejected, by reason.
    pub rejected: BTreeMap<Reason, u64>,
    /// Where the rejected rows were written.
    pub rejects_file: Option<PathBuf>,
    /// The earliest send time of the accepted rows.
    pub first_send_at: Option<DateTime<Utc>>,
    /// Whether rows were checked against the opt-out list (not in a dry run).
    pub opt_outs_checked: bool,
    /// How long the run took.
    pub duration: Duration,
    /// Dry run: the first messages as they would be sent.
    pub preview: Vec<Value>,
}

impl Summary {
    /// Rows rejected, for every reason.
    pub fn n_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    fn rows_per_s(&self) -> u64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 {
            (self.rows as f64 / secs).round() as u64
        } else {
            0
        }
    }

    /// The stable JSON form (documented in `wacast enqueue --help`).
    pub fn to_json(&self) -> Value {
        let by_reason: serde_json::Map<String, Value> = Reason::ALL
            .iter()
            .map(|r| {
                let n = self.rejected.get(r).copied().unwrap_or(0);
                (r.code().to_string(), Value::from(n))
            })
            .collect();
        json!({
            "campaign": self.campaign.as_str(),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "rows": self.rows,
            "enqueued": self.enqueued,
            "already_enqueued": self.already_enqueued,
            "rejected": self.n_rejected(),
            "rejected_by_reason": by_reason,
            "rejects_file": self.rejects_file.as_ref().map(|p| p.display().to_string()),
            "first_send_at": self.first_send_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "opt_outs_checked": self.opt_outs_checked,
            "duration_s": (self.duration.as_secs_f64() * 1000.0).round() / 1000.0,
            "rows_per_s": self.rows_per_s(),
            "preview": self.preview,
        })
    }

    /// What the operator runs next: follow the campaign, or (a dry run) enqueue for real.
    fn next_command(&self) -> String {
        let id = &self.campaign;
        match (self.dry_run, self.enqueued + self.already_enqueued) {
            (true, _) => "run the same command without --dry-run to enqueue".into(),
            (false, 0) => "nothing to send: fix the rejected rows and enqueue again".into(),
            (false, _) => format!(
                "`wacast wait {id}` waits until it is finished; `wacast status {id}` shows its \
                 progress"
            ),
        }
    }

    /// The text form, for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let status = match (self.dry_run, self.resumed) {
            (true, _) => " (dry run: nothing was written to Redis)",
            (false, true) => " (resumed an interrupted enqueue)",
            (false, false) => "",
        };
        let enqueued = if self.dry_run {
            "would enqueue"
        } else {
            "enqueued"
        };
        let mut line = |label: &str, value: String| {
            out.push_str(&format!("{label:<14}{value}\n"));
        };
        line("campaign", format!("{}{status}", self.campaign));
        line("rows", self.rows.to_string());
        line(enqueued, self.enqueued.to_string());
        if self.resumed {
            line(
                "already",
                format!(
                    "{} (enqueued by the interrupted run)",
                    self.already_enqueued
                ),
            );
        }
        let rejected = self.n_rejected();
        match (&self.rejects_file, rejected) {
            (Some(path), 1..) => line("rejected", format!("{rejected} (see {})", path.display())),
            _ => line("rejected", rejected.to_string()),
        }
        for (reason, n) in &self.rejected {
            if *n > 0 {
                line("", format!("{:<20}{n}", reason.code()));
            }
        }
        if !self.opt_outs_checked {
            line(
                "",
                "opt-out list not checked (a dry run does not connect to Redis)".into(),
            );
        }
        line(
            "first send",
            self.first_send_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "-".into()),
        );
        line(
            "duration",
            format!(
                "{:.2} s ({} rows/s)",
                self.duration.as_secs_f64(),
                self.rows_per_s()
            ),
        );
        line("next", self.next_command());
        for (i, message) in self.preview.iter().enumerate() {
            out.push_str(&format!(
                "\nmessage {} of the first {}:\n",
                i + 1,
                self.preview.len()
            ));
            out.push_str(&serde_json::to_string_pretty(message).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// The first rejected rows and what to do about them, for stderr.
#[derive(Debug, Default)]
pub struct Excerpt {
    rows: Vec<(u64, String)>,
    reasons: Vec<Reason>,
    /// The first rows of each reason, with their line numbers (the console's dry run).
    by_reason: BTreeMap<Reason, Vec<(u64, String)>>,
}

impl Excerpt {
    pub(crate) fn note(&mut self, rejected: &Rejected) {
        if self.rows.len() < EXCERPT_ROWS {
            self.rows.push((rejected.line, rejected.message.clone()));
        }
        if !self.reasons.contains(&rejected.reason) {
            self.reasons.push(rejected.reason);
        }
        let rows = self.by_reason.entry(rejected.reason).or_default();
        if rows.len() < ROWS_PER_REASON {
            rows.push((rejected.line, rejected.message.clone()));
        }
    }

    /// The first rows of each reason with its count in `counts`, as the campaign keeps them.
    pub(crate) fn samples(&self, counts: &BTreeMap<Reason, u64>) -> Vec<RejectSample> {
        self.by_reason
            .iter()
            .map(|(reason, rows)| RejectSample {
                code: reason.code().to_string(),
                count: counts.get(reason).copied().unwrap_or(0),
                rows: rows
                    .iter()
                    .map(|(line, message)| RejectedRow {
                        line: *line,
                        message: message.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// `line 12: phone "0151 23" is not a valid number for DE`, …, then a blank line and one
    /// `hint:` per reason.
    pub fn to_text(&self, total: u64, file: Option<&std::path::Path>) -> String {
        let mut out = String::new();
        for (line, message) in &self.rows {
            out.push_str(&format!("line {line}: {message}\n"));
        }
        let shown = self.rows.len() as u64;
        if total > shown {
            let place = file
                .map(|p| format!(" in {}", p.display()))
                .unwrap_or_default();
            out.push_str(&format!(
                "… and {} more rejected rows{place}\n",
                total - shown
            ));
        }
        if !self.reasons.is_empty() {
            out.push('\n');
        }
        for reason in &self.reasons {
            out.push_str(&format!("hint: {}\n", reason.hint()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_summary_has_every_reason_and_stable_fields() {
        let summary = Summary {
            campaign: CampaignId::parse("abc").unwrap(),
            dry_run: false,
            resumed: false,
            rows: 10,
            enqueued: 8,
            already_enqueued: 0,
            rejected: BTreeMap::from([(Reason::Duplicate, 2)]),
            rejects_file: Some(PathBuf::from("x.rejects.csv")),
            first_send_at: Some("2026-05-01T07:00:00Z".parse().unwrap()),
            opt_outs_checked: true,
            duration: Duration::from_millis(500),
            preview: vec![],
        };
        let json = summary.to_json();
        assert_eq!(json["rejected"], 2);
        assert_eq!(json["rejected_by_reason"]["duplicate"], 2);
        assert_eq!(json["rejected_by_reason"]["opted_out"], 0);
        assert_eq!(
            json["rejected_by_reason"].as_object().unwrap().len(),
            Reason::ALL.len()
        );
        assert_eq!(json["first_send_at"], "2026-05-01T07:00:00Z");
        assert_eq!(json["rows_per_s"], 20);
        let text = summary.to_text();
        assert!(
            text.contains("rejected      2 (see x.rejects.csv)"),
            "{text}"
        );
        assert!(text.contains("duplicate           2"), "{text}");
        assert!(
            text.contains("next          `wacast wait abc` waits until it is finished"),
            "{text}"
        );
    }
}
