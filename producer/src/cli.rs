//! The command line: `wacast [global options] <command>`, as clap derive structs.
//!
//! Every option is documented here, so that `--help` is the reference; the environment
//! variables that back some of them are named in one place ([`env`](mod@env)).

use std::path::PathBuf;

use chrono_tz::Tz;
use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::options;

/// The environment variables the CLI reads.
pub(crate) mod env {
    pub(crate) const REDIS_URL: &str = "WACAST_REDIS_URL";
    pub(crate) const PREFIX: &str = "WACAST_PREFIX";
    pub(crate) const FROM: &str = "WACAST_FROM";
    pub(crate) const REGION: &str = "WACAST_REGION";
    pub(crate) const TZ: &str = "WACAST_TZ";
    pub(crate) const TEMPLATES: &str = "WACAST_TEMPLATES";
}

/// wacast: scheduled WhatsApp campaigns from a CSV file, sent through seven by wacast-worker.
#[derive(Debug, Parser)]
#[command(name = "wacast", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Redis holding the queue: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
    #[arg(
        long,
        global = true,
        env = env::REDIS_URL,
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) redis_url: String,

    /// Prefix of every Redis key wacast writes (`PREFIX:campaign:ID`, …).
    #[arg(long, global = true, env = env::PREFIX, hide_env_values = true, default_value = "wacast")]
    pub(crate) prefix: String,

    /// Print results as text for people or as one JSON object for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// Print only results and errors: no progress bar, no warnings, no rejected-row excerpt.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned text for people.
    Text,
    /// One JSON object with stable field names.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read a CSV of recipients and enqueue one message per valid row.
    Enqueue(Box<EnqueueArgs>),
}

const ENQUEUE_LONG_ABOUT: &str = "\
Read a CSV of recipients and enqueue one message per valid row.

The file is read twice: once to hash it (the campaign id is derived from the file and the
options, so the same upload is never sent twice) and check that it is UTF-8, then to enqueue it
in chunks. Memory stays small whatever the file's size.

Every row is checked: a valid phone number (normalised to E.164; national numbers need --region),
every referenced column present and non-empty, template parameters without line breaks, tabs or
more than four spaces in a row (WhatsApp refuses them: error 132018), per-row override columns
(delay, ttl, label, language) readable, no duplicate recipient, no number on the opt-out list.
Rejected rows are written to the rejects file with their line number and reason; the others are
enqueued.

Headers are matched without regard to case or spaces (`Order ID` = `order_id`). The phone column is
--phone-column, or the one header among phone, mobile, number, to, msisdn, telefon, handy,
phone_number, mobile_number, telefonnummer, handynummer.

An enqueue interrupted by Ctrl-C or a crash can be run again with the same command: it resumes
the same campaign and skips the rows already enqueued.

Exit status: 0 every row was enqueued; 1 some rows were rejected (the rest were enqueued);
2 error (nothing more was enqueued).";

const ENQUEUE_EXAMPLES: &str = "\
Examples:
  # A template with two body parameters and a URL button, sent tomorrow at 9:00 Berlin time
  wacast enqueue --csv customers.csv --from 4915112345678 \\
      --template order_confirmation --language de --body name,order_id --button order_id \\
      --delay '2026-05-01 09:00' --tz Europe/Berlin --region DE --label spring-sale

  # Check everything and show the first messages without writing to Redis
  wacast enqueue --csv customers.csv --from 4915112345678 --text 'Hello {{name}}' --dry-run

  # Media, location and interactive messages
  wacast enqueue --csv c.csv --from 4915112345678 \\
      --kind image --url 'https://shop.example/{{sku}}.jpg' --caption 'Your {{product}}'
  wacast enqueue --csv c.csv --from 4915112345678 \\
      --kind location --latitude 52.52 --longitude 13.405 --name 'Our shop'
  wacast enqueue --csv c.csv --from 4915112345678 --kind interactive --interactive-type button \\
      --body-text 'Hi {{name}}, still interested?' --reply-button yes:Yes --reply-button no:No

  # Any seven message body, with {{column}} placeholders
  wacast enqueue --csv c.csv --from 4915112345678 --content-json body.json

