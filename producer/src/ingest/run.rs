//! The second stage of a run: the campaign is created (or resumed), the rows are streamed into
//! the queue, and the campaign's enqueue is marked finished. Without a queue it is a dry run:
//! every row is checked, nothing is written but the rejects file, and the first messages are
//! previewed.

use std::future::Future;

use anyhow::Context;
use chrono::DateTime;
use wacast_shared::provider::request::Renderer;
use wacast_shared::queue::Queue;
use wacast_shared::schedule::Schedule;

use crate::ingest::csv_import::{FieldCheck, RowChecker, RowRules, parameter_limits};
use crate::ingest::event::Event;
use crate::ingest::normalise::Normaliser;
use crate::ingest::open_campaign::open_campaign;
use crate::ingest::options::Clock;
use crate::ingest::prepare::{Prepared, prepare};
use crate::ingest::preview::preview_message;
use crate::ingest::pump::{self, Sink, Streamed};
use crate::ingest::records::Unbalanced;
use crate::ingest::rejects::RejectsWriter;
use crate::ingest::request::IngestRequest;
use crate::ingest::source::Source;
use crate::ingest::summary::{IngestReport, Summary, resume_hint};

/// Messages shown by a dry run.
const PREVIEW: usize = 3;

/// Checks `request` and streams `source` into `queue` (`None`: a dry run), reporting warnings
/// and progress to `on_event`. [`prepare`] and [`Prepared::run`] are its two stages, for a
/// caller that connects to Redis only once the request is known to be good, or that stops a
/// run half-way.
pub async fn run(
    queue: Option<&Queue>,
    request: &IngestRequest,
    source: Source,
    mut on_event: impl FnMut(Event),
) -> anyhow::Result<IngestReport> {
    let prepared = prepare(request, source, &mut on_event)?;
    prepared
        .run(queue, &mut on_event, std::future::pending())
        .await
}

impl Prepared {
    /// Creates (or resumes) the campaign in `queue` and streams the rows into it; `None` is a
    /// dry run. When `interrupt` completes first, the chunks in flight finish and the report
    /// says it was interrupted: the campaign stays unfinished, and the same request again
    /// finishes it.
    pub async fn run(
        self,
        queue: Option<&Queue>,
        on_event: &mut dyn FnMut(Event),
        interrupt: impl Future<Output = ()>,
    ) -> anyhow::Result<IngestReport> {
        let Prepared {
            started,
            mut campaign,
            reader,
            layout,
            delimiter,
            scan,
            region,
            region_name,
            templates,
            is_template,
            tz,
            explicit_id,
            rejects_file,
            input_path,
        } = self;
        let id = campaign.id.clone();
        let resumed = match queue {
            Some(queue) => open_campaign(queue, &mut campaign, explicit_id).await?,
            None => false,
        };
        tracing::info!(
            campaign = %id,
            resumed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Campaign ready; enqueueing rows."
        );

        let rules = RowRules {
            columns: campaign.columns.clone(),
            is_template,
            field_checks: FieldCheck::of(&campaign.content),
            // Relative `delay` cells count from the campaign's creation, so that a re-run gives
            // every row the same due time as the interrupted run did.
            clock: Clock {
                tz,
                now: campaign.created_at,
            },
            schedule: Schedule::campaign(&campaign),
            label: campaign.label.clone(),
            provider: campaign.provider,
            language: campaign.template_language().map(str::to_string),
            languages: templates
                .as_ref()
                .and_then(|t| t.languages_like(&campaign.content)),
            region_name,
            window: campaign.window.clone(),
            renderer: Renderer::new(&campaign),
            parameter_limits: if is_template {
                parameter_limits(&campaign.content, &campaign.columns)
            } else {
                Vec::new()
            },
            campaign: campaign.clone(),
        };
        let dry_run = queue.is_none();
        let sink = Sink {
            queue,
            campaign: &campaign,
            rejects: RejectsWriter::create(
                &rejects_file,
                input_path.as_deref(),
                &layout.names,
                delimiter,
            )?,
            on_event,
            total_bytes: scan.size,
            preview: if dry_run { PREVIEW } else { 0 },
        };
        let checker = RowChecker::new(layout, rules, Normaliser::new(region));
        let streamed = match pump::stream(reader, checker, sink, interrupt).await {
            Ok(streamed) => streamed,
            Err(e) => {
                // A file that cannot be read on: the same command again would stop at the same
                // line, so the hint is to fix the file (and to finish this campaign with it).
                if let Some(unbalanced) = e.downcast_ref::<Unbalanced>() {
                    let finish = if dry_run {
                        String::new()
                    } else {
                        format!(
                            "; the rows before it are in campaign {id}, which stays unfinished: \
                             enqueue the fixed file with --id {id} (rows already enqueued are \
                             skipped), or cancel it with `wacast cancel {id}`"
                        )
                    };
                    anyhow::bail!("{unbalanced}\n\nhint: {}{finish}", unbalanced.hint());
                }
                if dry_run {
                    return Err(e);
                }
                return Err(e.context(resume_hint(&id)));
            }
        };
        let Streamed {
            totals,
            excerpt,
            interrupted,
        } = streamed;
        let n_rejected: u64 = totals.rejected.values().sum();
        if !interrupted && let Some(queue) = queue {
            // Before the ingest is marked done: a run stopped in between is repeated, and the
            // repetition, having read the whole file again, writes them anew.
            queue
                .store_rejects(&id, &excerpt.samples(&totals.rejected))
                .await
                .with_context(|| resume_hint(&id))?;
            queue
                .finish_ingest(&id, n_rejected)
                .await
                .with_context(|| resume_hint(&id))?;
        }

        let preview = if interrupted {
            Vec::new()
        } else {
            let renderer = Renderer::new(&campaign);
            totals
                .preview
                .iter()
                .map(|m| preview_message(&campaign, &renderer, m))
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let summary = Summary {
            campaign: id,
            dry_run,
            resumed,
            rows: totals.rows,
            enqueued: totals.enqueued,
            already_enqueued: totals.already,
            rejected: totals.rejected,
            rejects_file: Some(rejects_file),
            // Due times run ahead of send times by the handoff.
            first_send_at: totals
                .first_due_ms
                .and_then(DateTime::from_timestamp_millis)
                .map(|due| {
                    due + chrono::Duration::minutes(i64::from(campaign.handoff_ahead_minutes))
                }),
            opt_outs_checked: !dry_run,
            duration: started.elapsed(),
            preview,
        };
        Ok(IngestReport {
            summary,
            excerpt,
            interrupted,
        })
    }
}
