//! The CSV's records, one at a time, with the file's own line numbers and bounds on what one
//! record may take: [`Records`] reads with `csv_core` (the csv crate's own parser) and keeps
//! the rest in its hands.
//!
//! The csv crate's `Reader` cannot do three things the ingest needs, which is why this module
//! drives its parser directly:
//! - **Line numbers.** The crate counts `\n` only, and a record's position is where the reader
//!   stood after the previous record, before the line endings in between: in a CRLF file (Excel's
//!   default) every record was reported one line too early, in a CR-only file every record on
//!   line 1. Here a line ends at `\n`, `\r\n` or a lone `\r`, and a record's line is that of its
//!   first byte.
//! - **Bounded memory.** The crate grows a record's buffer to whatever the file holds (a 1 MB
//!   cell, or a stray quote that swallows the rest of the file). Here a record keeps at most
//!   [`MAX_ROW_BYTES`]; the rest is counted and dropped, and the record is marked cut.
//! - **Unbalanced quotes.** The crate reads a field whose closing quote is missing to the end of
//!   the file without a word. Here a field may span at most [`MAX_FIELD_LINES`] lines, and one
//!   still open at the end of the file is an error naming the line where it opened.

use std::io::BufRead;

use anyhow::Context;
use csv::ByteRecord;
use csv_core::ReadFieldResult;

/// The most bytes one row may hold (its fields as read, without quotes and delimiters). A
/// WhatsApp message's largest text is 4,096 characters (16 KiB of UTF-8 at most), so a row four
/// times that holds no message WhatsApp would take, and the bound keeps the reader's memory
/// bounded whatever a file holds. A constant rather than a flag: no legitimate row comes near
/// it, and a flag would only let memory run again.
pub(crate) const MAX_ROW_BYTES: usize = 64 * 1024;

/// The most lines one quoted field may span. A multi-line text message runs to a few dozen
/// lines; a field running on for more lost its closing quote, and reading on would swallow the
/// rest of the file into one value.
pub(crate) const MAX_FIELD_LINES: u64 = 100;

/// Output slice handed to the parser per call.
const SCRATCH: usize = 8 * 1024;

/// Reads records from a CSV input with the file's line numbers.
pub(crate) struct Records<R> {
    input: R,
    core: csv_core::Reader,
    at: Position,
    field: Vec<u8>,
    scratch: Box<[u8; SCRATCH]>,
}

/// How far the input was read.
struct Position {
    /// The line of the next byte, 1-based.
    line: u64,
    /// Whether the last byte counted was `\r`, so that the `\n` of a `\r\n` is not a line.
    prev_cr: bool,
    /// Bytes consumed.
    byte: u64,
}

impl Position {
    /// Counts the line endings in `bytes` (consumed in order); returns the quotes among them.
    fn count(&mut self, bytes: &[u8]) -> u64 {
        let mut quotes = 0;
        for &b in bytes {
            match b {
                b'\n' => {
                    self.line += u64::from(!self.prev_cr);
                    self.prev_cr = false;
                }
                b'\r' => {
                    self.line += 1;
                    self.prev_cr = true;
                }
                b'"' => {
                    quotes += 1;
                    self.prev_cr = false;
                }
                _ => self.prev_cr = false,
            }
        }
        self.byte += bytes.len() as u64;
        quotes
    }
}

/// Where a record was and whether it was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordInfo {
    /// The line of the record's first byte.
    pub(crate) line: u64,
    /// The bytes of its fields; more than [`MAX_ROW_BYTES`] when it was cut.
    pub(crate) bytes: u64,
}

impl RecordInfo {
    /// Whether the record held more than [`MAX_ROW_BYTES`] and its fields were cut there.
    pub(crate) fn is_cut(&self) -> bool {
        self.bytes > MAX_ROW_BYTES as u64
    }
}

/// The state of the field being read.
struct FieldState {
    /// The line where it opened.
    line: u64,
    /// Whether its first byte was a quote.
    quoted: bool,
    /// Whether any byte of it was consumed yet.
    started: bool,
    /// Quotes seen in it: a quoted field closed has an even number (opening, doubled ones,
    /// closing).
    quotes: u64,
}

