//! `wacast enqueue`: the flags → an [`IngestRequest`], run through [`ingest`] with the progress
//! bar on stderr, and the summary on stdout (the rejected-row excerpt on stderr).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use wacast_shared::campaign::ProviderKind;
use wacast_shared::queue::Queue;
use wacast_shared::redact::redact_url;

use crate::cli::{
    self, BirdArgs, ContentArgs, Delimiter, DeliveryArgs, EnqueueArgs, Format, GlobalArgs,
    InputArgs, Provider,
};
use crate::ingest::rejects;
use crate::ingest::{
    self, BirdOptions, ContactPhoneType, ContentRequest, DeliveryOptions, Event, IngestRequest,
    InputOptions, InteractiveType, Kind, Source, Summary,
};

/// Exit status of a run interrupted by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Exit status of the `--crash-after-rows` test hook.
const EXIT_CRASHED: i32 = 3;

pub(crate) async fn run(global: &GlobalArgs, args: &EnqueueArgs) -> anyhow::Result<ExitCode> {
    let chatty = global.format == Format::Text && !global.quiet;
    let request = request(args);
    let show_bar = chatty && std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut on_event = |event: Event| match event {
        Event::Warning(text) => {
            if chatty {
                eprintln!("warning: {text}");
            }
        }
        Event::Progress(progress) => {
            let bar = bar.get_or_insert_with(|| progress_bar(show_bar, progress.total_bytes));
            bar.set_position(progress.bytes);
            bar.set_message(format!("{} rows", progress.rows));
            if let Some(limit) = args.crash_after_rows
                && progress.enqueued + progress.already_enqueued >= limit
            {
                // The test hook: leave exactly as a crash would, without finishing anything.
                std::process::exit(EXIT_CRASHED);
            }
        }
    };
    let prepared = ingest::prepare(&request, Source::file(&args.csv), &mut on_event)?;
    let queue = if args.dry_run {
        None
    } else {
        let queue = Queue::connect_tls(&global.redis_url, &global.redis_tls, &global.prefix)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {}",
                    redact_url(&global.redis_url)
                )
            })?;
        Some(queue)
    };
    let ctrl_c = async {
        // An error installing the handler stops the run as Ctrl-C would: nothing is lost.
        let _ = tokio::signal::ctrl_c().await;
    };
    let ran = prepared.run(queue.as_ref(), &mut on_event, ctrl_c).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = ran?;
    if report.interrupted {
        eprintln!("{}", report.interruption());
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let summary = &report.summary;
    print_summary(summary, global.format)?;
    let n_rejected = summary.n_rejected();
    if chatty && n_rejected > 0 {
        eprint!(
            "{}",
            report
                .excerpt
                .to_text(n_rejected, summary.rejects_file.as_deref())
        );
    }
    Ok(if n_rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The flags as an upload request.
fn request(args: &EnqueueArgs) -> IngestRequest {
    let EnqueueArgs {
        csv,
        from,
        provider,
        content,
        bird,
        input,
        delivery,
        dry_run: _,
        crash_after_rows: _,
    } = args;
    let BirdArgs {
        workspace,
        channel,
        tags,
    } = bird;
    let InputArgs {
        phone_column,
        region,
        delimiter,
        encoding,
        rejects,
    } = input;
    let DeliveryArgs {
        delay,
        tz,
        ttl,
        label,
        performance_tracking,
        handoff_ahead,
        window,
        window_tz,
        only_open_window,
        id,
    } = delivery;
    IngestRequest {
        from: from.clone(),
        provider: match provider {
            Provider::Seven => ProviderKind::Seven,
            Provider::Bird => ProviderKind::Bird,
        },
        content: content_request(content),
        bird: BirdOptions {
            workspace: workspace.clone(),
            channel: channel.clone(),
            tags: tags.clone(),
        },
        input: InputOptions {
            phone_column: phone_column.clone(),
            region: region.clone(),
            delimiter: match delimiter {
                Delimiter::Auto => None,
                Delimiter::Byte(d) => Some(*d),
            },
            encoding: encoding.clone(),
        },
        delivery: DeliveryOptions {
            delay: delay.clone(),
            tz: *tz,
            ttl: *ttl,
            label: label.clone(),
            performance_tracking: *performance_tracking,
            handoff_ahead: *handoff_ahead,
            window: window.clone(),
            window_tz: window_tz.clone(),
            only_open_window: *only_open_window,
            id: id.clone(),
        },
        rejects_file: rejects
            .clone()
            .unwrap_or_else(|| rejects::default_path(csv)),
    }
}

/// The message flags as the request's content.
pub(crate) fn content_request(args: &ContentArgs) -> ContentRequest {
    // Destructured, so that a new flag cannot be forgotten here.
    let ContentArgs {
        template,
        language,
        header,
        body,
        button,
        // URL buttons are the only kind, so the type carries nothing.
        button_type: cli::ButtonType::Url,
        template_project,
        template_version,
        locale,
        param,
        text,
        kind,
        url,
        caption,
        filename,
        content_type,
        latitude,
        longitude,
        name,
        address,
        contact_first_name,
        contact_last_name,
        contact_phone,
        contact_phone_type,
        interactive_type,
        body_text,
        header_text,
        footer_text,
        reply_button,
        button_text,
        sections_json,
        content_json,
        templates,
    } = args;
    ContentRequest {
        template: template.clone(),
        language: language.clone(),
        header: header.clone(),
        body: body.clone(),
        button: button.clone(),
        template_project: template_project.clone(),
        template_version: template_version.clone(),
        locale: locale.clone(),
        param: param.clone(),
        text: text.clone(),
        kind: kind.map(|kind| match kind {
            cli::Kind::Image => Kind::Image,
            cli::Kind::Video => Kind::Video,
            cli::Kind::Audio => Kind::Audio,
            cli::Kind::Document => Kind::Document,
            cli::Kind::Sticker => Kind::Sticker,
            cli::Kind::Location => Kind::Location,
            cli::Kind::Contacts => Kind::Contacts,
            cli::Kind::Interactive => Kind::Interactive,
            cli::Kind::File => Kind::File,
            cli::Kind::List => Kind::List,
        }),
        url: url.clone(),
        caption: caption.clone(),
        filename: filename.clone(),
        content_type: content_type.clone(),
        latitude: latitude.clone(),
        longitude: longitude.clone(),
        name: name.clone(),
        address: address.clone(),
        contact_first_name: contact_first_name.clone(),
        contact_last_name: contact_last_name.clone(),
        contact_phone: contact_phone.clone(),
        contact_phone_type: match contact_phone_type {
            cli::ContactPhoneType::Cell => ContactPhoneType::Cell,
            cli::ContactPhoneType::Main => ContactPhoneType::Main,
            cli::ContactPhoneType::Iphone => ContactPhoneType::Iphone,
            cli::ContactPhoneType::Home => ContactPhoneType::Home,
            cli::ContactPhoneType::Work => ContactPhoneType::Work,
        },
        interactive_type: interactive_type.map(|t| match t {
            cli::InteractiveType::Button => InteractiveType::Button,
            cli::InteractiveType::List => InteractiveType::List,
        }),
        body_text: body_text.clone(),
        header_text: header_text.clone(),
        footer_text: footer_text.clone(),
        reply_button: reply_button.clone(),
        button_text: button_text.clone(),
        sections_json: sections_json.clone(),
        content_json: content_json.clone(),
        templates: templates.clone(),
    }
}

/// Prints the summary on stdout, as text or as one JSON object.
fn print_summary(summary: &Summary, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Text => summary.to_text(),
        Format::Json => format!("{}\n", summary.to_json()),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A progress bar on stderr, by bytes of the file, or a hidden one.
fn progress_bar(visible: bool, size: u64) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{bar:30}] {percent:>3}% {msg} ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
