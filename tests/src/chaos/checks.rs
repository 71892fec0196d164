//! The figures of a soak and the violations among them, from three sources that do not trust
//! each other: Redis (every message's status and validity, the counters), the gateway's journal
//! (every request as it arrived, every acceptance) and `/stats`, and what the soak itself
//! recorded (kills with their requests in flight, the cancel, the rate change, worker exits).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use wacast_shared::message::Row;
use wacast_shared::queue::MessageStatus;

use crate::chaos::config::Rate;
use crate::chaos::fleet::Kill;
use crate::chaos::redis_view::MessageView;
use crate::gateway::journal::{Entry, Event};

/// How early a request may reach the gateway before its message's send time: the worker reads
/// Redis's clock with at most half a 100 ms round trip of error (`queue::clock`).
const EARLY_GRACE_MS: i64 = 50;

/// What the soak recorded while it ran.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) kills: Vec<Kill>,
    pub(crate) worker_failures: Vec<String>,
    pub(crate) clean_stops: u32,
    /// Steps of the scenario that could not be done (an operator command refused, …).
    pub(crate) step_failures: Vec<String>,
    pub(crate) cancel: Option<CancelRecord>,
    pub(crate) rate_change: Option<RateChange>,
    /// When every worker was frozen (SIGSTOP to SIGCONT), unix ms.
    pub(crate) freezes: Vec<(i64, i64)>,
    /// Whether every campaign finished within the finish timeout.
    pub(crate) finished: bool,
}

/// The cancel of a campaign, made while every worker was frozen (SIGSTOP): nothing could be
/// marked `sending` or written between the look at Redis and the journal and the cancel.
#[derive(Debug, Clone)]
pub(crate) struct CancelRecord {
    pub(crate) campaign: String,
    /// How many request lines the journal had at the freeze: the later ones came after it.
    pub(crate) requests_before: usize,
    /// Rows whose request may still arrive after the cancel, once: those `sending` at the
    /// freeze whose request had not reached the gateway yet.
    pub(crate) may_arrive: HashSet<Row>,
}

/// A sender's rate changed with `wacast rate set`.
#[derive(Debug, Clone)]
pub(crate) struct RateChange {
    /// The sender as the gateway sees it.
    pub(crate) gateway_sender: String,
    /// When the command returned, unix ms.
    pub(crate) at_ms: i64,
    /// How soon every worker must follow it, ms.
    pub(crate) within_ms: i64,
    pub(crate) rate: Rate,
}

/// The gateway's journal, read back.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Every request, in the order written.
    pub(crate) requests: Vec<Entry>,
    /// How often each id was accepted.
    pub(crate) accepted: HashMap<String, u32>,
}

impl Journal {
    /// Reads the journal at `path`. A last line without its line end (the mock may be writing
    /// it) is left out.
    pub(crate) fn read(path: &Path) -> anyhow::Result<Journal> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        let mut journal = Journal::default();
        for (idx, line) in complete.lines().enumerate() {
            let entry: Entry = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a journal entry", path.display(), idx + 1))?;
            match entry.event {
                Event::Request => journal.requests.push(entry),
                Event::Accepted => {
                    if let Some(id) = entry.id {
                        *journal.accepted.entry(id).or_default() += 1;
                    }
                }
            }
        }
        Ok(journal)
    }

    /// How many requests arrived for each id.
    pub(crate) fn arrivals(&self) -> HashMap<&str, u32> {
        let mut arrivals = HashMap::new();
        for id in self.requests.iter().filter_map(|r| r.id.as_deref()) {
            *arrivals.entry(id).or_default() += 1;
        }
        arrivals
    }

    /// How many requests arrived for each row of `campaign`.
    pub(crate) fn arrivals_of(&self, campaign: &str) -> HashMap<Row, u32> {
        let mut arrivals = HashMap::new();
        for request in &self.requests {
            if let Some((of, row)) = request.id.as_deref().and_then(parse_id)
                && of == campaign
            {
                *arrivals.entry(row).or_default() += 1;
            }
        }
        arrivals
    }
}

