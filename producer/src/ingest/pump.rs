//! The pipeline from the file to Redis: a reader thread parses and checks rows into chunks,
//! this task keeps a few chunks in Redis at once and takes their results in order.
//!
//! The reader runs on a thread of its own so that parsing overlaps the round trips to Redis;
//! chunks cross a channel of [`READ_AHEAD`] slots, so memory holds a bounded number of them
//! whatever the file's size, and each is bounded in rows ([`CHUNK_ROWS`]) and in bytes
//! ([`CHUNK_BYTES`]), so that a file of large cells stays as small in memory as one of short
//! ones. Up to [`IN_FLIGHT`] chunks are sent on the one multiplexed
//! connection at a time, so that Redis always has the next one queued; results are taken in
//! send order, so the rejects file stays in line order. The caller's interrupt (Ctrl-C for the
//! CLI) stops the reader and lets the chunks in flight finish: the campaign stays unfinished and
//! a re-run completes it.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use csv::ByteRecord;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;
use wacast_shared::campaign::Campaign;
use wacast_shared::message::Row;
use wacast_shared::queue::{ChunkResult, NewMessage, Queue, QueueError};

use crate::ingest::csv_import::{Reason, Rejected, RowChecker};
use crate::ingest::event::{Event, Progress};
use crate::ingest::records::{MAX_ROW_BYTES, Records};
use crate::ingest::rejects::RejectsWriter;
use crate::ingest::summary::Excerpt;

/// Chunks in Redis at once. Two keep Redis busy while a result travels back; a third covers
/// the reader's jitter. More only queue up in Redis.
const IN_FLIGHT: usize = 3;

/// Chunks parsed ahead of Redis.
const READ_AHEAD: usize = 4;

/// Accepted rows' fields as read, packed into one buffer, for the rare opt-out reject that
/// the queue reports after the chunk was sent.
#[derive(Debug, Default)]
struct RawRows {
    data: Vec<u8>,
    field_ends: Vec<usize>,
    row_ends: Vec<usize>,
}

impl RawRows {
    fn push(&mut self, record: &ByteRecord) {
        for field in record {
            self.data.extend_from_slice(field);
            self.field_ends.push(self.data.len());
        }
        self.row_ends.push(self.field_ends.len());
    }

    /// The fields of the `i`th row pushed.
    fn get(&self, i: usize) -> ByteRecord {
        let first_field = if i == 0 { 0 } else { self.row_ends[i - 1] };
        let mut record = ByteRecord::new();
        let mut start = if first_field == 0 {
            0
        } else {
            self.field_ends[first_field - 1]
        };
        for &end in &self.field_ends[first_field..self.row_ends[i]] {
            record.push_field(&self.data[start..end]);
            start = end;
        }
        record
    }
}

/// A chunk of the file: up to `CHUNK_ROWS` accepted rows and the rows rejected among them.
#[derive(Debug, Default)]
struct Chunk {
    messages: Vec<NewMessage>,
    /// The line of each message.
    lines: Vec<u64>,
    /// The fields of each message's row.
    raw: RawRows,
    /// Rows rejected while reading, in line order.
    rejects: Vec<Rejected>,
    /// Data records read into this chunk.
    records: u64,
    /// The byte offset reached in the (decoded) file.
    end_byte: u64,
    /// The bytes of the rows read into it, as read.
    bytes: usize,
}

/// Accepted rows per chunk: one enqueue script call each. A chunk of 1,000 rows keeps one
/// script call at a few milliseconds, so other clients never wait long behind it.
const CHUNK_ROWS: usize = 1000;

/// The bytes of rows (as read) per chunk. A chunk's rows are held about three times (the
/// fields, the message's values, the script call's arguments), and up to [`READ_AHEAD`] +
/// [`IN_FLIGHT`] + 2 chunks live at once: 1 MiB keeps that near 30 MB at most, inside the
/// ingest's 64 MB budget, while rows of ordinary size still fill a chunk by count.
const CHUNK_BYTES: usize = 1024 * 1024;