JSON output (--format json), one object on stdout:
  {\"campaign\": \"3f9a0c1d2e4b\", \"dry_run\": false, \"resumed\": false, \"rows\": 1000,
   \"enqueued\": 990, \"already_enqueued\": 0, \"rejected\": 10,
   \"rejected_by_reason\": {\"invalid_phone\": 3, \"short_row\": 0, \"extra_fields\": 0,
     \"empty_value\": 0, \"invalid_parameter\": 0, \"invalid_value\": 0, \"invalid_override\": 0,
     \"duplicate\": 7, \"opted_out\": 0},
   \"rejects_file\": \"customers.rejects.csv\", \"first_send_at\": \"2026-05-01T07:00:00Z\",
   \"opt_outs_checked\": true, \"duration_s\": 0.52, \"rows_per_s\": 1923, \"preview\": []}
  `preview` holds the first three message bodies in a dry run; `first_send_at` is null when
  nothing was accepted.";

/// `wacast enqueue`.
#[derive(Debug, Args)]
#[command(long_about = ENQUEUE_LONG_ABOUT, after_long_help = ENQUEUE_EXAMPLES)]
pub(crate) struct EnqueueArgs {
    /// The CSV file of recipients, with a header line.
    #[arg(long, value_name = "FILE")]
    pub(crate) csv: PathBuf,

    /// Your registered WhatsApp Business sender number (international, e.g. 4915112345678).
    #[arg(long, env = env::FROM, hide_env_values = true, value_name = "NUMBER")]
    pub(crate) from: String,

    #[command(flatten)]
    pub(crate) content: ContentArgs,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) delivery: DeliveryArgs,

    /// Check everything and print the first three messages as they would be sent, without
    /// connecting to Redis (so the opt-out list is not checked). The rejects file is written.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Test hook: exit abruptly, as a crash would, once this many rows were enqueued.
    #[arg(long, hide = true, value_name = "ROWS")]
    pub(crate) crash_after_rows: Option<u64>,
}

/// What to send. Exactly one of --template, --text, --kind, --content-json.
#[derive(Debug, Args)]
#[command(
    next_help_heading = "Message content (one of --template, --text, --kind, --content-json)"
)]
#[command(group(ArgGroup::new("message").required(true).args(["template", "text", "kind", "content_json"])))]
pub(crate) struct ContentArgs {
    /// Send the approved template NAME (needs --language).
    #[arg(long, value_name = "NAME", requires = "language")]
    pub(crate) template: Option<String>,

    /// The template's language code (de, en, en_US, …).
    #[arg(long, value_name = "LANG", requires = "template")]
    pub(crate) language: Option<String>,

