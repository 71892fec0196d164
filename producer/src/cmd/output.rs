//! How results are written: to stdout (text or one JSON value per line), and the times,
//! costs and durations as the JSON and text forms write them.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use comfy_table::{CellAlignment, Table};
use serde_json::{Value, json};

/// RFC 3339 in UTC with whole seconds, as every JSON time is written.
pub(crate) fn time_json(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true).into()
    })
}

/// `2026-05-01 09:00:00 UTC`, or `-`.
pub(crate) fn time_text(at: Option<DateTime<Utc>>) -> String {
    time_in(at, chrono_tz::UTC)
}

/// `2026-05-01 09:00:00 Europe/Berlin`: the time in a campaign's zone, the zone named so that
/// it is never taken for UTC; or `-`.
pub(crate) fn time_in(at: Option<DateTime<Utc>>, tz: Tz) -> String {
    at.map_or_else(
        || "-".to_string(),
        |t| {
            format!(
                "{} {}",
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"),
                tz.name()
            )
        },
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

/// A table for text output: a header line and one line per row, columns as wide as their
/// widest value (a long label widens its column instead of pushing the others out of line),
/// two spaces apart, no borders; the columns `right` counts from 0 are aligned right
/// (numbers).
pub(crate) fn table(header: &[&str], right: &[usize]) -> Table {
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(header.to_vec());
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, 2));
        if right.contains(&i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// Writes a table of [`table`] to stdout.
pub(crate) fn print_table(table: &Table) -> anyhow::Result<()> {
    print(&format!("{}\n", table.trim_fmt()))
}

/// Stdout was closed by its reader (`wacast report ID | head`): the command stops, and `main`
/// exits quietly with status 0, as the reader has what it wanted.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub(crate) struct StdoutClosed;

/// An error writing stdout, as [`StdoutClosed`] when its reader went away.
pub(crate) fn stdout_error(error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(error).context("cannot write to stdout")
    }
}

/// Writes text to stdout and flushes it.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(stdout_error)
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
    fn times_show_in_their_zone_and_name_it() {
        let at = DateTime::parse_from_rfc3339("2027-05-01T07:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(time_text(Some(at)), "2027-05-01 07:00:00 UTC");
        assert_eq!(
            time_in(Some(at), chrono_tz::Europe::Berlin),
            "2027-05-01 09:00:00 Europe/Berlin"
        );
        assert_eq!(time_json(Some(at)), json!("2027-05-01T07:00:00Z"));
        assert_eq!(time_in(None, chrono_tz::Europe::Berlin), "-");
    }

    #[test]
    fn tables_keep_their_columns_whatever_the_width_of_a_value() {
        let mut t = table(&["ID", "LABEL", "COST"], &[2]);
        t.add_row(vec![
            "a",
            "a-label-longer-than-sixteen-characters",
            "0.1000",
        ]);
        t.add_row(vec!["bb", "x", "12.5000"]);
        let text = t.trim_fmt();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // Every line's last column ends at the same place, and the label is whole.
        let ends: Vec<usize> = lines.iter().map(|l| l.len()).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{text}");
        assert!(
            text.contains("a-label-longer-than-sixteen-characters"),
            "{text}"
        );
        let cost_at = |line: &str, cost: &str| line.find(cost).unwrap() + cost.len();
        assert_eq!(cost_at(lines[1], "0.1000"), cost_at(lines[2], "12.5000"));
    }

    #[test]
    fn costs_lose_their_float_residue() {
        assert_eq!(cost_json(0.1 + 0.2), json!(0.3));
        assert_eq!(cost_json(0.0075 * 3.0), json!(0.0225));
    }
}