/// Everything the checks read.
pub(crate) struct Inputs<'a> {
    /// Campaign id → the campaign's messages by row, for the rows of its CSV.
    pub(crate) messages: &'a HashMap<String, HashMap<Row, MessageView>>,
    /// Campaign id → the problems `counters_match_messages` found.
    pub(crate) counter_problems: &'a [String],
    /// Sum of the campaigns' `unknown` counters.
    pub(crate) unknown_counter: u64,
    pub(crate) journal: &'a Journal,
    /// The gateway's `/stats?summary=true`.
    pub(crate) stats: &'a Value,
    pub(crate) recorded: &'a Recorded,
    /// Every sender's configured rate.
    pub(crate) rate: Rate,
    pub(crate) late_grace_ms: i64,
    /// How much shorter than a second the rate's window is, for the requests' way to the gateway.
    pub(crate) rate_jitter_ms: i64,
}

/// The figures, in print order, and the violations with their explanations.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub(crate) lines: Vec<(String, String)>,
    pub(crate) violations: Vec<String>,
}

impl Figures {
    fn figure(&mut self, name: &str, value: impl ToString) {
        self.lines
            .push((format!("chaos_{name}"), value.to_string()));
    }

    /// A figure that must be zero; `details` explain it when it is not.
    fn must_be_zero(&mut self, name: &str, value: u64, what: &str, details: &[String]) {
        self.figure(name, value);
        if value > 0 {
            let mut violation = format!("chaos_{name} {value}: {what}");
            for detail in details.iter().take(MAX_EXAMPLES) {
                violation.push_str("\n    ");
                violation.push_str(detail);
            }
            if details.len() > MAX_EXAMPLES {
                violation.push_str(&format!(
                    "\n    … and {} more",
                    details.len() - MAX_EXAMPLES
                ));
            }
            self.violations.push(violation);
        }
    }
}

/// How many examples a violation lists.
const MAX_EXAMPLES: usize = 10;

/// `campaign.row`, as wacast writes seven's `foreign_id` and Bird's `reference`.
fn parse_id(id: &str) -> Option<(&str, Row)> {
    let (campaign, row) = id.rsplit_once('.')?;
    Some((campaign, row.parse().ok()?))
}

/// The densest window `(t - window_ms, t]` of `arrivals_ms` (sorted) and how many arrivals found
/// their window above `bound(t)`; windows whose `bound` is `None` are not judged.
pub(crate) fn rate_excess(
    arrivals_ms: &[i64],
    window_ms: i64,
    bound: impl Fn(i64) -> Option<u32>,
) -> (u32, u64) {
    let (mut max, mut excess, mut first) = (0_u32, 0_u64, 0_usize);
    for (idx, &at) in arrivals_ms.iter().enumerate() {
        while arrivals_ms[first] <= at - window_ms {
            first += 1;
        }
        let Some(bound) = bound(at) else { continue };
        let in_window = u32::try_from(idx - first + 1).unwrap_or(u32::MAX);
        max = max.max(in_window);
        if in_window > bound {
            excess += 1;
        }
    }
    (max, excess)
}

/// How long after the soak thaws its frozen workers the rate is not judged: a process that was
/// stopped sends at once what its limiter let through before, a burst the soak made.
const THAW_GRACE_MS: i64 = 2000;

fn is_final(status: &str) -> bool {
    MessageStatus::ALL
        .iter()
        .any(|s| s.as_str() == status && s.is_final())
}

