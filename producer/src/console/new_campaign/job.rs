//! The ingest pipeline run for an upload, exactly as `wacast enqueue` runs it: the dry run
//! (every row checked, nothing written; [`DryRun`]) and the enqueue, a background [`Job`]
//! whose progress the page polls.
//!
//! The pipeline reports through a `&mut dyn FnMut` callback, so its future is not `Send`;
//! each run has a blocking thread of its own that drives it on the console's runtime.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::runtime::Handle;
use wacast_shared::queue::{Queue, RejectSample};

use crate::ingest::{self, Event, IngestRequest, Progress, Source};

/// What a dry run found, for the page: the counts, the rejected rows grouped by reason with
/// their line numbers, and the first messages as the worker will send them.
#[derive(Debug, Clone)]
pub(crate) struct DryRun {
    pub(crate) campaign: String,
    pub(crate) rows: u64,
    pub(crate) accepted: u64,
    pub(crate) rejected: u64,
    /// Per reason: its code, how many rows, and the first of them.
    pub(crate) by_reason: Vec<RejectSample>,
    pub(crate) preview: Vec<Value>,
    pub(crate) first_send_at: Option<DateTime<Utc>>,
    pub(crate) warnings: Vec<String>,
}

/// An enqueue running in the background, or its end.
pub(crate) struct Job {
    state: Mutex<JobState>,
}

/// What the progress page shows.
#[derive(Debug, Clone)]
pub(crate) enum JobState {
    Running(Progress),
    /// The campaign's id, its messages and its rejected rows.
    Done {
        campaign: String,
        enqueued: u64,
        rejected: u64,
    },
    Failed(String),
}

/// Checks every row of the upload against `request` without writing anything.
pub(crate) async fn dry_run(
    request: IngestRequest,
    csv: std::path::PathBuf,
) -> Result<DryRun, String> {
    let handle = Handle::current();
    let ran = tokio::task::spawn_blocking(move || {
        let mut warnings = Vec::new();
        let mut on_event = |event: Event| {
            if let Event::Warning(text) = event {
                warnings.push(text);
            }
        };
        let report = handle.block_on(async {
            let prepared = ingest::prepare(&request, Source::file(csv), &mut on_event)?;
            prepared
                .run(None, &mut on_event, std::future::pending())
                .await
        });
        report.map(|report| (report, warnings))
    })
    .await
    .map_err(|e| format!("the dry run stopped: {e}"))?;
    let (report, warnings) = ran.map_err(|e| format!("{e:#}"))?;
    let summary = &report.summary;
    let by_reason = report.excerpt.samples(&summary.rejected);
    Ok(DryRun {
        campaign: summary.campaign.to_string(),
        rows: summary.rows,
        accepted: summary.enqueued,
        rejected: summary.n_rejected(),
        by_reason,
        preview: summary.preview.clone(),
        first_send_at: summary.first_send_at,
        warnings,
    })
}

impl Job {
    /// Starts enqueueing the upload into `queue`; `on_end` runs when it has ended, however.
    pub(crate) fn start(
        queue: Queue,
        request: IngestRequest,
        csv: std::path::PathBuf,
        total_bytes: u64,
        on_end: impl FnOnce() + Send + 'static,
    ) -> Arc<Job> {
        let job = Arc::new(Job {
            state: Mutex::new(JobState::Running(Progress {
                rows: 0,
                enqueued: 0,
                already_enqueued: 0,
                rejected: 0,
                bytes: 0,
                total_bytes,
            })),
        });
        let handle = Handle::current();
        let running = job.clone();
        tokio::task::spawn_blocking(move || {
            let mut on_event = |event: Event| {
                if let Event::Progress(progress) = event {
                    running.set(JobState::Running(progress));
                }
            };
            let report = handle.block_on(async {
                let prepared = ingest::prepare(&request, Source::file(csv), &mut on_event)?;
                prepared
                    .run(Some(&queue), &mut on_event, std::future::pending())
                    .await
            });
            let end = match report {
                Ok(report) => {
                    let summary = &report.summary;
                    tracing::info!(
                        campaign = %summary.campaign,
                        enqueued = summary.enqueued,
                        rejected = summary.n_rejected(),
                        "Campaign enqueued from the console."
                    );
                    JobState::Done {
                        campaign: summary.campaign.to_string(),
                        enqueued: summary.enqueued + summary.already_enqueued,
                        rejected: summary.n_rejected(),
                    }
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    tracing::warn!(%error, "Enqueue from the console failed.");
                    JobState::Failed(error)
                }
            };
            running.set(end);
            on_end();
        });
        job
    }

    pub(crate) fn state(&self) -> JobState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.state(), JobState::Running(_))
    }

    fn set(&self, state: JobState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }
}