/// Reads every record into chunks and hands each to `emit` (which returns false to stop).
/// Stops early when `stop` is set. Returns the number of data records read.
fn read_chunks<R: BufRead>(
    reader: &mut Records<R>,
    checker: &mut RowChecker,
    stop: &AtomicBool,
    mut emit: impl FnMut(Chunk) -> bool,
) -> anyhow::Result<u64> {
    let mut record = ByteRecord::new();
    let mut chunk = Chunk::default();
    let mut row: Row = 0;
    while let Some(info) = reader.read(&mut record)? {
        row += 1;
        let line = info.line;
        let verdict = if info.is_cut() {
            Err((
                Reason::RowTooLarge,
                format!(
                    "the row holds {} bytes, more than the {MAX_ROW_BYTES} a row may hold (its \
                     values are cut at that size in this file)",
                    info.bytes
                ),
            ))
        } else {
            checker.check(row, &record)
        };
        match verdict {
            Ok(message) => {
                chunk.messages.push(message);
                chunk.lines.push(line);
                chunk.raw.push(&record);
            }
            Err((reason, message)) => chunk.rejects.push(Rejected {
                line,
                reason,
                message,
                fields: record.clone(),
            }),
        }
        chunk.records += 1;
        chunk.bytes += record.as_slice().len();
        if chunk.messages.len() >= CHUNK_ROWS
            || chunk.rejects.len() >= CHUNK_ROWS
            || chunk.bytes >= CHUNK_BYTES
        {
            chunk.end_byte = reader.byte();
            if !emit(std::mem::take(&mut chunk)) || stop.load(Ordering::Relaxed) {
                return Ok(row);
            }
        }
    }
    chunk.end_byte = reader.byte();
    if chunk.records > 0 {
        emit(chunk);
    }
    Ok(row)
}

/// Where the chunks go and what to report along the way.
pub(crate) struct Sink<'a> {
    /// The queue, or `None` in a dry run (chunks are counted, not sent).
    pub(crate) queue: Option<&'a Queue>,
    pub(crate) campaign: &'a Campaign,
    pub(crate) rejects: RejectsWriter,
    /// Told of the progress after each chunk.
    pub(crate) on_event: &'a mut dyn FnMut(Event),
    /// The input's size in bytes, for the progress.
    pub(crate) total_bytes: u64,
    /// How many accepted messages to keep for a preview.
    pub(crate) preview: usize,
}

/// Counts of one run.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Data records read.
    pub(crate) rows: u64,
    pub(crate) enqueued: u64,
    /// Rows an interrupted earlier run had enqueued.
    pub(crate) already: u64,
    pub(crate) rejected: BTreeMap<Reason, u64>,
    pub(crate) first_due_ms: Option<i64>,
    pub(crate) preview: Vec<NewMessage>,
}

/// What a stream did.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub(crate) totals: Totals,
    pub(crate) excerpt: Excerpt,
    /// Whether Ctrl-C stopped it before the end of the file.
    pub(crate) interrupted: bool,
}

/// Streams every row of `reader` through `checker` into the sink, until the end of the file or
/// until `interrupt` completes. The rejects file is complete (and closed) when this returns,
/// also on error.
pub(crate) async fn stream<R: BufRead + Send + 'static>(
    mut reader: Records<R>,
    mut checker: RowChecker,
    sink: Sink<'_>,
    interrupt: impl Future<Output = ()>,
) -> anyhow::Result<Streamed> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Chunk>(READ_AHEAD);
    let reader_stop = Arc::clone(&stop);
    let reader_thread = std::thread::Builder::new()
        .name("csv-reader".into())
        .spawn(move || {
            read_chunks(&mut reader, &mut checker, &reader_stop, |chunk| {
                tx.blocking_send(chunk).is_ok()
            })
        })
        .context("cannot start the reader thread")?;
    let mut pump = Pump {
        sink,
        totals: Totals::default(),
        excerpt: Excerpt::default(),
    };
    pump.report_progress(0);
    let pumped = pump.run(rx, &stop, interrupt).await;
    // On an error the receiver is gone; the reader notices at its next chunk.
    stop.store(true, Ordering::Relaxed);
    let read = reader_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    let Pump {
        sink,
        totals,
        excerpt,
    } = pump;
    let interrupted = match (pumped, read) {
        (Ok(interrupted), Ok(_)) => interrupted,
        (Err(e), _) | (Ok(_), Err(e)) => {
            // Keep what was written: it describes the rows handled so far.
            sink.rejects.finish().ok();
            return Err(e);
        }
    };
    sink.rejects.finish()?;
    Ok(Streamed {
        totals,
        excerpt,
        interrupted,
    })
}

/// Moves chunks from the reader to Redis and their results to the rejects file, in order.
struct Pump<'a> {
    sink: Sink<'a>,
    totals: Totals,
    excerpt: Excerpt,
}

