//! `wacast cancel`: cancels everything of a campaign not yet sent and, for a campaign created
//! with `--handoff-ahead`, deletes at seven the messages it holds until their send time.
//!
//! The queue part is [`Queue::cancel`]: queued messages become `cancelled` at once; claimed ones
//! are cancelled by their worker's next step; one being sent is recorded as it ends. A message
//! handed to seven ahead of its send time is `sent` in Redis but not yet sent by seven: after the
//! messages in flight settle, the campaign's rows are walked in chunks, each held message is
//! deleted (`DELETE /api/waba/messages/{id}`, a few at a time), and seven's answer is recorded
//! in the message by one script (deleted → `cancelled`, counters and cost moved).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use wacast_shared::campaign::{CampaignId, CampaignState, ProviderKind};
use wacast_shared::message::Row;
use wacast_shared::provider::outcome::Outcome;
use wacast_shared::provider::seven::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Deletion, SevenClient, SevenConfig,
};
use wacast_shared::queue::{
    CampaignRecord, HeldMessage, MessageStatus, ProviderDelete, Queue, WALK_CHUNK,
};
use wacast_shared::secret::SEVEN_API_KEY;

use crate::cli::{CancelArgs, Format, GlobalArgs};
use crate::cmd::confirm::confirm;
use crate::cmd::{campaign_view, connect, output, refusal::refusal};

/// Delete requests in flight at once.
const DELETE_CONCURRENCY: usize = 16;

/// Attempts per delete when seven asks to try again or gives no answer.
const DELETE_ATTEMPTS: u32 = 3;

/// The longest wait seven's `Retry-After` may impose on one delete.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long cancel waits for messages in flight to be recorded before it looks for messages
/// held at seven: above the worker's default request timeout (30 s), so that a request under
/// way when the campaign was cancelled has ended.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(35);

pub(crate) async fn run(global: &GlobalArgs, args: &CancelArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let record = connect::load(&queue, &id).await?;
    // Only seven can delete a message it holds: Bird's API has no way to recall a scheduled
    // one, so what a Bird campaign handed over ahead stays with Bird.
    let handoff = record.campaign.handoff_ahead_minutes > 0
        && record.campaign.provider == ProviderKind::Seven;

    if record.state == CampaignState::Completed {
        // Nothing is left in the queue; only messages seven still holds can be cancelled.
        let n_held = if handoff {
            count_held(&queue, &record).await?
        } else {
            0
        };
        if n_held == 0 {
            bail!(
                "campaign {id} is completed, so it cannot be cancelled: every message is final \
                 already, and seven holds none of them for a later send time"
            );
        }
        let seven = seven_client(args, &id)?;
        confirm(
            &format!(
                "Delete the {n_held} messages seven holds for campaign {}?",
                named(&record)
            ),
            args.yes,
        )?;
        return finish(global, &queue, &id, &seven, 0, 0).await;
    }

    // Checked before anything changes: without the key, held messages would stay at seven.
    let seven = if handoff {
        Some(seven_client(args, &id)?)
    } else {
        None
    };
    confirm(&cancel_question(&record, handoff), args.yes)?;
    let report = queue.cancel(&id).await.map_err(refusal)?;
    let cancelled_now = report.cancelled;
    let Some(seven) = seven else {
        let after = connect::load(&queue, &id).await?;
        print(global, &after, cancelled_now, report.in_flight, None)?;
        return Ok(ExitCode::SUCCESS);
    };
    if report.in_flight > 0 && !global.quiet {
        eprintln!(
            "waiting for {} messages in flight to be recorded (at most {}s)",
            report.in_flight,
            SETTLE_TIMEOUT.as_secs()
        );
    }
    let settled = queue
        .settle(&id, Duration::from_millis(200), SETTLE_TIMEOUT)
        .await?;
    let in_flight = settled.counters.claimed + settled.counters.sending;
    finish(global, &queue, &id, &seven, cancelled_now, in_flight).await
}

/// The campaign as the question names it: `spring-2027 (label spring)`.
fn named(record: &CampaignRecord) -> String {
    match &record.campaign.label {
        Some(label) => format!("{} (label {label})", record.campaign.id),
        None => record.campaign.id.to_string(),
    }
}

/// `Cancel running campaign spring? 950 of its 1000 messages are not sent yet and will not be.`
fn cancel_question(record: &CampaignRecord, handoff: bool) -> String {
    let c = &record.counters;
    let held = if handoff {
        "; messages seven holds for a later send time are deleted there"
    } else {
        ""
    };
    format!(
        "Cancel {} campaign {}? {} of its {} messages are not sent yet and will not \
         be{held}.",
        record.state.as_str(),
        named(record),
        // A message being sent ends as its request does; a claimed one is cancelled.
        c.queued + c.claimed,
        c.total
    )
}

