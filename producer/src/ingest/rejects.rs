//! The rejects file: one line per rejected row (`line`, `reason`, then the row's fields as
//! read, a formula neutralised), in line order, in the input's delimiter, so that an operator
//! can fix the rows and enqueue the file as a new campaign. It is written as `csv_out` writes
//! every file: never the input, never through a link, renamed into place when complete.

use std::path::{Path, PathBuf};

use anyhow::Context;
use csv::ByteRecord;

use crate::csv_out::{OutputFile, neutralise};
use crate::ingest::csv_import::Rejected;

/// The default rejects path: `customers.csv` → `customers.rejects.csv`, beside it.
pub(crate) fn default_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    input.with_file_name(format!("{stem}.rejects.csv"))
}

/// Writes rejected rows as they come.
pub(crate) struct RejectsWriter {
    path: PathBuf,
    writer: csv::Writer<OutputFile>,
    record: ByteRecord,
}

impl RejectsWriter {
    /// Starts the file (replacing one at `path` when it is finished) and writes its header;
    /// refuses `input`, the file being read, by any of its names.
    pub(crate) fn create(
        path: &Path,
        input: Option<&Path>,
        header: &[String],
        delimiter: u8,
    ) -> anyhow::Result<Self> {
        let file = OutputFile::create(path, input, "the rejects file")?;
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(file);
        let mut first = ByteRecord::new();
        first.push_field(b"line");
        first.push_field(b"reason");
        for name in header {
            first.push_field(&neutralise(name.as_bytes()));
        }
        writer
            .write_byte_record(&first)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RejectsWriter {
            path: path.to_path_buf(),
            writer,
            record: ByteRecord::new(),
        })
    }

    pub(crate) fn write(&mut self, rejected: &Rejected) -> anyhow::Result<()> {
        self.record.clear();
        self.record.push_field(rejected.line.to_string().as_bytes());
        self.record
            .push_field(&neutralise(rejected.message.as_bytes()));
        for field in &rejected.fields {
            self.record.push_field(&neutralise(field));
        }
        self.writer
            .write_byte_record(&self.record)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Completes the file and renames it into place.
    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.path.display(), e.error()))?;
        debug_assert_eq!(file.path(), self.path);
        file.persist()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_sits_beside_the_input() {
        assert_eq!(
            default_path(Path::new("/data/customers.csv")),
            PathBuf::from("/data/customers.rejects.csv")
        );
        assert_eq!(
            default_path(Path::new("list")),
            PathBuf::from("list.rejects.csv")
        );
    }
}