/// Computes every figure.
pub(crate) fn figures(inputs: &Inputs<'_>) -> Figures {
    let mut figures = Figures::default();
    let Inputs {
        messages,
        journal,
        stats,
        recorded,
        ..
    } = inputs;
    let count = |path: &[&str]| {
        path.iter()
            .fold(*stats, |value, key| &value[*key])
            .as_u64()
            .unwrap_or(0)
    };

    // Every row, its status, and whether the gateway's acceptances agree with it.
    let mut by_status: HashMap<String, u64> = HashMap::new();
    let (mut rows, mut not_final, mut mismatches) = (0_u64, Vec::new(), Vec::new());
    let mut unknown_unsent = Vec::new();
    let arrivals = journal.arrivals();
    let mut campaigns: Vec<_> = messages.iter().collect();
    campaigns.sort_by(|a, b| a.0.cmp(b.0));
    for (campaign, rows_of) in &campaigns {
        let mut sorted: Vec<_> = rows_of.iter().collect();
        sorted.sort_by_key(|(row, _)| **row);
        for (row, view) in sorted {
            rows += 1;
            let status = view.status.as_deref().unwrap_or("missing");
            *by_status.entry(status.to_owned()).or_default() += 1;
            if !is_final(status) {
                not_final.push(format!("{campaign} row {row} is {status}"));
            }
            let id = format!("{campaign}.{row}");
            let accepted = journal.accepted.get(&id).copied().unwrap_or(0);
            if status == "unknown" && !arrivals.contains_key(id.as_str()) {
                let text = format!(
                    "{campaign} row {row} is unknown, but no request for it reached the gateway"
                );
                unknown_unsent.push((id.clone(), text));
            }
            let agrees = match status {
                "sent" => accepted > 0,
                // It may or may not have reached the gateway: that is what unknown means.
                "unknown" => true,
                _ => accepted == 0,
            };
            if !agrees {
                mismatches.push(format!(
                    "{campaign} row {row} is {status} in Redis, accepted {accepted} times at the gateway"
                ));
            }
        }
    }
    let status_count = |status: &str| by_status.get(status).copied().unwrap_or(0);
    figures.figure("rows", rows);
    for status in ["sent", "failed", "expired", "cancelled"] {
        figures.figure(status, status_count(status));
    }
    figures.figure("requests", journal.requests.len());
    figures.figure("gateway_5xx", count(&["injected_5xx"]));
    figures.figure("gateway_429", count(&["rate_limited"]));
    let hung = count(&["hung"]);
    figures.figure("hung", hung);
    figures.figure("kills", recorded.kills.len());
    let sending_at_kills: u64 = recorded.kills.iter().map(|k| k.sending).sum();
    figures.figure("sending_at_kills", sending_at_kills);
    let in_flight_at_kills: u64 = recorded.kills.iter().map(|k| k.in_flight).sum();
    figures.figure("in_flight_at_kills", in_flight_at_kills);

    figures.must_be_zero(
        "lost",
        not_final.len() as u64,
        "rows without a final status at the end (queued, claimed, sending, or no message at all)",
        &not_final,
    );

    let mut duplicates: Vec<String> = journal
        .accepted
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| format!("{id} accepted {n} times"))
        .collect();
    duplicates.sort();
    let by_stats = count(&["duplicates", "foreign_ids"]) + count(&["bird", "duplicate_references"]);
    let n_duplicates = (duplicates.len() as u64).max(by_stats);
    figures.must_be_zero(
        "duplicates",
        n_duplicates,
        "foreign_ids/references the gateway accepted more than once",
        &duplicates,
    );

    let unknown = status_count("unknown");
    figures.figure("unknown", unknown);
    let bound = in_flight_at_kills + hung;
    figures.figure("unknown_bound", bound);
    if unknown > bound {
        figures.violations.push(format!(
            "chaos_unknown {unknown} is above chaos_unknown_bound {bound}: more messages are \
             unknown than there were requests in flight at the kills ({in_flight_at_kills}) and \
             hung requests ({hung}). The killed workers held {sending_at_kills} messages in \
             `sending`, {} of them without a request at the gateway: a message marked `sending` \
             before its request is written ends `unknown` when its worker dies, though it was \
             surely not sent",
            sending_at_kills.saturating_sub(in_flight_at_kills)
        ));
    }
    // A message marked `sending` whose worker was killed before it wrote the request ends
    // `unknown`, though never sent: the kill recorded it. Any other is a defect (a message
    // marked `sending` long before its request, as when it waited for its rate slot so).
    figures.figure("unknown_unsent", unknown_unsent.len());
    let killed_unwritten: HashSet<&str> = recorded
        .kills
        .iter()
        .flat_map(|k| k.unsent.iter().map(String::as_str))
        .collect();
    let unexplained: Vec<String> = unknown_unsent
        .iter()
        .filter(|(id, _)| !killed_unwritten.contains(id.as_str()))
        .map(|(_, text)| text.clone())
        .collect();
    figures.must_be_zero(
        "unknown_unsent_unexplained",
        unexplained.len() as u64,
        "unknown messages of which no request ever reached the gateway and that were not \
         `sending` unwritten in a worker at its kill: surely not sent, yet never to be resent \
         without the operator",
        &unexplained,
    );
    if unknown != inputs.unknown_counter {
        figures.violations.push(format!(
            "the campaigns' unknown counters sum to {}, but {unknown} messages are unknown",
            inputs.unknown_counter
        ));
    }

    // Requests against each message's validity and its campaign's cancel.
    let (mut late, mut after_cancel, mut unattributed) = (Vec::new(), Vec::new(), 0_u64);
    let mut arrived_after_cancel: HashMap<Row, u32> = HashMap::new();
    let mut max_lateness = i64::MIN;
    let mut early = Vec::new();
    for (idx, request) in journal.requests.iter().enumerate() {
        let Some((campaign, row)) = request.id.as_deref().and_then(parse_id) else {
            unattributed += 1;
            continue;
        };
        let Some(view) = messages.get(campaign).and_then(|rows| rows.get(&row)) else {
            unattributed += 1;
            continue;
        };
        let lateness = request.at_ms - view.valid_until_ms;
        // The gateway's clock and Redis's are the same host's; a worker's may be anything (the
        // soak runs one 2 s ahead), which is why sends go by Redis's.
        let earliness = view.send_at_ms - request.at_ms;
        if earliness > EARLY_GRACE_MS {
            early.push(format!(
                "{campaign} row {row} arrived {earliness} ms before its send time"
            ));
        }
        max_lateness = max_lateness.max(lateness);
        if lateness > inputs.late_grace_ms {
            late.push(format!(
                "{campaign} row {row} arrived {lateness} ms after its send time plus ttl"
            ));
        }
        if let Some(cancel) = &recorded.cancel
            && cancel.campaign == campaign
            && idx >= cancel.requests_before
        {
            let n = arrived_after_cancel.entry(row).or_default();
            *n += 1;
            let allowed = u32::from(cancel.may_arrive.contains(&row));
            if *n > allowed {
                after_cancel.push(format!(
                    "{campaign} row {row}: request {n} after the cancel, which allowed {allowed} \
                     (it was {}sending with its request not yet at the gateway)",
                    if allowed == 1 { "" } else { "not " }
                ));
            }
        }
    }
    figures.figure("unattributed_requests", unattributed);
    figures.figure(
        "max_lateness_ms",
        if max_lateness == i64::MIN {
            0
        } else {
            max_lateness
        },
    );
    figures.must_be_zero(
        "early_sends",
        early.len() as u64,
        &format!(
            "requests that arrived more than {EARLY_GRACE_MS} ms before their message's send time"
        ),
        &early,
    );
    figures.must_be_zero(
        "late_sends",
        late.len() as u64,
        &format!(
            "requests that arrived more than {} ms after their message's send time plus ttl",
            inputs.late_grace_ms
        ),
        &late,
    );
    figures.must_be_zero(
        "sent_after_cancel",
        after_cancel.len() as u64,
        "requests of the cancelled campaign that were not in flight when it was cancelled",
        &after_cancel,
    );
    figures.must_be_zero(
        "gateway_mismatches",
        mismatches.len() as u64,
        "messages whose status in Redis disagrees with what the gateway accepted",
        &mismatches,
    );

    // The rate each sender offered, in every one-second window.
    let mut arrivals: HashMap<&str, Vec<i64>> = HashMap::new();
    for request in &journal.requests {
        if let Some(sender) = request.sender.as_deref() {
            arrivals.entry(sender).or_default().push(request.at_ms);
        }
    }
    let mut senders: Vec<_> = arrivals.into_iter().collect();
    senders.sort();
    let (mut rate_excess_total, mut rate_details) = (0_u64, Vec::new());
    for (sender, mut times) in senders {
        times.sort_unstable();
        let change = recorded
            .rate_change
            .as_ref()
            .filter(|change| change.gateway_sender == sender);
        let bound = |at: i64| {
            if recorded
                .freezes
                .iter()
                .any(|(from, to)| (*from..=to + THAW_GRACE_MS).contains(&at))
            {
                return None;
            }
            Some(match change {
                // A window counts against the new rate once it starts after the change spread.
                Some(change) if at - 1000 >= change.at_ms + change.within_ms => {
                    change.rate.window_bound()
                }
                _ => inputs.rate.window_bound(),
            })
        };
        // The gateway sees arrivals, not the limiter's grants: a request delayed on its way by
        // up to the jitter allowance may land in the same second as one granted a second later.
        let window_ms = 1000 - inputs.rate_jitter_ms;
        let (max, excess) = rate_excess(&times, window_ms, bound);
        figures.figure(&format!("rate_max_{sender}"), max);
        if excess > 0 {
            let after_change = change.map_or(String::new(), |c| {
                format!(", {} after the change to {}", c.rate.window_bound(), c.rate)
            });
            rate_details.push(format!(
                "sender {sender}: {excess} requests above the bound (densest second {max}; bound \
                 {} for {}{after_change})",
                inputs.rate.window_bound(),
                inputs.rate,
            ));
        }
        rate_excess_total += excess;
    }
    figures.must_be_zero(
        "rate_violations",
        rate_excess_total,
        "requests that made a sender's one-second window exceed its rate plus burst",
        &rate_details,
    );

    figures.must_be_zero(
        "counter_mismatches",
        inputs.counter_problems.len() as u64,
        "campaigns whose counters differ from their message hashes",
        inputs.counter_problems,
    );
    figures.figure("clean_stops", recorded.clean_stops);
    figures.must_be_zero(
        "worker_failures",
        recorded.worker_failures.len() as u64,
        "workers that exited non-zero (other than the ones killed) or not within their timeout",
        &recorded.worker_failures,
    );
    figures.must_be_zero(
        "step_failures",
        recorded.step_failures.len() as u64,
        "steps of the scenario that could not be done",
        &recorded.step_failures,
    );
    if !recorded.finished {
        figures
            .violations
            .push("the campaigns did not finish within the finish timeout".to_owned());
    }
    figures.figure("violations", figures.violations.len());
    figures
}

