//! The input as bytes: where it comes from ([`Source`]: a file, or any seekable reader such as
//! an upload held in memory), the first pass (hash, UTF-8 check, BOM), the decoding reader of
//! the second pass, and delimiter sniffing.
//!
//! The first pass reads the file once without parsing it: the campaign id is derived from its
//! hash and must be known before the first row is written, and an encoding error anywhere must
//! stop the run before anything is enqueued. It costs a fraction of the parse (SHA-256 and UTF-8
//! validation run at several hundred MB/s).

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use csv::ByteRecord;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use encoding_rs_io::DecodeReaderBytesBuilder;
use sha2::{Digest, Sha256};

use crate::ingest::records::Records;

/// Read buffer size of both passes.
const BUF_SIZE: usize = 256 * 1024;

/// Where the CSV comes from: a file, opened when the run reads it, or a reader. Both passes
/// read it from the start, so a reader must be able to seek.
pub struct Source {
    /// Stands for the input in messages: the file's path as given, or the reader's name.
    name: String,
    input: Input,
}

enum Input {
    File(PathBuf),
    Reader(Box<dyn ReadSeek>),
}

/// A reader both passes can read from the start, on the thread that reads it.
pub(crate) trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

impl Source {
    /// A file, opened when the run starts reading it.
    pub fn file(path: impl Into<PathBuf>) -> Source {
        let path = path.into();
        Source {
            name: path.display().to_string(),
            input: Input::File(path),
        }
    }

    /// Any seekable reader, e.g. an upload in a `Cursor`; `name` stands for it in messages.
    pub fn reader(name: impl Into<String>, reader: impl Read + Seek + Send + 'static) -> Source {
        Source {
            name: name.into(),
            input: Input::Reader(Box::new(reader)),
        }
    }

    /// The input's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's path, when the input is a file.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        match &self.input {
            Input::File(path) => Some(path),
            Input::Reader(_) => None,
        }
    }
}

/// The byte order mark the file starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bom {
    None,
    Utf8,
    Utf16Le,
    Utf16Be,
}

impl Bom {
    /// The byte order mark `head`, the file's first bytes, starts with.
    fn of(head: &[u8]) -> Bom {
        match head {
            [0xEF, 0xBB, 0xBF, ..] => Bom::Utf8,
            [0xFF, 0xFE, ..] => Bom::Utf16Le,
            [0xFE, 0xFF, ..] => Bom::Utf16Be,
            _ => Bom::None,
        }
    }
}

/// What the first pass learnt.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// SHA-256 of the file's bytes.
    pub(crate) sha256: [u8; 32],
    /// The file's size in bytes.
    pub(crate) size: u64,
    pub(crate) bom: Bom,
}

/// Resolves an `--encoding` label; `None` means UTF-8, read strictly.
pub(crate) fn resolve_encoding(label: &str) -> anyhow::Result<Option<&'static Encoding>> {
    let encoding = Encoding::for_label(label.trim().as_bytes()).with_context(|| {
        format!(
            "unknown encoding {label:?}: use utf-8, latin1, windows-1252, iso-8859-15, utf-16le, \
             or another WHATWG encoding label"
        )
    })?;
    Ok((encoding != UTF_8).then_some(encoding))
}

/// The first pass: hashes the file and, when `check_utf8`, checks that it is UTF-8, naming the
/// first bad line.
pub(crate) fn scan(source: Source, check_utf8: bool) -> anyhow::Result<(Scan, Opened)> {
    let shown = source.name;
    let mut file: Box<dyn ReadSeek> = match source.input {
        Input::File(path) => {
            Box::new(File::open(&path).with_context(|| format!("cannot open {shown}"))?)
        }
        Input::Reader(reader) => reader,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    // Bytes of a UTF-8 sequence cut by the buffer's end, moved to its front.
    let mut pending = 0;
    let mut offset: u64 = 0;
    let mut bom = Bom::None;
    let mut first = true;
    loop {
        let n = file
            .read(&mut buf[pending..])
            .with_context(|| format!("cannot read {shown}"))?;
        let filled = pending + n;
        hasher.update(&buf[pending..filled]);
        if first {
            first = false;
            bom = Bom::of(&buf[..filled]);
        }
        let utf16 = matches!(bom, Bom::Utf16Le | Bom::Utf16Be);
        if n == 0 {
            if pending > 0 && check_utf8 && !utf16 {
                return Err(not_utf8(&mut file, &shown, offset));
            }
            break;
        }
        if check_utf8 && !utf16 {
            match std::str::from_utf8(&buf[..filled]) {
                Ok(_) => pending = 0,
                // A sequence cut by the end of the buffer: complete it with the next read.
                Err(e) if e.error_len().is_none() => {
                    let valid = e.valid_up_to();
                    buf.copy_within(valid..filled, 0);
                    pending = filled - valid;
                    offset += valid as u64;
                    continue;
                }
                Err(e) => {
                    return Err(not_utf8(&mut file, &shown, offset + e.valid_up_to() as u64));
                }
            }
        }
        offset += filled as u64;
    }
    let scan = Scan {
        sha256: hasher.finalize().into(),
        size: offset + pending as u64,
        bom,
    };
    Ok((scan, Opened { name: shown, file }))
}

/// The input after the first pass, for the second.
pub(crate) struct Opened {
    name: String,
    file: Box<dyn ReadSeek>,
}

/// The error for a file that is not UTF-8 at byte `offset`: the line, its text as far as it
/// can be read, and what to do.
fn not_utf8(file: &mut dyn ReadSeek, shown: &str, offset: u64) -> anyhow::Error {
    let (line, text) = match line_at(file, offset) {
        Ok(found) => found,
        Err(e) => return e.context(format!("{shown} is not UTF-8")),
    };
    anyhow::anyhow!(
        "{shown}: line {line} is not valid UTF-8: {text:?}\n\n\
         hint: the file was saved in another encoding; if it comes from Excel or an older system, \
         run again with --encoding windows-1252 (or --encoding latin1)"
    )
}

/// The 1-based line holding byte `offset`, and that line's text with bad bytes replaced.
fn line_at(file: &mut dyn ReadSeek, offset: u64) -> anyhow::Result<(u64, String)> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(BUF_SIZE, file);
    let mut line_no = 1;
    let mut start = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)? as u64;
        if n == 0 || start + n > offset {
            break;
        }
        start += n;
        line_no += 1;
    }
    let text = String::from_utf8_lossy(&line);
    let text: String = text.trim_end().chars().take(80).collect();
    Ok((line_no, text))
}