impl Pump<'_> {
    /// Runs until the reader is done and every chunk is stored. Returns whether `interrupt`
    /// stopped it; an error stops it at once (chunks in flight still finish in Redis).
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Chunk>,
        stop: &AtomicBool,
        interrupt: impl Future<Output = ()>,
    ) -> anyhow::Result<bool> {
        let queue = self.sink.queue;
        let id = &self.sink.campaign.id;
        let send = |chunk: Chunk| async move {
            let result: Result<Option<ChunkResult>, QueueError> = match queue {
                Some(q) => q.enqueue_chunk(id, &chunk.messages).await.map(Some),
                None => Ok(None),
            };
            (chunk, result)
        };
        let mut in_flight = FuturesOrdered::new();
        let mut reading = true;
        let mut interrupted = false;
        tokio::pin!(interrupt);
        while reading || !in_flight.is_empty() {
            tokio::select! {
                biased;
                () = &mut interrupt, if !interrupted => {
                    // Stop reading; what is in Redis stays, and a re-run resumes after it.
                    interrupted = true;
                    stop.store(true, Ordering::Relaxed);
                    rx.close();
                    reading = false;
                }
                done = in_flight.next(), if !in_flight.is_empty() => {
                    let Some((chunk, result)) = done else { continue };
                    let result: Result<Option<ChunkResult>, QueueError> = result;
                    self.take(chunk, result.context("cannot enqueue")?)?;
                }
                chunk = rx.recv(), if reading && in_flight.len() < IN_FLIGHT => match chunk {
                    Some(chunk) => in_flight.push_back(send(chunk)),
                    None => reading = false,
                },
            }
        }
        Ok(interrupted)
    }

    /// Records a stored chunk: counts, rejects (the reader's and the opt-outs, in line order),
    /// progress.
    fn take(&mut self, chunk: Chunk, result: Option<ChunkResult>) -> anyhow::Result<()> {
        let totals = &mut self.totals;
        totals.rows += chunk.records;
        let opted_out = match result {
            Some(result) => {
                totals.enqueued += result.enqueued;
                totals.already += result.skipped_existing;
                result.opted_out
            }
            None => {
                totals.enqueued += chunk.messages.len() as u64;
                Vec::new()
            }
        };
        let mut opt_out_rejects: Vec<Rejected> = Vec::with_capacity(opted_out.len());
        for row in &opted_out {
            // Rows ascend within a chunk.
            if let Ok(i) = chunk.messages.binary_search_by_key(row, |m| m.row) {
                opt_out_rejects.push(Rejected {
                    line: chunk.lines[i],
                    reason: Reason::OptedOut,
                    message: format!("number {} is on the opt-out list", chunk.messages[i].to),
                    fields: chunk.raw.get(i),
                });
            }
        }
        for m in &chunk.messages {
            if opted_out.contains(&m.row) {
                continue;
            }
            totals.first_due_ms = Some(totals.first_due_ms.map_or(m.due_ms, |d| d.min(m.due_ms)));
            if totals.preview.len() < self.sink.preview {
                totals.preview.push(m.clone());
            }
        }
        let mut reader_rejects = chunk.rejects.into_iter().peekable();
        let mut opt_outs = opt_out_rejects.into_iter().peekable();
        loop {
            let next = match (reader_rejects.peek(), opt_outs.peek()) {
                (Some(a), Some(b)) if a.line <= b.line => reader_rejects.next(),
                (Some(_), Some(_)) | (None, Some(_)) => opt_outs.next(),
                (Some(_), None) => reader_rejects.next(),
                (None, None) => break,
            };
            let Some(rejected) = next else { break };
            *totals.rejected.entry(rejected.reason).or_insert(0) += 1;
            self.excerpt.note(&rejected);
            self.sink.rejects.write(&rejected)?;
        }
        self.report_progress(chunk.end_byte);
        Ok(())
    }

    fn report_progress(&mut self, bytes: u64) {
        let totals = &self.totals;
        (self.sink.on_event)(Event::Progress(Progress {
            rows: totals.rows,
            enqueued: totals.enqueued,
            already_enqueued: totals.already,
            rejected: totals.rejected.values().sum(),
            bytes,
            total_bytes: self.sink.total_bytes,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rows_give_back_each_row() {
        let mut raw = RawRows::default();
        let a = ByteRecord::from(vec!["+49151", "Max", ""]);
        let b = ByteRecord::from(vec!["x"]);
        let c = ByteRecord::from(vec!["1", "2"]);
        for r in [&a, &b, &c] {
            raw.push(r);
        }
        assert_eq!(raw.get(0), a);
        assert_eq!(raw.get(1), b);
        assert_eq!(raw.get(2), c);
    }
}