/// The callback figures: what the mock sent (`/stats` `callbacks`) against the campaigns'
/// `delivered` counters. Every message whose `delivered` or `read` the receiver acknowledged is
/// delivered (a read implies the delivery), each message counts once, and no message counts
/// that the mock did not report: `max(delivered, read acknowledged) <= delivered <= their sum`.
/// While no campaign has the counter (the recording not yet merged) only the upper bound
/// applies; `counters_match_messages` holds the counters to the message hashes either way.
pub(crate) fn callbacks(stats: &Value, delivered: &[Option<u64>], figures: &mut Figures) {
    let callbacks = &stats["callbacks"];
    let count = |map: &str, kind: &str| callbacks[map][kind].as_u64().unwrap_or(0);
    let acknowledged_delivered = count("acknowledged", "delivered");
    let acknowledged_read = count("acknowledged", "read");
    let recorded: u64 = delivered.iter().flatten().sum();
    figures.figure("callbacks_acknowledged_delivered", acknowledged_delivered);
    figures.figure("callbacks_acknowledged_read", acknowledged_read);
    figures.figure(
        "callbacks_dropped",
        callbacks["dropped"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
    );
    figures.figure(
        "callbacks_retried",
        callbacks["retried"].as_u64().unwrap_or(0),
    );
    figures.figure("delivered", recorded);
    let gave_up: u64 = callbacks["gave_up"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    figures.must_be_zero(
        "callbacks_given_up",
        gave_up,
        "callbacks the workers did not answer 2xx within the mock's retry time",
        &[],
    );
    let pending = callbacks["pending"].as_u64().unwrap_or(0);
    figures.must_be_zero(
        "callbacks_pending",
        pending,
        "callbacks still unanswered at the check",
        &[],
    );
    let excess = recorded.saturating_sub(acknowledged_delivered + acknowledged_read);
    figures.must_be_zero(
        "delivered_beyond_callbacks",
        excess,
        "messages counted delivered that no acknowledged callback reported",
        &[],
    );
    if delivered.iter().any(Option::is_some) {
        let missing = acknowledged_delivered
            .max(acknowledged_read)
            .saturating_sub(recorded);
        figures.must_be_zero(
            "delivered_missing",
            missing,
            "acknowledged delivered or read callbacks not reflected in the delivered counters",
            &[],
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::journal::Provider;

    fn request(at_ms: i64, id: &str) -> Entry {
        Entry {
            event: Event::Request,
            at_ms,
            provider: Provider::Seven,
            sender: Some("4915112345678".to_owned()),
            id: Some(id.to_owned()),
        }
    }

    fn view(status: &str) -> MessageView {
        MessageView {
            status: Some(status.to_owned()),
            send_at_ms: 500,
            valid_until_ms: 10_000,
        }
    }

    fn value(figures: &Figures, name: &str) -> String {
        figures
            .lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no figure {name}: {:?}", figures.lines))
    }

    /// Runs the checks on campaign `c` with `statuses` for rows 1…, the journal's requests and
    /// acceptances, and a cancel after the first `cancel_after` requests that lets `may_arrive`
    /// through.
    fn check(
        statuses: &[&str],
        requests: Vec<Entry>,
        accepted: &[&str],
        cancel_after: usize,
        may_arrive: &[Row],
        stats: Value,
    ) -> Figures {
        check_all(
            statuses,
            requests,
            accepted,
            cancel_after,
            may_arrive,
            stats,
            Vec::new(),
        )
    }

    /// [`check`] of a run in which the harness killed workers, nothing cancelled.
    fn check_with_kills(
        statuses: &[&str],
        requests: Vec<Entry>,
        accepted: &[&str],
        kills: Vec<Kill>,
    ) -> Figures {
        let cancel_after = requests.len();
        check_all(
            statuses,
            requests,
            accepted,
            cancel_after,
            &[],
            json!({}),
            kills,
        )
    }

    fn check_all(
        statuses: &[&str],
        requests: Vec<Entry>,
        accepted: &[&str],
        cancel_after: usize,
        may_arrive: &[Row],
        stats: Value,
        kills: Vec<Kill>,
    ) -> Figures {
        let rows = statuses
            .iter()
            .zip(1..)
            .map(|(status, row)| (row, view(status)))
            .collect();
        let messages = HashMap::from([("c".to_owned(), rows)]);
        let mut journal = Journal {
            requests,
            accepted: HashMap::new(),
        };
        for id in accepted {
            *journal.accepted.entry((*id).to_owned()).or_default() += 1;
        }
        let recorded = Recorded {
            cancel: Some(CancelRecord {
                campaign: "c".to_owned(),
                requests_before: cancel_after,
                may_arrive: may_arrive.iter().copied().collect(),
            }),
            finished: true,
            kills,
            ..Recorded::default()
        };
        let unknown_counter = statuses.iter().filter(|s| **s == "unknown").count() as u64;
        figures(&Inputs {
            messages: &messages,
            counter_problems: &[],
            unknown_counter,
            journal: &journal,
            stats: &stats,
            recorded: &recorded,
            rate: Rate {
                per_second: 2,
                burst: 1,
            },
            late_grace_ms: 1000,
            rate_jitter_ms: 0,
        })
    }

    #[test]
    fn a_clean_run_has_no_violations() {
        let figures = check(
            &["sent", "failed", "unknown", "cancelled"],
            vec![
                request(1000, "c.1"),
                request(2000, "c.2"),
                request(3000, "c.3"),
                // In flight at the cancel, allowed once.
                request(4000, "c.3"),
            ],
            &["c.1"],
            3,
            &[3],
            json!({"hung": 1}),
        );
        assert_eq!(figures.violations, Vec::<String>::new());
        assert_eq!(value(&figures, "chaos_rows"), "4");
        assert_eq!(value(&figures, "chaos_unknown"), "1");
        assert_eq!(value(&figures, "chaos_unknown_bound"), "1");
        assert_eq!(value(&figures, "chaos_max_lateness_ms"), "-6000");
    }

    #[test]
    fn every_broken_promise_is_a_violation() {
        let figures = check(
            // Row 2 never finished; row 3 was cancelled though the gateway accepted it; row 5 is
            // unknown without ever having been requested.
            &["sent", "queued", "cancelled", "unknown", "unknown"],
            vec![
                request(1000, "c.1"),
                request(1100, "c.1"),
                request(1200, "c.4"),
                request(1300, "c.1"),
                // After the cancel, not in flight then; and 12 s past its validity.
                request(22_000, "c.3"),
            ],
            &["c.1", "c.1", "c.3"],
            4,
            &[],
            json!({"hung": 0}),
        );
        for (name, expected) in [
            ("chaos_lost", "1"),
            ("chaos_duplicates", "1"),
            ("chaos_unknown", "2"),
            ("chaos_unknown_bound", "0"),
            ("chaos_unknown_unsent", "1"),
            ("chaos_unknown_unsent_unexplained", "1"),
            ("chaos_late_sends", "1"),
            ("chaos_sent_after_cancel", "1"),
            ("chaos_gateway_mismatches", "1"),
            // Four requests within 300 ms against a rate of 2 plus a burst of 1.
            ("chaos_rate_max_4915112345678", "4"),
            ("chaos_rate_violations", "1"),
        ] {
            assert_eq!(value(&figures, name), expected, "{name}");
        }
        assert_eq!(figures.violations.len(), 8, "{:#?}", figures.violations);
        assert!(figures.violations[0].contains("c row 2 is queued"));
    }

    #[test]
    fn a_request_before_its_send_time_is_a_violation() {
        let early = check(
            &["sent"],
            vec![request(400, "c.1")],
            &["c.1"],
            1,
            &[],
            json!({}),
        );
        assert_eq!(value(&early, "chaos_early_sends"), "1");
        assert!(early.violations[0].contains("before their message's send time"));
        // Within the clock's grace: not early.
        let on_time = check(
            &["sent"],
            vec![request(460, "c.1")],
            &["c.1"],
            1,
            &[],
            json!({}),
        );
        assert_eq!(value(&on_time, "chaos_early_sends"), "0");
    }

    #[test]
    fn an_unsent_unknown_message_is_explained_only_by_a_kill_that_left_it_unwritten() {
        let statuses = ["sent", "unknown"];
        let requests = vec![request(1000, "c.1")];
        let unexplained = check(&statuses, requests.clone(), &["c.1"], 1, &[], json!({}));
        assert_eq!(value(&unexplained, "chaos_unknown_unsent_unexplained"), "1");
        let kill = Kill {
            worker: "w".into(),
            sending: 1,
            in_flight: 0,
            unsent: vec!["c.2".into()],
        };
        let explained = check_with_kills(&statuses, requests, &["c.1"], vec![kill]);
        assert_eq!(value(&explained, "chaos_unknown_unsent"), "1");
        assert_eq!(value(&explained, "chaos_unknown_unsent_unexplained"), "0");
    }

    #[test]
    fn rate_excess_counts_arrivals_beyond_the_bound_in_any_second() {
        // 3 per second, evenly: never above 3.
        let even: Vec<i64> = (0..30).map(|i| i * 334).collect();
        assert_eq!(rate_excess(&even, 1000, |_| Some(3)), (3, 0));
        // 3 at the end of one second and 3 at the start of the next: 6 within 200 ms.
        let edge = [900, 950, 990, 1010, 1050, 1100];
        assert_eq!(rate_excess(&edge, 1000, |_| Some(3)), (6, 3));
        // A window is (t - 1000, t]: an arrival exactly 1000 ms later starts afresh.
        assert_eq!(rate_excess(&[0, 1000, 2000], 1000, |_| Some(1)), (1, 0));
        // A shorter window forgives arrivals that bunch up on their way.
        assert_eq!(rate_excess(&[0, 980, 990], 950, |_| Some(2)), (2, 0));
        assert_eq!(rate_excess(&[0, 980, 990], 1000, |_| Some(2)), (3, 1));
        // The bound may change over time.
        assert_eq!(
            rate_excess(&edge, 1000, |at| Some(if at > 1000 { 6 } else { 2 })),
            (6, 1)
        );
        // Windows not judged count for nothing, not even the maximum.
        assert_eq!(
            rate_excess(&edge, 1000, |at| (at < 1000).then_some(2)),
            (3, 1)
        );
        assert_eq!(rate_excess(&[], 1000, |_| Some(1)), (0, 0));
    }

    #[test]
    fn ids_are_campaign_dot_row() {
        assert_eq!(parse_id("chaos-delayed.17"), Some(("chaos-delayed", 17)));
        assert_eq!(parse_id("a.b.3"), Some(("a.b", 3)));
        assert_eq!(parse_id("chaos"), None);
        assert_eq!(parse_id("chaos.x"), None);
    }
}