/// Opens the second pass: the file as UTF-8 text without its BOM, decoded from `encoding` when
/// one is given (or the file has a UTF-16 BOM).
pub(crate) fn open(
    opened: Opened,
    encoding: Option<&'static Encoding>,
    bom: Bom,
) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let Opened { name, mut file } = opened;
    let encoding = encoding.or(match bom {
        Bom::Utf16Le => Some(UTF_16LE),
        Bom::Utf16Be => Some(UTF_16BE),
        Bom::None | Bom::Utf8 => None,
    });
    Ok(match encoding {
        None => {
            let start = if bom == Bom::Utf8 { 3 } else { 0 };
            file.seek(SeekFrom::Start(start))
                .with_context(|| format!("cannot read {name}"))?;
            Box::new(BufReader::with_capacity(BUF_SIZE, file))
        }
        Some(encoding) => {
            file.seek(SeekFrom::Start(0))
                .with_context(|| format!("cannot read {name}"))?;
            // A BOM, when there is one, says more than the flag: Excel writes one.
            let decoder = DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .build(file);
            Box::new(BufReader::with_capacity(BUF_SIZE, decoder))
        }
    })
}

/// The longest header line read ahead to sniff the delimiter from (the row bound of `records`).
const HEADER_AHEAD: usize = 64 * 1024;

/// Sniffs the delimiter from the whole header line of `input` and hands back the input with
/// that line still in front. The line is read ahead because a decoding reader (`--encoding`)
/// hands out its first few bytes alone: a peek at its buffer saw `Tel` of `Telefon;Name` and
/// took the file for one column.
pub(crate) fn sniff_header(
    mut input: Box<dyn BufRead + Send>,
    shown: &str,
) -> anyhow::Result<(u8, Box<dyn BufRead + Send>)> {
    let mut head = Vec::new();
    // A quoted header name may hold a line break: read on until the quotes are balanced.
    while head.len() < HEADER_AHEAD
        && input
            .read_until(b'\n', &mut head)
            .with_context(|| format!("cannot read {shown}"))?
            > 0
        && head.iter().filter(|&&b| b == b'"').count() % 2 == 1
    {}
    let delimiter = sniff_delimiter(&head)?;
    Ok((delimiter, Box::new(Cursor::new(head).chain(input))))
}

/// The names of a file's header line as written, read from its first bytes only (the console
/// offers them to map columns): its BOM and delimiter as a run reads them, a name that is not
/// UTF-8 read lossily (a run refuses such a file, naming the line).
pub(crate) fn header_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let shown = path.display().to_string();
    let mut head = Vec::new();
    File::open(path)
        .with_context(|| format!("cannot open {shown}"))?
        .take(HEADER_AHEAD as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {shown}"))?;
    let bom = Bom::of(&head);
    let opened = Opened {
        name: shown.clone(),
        file: Box::new(Cursor::new(head)),
    };
    let (delimiter, input) = sniff_header(open(opened, None, bom)?, &shown)?;
    let mut header = ByteRecord::new();
    Records::new(input, delimiter).read(&mut header)?;
    Ok(header
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// Picks the delimiter from the header line at the start of `head`: the most frequent of `,`
/// `;` and tab outside quotes. A header with none of them is one column.
pub(crate) fn sniff_delimiter(head: &[u8]) -> anyhow::Result<u8> {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(slot) = counts.iter_mut().find(|(d, _)| *d == b) {
                    slot.1 += 1;
                }
            }
            _ => {}
        }
    }
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    match counts {
        [(_, 0), ..] => Ok(b','),
        [(a, n), (b, m), _] if n == m => bail!(
            "cannot tell the delimiter: the header line has as many {} as {}\n\n\
             hint: give it with --delimiter",
            show_delimiter(a),
            show_delimiter(b)
        ),
        [(d, _), ..] => Ok(d),
    }
}