    /// Columns whose values fill the template header's {{1}}, {{2}}, … (comma-separated). For an
    /// image header, the column holds the image URL.
    #[arg(
        long,
        value_name = "COL,…",
        value_delimiter = ',',
        requires = "template"
    )]
    pub(crate) header: Vec<String>,

    /// Columns whose values fill the template body's {{1}}, {{2}}, … in order (comma-separated).
    #[arg(
        long,
        value_name = "COL,…",
        value_delimiter = ',',
        requires = "template"
    )]
    pub(crate) body: Vec<String>,

    /// Columns whose values fill the dynamic part of the template's buttons, one button per
    /// column in order (comma-separated).
    #[arg(
        long,
        value_name = "COL,…",
        value_delimiter = ',',
        requires = "template"
    )]
    pub(crate) button: Vec<String>,

    /// The template buttons' type.
    #[arg(long, value_enum, default_value_t = ButtonType::Url, requires = "template")]
    pub(crate) button_type: ButtonType,

    /// Send a freetext message (only delivered inside a 24-hour conversation window); {{column}}
    /// placeholders are filled from each row: 'Hello {{name}}'.
    #[arg(long, value_name = "TEXT")]
    pub(crate) text: Option<String>,

    /// Send a media, location, contacts or interactive message; its fields follow.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<Kind>,

    /// Media URL (image, video, audio, document, sticker): https://… or {{column}}.
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,

    /// Media caption (image, video, document).
    #[arg(long, value_name = "TEXT")]
    pub(crate) caption: Option<String>,

    /// The file name shown for a document.
    #[arg(long, value_name = "NAME")]
    pub(crate) filename: Option<String>,

    /// Location latitude: a number or {{column}}.
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub(crate) latitude: Option<String>,

    /// Location longitude: a number or {{column}}.
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub(crate) longitude: Option<String>,

    /// Location name.
    #[arg(long, value_name = "TEXT")]
    pub(crate) name: Option<String>,

    /// Location address.
    #[arg(long, value_name = "TEXT")]
    pub(crate) address: Option<String>,

    /// The shared contact's first name.
    #[arg(long, value_name = "TEXT")]
    pub(crate) contact_first_name: Option<String>,

    /// The shared contact's last name.
    #[arg(long, value_name = "TEXT")]
    pub(crate) contact_last_name: Option<String>,

    /// The shared contact's phone number.
    #[arg(long, value_name = "NUMBER")]
    pub(crate) contact_phone: Option<String>,

    /// The shared contact's phone type.
    #[arg(long, value_enum, default_value_t = ContactPhoneType::Cell)]
    pub(crate) contact_phone_type: ContactPhoneType,

    /// Interactive message type: reply buttons or a list.
    #[arg(long, value_enum)]
    pub(crate) interactive_type: Option<InteractiveType>,

    /// Interactive message body text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) body_text: Option<String>,

    /// Interactive message header text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) header_text: Option<String>,

    /// Interactive message footer text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) footer_text: Option<String>,

    /// A reply button as ID:TITLE (title at most 20 characters); give it 2 or 3 times.
    #[arg(long, value_name = "ID:TITLE")]
    pub(crate) reply_button: Vec<String>,

    /// The text of the button that opens an interactive list.
    #[arg(long, value_name = "TEXT")]
    pub(crate) button_text: Option<String>,

    /// A JSON file with the list's sections, as seven takes them:
    /// [{"title": "…", "rows": [{"id": "…", "title": "…", "description": "…"}]}].
    #[arg(long, value_name = "FILE")]
    pub(crate) sections_json: Option<PathBuf>,

    /// A JSON file holding any seven message body without from/to (e.g. {"type": "video",
    /// "url": "…", "caption": "Hi {{name}}"}); {{column}} placeholders in its strings are filled
    /// from each row.
    #[arg(long, value_name = "FILE")]
    pub(crate) content_json: Option<PathBuf>,

    /// A TOML or JSON file listing the approved templates and their parameter counts; the
    /// template mapping is checked against it before anything is enqueued. TOML: one
    /// `[[templates]]` table per template with name = "order_confirmation", language = "de",
    /// header = 0, body = 2, buttons = 1. JSON: a list of the same objects.
    #[arg(long, env = env::TEMPLATES, hide_env_values = true, value_name = "FILE")]
    pub(crate) templates: Option<PathBuf>,
}

/// Template button types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ButtonType {
    /// A URL button with a dynamic suffix.
    Url,
}

/// Non-template message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Document => "document",
            Kind::Sticker => "sticker",
            Kind::Location => "location",
            Kind::Contacts => "contacts",
            Kind::Interactive => "interactive",
        }
    }
}

/// Contact phone types, as seven names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ContactPhoneType {
    Cell,
    Main,
    Iphone,
    Home,
    Work,
}

impl ContactPhoneType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ContactPhoneType::Cell => "cell",
            ContactPhoneType::Main => "main",
            ContactPhoneType::Iphone => "iphone",
            ContactPhoneType::Home => "home",
            ContactPhoneType::Work => "work",
        }
    }
}

/// Interactive message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InteractiveType {
    /// Two or three reply buttons (--reply-button).
    Button,
    /// A list of choices (--button-text, --sections-json).
    List,
}