/// Deletes the held messages and prints the result.
async fn finish(
    global: &GlobalArgs,
    queue: &Queue,
    id: &CampaignId,
    seven: &SevenClient,
    cancelled_now: u64,
    in_flight: u64,
) -> anyhow::Result<ExitCode> {
    let record = connect::load(queue, id).await?;
    let tally = delete_held(queue, seven, &record).await?;
    let after = connect::load(queue, id).await?;
    print(global, &after, cancelled_now, in_flight, Some(&tally))?;
    if let Some(reason) = &tally.refused {
        bail!(
            "seven refused to delete messages: {reason}; {} held messages were not deleted: \
             fix the key, then run `wacast cancel {id}` again",
            tally.held - tally.deleted - tally.already_sent - tally.not_found
        );
    }
    if tally.failed > 0 || in_flight > 0 {
        eprintln!(
            "{} held messages could not be deleted and {in_flight} were still in flight: run \
             `wacast cancel {id}` again (see `wacast report {id} --status sent`)",
            tally.failed
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What deleting the held messages came to.
#[derive(Debug, Default)]
struct Tally {
    held: u64,
    deleted: u64,
    already_sent: u64,
    not_found: u64,
    failed: u64,
    /// seven refused the key: deleting stopped.
    refused: Option<String>,
}

/// How many messages seven holds for a later send time, walking the rows in chunks.
async fn count_held(queue: &Queue, record: &CampaignRecord) -> anyhow::Result<u64> {
    let mut n = 0;
    let mut from: Row = 1;
    while from <= record.rows {
        let to = record.rows.min(from + WALK_CHUNK - 1);
        n += queue
            .held_at_provider(record, from, to, queue.now())
            .await?
            .len() as u64;
        from = to + 1;
    }
    Ok(n)
}

/// Deletes every held message at seven, chunk by chunk, and records each answer.
async fn delete_held(
    queue: &Queue,
    seven: &SevenClient,
    record: &CampaignRecord,
) -> anyhow::Result<Tally> {
    let id = &record.campaign.id;
    let mut tally = Tally::default();
    let mut from: Row = 1;
    while from <= record.rows && tally.refused.is_none() {
        let to = record.rows.min(from + WALK_CHUNK - 1);
        let held = queue
            .held_at_provider(record, from, to, queue.now())
            .await?;
        tally.held += held.len() as u64;
        let mut answers = futures::stream::iter(held)
            .map(|message| async move {
                let answer = delete(seven, &message.provider_id).await;
                (message, answer)
            })
            .buffer_unordered(DELETE_CONCURRENCY);
        while let Some((message, answer)) = answers.next().await {
            record_answer(queue, id, &message, &answer, &mut tally).await?;
        }
        from = to + 1;
    }
    Ok(tally)
}

async fn record_answer(
    queue: &Queue,
    id: &CampaignId,
    message: &HeldMessage,
    answer: &Outcome<Deletion>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let status = queue
        .record_provider_delete(id, message, &provider_delete(answer))
        .await?;
    match answer {
        Outcome::Done(Deletion::Deleted) if status == Some(MessageStatus::Cancelled) => {
            tally.deleted += 1
        }
        Outcome::Done(Deletion::AlreadySent { .. }) => tally.already_sent += 1,
        Outcome::Done(Deletion::NotFound) => tally.not_found += 1,
        Outcome::Halt { reason, .. } => {
            tally.failed += 1;
            tally.refused.get_or_insert_with(|| reason.clone());
        }
        _ => tally.failed += 1,
    }
    Ok(())
}

/// seven's answer to a delete, in the queue's words for the message's `provider_delete`.
fn provider_delete(answer: &Outcome<Deletion>) -> ProviderDelete {
    match answer {
        Outcome::Done(Deletion::Deleted) => ProviderDelete::Deleted,
        Outcome::Done(Deletion::AlreadySent { reason }) => ProviderDelete::AlreadySent {
            reason: reason.clone(),
        },
        Outcome::Done(Deletion::NotFound) => ProviderDelete::NotFound,
        Outcome::Failed { code, reason } => ProviderDelete::Failed {
            reason: format!("{code}: {reason}"),
        },
        Outcome::Halt { reason, .. } => ProviderDelete::Refused {
            reason: reason.clone(),
        },
        Outcome::Retry { reason, .. } | Outcome::RateLimited { reason, .. } => {
            ProviderDelete::Retry {
                reason: reason.clone(),
            }
        }
        Outcome::Unknown { reason } => ProviderDelete::Unknown {
            reason: reason.clone(),
        },
    }
}

/// One delete, tried again a few times when seven asks to or gives no answer (deleting twice is
/// harmless: the second answer is "not found" or "deleted").
async fn delete(seven: &SevenClient, provider_id: &str) -> Outcome<Deletion> {
    let mut attempt = 1;
    loop {
        let answer = seven.delete(provider_id).await;
        let wait = match &answer {
            Outcome::Retry { after, .. } | Outcome::RateLimited { after, .. } => {
                after.unwrap_or(backoff(attempt))
            }
            Outcome::Unknown { .. } => backoff(attempt),
            _ => return answer,
        };
        if attempt >= DELETE_ATTEMPTS {
            return answer;
        }
        tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
        attempt += 1;
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(attempt.saturating_sub(1).min(5)))
}

/// The seven client, with the key from SEVEN_API_KEY or --api-key-file.
fn seven_client(args: &CancelArgs, id: &CampaignId) -> anyhow::Result<SevenClient> {
    let key = api_key(args.api_key_file.as_deref()).with_context(|| {
        format!(
            "campaign {id} hands messages to seven ahead of their send time (--handoff-ahead), \
             and cancelling it deletes those at seven, which needs the API key (nothing was \
             changed)"
        )
    })?;
    let config = SevenConfig {
        base_url: args
            .seven_base_url
            .parse()
            .with_context(|| format!("--seven-base-url {:?} is not a URL", args.seven_base_url))?,
        api_key: key,
        timeout: DEFAULT_TIMEOUT,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
    };
    Ok(SevenClient::new(&config)?)
}

/// The key as the worker takes it (`SEVEN_API_KEY`, the key file, the systemd credential).
fn api_key(file: Option<&Path>) -> anyhow::Result<SecretString> {
    SEVEN_API_KEY.read(file)?.with_context(|| {
        format!(
            "no seven API key: set {} or pass --api-key-file FILE",
            SEVEN_API_KEY.env
        )
    })
}

fn print(
    global: &GlobalArgs,
    record: &CampaignRecord,
    cancelled_now: u64,
    in_flight: u64,
    tally: Option<&Tally>,
) -> anyhow::Result<()> {
    let id = &record.campaign.id;
    match global.format {
        Format::Json => {
            let mut out = campaign_view::campaign_json(record);
            out.insert("cancelled_now".into(), cancelled_now.into());
            out.insert("in_flight".into(), in_flight.into());
            out.insert(
                "held_at_seven".into(),
                tally.map_or(Value::Null, |t| {
                    json!({
                        "found": t.held,
                        "deleted": t.deleted,
                        "already_sent": t.already_sent,
                        "not_found": t.not_found,
                        "failed": t.failed,
                    })
                }),
            );
            output::print_json(&Value::Object(out))
        }
        Format::Text => {
            let mut text = format!(
                "campaign {id} is {}: {cancelled_now} queued messages cancelled",
                record.state
            );
            if in_flight > 0 {
                text.push_str(&format!(
                    "; {in_flight} in flight are recorded as their requests end"
                ));
            }
            text.push('\n');
            if let Some(t) = tally {
                text.push_str(&format!(
                    "seven held {} of its messages for a later send time: {} deleted, {} \
                     already sent, {} not found, {} failed\n",
                    t.held, t.deleted, t.already_sent, t.not_found, t.failed
                ));
            }
            output::print(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delete_answer_has_a_distinct_word() {
        let answers = [
            Outcome::Done(Deletion::Deleted),
            Outcome::Done(Deletion::AlreadySent { reason: "r".into() }),
            Outcome::Done(Deletion::NotFound),
            Outcome::Failed {
                code: "400".into(),
                reason: "r".into(),
            },
            Outcome::Halt {
                scope: wacast_shared::provider::outcome::HaltScope::Campaign,
                reason: "r".into(),
            },
            Outcome::Retry {
                after: None,
                reason: "r".into(),
            },
            Outcome::Unknown { reason: "r".into() },
        ];
        let recorded: Vec<ProviderDelete> = answers.iter().map(provider_delete).collect();
        let mut words: Vec<&str> = recorded.iter().map(ProviderDelete::as_str).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), answers.len());
        assert_eq!(
            (recorded[3].as_str(), recorded[3].detail()),
            ("failed", "400: r")
        );
    }
}
