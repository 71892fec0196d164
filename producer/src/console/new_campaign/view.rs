//! The new campaign page's markup: the upload form, the dry run (counts, rejected rows by
//! reason with their line numbers, the first messages) with the options to change and check
//! again (the template's parameters and the phone column chosen among the file's columns), and
//! the enqueue's progress. maud escapes every value, a CSV's `<script>` included.

use maud::{Markup, html};
use wacast_shared::campaign::ProviderKind;
use wacast_shared::render::normalise_column;

use crate::console::layout::csrf_field;
use crate::console::new_campaign::form::{MessageKind, Options};
use crate::console::new_campaign::job::{DryRun, JobState};
use crate::console::new_campaign::mapping::{self, Component, MAPPED_FOR};
use crate::console::new_campaign::uploads::{FILE_FIELD, Upload};
use crate::console::sessions::{CSRF_FIELD, Login};
use crate::console::view;
use crate::ingest::templates::Approved;

/// The script that polls the progress (served by this page's routes: the CSP allows only the
/// console's own scripts).
pub(crate) const PROGRESS_SCRIPT_PATH: &str = "/campaigns/new/progress.js";

/// The upload form: the file and every option; its action carries the CSRF token, as a
/// multipart body is not read before the file is streamed.
pub(crate) fn upload_form(
    login: &Login,
    templates: &[Approved],
    max_upload: u64,
    error: Option<&str>,
) -> Markup {
    let action = format!(
        "/campaigns/new?{CSRF_FIELD}={}",
        percent_encoding::utf8_percent_encode(&login.csrf, percent_encoding::NON_ALPHANUMERIC)
    );
    html! {
        @if let Some(error) = error {
            p.flash.error role="alert" { (error) }
        }
        p { "Upload a CSV of recipients (a phone column, and the columns your message uses). "
            "Nothing is written until you have seen the dry run and chosen to enqueue." }
        form #upload.campaign method="post" action=(action) enctype="multipart/form-data" {
            (option_fields(&Options::default(), templates, &[]))
            fieldset {
                legend { "Recipients" }
                label for="csv" { "CSV file (at most " (max_upload / 1_000_000) " MB)" }
                input #csv type="file" name=(FILE_FIELD) accept=".csv,.txt,text/csv" required;
            }
            button type="submit" { "Upload and dry run" }
        }
    }
}

/// The form's options, filled with `options`; the same fields upload a file and check again.
/// `columns` are the uploaded file's (none before the upload): the template's parameters and
/// the phone column are then chosen among them.
fn option_fields(options: &Options, templates: &[Approved], columns: &[String]) -> Markup {
    let kind = options.kind;
    html! {
        fieldset {
            legend { "Sender" }
            (radio("provider", "seven", options.provider == ProviderKind::Seven, "seven (--provider seven)"))
            (radio("provider", "bird", options.provider == ProviderKind::Bird, "Bird (--provider bird: its fields below)"))
            label for="from" { "Sender number (--from; for Bird, the number behind the channel)" }
            input #from name="from" value=(options.from) placeholder="4915112345678" required;
        }
        fieldset {
            legend { "Message" }
            (radio("kind", MessageKind::Template.as_str(), kind == MessageKind::Template, "Approved template"))
            @if templates.is_empty() {
                label for="template" { "seven: template as name|language (--template, --language)" }
                input #template name="template" value=(options.template) placeholder="order_confirmation|de";
            } @else {
                label for="template" { "seven: template (--template, --language; from the templates file)" }
                select #template name="template" {
                    @for t in templates {
                        @let value = format!("{}|{}", t.name, t.language);
                        option value=(value) selected[value == options.template] {
                            (t.name) " (" (t.language) "): header " (t.header)
                            ", body " (t.body) ", buttons " (t.buttons)
                        }
                    }
                }
            }
            (parameter_fields(options, templates, columns))
            (radio("kind", MessageKind::Text.as_str(), kind == MessageKind::Text, "Freetext"))
            label for="text" { "Text with {{column}} placeholders (--text)" }
            textarea #text name="text" rows="3" { (options.text) }
            (radio("kind", MessageKind::Image.as_str(), kind == MessageKind::Image, "Image"))
            label for="url" { "Image URL: https://… or {{column}} (--url)" }
            input #url name="url" value=(options.url);
            label for="caption" { "Caption (--caption)" }
            input #caption name="caption" value=(options.caption);
            @if !columns.is_empty() {
                p.hint #file-columns { "The file's columns: " (columns.join(", ")) }
            }
        }
        fieldset #bird {
            legend { "Bird (with --provider bird)" }
            label for="workspace" { "Workspace id (--workspace)" }
            input #workspace name="workspace" value=(options.workspace) placeholder="UUID from Bird's workspace settings";
            label for="channel" { "WhatsApp channel id (--channel)" }
            input #channel name="channel" value=(options.channel) placeholder="UUID from the channel's settings";
            label for="tags" { "Tags, comma-separated (--tag)" }
            input #tags name="tags" value=(options.tags);
            p.hint { "Bird's approved template, when the message is \"Approved template\":" }
            label for="template_project" { "Template project id (--template-project)" }
            input #template_project name="template_project" value=(options.template_project);
            label for="template_version" { "Template version, a UUID or latest (--template-version)" }
            input #template_version name="template_version" value=(options.template_version);
            label for="locale" { "Template locale, e.g. de or pt-BR (--locale)" }
            input #locale name="locale" value=(options.locale);
            label for="params" { "Template variables as KEY=COLUMN, comma-separated (--param)" }
            input #params name="params" value=(options.params) placeholder="name=first_name";
        }
        fieldset {
            legend { "When" }
            label for="send_at" { "Send at, empty for now (--delay)" }
            input #send_at type="datetime-local" name="send_at" value=(options.send_at);
            label for="tz" { "Time zone of the send time (--tz)" }
            input #tz name="tz" value=(options.tz) placeholder="Europe/Berlin";
            label for="window" { "Send window HH:MM-HH:MM, empty for any time (--window)" }
            input #window name="window" value=(options.window) placeholder="09:00-20:00";
            label for="window_tz" { "Window's zone: an IANA zone or recipient (--window-tz)" }
            input #window_tz name="window_tz" value=(options.window_tz);
            label for="ttl" { "Valid for, in minutes after the send time (--ttl)" }
            input #ttl name="ttl" value=(options.ttl) inputmode="numeric";
            label for="label" { "Label (--label)" }
            input #label name="label" value=(options.label);
        }
        fieldset {
            legend { "Reading the file" }
            label for="phone_column" { "Phone column (--phone-column)" }
            @if columns.is_empty() {
                input #phone_column name="phone_column" value=(options.phone_column) placeholder="empty: found by its header";
            } @else {
                @let chosen = normalise_column(&options.phone_column);
                select #phone_column name="phone_column" {
                    option value="" selected[chosen.is_empty()] { "found by its header (phone, mobile, telefon, …)" }
                    @for column in columns {
                        option value=(column) selected[!chosen.is_empty() && normalise_column(column) == chosen] { (column) }
                    }
                }
            }
            label for="region" { "Country of national numbers, e.g. DE (--region)" }
            input #region name="region" value=(options.region);
        }
    }
}

