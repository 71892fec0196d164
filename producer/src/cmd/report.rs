//! `wacast report`: one CSV line (or JSON object) per message, streamed in row order from
//! pipelined HGETALL batches of 1,000 rows: memory holds one batch, whatever the campaign's size.
//! The console's report download writes the same lines ([`line`], [`Output`]).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use wacast_shared::campaign::Campaign;
use wacast_shared::message::Row;
use wacast_shared::queue::{MessageStatus, WALK_CHUNK};

use crate::cli::{Format, GlobalArgs, ReportArgs, ReportStatus};
use crate::cmd::connect;
use crate::csv_out::{OutputFile, neutralise};

/// The report's columns, in order (documented in `wacast report --help`); new ones go at the
/// end, so that a column keeps its place.
pub(crate) const COLUMNS: [&str; 28] = [
    "row",
    "to",
    "status",
    "attempts",
    "provider_id",
    "price",
    "error_code",
    "error",
    "send_at",
    "provider_scheduled_at",
    "sent_at",
    "updated_at",
    "next_attempt_at",
    "last_status",
    "last_error_code",
    "last_error",
    "retried_at",
    "provider_delete",
    "provider_delete_error",
    "worker",
    "delivery",
    "delivered_at",
    "read_at",
    "replied_at",
    "delivery_error_code",
    "delivery_error",
    "opted_out_at",
    "deferred",
];

pub(crate) async fn run(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let record = connect::load(&queue, &id).await?;
    // `--out` is written as every file wacast writes: not through a link, renamed into place
    // when complete (`csv_out`).
    let mut file = args
        .out
        .as_deref()
        .map(|path| OutputFile::create(path, None, "the report"))
        .transpose()?;
    let sink: Box<dyn Write + '_> = match &mut file {
        Some(file) => Box::new(file),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = Output::new(BufWriter::with_capacity(1 << 16, sink), global.format)?;
    let mut written: u64 = 0;
    let mut from: Row = 1;
    while from <= record.rows {
        let to = record.rows.min(from + WALK_CHUNK - 1);
        for (row, fields) in queue.message_hashes(&id, from, to).await? {
            if !selected(&args.status, &fields) {
                continue;
            }
            let line = line(&record.campaign, row, &fields);
            match out.write(&line) {
                Ok(()) => written += 1,
                // `wacast report ID | head` closes the pipe: stop quietly, as other tools do.
                Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
                Err(e) => return Err(e),
            }
        }
        from = to + 1;
    }
    match out.finish() {
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    if let (Some(file), Some(path)) = (file, &args.out) {
        file.persist()?;
        if !global.quiet && global.format == Format::Text {
            eprintln!(
                "wrote {written} messages of campaign {id} to {}",
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a message is one `--status` asks for (any of them; every message without one).
fn selected(filters: &[ReportStatus], fields: &HashMap<String, String>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let status = fields
        .get("status")
        .and_then(|s| s.parse::<MessageStatus>().ok());
    let delivery = fields.get("delivery").map(String::as_str);
    filters.iter().any(|filter| match filter {
        ReportStatus::Status(wanted) => status == Some(*wanted),
        // As the campaign's `delivered` counter counts: a read message was delivered.
        ReportStatus::Delivered => matches!(delivery, Some("delivered" | "read")),
        ReportStatus::Read => delivery == Some("read"),
        ReportStatus::Replied => fields.contains_key("replied_at"),
        ReportStatus::DeliveryFailed => delivery == Some("failed"),
    })
}

/// One message's report line: the message hash's fields in [`COLUMNS`] order, with the derived
/// `send_at` and `provider_scheduled_at`.
pub(crate) fn line(campaign: &Campaign, row: Row, fields: &HashMap<String, String>) -> Vec<String> {
    let send_at = fields
        .get("send_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(campaign.send_at, |t| t.with_timezone(&Utc));
    // Handed to seven before its send time (a campaign with a handoff): seven holds it until
    // then. Derived rather than stored, from the two times every sent message has.
    let scheduled = fields
        .get("sent_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .filter(|sent| fields.contains_key("provider_id") && *sent < send_at)
        .map(|_| send_at);
    COLUMNS
        .iter()
        .map(|column| match *column {
            "row" => row.to_string(),
            "send_at" => iso(send_at),
            "provider_scheduled_at" => scheduled.map(iso).unwrap_or_default(),
            // Counts: absent is none yet.
            "attempts" | "deferred" => fields.get(*column).cloned().unwrap_or_else(|| "0".into()),
            name => fields.get(name).cloned().unwrap_or_default(),
        })
        .collect()
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// CSV with a header line, or JSON lines (the console streams them to the browser too).
pub(crate) enum Output<W: Write> {
    // One value lives for the whole command: its size does not matter.
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

impl<W: Write> Output<W> {
    pub(crate) fn new(sink: W, format: Format) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Text => {
                let mut writer = csv::Writer::from_writer(sink);
                writer.write_record(COLUMNS)?;
                Output::Csv(Box::new(writer))
            }
            Format::Json => Output::Json(sink),
        })
    }

    pub(crate) fn write(&mut self, line: &[String]) -> anyhow::Result<()> {
        match self {
            // Every cell as a spreadsheet may open it (`csv_out::neutralise`).
            Output::Csv(writer) => {
                writer.write_record(line.iter().map(|cell| neutralise(cell.as_bytes())))?
            }
            Output::Json(sink) => {
                let object: Map<String, Value> = COLUMNS
                    .iter()
                    .zip(line)
                    .map(|(name, value)| {
                        let value = match *name {
                            "row" | "attempts" | "deferred" => value
                                .parse::<u64>()
                                .map_or_else(|_| Value::from(value.as_str()), Value::from),
                            _ if value.is_empty() => Value::Null,
                            _ => Value::from(value.as_str()),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                serde_json::to_writer(&mut *sink, &object)?;
                sink.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Csv(mut writer) => writer.flush()?,
            Output::Json(mut sink) => sink.flush()?,
        }
        Ok(())
    }
}

impl Output<Vec<u8>> {
    /// A report's continuation, without the header line: the console streams a report as a
    /// chunk of lines per batch of rows.
    pub(crate) fn continued(format: Format) -> Self {
        match format {
            Format::Text => Output::Csv(Box::new(
                csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new()),
            )),
            Format::Json => Output::Json(Vec::new()),
        }
    }

    /// The lines written, as bytes.
    pub(crate) fn into_bytes(self) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Output::Csv(writer) => writer
                .into_inner()
                .map_err(|e| anyhow::anyhow!("cannot write the report: {}", e.error()))?,
            Output::Json(sink) => sink,
        })
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe))
    })
}
