//! The CSV files wacast writes (the rejects file, `wacast report --out`): cells a spreadsheet
//! would run as a formula are neutralised ([`neutralise`]), and a file is written only as one
//! wacast creates ([`OutputFile`]): never the input, never through a symbolic link, and through
//! a temporary file beside it renamed into place, so that a reader never sees half a file.

use std::borrow::Cow;
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::NamedTempFile;

/// A cell as a spreadsheet may open it safely, as OWASP's "CSV Injection" page recommends: a
/// cell that starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so it
/// is shown as text instead of run as a formula (`=HYPERLINK(…)`, `@SUM(…)`, DDE's
/// `-2+3+cmd|' /C calc'!A0`).
///
/// One exception keeps phone numbers readable: a cell that starts with `+` or `-` and holds
/// only digits, spaces and `+ - ( ) . , /` (`+49 151 2345678`, `-5`) is left as written. It is
/// at worst arithmetic: a function call, a cell reference or a DDE link all need a letter, `!`
/// or `|`. Prefixing it would show `'+49…` in every rejects file, and a fixed file enqueued
/// again would carry the `'` into the number.
pub(crate) fn neutralise(cell: &[u8]) -> Cow<'_, [u8]> {
    let risky = match cell.first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !cell.iter().all(|b| {
            b.is_ascii_digit() || matches!(b, b' ' | b'+' | b'-' | b'(' | b')' | b'.' | b',' | b'/')
        }),
        _ => false,
    };
    if !risky {
        return Cow::Borrowed(cell);
    }
    let mut out = Vec::with_capacity(cell.len() + 1);
    out.push(b'\'');
    out.extend_from_slice(cell);
    Cow::Owned(out)
}

/// A file being written: a temporary file in the target's folder (created anew, never opened
/// through a link), renamed onto the target by [`OutputFile::persist`]. Dropped without
/// `persist`, the temporary file is removed and the target left as it was. A character device
/// (`--rejects /dev/null` to discard them) is written directly: renaming a file onto it would
/// replace the device, and it holds nothing to keep whole.
pub(crate) struct OutputFile {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    Temp(BufWriter<NamedTempFile>),
    Device(BufWriter<fs::File>),
}

impl OutputFile {
    /// Starts writing `path`, which must not be `input` (the file being read, by any name: a
    /// link, `./`, a hard link), a symbolic link or anything but a regular file. `what` names
    /// the file in messages: `the rejects file`.
    pub(crate) fn create(path: &Path, input: Option<&Path>, what: &str) -> anyhow::Result<Self> {
        if check_target(path, input, what)? == Target::Device {
            let device = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {what} {}", path.display()))?;
            return Ok(OutputFile {
                path: path.to_path_buf(),
                sink: Sink::Device(BufWriter::new(device)),
            });
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("{what} {} names no file", path.display()))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create {what} {}", path.display()))?;
        // A file replaced keeps its permissions; a new one keeps the temporary file's owner-only
        // mode, as it holds phone numbers.
        if let Ok(existing) = fs::symlink_metadata(path) {
            temp.as_file()
                .set_permissions(existing.permissions())
                .with_context(|| format!("cannot create {what} {}", path.display()))?;
        }
        Ok(OutputFile {
            path: path.to_path_buf(),
            sink: Sink::Temp(BufWriter::with_capacity(1 << 16, temp)),
        })
    }

    /// The path the file will have.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file into place.
    pub(crate) fn persist(self) -> anyhow::Result<()> {
        let path = self.path;
        let temp = match self.sink {
            Sink::Temp(temp) => temp,
            Sink::Device(mut device) => {
                return device
                    .flush()
                    .with_context(|| format!("cannot write {}", path.display()));
            }
        };
        let temp = temp
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?;
        temp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        // rename(2) replaces whatever is at `path`, a link included, without following it.
        temp.persist(&path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.sink {
            Sink::Temp(temp) => temp.write(buf),
            Sink::Device(device) => device.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Temp(temp) => temp.flush(),
            Sink::Device(device) => device.flush(),
        }
    }
}

/// What a checked target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A regular file, or nothing yet.
    File,
    /// A character device such as `/dev/null`.
    Device,
}

