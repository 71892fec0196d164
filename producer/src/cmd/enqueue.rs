//! `wacast enqueue`: checks every flag and the file's header, derives the campaign id, creates
//! (or resumes) the campaign, then streams the rows into the queue.
//!
//! Everything that can fail the whole run (flags, templates file, encoding, header) is checked
//! before Redis is touched ([`prepare`]); then [`crate::ingest::pump`] streams the rows. Memory holds a
//! few chunks and the set of accepted numbers, whatever the file's size.
//!
//! Exactly once: the campaign id is derived from the file and the options (or given with
//! `--id`); a finished campaign is refused, an unfinished one is resumed, and the queue skips
//! rows whose message exists, so an interrupted run can be repeated until it completes.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wacast_shared::campaign::{BirdTarget, Campaign, CampaignId, ProviderKind};
use wacast_shared::message::QueuedMessage;
use wacast_shared::phone::{PhoneNumber, Region};
use wacast_shared::provider::bird::message as bird_message;
use wacast_shared::provider::bird::validate::{MAX_TAGS, is_uuid};
use wacast_shared::provider::request::Renderer;
use wacast_shared::queue::{Created, NewMessage, Queue, QueueError};
use wacast_shared::render;
use wacast_shared::window::SendWindow;

use crate::cli::{Delimiter, EnqueueArgs, Format, GlobalArgs, Provider};
use crate::ingest::content;
use crate::ingest::csv_import::{FieldCheck, Layout, RowChecker, RowRules};
use crate::ingest::normalise::Normaliser;
use crate::ingest::options::{self, Clock};
use crate::ingest::pump::{self, Sink, Streamed};
use crate::ingest::rejects::{self, RejectsWriter};
use crate::ingest::source::{self, Scan};
use crate::ingest::summary::Summary;
use crate::ingest::templates::Templates;

/// Messages shown by a dry run.
const PREVIEW: usize = 3;

/// Exit status of a run interrupted by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