/// The columns of seven's template parameters: a select of the file's columns per parameter
/// when the template is in the templates file and the file is uploaded, a note before the
/// upload, else the typed lists the flags take.
fn parameter_fields(options: &Options, templates: &[Approved], columns: &[String]) -> Markup {
    let approved = mapping::approved(&options.template, templates);
    html! {
        @match approved {
            Some(approved) if !columns.is_empty() => {
                @let proposal = options.mapping.proposal(approved, columns, &options.phone_column);
                fieldset #mapping {
                    legend { "Columns for " (approved.name) " (" (approved.language) ") (--header, --body, --button)" }
                    input type="hidden" name=(MAPPED_FOR) value=(options.template);
                    @if mapping::n_parameters(approved) == 0 {
                        p.hint { "This template has no parameters." }
                    }
                    @for component in Component::ALL {
                        @for (i, chosen) in proposal.of(component).iter().enumerate() {
                            @let field = component.field(i);
                            label for=(field) { (component.label(i)) " (--" (component.name()) ")" }
                            select id=(field) name=(field) {
                                option value="" selected[chosen.is_empty()] { "choose a column" }
                                @for column in columns {
                                    option value=(column) selected[column == chosen] { (column) }
                                }
                            }
                        }
                    }
                    p.hint { "Another template asks for its own columns when you check again." }
                }
            }
            _ if !templates.is_empty() && columns.is_empty() => {
                p.hint { "After the upload, choose the file's column for each of the template's parameters." }
            }
            _ => {
                label for="header" { "seven: header parameter columns, comma-separated (--header)" }
                input #header name="header" value=(options.mapping.header.join(","));
                label for="body" { "seven: body parameter columns, comma-separated, in order (--body)" }
                input #body name="body" value=(options.mapping.body.join(",")) placeholder="name,order_id";
                label for="button" { "seven: URL button columns (--button)" }
                input #button name="button" value=(options.mapping.button.join(","));
            }
        }
    }
}

/// A radio button of `name` with its label.
fn radio(name: &str, value: &str, checked: bool, label: &str) -> Markup {
    let id = format!("{name}-{value}");
    html! {
        div.choice {
            input id=(id) type="radio" name=(name) value=(value) checked[checked];
            label for=(id) { (label) }
        }
    }
}