/// How to read the file.
#[derive(Debug, Args)]
#[command(next_help_heading = "Reading the CSV")]
pub(crate) struct InputArgs {
    /// The column holding the recipient's number (default: the one header among phone, mobile,
    /// number, to, msisdn, telefon, handy, …).
    #[arg(long, value_name = "COL")]
    pub(crate) phone_column: Option<String>,

    /// Default country for numbers written without a country code (ISO code: DE, AT, US, …).
    #[arg(long, env = env::REGION, hide_env_values = true, value_name = "CC")]
    pub(crate) region: Option<String>,

    /// The field delimiter; auto detects , ; or tab from the header line.
    #[arg(long, default_value = "auto", value_name = "auto|,|;|tab", value_parser = parse_delimiter)]
    pub(crate) delimiter: Delimiter,

    /// The file's text encoding when it is not UTF-8: latin1, windows-1252, utf-16le, … (any
    /// WHATWG label). Without it, a file that is not UTF-8 is refused with the line named.
    #[arg(long, value_name = "NAME")]
    pub(crate) encoding: Option<String>,

    /// Where to write rejected rows (line, reason, then the row's fields). Default: the input's
    /// name with .rejects.csv, beside it. Written on every run that reads the file, so it always
    /// describes the last run; only the header line when nothing was rejected.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
}

/// When and how messages are delivered.
#[derive(Debug, Args)]
#[command(next_help_heading = "Delivery")]
pub(crate) struct DeliveryArgs {
    /// When sending starts: '2026-05-01 09:00' or '2026-05-01 09:00:00' (in --tz), RFC 3339
    /// (2026-05-01T09:00:00+02:00), unix seconds, now, or relative (+30m, +2h, +1d). A time in
    /// the past means now. A `delay` column overrides it per row (relative times there count
    /// from the campaign's creation). Default: now.
    #[arg(long, value_name = "WHEN")]
    pub(crate) delay: Option<String>,

    /// The time zone of times written without an offset (IANA name: Europe/Berlin).
    #[arg(long, env = env::TZ, hide_env_values = true, default_value = "UTC", value_name = "ZONE", value_parser = parse_tz)]
    pub(crate) tz: Tz,

    /// How long a message may still be sent after its send time, in minutes (default 48 hours);
    /// after that it expires unsent. A `ttl` column overrides it per row.
    #[arg(long, default_value = "2880", value_name = "MINUTES", value_parser = options::parse_ttl)]
    pub(crate) ttl: u32,

    /// seven's statistics label (at most 100 of a-z A-Z 0-9 . - _ @). A `label` column
    /// overrides it per row.
    #[arg(long, value_parser = parse_label)]
    pub(crate) label: Option<String>,

    /// Ask seven to track clicks on links in the message (this shortens the URLs).
    #[arg(long)]
    pub(crate) performance_tracking: bool,

    /// The campaign id (1 to 32 of a-z A-Z 0-9 _ -). Default: the first 12 hex digits of a
    /// SHA-256 of the file and the options, so the same upload is refused the second time;
    /// give an id to send the same file again as a new campaign.
    #[arg(long)]
    pub(crate) id: Option<String>,
}

/// The field delimiter: detected from the header line, or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimiter {
    Auto,
    Byte(u8),
}

fn parse_delimiter(text: &str) -> Result<Delimiter, String> {
    Ok(match text {
        "auto" => Delimiter::Auto,
        "," | "comma" => Delimiter::Byte(b','),
        ";" | "semicolon" => Delimiter::Byte(b';'),
        "tab" | "\\t" | "\t" => Delimiter::Byte(b'\t'),
        "|" | "pipe" => Delimiter::Byte(b'|'),
        _ => return Err("use auto, ',', ';', tab or '|'".into()),
    })
}

fn parse_tz(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>()
        .map_err(|_| format!("{text:?} is not an IANA time zone such as Europe/Berlin or UTC"))
}

fn parse_label(text: &str) -> Result<String, String> {
    options::check_label(text).map(|()| text.to_string())
}