pub(crate) async fn run(global: &GlobalArgs, args: &EnqueueArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let chatty = global.format == Format::Text && !global.quiet;
    let prepared = prepare(args, chatty)?;
    tracing::info!(
        bytes = prepared.scan.size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "File hashed and checked."
    );
    let Prepared {
        mut campaign,
        reader,
        layout,
        delimiter,
        scan,
        region,
        region_name,
        templates,
        is_template,
    } = prepared;
    let id = campaign.id.clone();

    let (queue, resumed) = if args.dry_run {
        (None, false)
    } else {
        let queue = Queue::connect(&global.redis_url, &global.prefix)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {}",
                    redact_url(&global.redis_url)
                )
            })?;
        let resumed = open_campaign(&queue, &mut campaign, args.delivery.id.is_some()).await?;
        (Some(queue), resumed)
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
            tz: args.delivery.tz,
            now: campaign.created_at,
        },
        send_at: campaign.send_at,
        handoff_ahead_minutes: campaign.handoff_ahead_minutes,
        ttl_minutes: campaign.ttl_minutes,
        label: campaign.label.clone(),
        provider: campaign.provider,
        language: campaign.template_language().map(str::to_string),
        languages: templates
            .as_ref()
            .and_then(|t| t.languages_like(&campaign.content)),
        region_name,
        window: campaign.window.clone(),
    };
    let rejects_file = args
        .input
        .rejects
        .clone()
        .unwrap_or_else(|| rejects::default_path(&args.csv));
    let sink = Sink {
        queue: queue.as_ref(),
        campaign: &campaign,
        rejects: RejectsWriter::create(&rejects_file, &layout.names, delimiter)?,
        progress: pump::progress_bar(chatty && std::io::stderr().is_terminal(), scan.size),
        preview: if args.dry_run { PREVIEW } else { 0 },
        crash_after_rows: args.crash_after_rows,
    };
    let checker = RowChecker::new(layout, rules, Normaliser::new(region));
    let resume_hint = || {
        format!(
            "campaign {id} is incomplete: run the same command again to finish it (rows already \
             enqueued are skipped)"
        )
    };
    let streamed = match pump::stream(reader, checker, sink).await {
        Ok(streamed) => streamed,
        Err(e) if queue.is_some() => return Err(e.context(resume_hint())),
        Err(e) => return Err(e),
    };
    let Streamed {
        totals,
        excerpt,
        interrupted,
    } = streamed;
    let n_rejected: u64 = totals.rejected.values().sum();
    if interrupted {
        let what = if queue.is_some() {
            resume_hint()
        } else {
            "nothing was written".to_string()
        };
        eprintln!("interrupted after {} rows: {what}", totals.rows);
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if let Some(queue) = &queue {
        queue
            .finish_ingest(&id, n_rejected)
            .await
            .with_context(resume_hint)?;
    }

    let renderer = Renderer::new(&campaign);
    let preview = totals
        .preview
        .iter()
        .map(|m| preview_message(&campaign, &renderer, m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let summary = Summary {
        campaign: id,
        dry_run: args.dry_run,
        resumed,
        rows: totals.rows,
        enqueued: totals.enqueued,
        already_enqueued: totals.already,
        rejected: totals.rejected,
        rejects_file: Some(rejects_file.clone()),
        // Due times run ahead of send times by the handoff.
        first_send_at: totals
            .first_due_ms
            .and_then(DateTime::from_timestamp_millis)
            .map(|due| due + chrono::Duration::minutes(i64::from(campaign.handoff_ahead_minutes))),
        opt_outs_checked: !args.dry_run,
        duration: started.elapsed(),
        preview,
    };
    summary.print(global.format)?;
    if chatty && n_rejected > 0 {
        eprint!("{}", excerpt.to_text(n_rejected, Some(&rejects_file)));
    }
    Ok(if n_rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Everything checked before Redis is touched: the campaign (with its id), and the file
/// opened at its first row.
struct Prepared {
    campaign: Campaign,
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    layout: Layout,
    delimiter: u8,
    scan: Scan,
    region: Option<Region>,
    region_name: Option<String>,
    templates: Option<Templates>,
    is_template: bool,
}

/// Checks the flags, reads the file once (hash, encoding) and its header, and derives the
/// campaign. Every error that can fail the whole run happens here.
fn prepare(args: &EnqueueArgs, chatty: bool) -> anyhow::Result<Prepared> {
    let encoding = args
        .input
        .encoding
        .as_deref()
        .map(source::resolve_encoding)
        .transpose()?
        .flatten();
    // The first pass over the file runs while the flags are checked: the phone metadata the
    // checks load takes about as long as hashing a large file.
    let scanning = {
        let path = args.csv.clone();
        std::thread::Builder::new()
            .name("csv-scan".into())
            .spawn(move || source::scan(&path, encoding.is_none()))
            .context("cannot start the scan thread")?
    };
    let from = PhoneNumber::parse(&args.from, None).map_err(|e| {
        anyhow::anyhow!(
            "--from {:?} is not a sender number: {e} (write it with its country code, e.g. \
             4915112345678)",
            args.from
        )
    })?;
    let region_name = args
        .input
        .region
        .as_deref()
        .map(|r| r.trim().to_ascii_uppercase());
    let region = region_name
        .as_deref()
        .map(str::parse::<Region>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--region: {e}"))?;
    let provider = match args.provider {
        Provider::Seven => ProviderKind::Seven,
        Provider::Bird => ProviderKind::Bird,
    };
    let bird = bird_target(args)?;
    let content = content::build(&args.content, args.provider)?;
    let columns = render::placeholders(&content)?;
    let is_template = match provider {
        ProviderKind::Seven => content.get("type").and_then(Value::as_str) == Some("template"),
        ProviderKind::Bird => content.get("template").is_some(),
    };
    let templates = args
        .content
        .templates
        .as_deref()
        .map(Templates::load)
        .transpose()?;
    if let Some(templates) = &templates {
        templates.check(&content, args.content.content_json.is_none())?;
    }
    let delivery = &args.delivery;
    let window = delivery
        .window
        .as_deref()
        .map(|hours| {
            let zone = delivery.window_tz.as_deref().unwrap_or(delivery.tz.name());
            SendWindow::parse(hours, zone)
        })
        .transpose()
        .context("--window")?;
    // Whole milliseconds, as due times and the queue's timestamps are.
    let created_at = DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
        .context("the system clock is out of range")?;
    let send_at = match &delivery.delay {
        Some(text) => {
            let clock = Clock {
                tz: delivery.tz,
                now: created_at,
            };
            let at =
                options::parse_delay(text, clock).map_err(|e| anyhow::anyhow!("--delay: {e}"))?;
            if chatty && at < created_at - chrono::Duration::minutes(1) {
                eprintln!("warning: --delay {text:?} is in the past: sending starts now");
            }
            at.max(created_at)
        }
        None => created_at,
    };
    let explicit_id = delivery.id.as_deref().map(CampaignId::parse).transpose()?;

    let csv_path = &args.csv;
    let scan = scanning
        .join()
        .map_err(|_| anyhow::anyhow!("the scan thread panicked"))??;
    let mut input = source::open(csv_path, encoding, scan.bom)?;
    let delimiter = match args.input.delimiter {
        Delimiter::Byte(d) => d,
        Delimiter::Auto => source::sniff_delimiter(
            input
                .fill_buf()
                .with_context(|| format!("cannot read {}", csv_path.display()))?,
        )?,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let header = reader
        .byte_headers()
        .with_context(|| format!("cannot read the header line of {}", csv_path.display()))?;
    if header.iter().all(|f| f.trim_ascii().is_empty()) {
        bail!(
            "{} is empty: it needs a header line and one row per recipient",
            csv_path.display()
        );
    }
    let layout = Layout::new(
        header,
        args.input.phone_column.as_deref(),
        &columns,
        is_template,
    )
    .with_context(|| format!("cannot use {}", csv_path.display()))?;
    if let Some(bird) = &bird {
        check_label_column_tag(bird, &layout)?;
    }

    let id = match explicit_id {
        Some(id) => id,
        None => derive_id(
            &scan,
            &canonical_options(
                args,
                &from,
                bird.as_ref(),
                &content,
                region_name.as_deref(),
                encoding,
                delimiter,
            ),
        ),
    };
    Ok(Prepared {
        campaign: Campaign {
            id,
            provider,
            from,
            content,
            columns,
            send_at,
            ttl_minutes: delivery.ttl,
            label: delivery.label.clone(),
            performance_tracking: delivery.performance_tracking,
            created_at,
            handoff_ahead_minutes: delivery.handoff_ahead,
            bird,
            window,
        },
        reader,
        layout,
        delimiter,
        scan,
        region,
        region_name,
        templates,
        is_template,
    })
}

/// `--workspace`, `--channel` and `--tag` as the campaign's Bird target, checked against what
/// Bird would refuse for every message: a missing or malformed workspace or channel id, and
/// more than 10 tags (the label is one). `None` for seven, which refuses Bird's flags rather
/// than drop them.
///
/// Bird also refuses a `scheduledFor` more than 35 days ahead. wacast asks for one only when it
/// hands a message over before its send time, at most `--handoff-ahead` before it, which its
/// parser caps at 7 days; the worker validates every request again before sending it.
fn bird_target(args: &EnqueueArgs) -> anyhow::Result<Option<BirdTarget>> {
    let flags = &args.bird;
    if args.provider == Provider::Seven {
        ensure!(
            flags.workspace.is_none() && flags.channel.is_none() && flags.tags.is_empty(),
            "--workspace, --channel and --tag are Bird's: add --provider bird, or leave them out \
             for seven"
        );
        return Ok(None);
    }
    ensure!(
        !args.delivery.performance_tracking,
        "--performance-tracking is seven's click tracking: Bird's Channels API has no such \
         option, so leave it out for --provider bird"
    );
    let id = |flag: &str, value: Option<&str>, what: &str| -> anyhow::Result<String> {
        let value = value
            .map(str::trim)
            .with_context(|| format!("--provider bird needs {flag} UUID: {what}"))?;
        ensure!(
            is_uuid(value),
            "{flag} {value:?} is not a UUID: {what} (it looks like \
             0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f)"
        );
        Ok(value.to_ascii_lowercase())
    };
    let workspace_id = id(
        "--workspace",
        flags.workspace.as_deref(),
        "copy the workspace's id from Bird's workspace settings",
    )?;
    let channel_id = id(
        "--channel",
        flags.channel.as_deref(),
        "copy the WhatsApp channel's id from its settings in Bird",
    )?;
    let mut tags: Vec<String> = Vec::with_capacity(flags.tags.len());
    for tag in flags.tags.iter().map(|t| bird_message::tag(t)) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let label_tag = args
        .delivery
        .label
        .as_deref()
        .map(bird_message::tag)
        .filter(|label| !tags.contains(label));
    let n_tags = tags.len() + usize::from(label_tag.is_some());
    ensure!(
        n_tags <= MAX_TAGS,
        "Bird takes at most {MAX_TAGS} tags per message, and these options give {n_tags} \
         ({} --tag{}): drop some",
        tags.len(),
        if label_tag.is_some() {
            " and --label, which Bird gets as a tag"
        } else {
            ""
        }
    );
    Ok(Some(BirdTarget {
        workspace_id,
        channel_id,
        tags,
    }))
}

/// A `label` column makes its row's label one more tag: with 10 tags already, Bird would
/// refuse every row that has one.
fn check_label_column_tag(bird: &BirdTarget, layout: &Layout) -> anyhow::Result<()> {
    let has_label_column = layout
        .names
        .iter()
        .any(|name| render::normalise_column(name) == "label");
    ensure!(
        !has_label_column || bird.tags.len() < MAX_TAGS,
        "the file has a label column, whose value Bird gets as one more tag, and --tag gives \
         {MAX_TAGS} already: Bird takes at most {MAX_TAGS}, so drop a --tag or the column"
    );
    Ok(())
}

/// Creates the campaign, or resumes an interrupted enqueue of it (then `campaign` becomes the
/// stored one, whose times every row's due time derives from). Returns whether it resumed.
async fn open_campaign(
    queue: &Queue,
    campaign: &mut Campaign,
    explicit_id: bool,
) -> anyhow::Result<bool> {
    match queue.create_campaign(campaign).await {
        Ok(Created::New) => Ok(false),
        Ok(Created::Resume) => {
            let stored = queue.load_campaign(&campaign.id).await?.campaign;
            check_same_spec(&stored, campaign)?;
            *campaign = stored;
            Ok(true)
        }
        Err(QueueError::CampaignExists(id)) => Err(already_enqueued(queue, &id, explicit_id).await),
        Err(e) => Err(e).context("cannot create the campaign"),
    }
}

/// The options that make two uploads of the same file the same campaign.
fn canonical_options(
    args: &EnqueueArgs,
    from: &PhoneNumber,
    bird: Option<&BirdTarget>,
    content: &Value,
    region: Option<&str>,
    encoding: Option<&'static encoding_rs::Encoding>,
    delimiter: u8,
) -> Value {
    let d = &args.delivery;
    let mut options = json!({
        "from": from.digits(),
        "content": content,
        "delay": d.delay,
        "tz": d.tz.name(),
        "ttl": d.ttl,
        "label": d.label,
        "performance_tracking": d.performance_tracking,
        "region": region,
        "phone_column": args.input.phone_column.as_deref().map(render::normalise_column),
        "encoding": encoding.map(|e| e.name()),
        "delimiter": delimiter,
    });
    // Added after ids were first derived: only a handoff changes the id, so that the same
    // upload without one keeps the id it always had.
    if d.handoff_ahead > 0 {
        options["handoff_ahead"] = d.handoff_ahead.into();
    }
    // Likewise Bird's: the same file through seven and through Bird are two campaigns.
    if let Some(bird) = bird {
        options["provider"] = "bird".into();
        options["bird"] = json!(bird);
    }
    if let Some(window) = &d.window {
        options["window"] = json!([window, d.window_tz.as_deref().unwrap_or(d.tz.name())]);
    }
    options
}

/// The first 12 hex digits of SHA-256(file hash, options).
fn derive_id(scan: &Scan, options: &Value) -> CampaignId {
    let mut hasher = Sha256::new();
    hasher.update(scan.sha256);
    hasher.update(options.to_string().as_bytes());
    let digest = hex::encode(hasher.finalize());
    CampaignId::parse(&digest[..12]).expect("12 hex digits are a valid campaign id")
}

/// Refuses to resume a campaign whose stored spec is not this run's: an `--id` reused for
/// another upload while its first enqueue was unfinished.
fn check_same_spec(stored: &Campaign, ours: &Campaign) -> anyhow::Result<()> {
    let same = stored.provider == ours.provider
        && stored.bird == ours.bird
        && stored.from == ours.from
        && stored.content == ours.content
        && stored.columns == ours.columns
        && stored.ttl_minutes == ours.ttl_minutes
        && stored.label == ours.label
        && stored.performance_tracking == ours.performance_tracking
        && stored.handoff_ahead_minutes == ours.handoff_ahead_minutes
        && stored.window == ours.window;
    if !same {
        bail!(
            "campaign {} exists with other options, and its enqueue was interrupted: run it \
             again with the options it was created with (see redis-cli HGETALL …:campaign:{}), \
             or choose another --id",
            ours.id,
            ours.id
        );
    }
    Ok(())
}

async fn already_enqueued(queue: &Queue, id: &CampaignId, explicit_id: bool) -> anyhow::Error {
    let detail = match queue.load_campaign(id).await {
        Ok(record) => format!(
            " on {} ({} messages)",
            record.campaign.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            record.counters.total
        ),
        Err(_) => String::new(),
    };
    if explicit_id {
        anyhow::anyhow!("campaign {id} was already enqueued{detail}: choose another --id")
    } else {
        anyhow::anyhow!(
            "campaign {id} was already enqueued{detail}: this file was sent with these options \
             before; use --id to send the same file again as a new campaign"
        )
    }
}

/// A message as the worker will send it when it claims it at its due time: the provider's
/// request body, validated as the worker validates it.
fn preview_message(
    campaign: &Campaign,
    renderer: &Renderer,
    m: &NewMessage,
) -> anyhow::Result<Value> {
    let message = QueuedMessage {
        campaign: campaign.id.clone(),
        row: m.row,
        to: m.to.clone(),
        values: m.values.clone(),
        overrides: m.overrides.clone(),
        attempts: 0,
    };
    let due = DateTime::from_timestamp_millis(m.due_ms).context("a due time out of range")?;
    let request = renderer
        .render(campaign, &message, due)
        .with_context(|| format!("row {}: its message would be refused", m.row))?;
    let send_at = m
        .overrides
        .send_at
        .unwrap_or(campaign.send_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(json!({"row": m.row, "send_at": send_at, "body": request}))
}

/// The URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact_url("redis://:s3cret@db:6379/0"),
            "redis://***@db:6379/0"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn derived_ids_depend_on_file_and_options() {
        let scan = |byte| Scan {
            sha256: [byte; 32],
            size: 1,
            bom: source::Bom::None,
        };
        let a = derive_id(&scan(1), &json!({"ttl": 1}));
        assert_eq!(a.as_str().len(), 12);
        assert_eq!(a, derive_id(&scan(1), &json!({"ttl": 1})));
        assert_ne!(a, derive_id(&scan(2), &json!({"ttl": 1})));
        assert_ne!(a, derive_id(&scan(1), &json!({"ttl": 2})));
    }
}