/// The dry run of an upload, the enqueue button, and the options to change and check again.
pub(crate) fn dry_run_page(
    login: &Login,
    upload: &Upload,
    options: &Options,
    dry_run: &Option<Result<DryRun, String>>,
    templates: &[Approved],
) -> Markup {
    let base = format!("/campaigns/new/{}", upload.id);
    html! {
        p { "File " strong { (upload.file_name) } " (" (upload.size) " bytes). Dry run: nothing has been written yet." }
        @match dry_run {
            None => {
                section #dry-run {
                    h2 { "Choose the columns" }
                    p { "Choose the file's column for each of the template's parameters below, then run the dry run." }
                }
            }
            Some(Err(error)) => {
                section #dry-run {
                    h2 { "The upload cannot be enqueued" }
                    p.flash.error role="alert" { (error) }
                    p { "Change the options below and check again." }
                }
            }
            Some(Ok(run)) => {
                section #dry-run {
                    h2 { "Dry run" }
                    dl.summary {
                        dt { "campaign" } dd #dry-campaign { (run.campaign) }
                        dt { "rows" } dd #dry-rows { (run.rows) }
                        dt { "would enqueue" } dd #dry-accepted { (run.accepted) }
                        dt { "rejected" } dd #dry-rejected { (run.rejected) }
                        dt { "first send" } dd {
                            @match run.first_send_at {
                                Some(at) => time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) },
                                None => "-",
                            }
                        }
                    }
                    @for warning in &run.warnings {
                        p.flash.warning { "warning: " (warning) }
                    }
                    @if run.accepted > 0 {
                        // The dry run is the confirmation: the button names what it does.
                        form #enqueue method="post" action=(format!("{base}/enqueue")) {
                            (csrf_field(login))
                            button type="submit" { "Enqueue " (run.accepted) " messages" }
                        }
                    } @else {
                        p.flash.error { "No row would be enqueued." }
                    }
                }
                @if !run.by_reason.is_empty() {
                    section #rejects {
                        h2 { "Rejected rows (" (run.rejected) ")" }
                        (view::rejects(&run.by_reason))
                    }
                }
                @if !run.preview.is_empty() {
                    section #preview {
                        h2 { "The first messages, as the worker will send them" }
                        @for message in &run.preview {
                            pre.message { (serde_json::to_string_pretty(message).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        section #options {
            h2 { "Options" }
            form.campaign method="post" action=(format!("{base}/check")) {
                (csrf_field(login))
                (option_fields(options, templates, &upload.columns))
                button type="submit" {
                    @if dry_run.is_some() { "Check again" } @else { "Run the dry run" }
                }
            }
        }
    }
}

/// The enqueue's progress: a bar, the counts, and where it ended.
pub(crate) fn progress_page(upload: &Upload, state: &JobState) -> Markup {
    let base = format!("/campaigns/new/{}", upload.id);
    html! {
        section #progress data-progress=(format!("{base}/progress.json")) {
            @match state {
                JobState::Running(p) => {
                    @let percent = percent(p.bytes, p.total_bytes);
                    p { "Enqueueing " strong { (upload.file_name) } "…" }
                    progress #enqueue-progress max="100" value=(percent) aria-label="Enqueue progress" { (percent) "%" }
                    p #progress-text { (p.rows) " rows read, " (p.enqueued + p.already_enqueued) " enqueued, " (p.rejected) " rejected" }
                    // Without JavaScript the page reloads itself until the enqueue ends.
                    noscript { meta http-equiv="refresh" content="2"; }
                    script src=(PROGRESS_SCRIPT_PATH) defer {}
                }
                JobState::Done { campaign, enqueued, rejected } => {
                    p { "Campaign " a href=(format!("/campaigns/{campaign}")) { (campaign) } " is enqueued: "
                        (enqueued) " messages, " (rejected) " rejected rows." }
                }
                JobState::Failed(error) => {
                    p.flash.error role="alert" { "The enqueue failed: " (error) }
                    p { "Rows already enqueued are kept: upload the same file with the same options to finish it." }
                }
            }
        }
    }
}

/// How far through the file, 0 to 100.
pub(crate) fn percent(bytes: u64, total: u64) -> u64 {
    (bytes.min(total) * 100).checked_div(total).unwrap_or(100)
}

/// Polls the progress and goes to the campaign's page when the enqueue has ended.
pub(crate) const PROGRESS_SCRIPT: &str = r#"// wacast console: the enqueue's progress bar, polled.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector("[data-progress]");
  if (!section) return;
  const bar = document.getElementById("enqueue-progress");
  const text = document.getElementById("progress-text");
  async function tick() {
    try {
      const response = await fetch(section.dataset.progress, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const p = await response.json();
        if (p.state !== "running") {
          window.location.assign(p.next);
          return;
        }
        bar.value = p.percent;
        bar.textContent = p.percent + "%";
        text.textContent = p.rows + " rows read, " + p.enqueued + " enqueued, " + p.rejected + " rejected";
      }
    } catch (_) {
      // The next tick tries again.
    }
    setTimeout(tick, 500);
  }
  setTimeout(tick, 500);
});
"#;
