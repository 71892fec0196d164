//! The first stage of a run: everything that can fail the whole upload (the request's options,
//! the templates file, the input's encoding, its header) is checked before Redis is touched,
//! and the campaign is derived, with its id.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use wacast_shared::campaign::{Campaign, CampaignId, ProviderKind};
use wacast_shared::phone::{PhoneNumber, Region};
use wacast_shared::render;
use wacast_shared::window::SendWindow;

use crate::ingest::campaign_id::{canonical_options, derive_id};
use crate::ingest::content;
use crate::ingest::content::bird_target::{bird_target, check_label_column_tag};
use crate::ingest::csv_import::Layout;
use crate::ingest::event::Event;
use crate::ingest::options::{self, Clock};
use crate::ingest::records::Records;
use crate::ingest::request::IngestRequest;
use crate::ingest::source::{self, Scan, Source};
use crate::ingest::templates::Templates;

/// An upload with everything checked that can fail it as a whole, before Redis is touched:
/// the campaign (with its id), and the file opened at its first row. [`Prepared::run`]
/// streams its rows.
pub struct Prepared {
    pub(crate) started: Instant,
    pub(crate) campaign: Campaign,
    pub(crate) reader: Records<Box<dyn BufRead + Send>>,
    pub(crate) layout: Layout,
    pub(crate) delimiter: u8,
    pub(crate) scan: Scan,
    pub(crate) region: Option<Region>,
    pub(crate) region_name: Option<String>,
    pub(crate) templates: Option<Templates>,
    pub(crate) is_template: bool,
    /// The zone of `delay` cells written without an offset.
    pub(crate) tz: Tz,
    /// Whether the id was given rather than derived (the refusal of a second upload says so).
    pub(crate) explicit_id: bool,
    pub(crate) rejects_file: PathBuf,
    /// The input's path, which the rejects file must not be.
    pub(crate) input_path: Option<PathBuf>,
}

/// Checks the request, reads the input once (hash, encoding) and its header, and derives the
/// campaign. Every error that can fail the whole run happens here; warnings go to `on_event`.
pub fn prepare(
    request: &IngestRequest,
    source: Source,
    on_event: &mut dyn FnMut(Event),
) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let encoding = request
        .input
        .encoding
        .as_deref()
        .map(source::resolve_encoding)
        .transpose()?
        .flatten();
    // The first pass over the file runs while the flags are checked: the phone metadata the
    // checks load takes about as long as hashing a large file.
    let shown = source.name().to_string();
    let input_path = source.path().map(PathBuf::from);
    // Before anything is read or written: a rejects file that is the input would destroy it.
    crate::csv_out::check_target(
        &request.rejects_file,
        input_path.as_deref(),
        "the rejects file",
    )?;
    let scanning = {
        std::thread::Builder::new()
            .name("csv-scan".into())
            .spawn(move || source::scan(source, encoding.is_none()))
            .context("cannot start the scan thread")?
    };
    let from = PhoneNumber::parse(&request.from, None).map_err(|e| {
        anyhow::anyhow!(
            "--from {:?} is not a sender number: {e} (write it with its country code, e.g. \
             4915112345678)",
            request.from
        )
    })?;
    let region_name = request
        .input
        .region
        .as_deref()
        .map(|r| r.trim().to_ascii_uppercase());
    let region = region_name
        .as_deref()
        .map(str::parse::<Region>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--region: {e}"))?;
    let provider = request.provider;
    let bird = bird_target(request)?;
    let content = content::build(&request.content, request.provider)?;
    let columns = render::placeholders(&content)?;
    let is_template = match provider {
        ProviderKind::Seven => content.get("type").and_then(Value::as_str) == Some("template"),
        ProviderKind::Bird => content.get("template").is_some(),
    };
    if request.delivery.only_open_window && is_template {
        // A template is what reaches a recipient outside the window: limiting one to open
        // windows would only drop the rows it exists for.
        bail!(
            "--only-open-window is for --text and --kind messages (WhatsApp delivers them only \
             inside the recipient's 24-hour window); a template reaches recipients without one: \
             leave out --only-open-window"
        );
    }
    let templates = request
        .content
        .templates
        .as_deref()
        .map(Templates::load)
        .transpose()?;
    if let Some(templates) = &templates {
        templates.check(&content, request.content.content_json.is_none())?;
    }
    let delivery = &request.delivery;
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
            if at < created_at - chrono::Duration::minutes(1) {
                on_event(Event::Warning(format!(
                    "--delay {text:?} is in the past: sending starts now"
                )));
            }
            at.max(created_at)
        }
        None => created_at,
    };
    let explicit_id = delivery.id.as_deref().map(CampaignId::parse).transpose()?;

    let (scan, opened) = scanning
        .join()
        .map_err(|_| anyhow::anyhow!("the scan thread panicked"))??;
    let input = source::open(opened, encoding, scan.bom)?;
    let (delimiter, input) = match request.input.delimiter {
        Some(d) => (d, input),
        None => source::sniff_header(input, &shown)?,
    };
    let mut reader = Records::new(input, delimiter);
    let mut header = csv::ByteRecord::new();
    reader
        .read(&mut header)
        .with_context(|| format!("cannot read the header line of {shown}"))?;
    if header.iter().all(|f| f.trim_ascii().is_empty()) {
        bail!("{shown} is empty: it needs a header line and one row per recipient");
    }
    let layout = Layout::new(
        &header,
        request.input.phone_column.as_deref(),
        &columns,
        is_template,
    )
    .with_context(|| format!("cannot use {shown}"))?;
    if let Some(bird) = &bird {
        check_label_column_tag(bird, &layout)?;
    }

    let id = match explicit_id {
        Some(id) => id,
        None => derive_id(
            &scan,
            &canonical_options(
                request,
                &from,
                bird.as_ref(),
                &content,
                region_name.as_deref(),
                encoding,
                delimiter,
            ),
        ),
    };
    tracing::info!(
        bytes = scan.size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "File hashed and checked."
    );
    Ok(Prepared {
        started,
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
            only_open_window: delivery.only_open_window,
            tz: delivery.tz,
        },
        reader,
        layout,
        delimiter,
        scan,
        region,
        region_name,
        templates,
        is_template,
        tz: delivery.tz,
        explicit_id: delivery.id.is_some(),
        rejects_file: request.rejects_file.clone(),
        input_path,
    })
}