/// A delimiter as the operator would write it.
pub(crate) fn show_delimiter(d: u8) -> &'static str {
    match d {
        b',' => "','",
        b';' => "';'",
        b'\t' => "tab",
        b'|' => "'|'",
        _ => "the delimiter",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(head: &str, expect: Result<u8, &str>) {
        let got = sniff_delimiter(head.as_bytes()).map_err(|e| e.to_string());
        match expect {
            Ok(d) => assert_eq!(got.unwrap(), d, "{head:?}"),
            Err(fragment) => assert!(got.unwrap_err().contains(fragment), "{head:?}"),
        }
    }

    #[test]
    fn delimiter_is_sniffed_from_the_header_line() {
        check("phone,name,order_id\n1;2;3;4;5\n", Ok(b','));
        check("phone;name;order_id\r\n", Ok(b';'));
        check("phone\tname\torder id\n", Ok(b'\t'));
        check("\"phone;mobile\",name,city\n", Ok(b','));
        check("phone;\"Name, first\";order\n", Ok(b';'));
        check("phone\n+4915123456789\n", Ok(b','));
        check("phone", Ok(b','));
        check("phone,name;order\n", Err("as many ',' as ';'"));
    }

    #[test]
    fn delimiter_is_sniffed_after_decoding() {
        // German Excel: `;`-separated windows-1252 ("Straße" is 0xDF in it).
        let bytes = b"Telefon;Name;Stra\xdfe\n+4915123456789;Max;Hauptstra\xdfe 1\n".to_vec();
        let (_, opened) = scan(Source::reader("excel.csv", Cursor::new(bytes)), false).unwrap();
        let encoding = resolve_encoding("windows-1252").unwrap();
        let input = open(opened, encoding, Bom::None).unwrap();
        let (delimiter, mut input) = sniff_header(input, "excel.csv").unwrap();
        assert_eq!(delimiter, b';');
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        assert_eq!(
            text, "Telefon;Name;Straße\n+4915123456789;Max;Hauptstraße 1\n",
            "the header line is read again after sniffing"
        );
    }

    fn scan_bytes(bytes: &[u8]) -> anyhow::Result<Scan> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, bytes).unwrap();
        scan(Source::file(&path), true).map(|(scan, _)| scan)
    }

    #[test]
    fn scan_names_the_first_line_that_is_not_utf8() {
        let ok = scan_bytes("\u{feff}phone,name\n+491,Jürgen\n".as_bytes()).unwrap();
        assert_eq!(ok.bom, Bom::Utf8);
        assert_eq!(ok.size, 27);
        let err = scan_bytes(b"phone,name\n+491,Max\n+492,J\xfcrgen\n").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("line 3 is not valid UTF-8: \"+492,J\u{fffd}rgen\""),
            "{text}"
        );
        assert!(text.contains("--encoding windows-1252"), "{text}");
        // A multi-byte character cut by the read buffer is still one character.
        let mut big = "a,b\n".repeat(BUF_SIZE / 4 - 1).into_bytes();
        big.extend_from_slice("ab\u{20ac}\n".as_bytes());
        assert!(scan_bytes(&big).is_ok());
        let err = scan_bytes(&[b'a', b'\n', 0xE2, 0x82]).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }

    #[test]
    fn header_names_are_read_as_a_run_reads_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let names = |bytes: &[u8]| {
            let path = dir.path().join("h.csv");
            std::fs::write(&path, bytes).unwrap();
            header_names(&path).unwrap()
        };
        assert_eq!(
            names("\u{feff}Telefon;\"Name, first\";Order ID\r\n+491;A;1\n".as_bytes()),
            ["Telefon", "Name, first", "Order ID"]
        );
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "phone\tname\n+491\tA\n".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(names(&utf16), ["phone", "name"]);
        // Only the first bytes are read: a header line is all it takes.
        let mut long = b"phone,name\n".to_vec();
        long.resize(10 * HEADER_AHEAD, b'x');
        assert_eq!(names(&long), ["phone", "name"]);
    }

    #[test]
    fn encodings_resolve_by_whatwg_label() {
        assert_eq!(resolve_encoding("utf-8").unwrap(), None);
        assert_eq!(
            resolve_encoding("latin1").unwrap().unwrap().name(),
            "windows-1252"
        );
        assert!(resolve_encoding("klingon").is_err());
    }
}