impl<R: BufRead> Records<R> {
    pub(crate) fn new(input: R, delimiter: u8) -> Self {
        Records {
            input,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            at: Position {
                line: 1,
                prev_cr: false,
                byte: 0,
            },
            field: Vec::new(),
            scratch: Box::new([0; SCRATCH]),
        }
    }

    /// The bytes read so far.
    pub(crate) fn byte(&self) -> u64 {
        self.at.byte
    }

    /// Reads the next record into `record`; `None` at the end of the input. The fields keep at
    /// most [`MAX_ROW_BYTES`] in all (cut at a character boundary); [`RecordInfo::is_cut`] says
    /// whether they were cut.
    pub(crate) fn read(&mut self, record: &mut ByteRecord) -> anyhow::Result<Option<RecordInfo>> {
        record.clear();
        let Records {
            input,
            core,
            at,
            field: text,
            scratch,
        } = self;
        // Line endings before a record are empty lines, which the parser skips; skipping them
        // here makes the record's line that of its first byte.
        loop {
            let buf = input.fill_buf().context("cannot read the input")?;
            if buf.is_empty() {
                return Ok(None);
            }
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            let all = n == buf.len();
            at.count(&buf[..n]);
            input.consume(n);
            if !all {
                break;
            }
        }
        let start = at.line;
        let mut bytes: u64 = 0;
        let mut field = FieldState {
            line: start,
            quoted: false,
            started: false,
            quotes: 0,
        };
        text.clear();
        loop {
            let buf = input.fill_buf().context("cannot read the input")?;
            let at_end = buf.is_empty();
            let (result, nin, nout) = core.read_field(buf, &mut scratch[..]);
            let consumed = &buf[..nin];
            if !field.started && nin > 0 {
                field.started = true;
                field.quoted = consumed[0] == b'"';
            }
            let line_before = at.line;
            field.quotes += at.count(consumed);
            let ends_line = matches!(consumed.last(), Some(b'\r' | b'\n'));
            input.consume(nin);
            bytes += nout as u64;
            // Keep what fits under the row's bound, cut at a character boundary.
            let kept = record.as_slice().len() + text.len();
            let mut room = MAX_ROW_BYTES.saturating_sub(kept).min(nout);
            if room < nout {
                while room > 0 && scratch[room] & 0xC0 == 0x80 {
                    room -= 1;
                }
            }
            text.extend_from_slice(&scratch[..room]);
            let record_end = match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => None,
                ReadFieldResult::Field { record_end } => Some(record_end),
                // Only returned for empty input at the start of a record, which the loop above
                // has already answered.
                ReadFieldResult::End => return Ok(None),
            };
            // Line endings inside the field so far: the record's own ending is not one.
            let inside = at.line
                - field.line
                - u64::from(record_end == Some(true) && ends_line && at.line > line_before);
            if inside >= MAX_FIELD_LINES {
                return Err(Unbalanced {
                    line: field.line,
                    within: Some(MAX_FIELD_LINES),
                }
                .into());
            }
            let Some(record_end) = record_end else {
                continue;
            };
            if at_end && field.quoted && field.quotes % 2 == 1 {
                return Err(Unbalanced {
                    line: field.line,
                    within: None,
                }
                .into());
            }
            record.push_field(text);
            text.clear();
            if record_end {
                return Ok(Some(RecordInfo { line: start, bytes }));
            }
            field = FieldState {
                line: at.line,
                quoted: false,
                started: false,
                quotes: 0,
            };
        }
    }
}

/// A quoted field that is not closed within [`MAX_FIELD_LINES`] lines, or before the end of
/// the file: the reading stops there, since every row after it would be read wrongly.
#[derive(Debug)]
pub(crate) struct Unbalanced {
    /// The line where the field opened.
    pub(crate) line: u64,
    /// The bound it ran over; `None`: it was open at the end of the file.
    within: Option<u64>,
}

