//! What a run reports while it goes, through the caller's callback: warnings that do not stop
//! it, and progress after each chunk of rows (the CLI's progress bar is one such callback).

/// One report of a run in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Something the operator should know that does not stop the run, e.g. a send time in
    /// the past.
    Warning(String),
    /// How far the run is: once when the rows start to stream, then after each chunk.
    Progress(Progress),
}

/// How far a run is through its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Data records read and handled.
    pub rows: u64,
    /// Messages this run enqueued (in a dry run: would have).
    pub enqueued: u64,
    /// Messages an interrupted earlier run had enqueued already.
    pub already_enqueued: u64,
    /// Rows rejected, opt-outs included.
    pub rejected: u64,
    /// Bytes of the (decoded) input read.
    pub bytes: u64,
    /// The input's size in bytes.
    pub total_bytes: u64,
}
