//! The rejects file: one line per rejected row (`line`, `reason`, then the row's fields as
//! read), in line order, in the input's delimiter, so that an operator can fix the rows and
//! enqueue the file as a new campaign.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use csv::ByteRecord;

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
    writer: csv::Writer<BufWriter<File>>,
    record: ByteRecord,
}

impl RejectsWriter {
    /// Creates (or truncates) the file and writes its header.
    pub(crate) fn create(path: &Path, header: &[String], delimiter: u8) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("cannot create the rejects file {}", path.display()))?;
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(BufWriter::new(file));
        let mut first = ByteRecord::new();
        first.push_field(b"line");
        first.push_field(b"reason");
        for name in header {
            first.push_field(name.as_bytes());
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
        self.record.push_field(rejected.message.as_bytes());
        for field in &rejected.fields {
            self.record.push_field(field);
        }
        self.writer
            .write_byte_record(&self.record)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        let inner = self
            .writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.path.display(), e.error()))?;
        inner
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.path.display(), e.error()))?
            .sync_all()
            .ok();
        Ok(())
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
