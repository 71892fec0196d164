//! How results are written: to stdout (text or one JSON value per line), and the times,
//! costs and durations as the JSON and text forms write them.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// RFC 3339 in UTC with whole seconds, as every JSON time is written.
pub(crate) fn time_json(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true).into()
    })
}

/// `2026-05-01 09:00:00 UTC`, or `-`.
pub(crate) fn time_text(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A cost with four decimals (seven's prices have up to four), cutting float residue.
pub(crate) fn cost_json(cost: f64) -> Value {
    json!((cost * 10_000.0).round() / 10_000.0)
}

/// Text output: `label     value` lines, labels padded to one width.
#[derive(Debug, Default)]
pub(crate) struct Lines(String);

impl Lines {
    pub(crate) fn line(&mut self, label: &str, value: impl std::fmt::Display) {
        self.0.push_str(&format!("{label:<12} {value}\n"));
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

/// Writes text to stdout and flushes it (a closed pipe is not an error worth a message).
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes one JSON value and a newline to stdout.
pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    print(&format!("{value}\n"))
}

/// A duration for people: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub(crate) fn duration_text(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        let check = |secs: i64, expect: &str| {
            assert_eq!(duration_text(chrono::Duration::seconds(secs)), expect);
        };
        check(0, "0s");
        check(45, "45s");
        check(725, "12m 5s");
        check(12_000, "3h 20m");
        check(187_200, "2d 4h");
        check(-5, "0s");
    }

    #[test]
    fn costs_lose_their_float_residue() {
        assert_eq!(cost_json(0.1 + 0.2), json!(0.3));
        assert_eq!(cost_json(0.0075 * 3.0), json!(0.0225));
    }
}