impl std::fmt::Display for Unbalanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extent = match self.within {
            Some(n) => format!("runs on for more than {n} lines"),
            None => "is still open at the end of the file".to_string(),
        };
        write!(
            f,
            "line {}: a quoted field opens here and {extent}: its closing double quote is missing",
            self.line
        )
    }
}

impl std::error::Error for Unbalanced {}

impl Unbalanced {
    /// What to do: close the quote (and, said by the caller, how to finish the campaign).
    pub(crate) fn hint(&self) -> String {
        format!(
            "close the value that opens on line {} with a double quote, and write a double \
             quote inside a quoted value as two (\"\"); no row from line {} on was read",
            self.line, self.line
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record's line and fields, or the error.
    fn read_all(input: &str) -> Result<Vec<(u64, Vec<String>)>, String> {
        let mut records = Records::new(input.as_bytes(), b',');
        let mut record = ByteRecord::new();
        let mut out = Vec::new();
        while let Some(info) = records.read(&mut record).map_err(|e| format!("{e:#}"))? {
            let fields = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((info.line, fields));
        }
        Ok(out)
    }

    fn lines(input: &str) -> Vec<u64> {
        read_all(input)
            .unwrap()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    #[test]
    fn lines_are_the_files_whatever_the_line_endings() {
        assert_eq!(lines("h\na\nb\n"), [1, 2, 3]);
        assert_eq!(lines("h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(lines("h\ra\rb\r"), [1, 2, 3]);
        assert_eq!(lines("h\r\na\nb"), [1, 2, 3]);
        // Empty lines are skipped and counted.
        assert_eq!(lines("h\r\n\r\na\n\nb\r\r"), [1, 3, 5]);
        // A quoted field spanning lines, in each ending.
        for e in ["\n", "\r\n", "\r"] {
            let input = format!("h,t{e}a,\"one{e}two{e}three\"{e}b,x{e}");
            let got = read_all(&input).unwrap();
            assert_eq!(got[1].0, 2, "{e:?}");
            assert_eq!(got[1].1[1], format!("one{e}two{e}three"));
            assert_eq!(got[2].0, 5, "{e:?}");
        }
    }

    #[test]
    fn an_unbalanced_quote_is_named_at_the_line_where_it_opened() {
        let mut input = String::from("h,t\na,\"ok\"\nb,\"open\n");
        for i in 0..150 {
            input.push_str(&format!("c{i},x\n"));
        }
        let err = read_all(&input).unwrap_err();
        assert!(
            err.starts_with(
                "line 3: a quoted field opens here and runs on for more than 100 lines"
            ),
            "{err}"
        );
        let err = read_all("h,t\r\na,b\r\nc,\"open\r\nd,e\r\n").unwrap_err();
        assert!(
            err.starts_with("line 3: a quoted field opens here and is still open at the end"),
            "{err}"
        );
        // 99 line breaks inside a closed field are fine; a quote inside an unquoted field is
        // text.
        let long = format!("h,t\na,\"{}\"\nb,5\" screen\n", "x\n".repeat(99));
        let got = read_all(&long).unwrap();
        assert_eq!((got[2].0, got[2].1[1].as_str()), (102, "5\" screen"));
    }

    #[test]
    fn a_row_keeps_at_most_its_bound_and_says_it_was_cut() {
        let big = "é".repeat(MAX_ROW_BYTES);
        let input = format!("h,t\n+491,{big}\n+492,small\n");
        let mut records = Records::new(input.as_bytes(), b',');
        let mut record = ByteRecord::new();
        records.read(&mut record).unwrap();
        let info = records.read(&mut record).unwrap().unwrap();
        assert!(info.is_cut());
        assert_eq!(info.bytes, (4 + big.len()) as u64);
        let kept = record.as_slice().len();
        assert!(kept <= MAX_ROW_BYTES && kept > MAX_ROW_BYTES - 2, "{kept}");
        assert!(std::str::from_utf8(&record[1]).is_ok());
        let info = records.read(&mut record).unwrap().unwrap();
        assert_eq!((info.line, info.is_cut()), (3, false));
        assert_eq!(&record[1], b"small");
    }
}