/// Refuses a target that is the input, a symbolic link, or neither a regular file nor a
/// character device.
pub(crate) fn check_target(
    path: &Path,
    input: Option<&Path>,
    what: &str,
) -> anyhow::Result<Target> {
    let shown = path.display();
    let existing = match fs::symlink_metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot use {shown} as {what}")),
    };
    if let Some(meta) = &existing {
        if meta.file_type().is_symlink() {
            bail!(
                "{what} {shown} is a symbolic link: wacast does not write through a link it did \
                 not create; give the path of the file itself, or another one"
            );
        }
        if meta.file_type().is_char_device() {
            return Ok(Target::Device);
        }
        if !meta.file_type().is_file() {
            bail!("{what} {shown} exists and is not a regular file: give another path");
        }
    }
    let Some(input) = input else {
        return Ok(Target::File);
    };
    let same_inode = match (&existing, fs::metadata(input)) {
        (Some(out), Ok(inp)) => out.dev() == inp.dev() && out.ino() == inp.ino(),
        _ => false,
    };
    // The same name by another spelling (`./in.csv`, `dir/../in.csv`), also before the file
    // exists under it.
    let same_name = match (canonical_target(path), fs::canonicalize(input)) {
        (Some(out), Ok(inp)) => out == inp,
        _ => false,
    };
    if same_inode || same_name {
        bail!(
            "{what} {shown} is the input file {}: writing it would destroy the input; give \
             another path (the default is <input>.rejects.csv beside it)",
            input.display()
        );
    }
    Ok(Target::File)
}

/// The target's canonical path: its folder's, joined with its name.
fn canonical_target(path: &Path) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(dir).ok()?.join(path.file_name()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        fn check(cell: &str, expect: &str) {
            assert_eq!(
                neutralise(cell.as_bytes()).as_ref(),
                expect.as_bytes(),
                "{cell:?}"
            );
        }
        check("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")");
        check("@SUM(A1:A2)", "'@SUM(A1:A2)");
        check("+A1", "'+A1");
        check("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0");
        check("\tx", "'\tx");
        check("\rx", "'\rx");
        check("+49 151 2345678", "+49 151 2345678");
        check("+1 (650) 253-0000", "+1 (650) 253-0000");
        check("-5", "-5");
        check("Max", "Max");
        check("", "");
        check("a=b", "a=b");
    }

    #[test]
    fn dev_null_discards_without_being_replaced() {
        let mut out = OutputFile::create(Path::new("/dev/null"), None, "the rejects file").unwrap();
        out.write_all(b"line,reason\n").unwrap();
        out.persist().unwrap();
        assert!(
            fs::symlink_metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn targets_that_are_the_input_or_a_link_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        fs::write(&input, "phone\n").unwrap();
        let err = |path: &Path| {
            check_target(path, Some(&input), "the rejects file")
                .unwrap_err()
                .to_string()
        };
        assert!(err(&input).contains("is the input file"));
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(err(&dir.path().join("sub/../in.csv")).contains("is the input file"));
        let hard = dir.path().join("hard.csv");
        fs::hard_link(&input, &hard).unwrap();
        assert!(err(&hard).contains("is the input file"));
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(dir.path().join("elsewhere.csv"), &link).unwrap();
        assert!(err(&link).contains("is a symbolic link"));
        assert!(err(dir.path()).contains("not a regular file"));
        check_target(&dir.path().join("out.csv"), Some(&input), "x").unwrap();
    }

    #[test]
    fn a_file_appears_whole_and_replaces_a_link_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut out = OutputFile::create(&target, None, "the report").unwrap();
        out.write_all(b"a,b\n").unwrap();
        assert!(!target.exists(), "nothing at the target before persist");
        out.persist().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "a,b\n");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
