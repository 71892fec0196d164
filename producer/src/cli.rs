//! The command line: `wacast [global options] <command>`, as clap derive structs.
//!
//! Every option is documented here, so that `--help` is the reference; the environment
//! variables that back some of them are named in one place ([`env`](mod@env)).

use std::path::PathBuf;

use chrono_tz::Tz;
use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand, ValueEnum};
use wacast_shared::duration::parse_duration;
use wacast_shared::queue::RedisTls;

use crate::ingest::options;

/// The environment variables the CLI reads.
pub(crate) mod env {
    pub(crate) const REDIS_URL: &str = "WACAST_REDIS_URL";
    pub(crate) const REDIS_URL_FILE: &str = "WACAST_REDIS_URL_FILE";
    pub(crate) const REDIS_CA_FILE: &str = "WACAST_REDIS_CA_FILE";
    pub(crate) const REDIS_CLIENT_CERT: &str = "WACAST_REDIS_CLIENT_CERT";
    pub(crate) const REDIS_CLIENT_KEY: &str = "WACAST_REDIS_CLIENT_KEY";
    pub(crate) const PREFIX: &str = "WACAST_PREFIX";
    pub(crate) const FROM: &str = "WACAST_FROM";
    pub(crate) const REGION: &str = "WACAST_REGION";
    pub(crate) const TZ: &str = "WACAST_TZ";
    pub(crate) const TEMPLATES: &str = "WACAST_TEMPLATES";
    /// The seven API key file, for `wacast cancel` (read as the worker reads it).
    pub(crate) const API_KEY_FILE: &str = "WACAST_API_KEY_FILE";
    pub(crate) const SEVEN_BASE_URL: &str = "WACAST_SEVEN_BASE_URL";
    pub(crate) const CONFIG: &str = "WACAST_CONFIG";
    pub(crate) const LISTEN: &str = "WACAST_LISTEN";
    pub(crate) const CONSOLE_TOKEN_FILE: &str = "WACAST_CONSOLE_TOKEN_FILE";
    pub(crate) const CONSOLE_VIEWER_TOKEN_FILE: &str = "WACAST_CONSOLE_VIEWER_TOKEN_FILE";
    pub(crate) const CONSOLE_HTTPS: &str = "WACAST_CONSOLE_HTTPS";
    pub(crate) const CONSOLE_MAX_UPLOAD: &str = "WACAST_CONSOLE_MAX_UPLOAD";
    pub(crate) const CONSOLE_TRUSTED_PROXIES: &str = "WACAST_CONSOLE_TRUSTED_PROXIES";
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
    /// Redis holding the queue: `redis://[:PASSWORD@]HOST[:PORT][/DB]`, over TLS
    /// `rediss://USER:PASSWORD@HOST:PORT` (see --redis-ca-file) [default: the file of
    /// --redis-url-file, else the systemd credential `redis-url`, else redis://127.0.0.1:6379].
    #[arg(
        long = "redis-url",
        global = true,
        env = env::REDIS_URL,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) redis_url_arg: Option<String>,

    /// A file holding the Redis URL on its first line, which keeps a password out of the
    /// command line and the environment.
    #[arg(long, global = true, env = env::REDIS_URL_FILE, value_name = "FILE")]
    pub(crate) redis_url_file: Option<PathBuf>,

    /// The Redis URL in use: --redis-url, the file's, the credential's or the default
    /// (`wacast_shared::redis_url::resolve`, called once after parsing).
    #[arg(skip)]
    pub(crate) redis_url: String,

    /// CA certificates (PEM) that Redis's certificate must be signed by, for a rediss:// URL
    /// [default: the system's roots].
    #[arg(long, global = true, env = env::REDIS_CA_FILE, value_name = "FILE")]
    pub(crate) redis_ca_file: Option<PathBuf>,

    /// Client certificate (PEM), for a Redis with `tls-auth-clients yes`; with
    /// --redis-client-key.
    #[arg(long, global = true, env = env::REDIS_CLIENT_CERT, value_name = "FILE")]
    pub(crate) redis_client_cert: Option<PathBuf>,

    /// The unencrypted private key (PEM) of --redis-client-cert.
    #[arg(long, global = true, env = env::REDIS_CLIENT_KEY, value_name = "FILE")]
    pub(crate) redis_client_key: Option<PathBuf>,

    /// The TLS files read and checked (`RedisTls::load`, called once after parsing).
    #[arg(skip)]
    pub(crate) redis_tls: RedisTls,

    /// Prefix of every Redis key wacast writes (`PREFIX:campaign:ID`, …).
    #[arg(long, global = true, env = env::PREFIX, hide_env_values = true, default_value = "wacast")]
    pub(crate) prefix: String,

    /// Read only this configuration file, instead of /etc/wacast/wacast.toml and then
    /// ~/.config/wacast/wacast.toml ($XDG_CONFIG_HOME honoured). Their keys (redis_url or
    /// redis_url_file, prefix, templates, region, tz) are the defaults of the flags of those
    /// names; a flag or its variable wins. See `wacast config show`.
    #[arg(long = "config", global = true, env = env::CONFIG, value_name = "FILE")]
    pub(crate) config_file: Option<PathBuf>,

    /// Print results as text for people or as one JSON object for scripts; with json, an
    /// error is a JSON object on stderr too: {"error": …, "hint": …}.
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
    /// Text for people: tables and labelled lines; `wacast report` writes CSV with a header
    /// line instead.
    Text,
    /// JSON with stable field names (`wacast report`: one object per line).
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read a CSV of recipients and enqueue one message per valid row.
    Enqueue(Box<EnqueueArgs>),
    /// List campaigns, newest first: id, label, state, created, progress, cost.
    List(ListArgs),
    /// Show a campaign: state, counters, cost, send times and rate, top failure reasons, and
    /// its delivery funnel.
    Status(StatusArgs),
    /// Wait until a campaign is finished (completed, or cancelled and settled), for scripts.
    Wait(WaitArgs),
    /// Write one CSV line per message of a campaign, in row order.
    Report(ReportArgs),
    /// Pause a campaign: none of its messages are sent until it is resumed.
    Pause(PauseArgs),
    /// Resume a paused campaign.
    Resume(IdArgs),
    /// Cancel a campaign: nothing more of it is sent.
    Cancel(CancelArgs),
    /// Queue a campaign's failed or unknown messages again, keeping their history.
    Retry(RetryArgs),
    /// Manage the opt-out list: numbers never to message.
    Optout(OptoutArgs),
    /// Sender rates for the whole fleet of workers: set, unset, list.
    #[command(long_about = RATE_LONG_ABOUT)]
    Rate(RateArgs),
    /// Messaging tier caps (unique recipients per 24 hours) of senders: set, unset.
    Tier(TierArgs),
    /// Delete finished campaigns from Redis: one, or all finished before a time.
    Purge(PurgeArgs),
    /// The providers' callbacks: those that matched no message.
    Hooks(HooksArgs),
    /// The live workers: host, id, each provider's health (ok, no_key, key_refused,
    /// unreachable, breaker_open), requests in flight, last seen.
    Workers,
    /// Print the completion script of a shell: bash, zsh or fish.
    #[command(long_about = COMPLETIONS_LONG_ABOUT)]
    Completions(CompletionsArgs),
    /// The configuration files: `config show` prints each setting in force and its source.
    Config(ConfigArgs),
    /// Write the man pages (wacast.1, wacast-enqueue.1, …) into a folder; for packaging.
    #[command(hide = true)]
    Manpages(ManpagesArgs),
    /// Serve the console: campaigns, messages, senders, opt-outs and workers in the browser.
    #[command(long_about = SERVE_LONG_ABOUT)]
    Serve(ServeArgs),
}

const SERVE_LONG_ABOUT: &str = "\
Serve the console: the campaigns and their messages, senders, opt-outs and workers in a
browser, with the actions of pause, resume, cancel, retry, rate and optout.

Login takes a token: the operator token (WACAST_CONSOLE_TOKEN, --token-file, or the systemd
credential `console-token`) may do everything; the viewer token (WACAST_CONSOLE_VIEWER_TOKEN,
--viewer-token-file, or the credential `console-viewer-token`) may only look. Without an
operator token the console refuses to listen anywhere but on loopback, where it lets anyone in
as an operator.

Example:
  WACAST_CONSOLE_TOKEN=$(openssl rand -hex 24) wacast serve --listen 0.0.0.0:8425";

/// `wacast serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address and port the console listens on.
    #[arg(long, env = env::LISTEN, default_value = "127.0.0.1:8425", value_name = "ADDR:PORT")]
    pub(crate) listen: std::net::SocketAddr,

    /// A file holding the operator token on its first line [default: WACAST_CONSOLE_TOKEN,
    /// else this file, else the systemd credential `console-token`].
    #[arg(long, env = env::CONSOLE_TOKEN_FILE, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,

    /// A file holding the read-only viewer token [default: WACAST_CONSOLE_VIEWER_TOKEN, else
    /// this file, else the systemd credential `console-viewer-token`; none: no viewer login].
    #[arg(long, env = env::CONSOLE_VIEWER_TOKEN_FILE, value_name = "FILE")]
    pub(crate) viewer_token_file: Option<PathBuf>,

    /// Mark the session cookie `Secure` on every response, for a console behind a proxy that
    /// terminates TLS but does not send `X-Forwarded-Proto: https` (which does the same).
    #[arg(long, env = env::CONSOLE_HTTPS)]
    pub(crate) https: bool,

    /// The address of a reverse proxy in front of the console (repeat the flag, or separate
    /// addresses with commas). For a request from one of them the client is the last address
    /// of `X-Forwarded-For`, the one that proxy saw: the login throttle counts attempts per
    /// that address, and the log names it. From any other peer the header is ignored, since
    /// anyone can send it.
    #[arg(long = "trusted-proxy", env = env::CONSOLE_TRUSTED_PROXIES, value_delimiter = ',',
          value_name = "IP")]
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,

    /// How long a login lasts without being used.
    #[arg(long, default_value = "12h", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) session_ttl: std::time::Duration,

    /// A TOML or JSON file listing the approved templates and their parameter counts, which
    /// the new campaign page offers (as `wacast enqueue --templates` reads it).
    #[arg(long, env = env::TEMPLATES, hide_env_values = true, value_name = "FILE")]
    pub(crate) templates: Option<PathBuf>,

    /// The largest CSV the new campaign page accepts, in megabytes (10^6 bytes); larger files
    /// are refused while they arrive. 256 MB hold about 3 million rows of a dozen columns.
    #[arg(long, env = env::CONSOLE_MAX_UPLOAD, default_value_t = 256, value_name = "MB",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) max_upload: u64,
}

/// Exit status of `wacast wait` when the campaign did not finish in time (as timeout(1) does).
pub(crate) const EXIT_TIMEOUT: u8 = 124;

const CAMPAIGN_JSON: &str = "\
JSON output (--format json): one object per campaign, with stable field names (fields may be
added, never renamed). Times are RFC 3339 in UTC, null when not known yet (text shows them in
the campaign's --tz, the zone named):
  {\"campaign\": \"spring-sale\", \"label\": \"spring\", \"state\": \"running\",
   \"kind\": \"template\", \"template\": \"order_confirmation\", \"template_version\": null,
   \"language\": \"de\",
   \"from\": \"4915112345678\", \"provider\": \"seven\", \"created_at\": \"2027-05-01T06:58:12Z\",
   \"send_at\": \"2027-05-01T07:00:00Z\", \"ttl_minutes\": 2880, \"handoff_ahead_minutes\": 0,
   \"ingest\": \"done\", \"rows\": 1000, \"started_at\": \"2027-05-01T07:00:00Z\",
   \"finished_at\": null, \"pause_reason\": null, \"window\": \"09:00-20:00 Europe/Berlin\",
   \"waiting\": {\"reason\": \"rate\", \"until\": \"2027-05-01T07:12:00.250Z\"},
   \"progress\": 0.95, \"cost\": 6.75,
   \"counters\": {\"total\": 990, \"rejected\": 10, \"queued\": 40, \"claimed\": 5,
     \"sending\": 5, \"sent\": 890, \"failed\": 30, \"expired\": 0, \"cancelled\": 0,
     \"unknown\": 20, \"retries\": 12},
   \"delivered\": 850, \"read\": 610, \"replied\": 42, \"delivery_failed\": 12,
   \"opted_out\": 3, \"deferred\": 4}
  state: scheduled | running | paused | cancelled | completed. progress: final messages / total.
  template: seven's template name or Bird's project id; template_version: Bird's version (null
  for seven); language: seven's language or Bird's locale.
  window: the send window (--window), or null. waiting: why queued messages wait now, or null:
  rate (the sender's rate), pair (one message per recipient per interval), tier (the sender's
  unique recipients per 24 hours), window (outside the send window).
  counters: messages per status (their sum is total), rows rejected at enqueue, and provider
  attempts that were retried. cost: the sum of the prices seven reported (a price in a
  delivery report replaces the one the send returned).
  From the providers' callbacks (0 without them): delivered (messages delivered or read), read,
  replied (answered within the reply window), delivery_failed (sent, then reported failed: a
  late failure), opted_out (recipients who opted out through one of its messages: a STOP reply
  or WhatsApp's 131050), deferred (late 131049 failures, the recipient's marketing limit, that
  put a message back in the queue for later: an event count).";

const STATUS_JSON: &str = "\
`wacast status --format json` adds to that object:
  \"observed_at\": \"2027-05-01T07:12:00Z\",
  \"first_sent_at\": \"2027-05-01T07:00:01Z\", \"last_sent_at\": \"2027-05-01T07:11:59Z\",
  \"send_times\": {\"rows_examined\": 1000, \"exact\": true},
  \"rate_per_s\": 79.8, \"rate_window_s\": 1.0, \"estimated_completion\": \"2027-05-01T07:12:01Z\",
  \"failures\": {\"in_failed_set\": 50, \"examined\": 50, \"exact\": true,
    \"top\": [{\"status\": \"failed\", \"error_code\": \"7002001\",
             \"error\": \"no open 24-hour window\", \"count\": 28}]},
  \"late_failures\": {\"found\": 12, \"rows_examined\": 1000, \"exact\": true,
    \"top\": [{\"error_code\": \"131026\", \"error\": \"Message undeliverable\", \"count\": 9}]}
  first/last_sent_at: the earliest and latest sent_at, read from every row up to 2,000 rows,
  else from 2,000 evenly spaced rows (exact: false; then they are approximate).
  rate_per_s: messages that became final (sent, failed, expired, unknown) per second, from two
  reads of the counters rate_window_s apart (null unless the campaign is running with work left;
  with --watch, between refreshes). estimated_completion: now + open messages / rate, or null.
  failures: the most common (status, error_code, error) among the failed and unknown rows, from
  all of them up to 1,000, else a random sample of 1,000 (exact: false).
  late_failures: sent messages reported failed afterwards, grouped by (error_code, error), the
  provider's whole text; read from the first row on until all delivery_failed are found or
  50,000 rows were read (exact: false when not all were found).";

/// `wacast list`.
#[derive(Debug, Args)]
#[command(after_long_help = CAMPAIGN_JSON)]
pub(crate) struct ListArgs {
    /// Show at most this many campaigns (the newest); 0 shows all.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub(crate) limit: usize,
}

/// A campaign id.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,
}

const STATUS_LONG_ABOUT: &str = "\
Show a campaign: its state, counters, cost, first and last send, current send rate, estimated
completion and most common failure reasons; from the providers' callbacks, its funnel (sent →
delivered → read → replied, as shares of the sent messages), late failures by code, opt-outs
and deferrals.

On a running campaign the command reads the counters twice, one second apart, to measure the
send rate. The failure reasons and send times are read from a bounded sample (see below), so the
command costs Redis the same on a campaign of a million messages as on one of a thousand.

--watch refreshes until the campaign is finished: the screen is redrawn on a terminal, and one
line per refresh is printed when the output is piped (one JSON object per line with
--format json).

Exit status: 0 shown; 2 error (no such campaign, Redis unreachable).";

/// `wacast status`.
#[derive(Debug, Args)]
#[command(long_about = STATUS_LONG_ABOUT, after_long_help = format!("{CAMPAIGN_JSON}\n\n{STATUS_JSON}"))]
pub(crate) struct StatusArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// Refresh until the campaign is finished.
    #[arg(long)]
    pub(crate) watch: bool,

    /// Time between refreshes with --watch: 2s, 500ms, 1m.
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) interval: std::time::Duration,
}

/// `wacast wait`.
#[derive(Debug, Args)]
#[command(
    long_about = "Wait until a campaign is finished: completed, or cancelled with no message in \
                  flight. A paused campaign is waited for too (it may be resumed).\n\nExit \
                  status: 0 finished; 124 still not finished after --timeout; 2 error (no such \
                  campaign, Redis unreachable).",
    after_long_help = CAMPAIGN_JSON
)]
pub(crate) struct WaitArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// Give up after this long: seconds (90) or a duration (30s, 10m, 2h). Default: wait as long
    /// as it takes.
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,

    /// Time between two reads of the campaign.
    #[arg(long, default_value = "500ms", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) interval: std::time::Duration,
}

const REPORT_LONG_ABOUT: &str = "\
Write one CSV line per message of a campaign, in row order (the CSV's data records, 1 = the
first after the header; rejected rows have no line). Messages are read in pipelined batches of
1,000, so memory stays small whatever the campaign's size.

Columns: row, to, status, attempts, provider_id, price, error_code, error, send_at,
provider_scheduled_at, sent_at, updated_at, next_attempt_at, last_status, last_error_code,
last_error, retried_at, provider_delete, provider_delete_error, worker, delivery, delivered_at,
read_at, replied_at, delivery_error_code, delivery_error, opted_out_at, deferred.
  send_at: the message's send time (the row's delay column, else the campaign's).
  provider_scheduled_at: set when wacast handed the message to seven before its send time
    (--handoff-ahead): seven holds it and sends it then.
  last_status, last_error_code, last_error, retried_at: the failure before `wacast retry`.
  provider_delete, provider_delete_error: seven's answer when `wacast cancel` deleted a held
    message (deleted, already_sent, not_found, failed, refused, retry, unknown).
  delivery, delivered_at, read_at, replied_at, delivery_error_code, delivery_error: what the
    provider's callbacks reported after sending: delivery is delivered, read or failed (a late
    failure, with WhatsApp's code and whole reason); replied_at when the recipient answered.
  opted_out_at: when the recipient opted out through this message. deferred: how often a late
    131049 (marketing limit) put it back in the queue.
With --format json, one JSON object per line with the same fields: row, attempts, deferred and
price as numbers, fields without a value null.

Exit status: 0 written; 2 error.";

/// `wacast report`.
#[derive(Debug, Args)]
#[command(long_about = REPORT_LONG_ABOUT)]
pub(crate) struct ReportArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// Write to FILE instead of stdout (through a temporary file beside it, renamed when
    /// complete; never through a symbolic link).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// Only messages in these statuses (comma-separated or repeated; any of them): queued,
    /// claimed, sending, sent, failed, expired, cancelled, unknown; or as the callbacks
    /// reported: delivered (or read), read, replied, delivery_failed.
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = parse_report_status)]
    pub(crate) status: Vec<ReportStatus>,
}

/// What `wacast report --status` selects: a message's status, or what the provider's callbacks
/// reported about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportStatus {
    /// The message's `status`.
    Status(wacast_shared::queue::MessageStatus),
    /// `delivery` is delivered or read (read implies delivered).
    Delivered,
    /// `delivery` is read.
    Read,
    /// The recipient answered: `replied_at` is set.
    Replied,
    /// `delivery` is failed: a late failure.
    DeliveryFailed,
}

/// `wacast pause`.
#[derive(Debug, Args)]
#[command(
    long_about = "Pause a campaign: its due messages are set aside and none of its messages is \
                  sent until `wacast resume`. Messages already handed to seven ahead of their send \
                  time (--handoff-ahead) stay scheduled there: cancel deletes them, pause does \
                  not.\n\nRefused for completed and cancelled campaigns. Exit status: 0 paused; \
                  2 refused or error (nothing changed)."
)]
pub(crate) struct PauseArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// Why, shown by `wacast status` (at most 64 bytes are kept).
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
}

const CANCEL_LONG_ABOUT: &str = "\
Cancel a campaign: every message not yet sent becomes `cancelled`; messages a worker is sending
at that moment are recorded as they end.

A campaign created with --handoff-ahead hands messages to seven before their send time, and
seven holds them until then. Cancel deletes those at seven (DELETE /api/waba/messages/{id}) and
records each answer in the message (provider_delete): deleted ones become `cancelled` and their
price comes off the cost; ones seven already sent stay `sent`. This needs the seven API key
(SEVEN_API_KEY or --api-key-file, as the worker takes it), and works on a completed campaign
too while seven still holds messages of it. Run cancel again to retry deletions that failed.

Refused for completed campaigns with nothing held at seven. Exit status: 0 cancelled (and every
held message deleted or already sent); 1 cancelled, but some held messages could not be deleted
or were still in flight (run it again); 2 refused or error.";

/// `wacast cancel`.
#[derive(Debug, Args)]
#[command(long_about = CANCEL_LONG_ABOUT)]
pub(crate) struct CancelArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// File holding the seven API key, for deleting messages held at seven. Used when
    /// SEVEN_API_KEY is not set.
    #[arg(long, env = env::API_KEY_FILE, hide_env_values = true, value_name = "FILE")]
    pub(crate) api_key_file: Option<PathBuf>,

    /// Base URL of seven's API.
    #[arg(long, env = env::SEVEN_BASE_URL, hide_env_values = true, default_value = "https://gateway.seven.io", value_name = "URL")]
    pub(crate) seven_base_url: String,

    /// Do not ask for confirmation. It is asked only when stdin is a terminal (naming the
    /// campaign and how many messages it would cancel); scripts are never asked.
    #[arg(short, long)]
    pub(crate) yes: bool,
}

/// `wacast retry`.
#[derive(Debug, Args)]
#[command(
    long_about = "Queue a campaign's failed or unknown messages again, due now. Each keeps its \
                  history: attempts stay counted, and the error moves to last_error and \
                  last_error_code. A completed campaign runs again; a paused one keeps them aside \
                  until it is resumed.\n\n`unknown` messages may have reached the recipient \
                  (their request got no answer): retrying them can message someone twice, which \
                  is why they are only ever resent on your word.\n\nRefused while the campaign \
                  is running (its failures are still changing: wait for it to finish or pause \
                  it) and for cancelled campaigns. Exit status: 0 done (also when nothing \
                  matched); 2 refused or error (nothing changed)."
)]
pub(crate) struct RetryArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: String,

    /// Which messages: failed, unknown, or both (comma-separated or repeated).
    #[arg(long, required = true, value_name = "failed|unknown", value_delimiter = ',', value_parser = parse_retry_status)]
    pub(crate) status: Vec<wacast_shared::queue::MessageStatus>,

    /// Only messages whose error_code is this one (e.g. 7002001, 132001, attempts).
    #[arg(long, visible_alias = "code", value_name = "CODE")]
    pub(crate) error_code: Option<String>,
}

/// `wacast optout`.
#[derive(Debug, Args)]
#[command(
    long_about = "Manage the opt-out list: numbers never to message. `wacast enqueue` rejects \
                  rows whose number is on it. Numbers are read as enqueue reads them: \
                  international (+49…, 0049…), or national with --region."
)]
pub(crate) struct OptoutArgs {
    #[command(subcommand)]
    pub(crate) command: OptoutCommand,

    /// Default country for numbers written without a country code (ISO code: DE, AT, US, …).
    #[arg(long, global = true, env = env::REGION, hide_env_values = true, value_name = "CC")]
    pub(crate) region: Option<String>,
}

/// `wacast optout …`.
#[derive(Debug, Subcommand)]
pub(crate) enum OptoutCommand {
    /// Add numbers. Refused (nothing added) if any of them is not a valid number.
    Add {
        /// The numbers.
        #[arg(required = true, value_name = "NUMBER")]
        numbers: Vec<String>,
    },
    /// Remove numbers. Refused (nothing removed) if any of them is not a valid number.
    Remove {
        /// The numbers.
        #[arg(required = true, value_name = "NUMBER")]
        numbers: Vec<String>,
    },
    /// Add every number of a file: one per line (blank lines and lines starting with # are
    /// skipped; of a CSV line, the first field is read; a header line is skipped). Invalid
    /// lines are reported with their line number and skipped. Exit status: 0 all added; 1
    /// some lines were invalid (the rest were added); 2 error.
    Import {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Say whether a number is on the list. Exit status: 0 it is; 1 it is not; 2 error.
    Check {
        /// The number.
        #[arg(value_name = "NUMBER")]
        number: String,
    },
    /// Print every number on the list with its source: reply (answered with an opt-out
    /// keyword), 131050 (WhatsApp: stopped marketing messages), manual (`optout add`), import
    /// (`optout import`), or - for numbers added before sources were kept; when, and the
    /// campaign and row it answered. Read in batches, in no particular order; with --format
    /// json, one object per line: {"number": "4917012345678", "source": "reply", "at":
    /// "2027-05-01T07:12:00Z", "campaign": "spring", "row": 12}.
    List,
}

const HOOKS_LONG_ABOUT: &str = "\
The providers' callbacks (delivery reports, inbound messages) that matched no message of any
campaign: another system's, or a purged campaign's. The worker answers them 200 (nothing to
retry) and keeps the newest 1,000 in Redis for this command.

Columns: when it arrived, provider, kind (status or inbound), our reference ({campaign}.{row}),
the provider's message id, the status it reported, and who wrote (inbound).
With --format json: {\"callbacks\": [{\"at\": \"2027-05-01T07:12:00Z\", \"provider\": \"seven\",
\"kind\": \"status\", \"reference\": \"spring.12\", \"provider_id\": \"77001\", \"status\":
\"delivered\", \"from\": null}], \"total\": 1}";

/// `wacast hooks`.
#[derive(Debug, Args)]
pub(crate) struct HooksArgs {
    #[command(subcommand)]
    pub(crate) command: HooksCommand,
}

/// `wacast hooks …`.
#[derive(Debug, Subcommand)]
pub(crate) enum HooksCommand {
    /// The callbacks that matched no message, newest first.
    #[command(long_about = HOOKS_LONG_ABOUT)]
    Unmatched {
        /// Show at most this many (the newest); 0 shows all that are kept.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
    },
}

const RATE_LONG_ABOUT: &str = "\
Sender rates for the whole fleet of workers.

A rate set here is stored in Redis and applies to every worker at its next claim (within a
second), without restarts; it takes precedence over the workers' --rate and --default-rate
flags, which apply to senders without one. Workers share one schedule per sender in Redis, so
the fleet together never sends more than the rate (plus the burst) in any one second.";

/// `wacast rate …`.
#[derive(Debug, Args)]
pub(crate) struct RateArgs {
    #[command(subcommand)]
    pub(crate) command: RateCommand,
}

/// `wacast rate …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RateCommand {
    /// Set a sender's rate: messages per second (WhatsApp's default throughput is 80), an
    /// optional burst (how many may go at once after a quiet spell; default 1), or `unlimited`.
    Set {
        /// The sender's number.
        #[arg(value_name = "SENDER")]
        sender: String,
        /// Messages per second (`60`, `60:5` with a burst), or `unlimited`.
        #[arg(value_name = "MPS")]
        rate: String,
        /// Burst (instead of writing MPS:BURST).
        #[arg(value_name = "BURST")]
        burst: Option<u32>,
        /// The provider the sender sends through.
        #[arg(long, value_enum, default_value_t = Provider::Seven)]
        provider: Provider,
    },
    /// Remove a sender's rate: the workers' flags apply to it again.
    Unset {
        /// The sender's number.
        #[arg(value_name = "SENDER")]
        sender: String,
        /// The provider the sender sends through.
        #[arg(long, value_enum, default_value_t = Provider::Seven)]
        provider: Provider,
    },
    /// List the senders with a rate or tier set here, with their tier use.
    List,
}

/// `wacast tier …`.
#[derive(Debug, Args)]
pub(crate) struct TierArgs {
    #[command(subcommand)]
    pub(crate) command: TierCommand,
}

/// `wacast tier …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TierCommand {
    /// Cap the unique recipients a sender starts messages to in any 24 hours (WhatsApp's
    /// messaging tiers: 250, 2000, 10000, 100000, or `unlimited`). At the cap, messages to new
    /// recipients wait, shown by `wacast status` as waiting for the tier, and go out as the
    /// window frees; recipients messaged within the window still get theirs.
    Set {
        /// The sender's number.
        #[arg(value_name = "SENDER")]
        sender: String,
        /// Unique recipients per 24 hours, or `unlimited`.
        #[arg(value_name = "CAP")]
        cap: String,
        /// The provider the sender sends through.
        #[arg(long, value_enum, default_value_t = Provider::Seven)]
        provider: Provider,
    },
    /// Remove a sender's tier cap (the same as `tier set SENDER unlimited`): messages to new
    /// recipients no longer wait for the tier.
    Unset {
        /// The sender's number.
        #[arg(value_name = "SENDER")]
        sender: String,
        /// The provider the sender sends through.
        #[arg(long, value_enum, default_value_t = Provider::Seven)]
        provider: Provider,
    },
}

const PURGE_LONG_ABOUT: &str = "\
Delete every Redis key of finished campaigns (completed or cancelled): the campaign hash, its
message hashes, its failed and paused sets, and its entry in the campaigns index. Keys are
deleted in chunks of 1,000 messages, so Redis never blocks. An interrupted purge is finished by
running it again.

`wacast purge ID` purges one campaign; a paused one only with --force (its queued messages are
dropped unsent). `wacast purge --finished-before 30d` purges every campaign that finished more
than 30 days ago: run it daily from cron or the wacast-purge.timer unit (deploy/) so that Redis
does not grow without bound.

Refused (nothing deleted) for scheduled and running campaigns, and while messages are in
flight. Exit status: 0 done; 2 refused or error.";

/// `wacast purge`.
#[derive(Debug, Args)]
#[command(long_about = PURGE_LONG_ABOUT)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "finished_before"])))]
pub(crate) struct PurgeArgs {
    /// The campaign's id (see `wacast list`).
    pub(crate) id: Option<String>,

    /// Purge every campaign that finished longer ago than this: 30d, 12h, 90m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) finished_before: Option<std::time::Duration>,

    /// Also purge a paused campaign (with ID).
    #[arg(long, requires = "id")]
    pub(crate) force: bool,

    /// Show what would be purged, and delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Do not ask for confirmation. It is asked only when stdin is a terminal (naming the
    /// campaigns and how many messages would be deleted); scripts and cron are never asked.
    #[arg(short, long)]
    pub(crate) yes: bool,
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
      --delay '2027-05-01 09:00' --tz Europe/Berlin --region DE --label spring-sale

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
     \"duplicate\": 7, \"opted_out\": 0, \"outside_window\": 0, \"control_character\": 0,
     \"too_long\": 0, \"row_too_large\": 0},
   \"rejects_file\": \"customers.rejects.csv\", \"first_send_at\": \"2027-05-01T07:00:00Z\",
   \"opt_outs_checked\": true, \"duration_s\": 0.52, \"rows_per_s\": 1923, \"preview\": []}
  `preview` holds the first three message bodies in a dry run; `first_send_at` is null when
  nothing was accepted.";

/// `wacast enqueue`.
#[derive(Debug, Args)]
#[command(long_about = ENQUEUE_LONG_ABOUT, after_long_help = ENQUEUE_EXAMPLES)]
pub(crate) struct EnqueueArgs {
    /// The CSV file of recipients, with a header line (`--file` works too).
    #[arg(long, visible_alias = "file", value_name = "FILE")]
    pub(crate) csv: PathBuf,

    /// Your registered WhatsApp Business sender number (international, e.g. 4915112345678).
    /// With --provider bird, the WhatsApp number behind --channel: the worker's rate limits
    /// (--rate) are per number.
    #[arg(long, env = env::FROM, hide_env_values = true, value_name = "NUMBER")]
    pub(crate) from: String,

    /// Which provider sends the campaign: seven (seven.io's WhatsApp API) or bird (Bird's
    /// Channels API, with --workspace and --channel).
    #[arg(long, value_enum, default_value_t = Provider::Seven)]
    pub(crate) provider: Provider,

    #[command(flatten)]
    pub(crate) content: ContentArgs,

    #[command(flatten)]
    pub(crate) bird: BirdArgs,

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

/// The provider that sends a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Provider {
    /// seven.io's WhatsApp API.
    Seven,
    /// Bird's Channels API.
    Bird,
}

impl Provider {
    /// The provider as the model names it.
    pub(crate) fn kind(self) -> wacast_shared::campaign::ProviderKind {
        match self {
            Provider::Seven => wacast_shared::campaign::ProviderKind::Seven,
            Provider::Bird => wacast_shared::campaign::ProviderKind::Bird,
        }
    }
}

/// Where a Bird campaign goes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Bird (with --provider bird)")]
pub(crate) struct BirdArgs {
    /// The Bird workspace's id (a UUID, from Bird's workspace settings).
    #[arg(long, value_name = "UUID")]
    pub(crate) workspace: Option<String>,

    /// The Bird WhatsApp channel's id (a UUID, from the channel's settings): the sender. Give
    /// its number as --from.
    #[arg(long, value_name = "UUID")]
    pub(crate) channel: Option<String>,

    /// A tag every message carries (lowercased, as Bird stores tags); repeat for more. Bird
    /// takes at most 10 per message, --label (or the row's label) included.
    #[arg(long = "tag", value_name = "TAG", value_parser = parse_label)]
    pub(crate) tags: Vec<String>,
}

/// What to send. Exactly one of --template, --template-project, --text, --kind,
/// --content-json.
#[derive(Debug, Args)]
#[command(
    next_help_heading = "Message content (one of --template, --template-project, --text, --kind, --content-json)"
)]
#[command(group(ArgGroup::new("message").required(true).args(["template", "template_project", "text", "kind", "content_json"])))]
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

    /// Bird: send the approved template of this project (its UUID in Bird Studio; needs
    /// --locale).
    #[arg(long, value_name = "UUID", requires = "locale")]
    pub(crate) template_project: Option<String>,

    /// Bird: the template version to send: its UUID, or latest for the newest approved one.
    #[arg(
        long,
        value_name = "UUID|latest",
        default_value = "latest",
        requires = "template_project"
    )]
    pub(crate) template_version: String,

    /// Bird: the template's locale (en, de, pt-BR, …). A `language` column overrides it per
    /// row.
    #[arg(long, value_name = "LOCALE", requires = "template_project")]
    pub(crate) locale: Option<String>,

    /// Bird: a template variable and the column whose value fills it, as KEY=COLUMN
    /// (name=first_name); repeat for each variable.
    #[arg(long, value_name = "KEY=COLUMN", requires = "template_project")]
    pub(crate) param: Vec<String>,

    /// Send a freetext message (only delivered inside a 24-hour conversation window); {{column}}
    /// placeholders are filled from each row: 'Hello {{name}}'.
    #[arg(long, value_name = "TEXT")]
    pub(crate) text: Option<String>,

    /// Send a media, location, contacts or interactive message; its fields follow. seven
    /// sends every kind but file and list; Bird sends image, file, location and list.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<Kind>,

    /// Media URL (image, video, audio, document, sticker; Bird: image, file): https://… or
    /// {{column}}.
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,

    /// Media caption (image, video, document; Bird: the text shown with an image or file).
    #[arg(long, value_name = "TEXT")]
    pub(crate) caption: Option<String>,

    /// The file name shown for a document (seven) or file (Bird).
    #[arg(long, value_name = "NAME")]
    pub(crate) filename: Option<String>,

    /// Bird: the file's MIME type (--kind file), e.g. application/pdf.
    #[arg(long, value_name = "MIME")]
    pub(crate) content_type: Option<String>,

    /// Location latitude: a number or {{column}}.
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub(crate) latitude: Option<String>,

    /// Location longitude: a number or {{column}}.
    #[arg(long, value_name = "DEG", allow_hyphen_values = true)]
    pub(crate) longitude: Option<String>,

    /// Location name (Bird: the place's label).
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

    /// Interactive message body text (Bird: the list's text).
    #[arg(long, value_name = "TEXT")]
    pub(crate) body_text: Option<String>,

    /// Interactive message header text (Bird: the list's title).
    #[arg(long, value_name = "TEXT")]
    pub(crate) header_text: Option<String>,

    /// Interactive message footer text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) footer_text: Option<String>,

    /// A reply button as ID:TITLE (title at most 20 characters); give it 2 or 3 times. Bird:
    /// 1 to 3 on a text, image or file message, sent as postback buttons whose payload is ID.
    #[arg(long, value_name = "ID:TITLE")]
    pub(crate) reply_button: Vec<String>,

    /// The text of the button that opens an interactive list.
    #[arg(long, value_name = "TEXT")]
    pub(crate) button_text: Option<String>,

    /// A JSON file with the list's sections, as seven takes them:
    /// [{"title": "…", "rows": [{"id": "…", "title": "…", "description": "…"}]}]. Bird takes
    /// the same file (without descriptions: a row becomes a choice whose payload is its id), or
    /// Bird's own items: [{"title": "…", "actions": [{"type": "postback", …}]}].
    #[arg(long, value_name = "FILE")]
    pub(crate) sections_json: Option<PathBuf>,

    /// A JSON file holding any seven message body without from/to (e.g. {"type": "video",
    /// "url": "…", "caption": "Hi {{name}}"}), or for Bird {"body": {…}} or {"template":
    /// {…}} as Bird's send request has them; {{column}} placeholders in its strings are filled
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
    /// Bird: a document, audio or video file (--url, --content-type).
    File,
    /// Bird: an interactive list (--body-text, --button-text, --sections-json).
    List,
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
    /// describes the last run; only the header line when nothing was rejected. Never the input
    /// file (by any name) nor through a symbolic link; a formula in a cell gets a leading '.
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
}

/// When and how messages are delivered.
#[derive(Debug, Args)]
#[command(next_help_heading = "Delivery")]
pub(crate) struct DeliveryArgs {
    /// When sending starts: '2027-05-01 09:00' or '2027-05-01 09:00:00' (in --tz), RFC 3339
    /// (2027-05-01T09:00:00+02:00), unix seconds, now, or relative (+30m, +2h, +1d). A time in
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

    /// Hand each message to seven up to this many minutes before its send time; seven holds
    /// it (its `delay`) and sends it at the send time, so sending starts on time even for a
    /// large campaign. Until then `wacast cancel` deletes held messages at seven (it needs
    /// the API key then). 0 hands every message over at its send time.
    #[arg(long, default_value_t = 0, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(0..=10080))]
    pub(crate) handoff_ahead: u32,

    /// Send only between these hours of the day (HH:MM-HH:MM, 24-hour; `20:00-08:00` spans
    /// midnight), read on --window-tz's clock. Rows due outside it wait for the next opening;
    /// a message whose ttl ends before then expires. Not with --handoff-ahead.
    #[arg(long, value_name = "HH:MM-HH:MM", conflicts_with = "handoff_ahead")]
    pub(crate) window: Option<String>,

    /// Send only to recipients whose 24-hour window is open: who wrote to the sender in the
    /// last 24 hours, as the providers' callbacks reported (the worker needs --hooks-addr). The
    /// others end `failed` (`no_window`) without a request. For --text and --kind messages,
    /// which WhatsApp delivers only inside the window; not for templates.
    #[arg(long)]
    pub(crate) only_open_window: bool,

    /// The clock --window is read on: an IANA zone (Europe/Berlin), or `recipient` for each
    /// recipient's own, from their number's country (a country with several zones counts as
    /// open only while the window is open in all of them). Defaults to --tz.
    #[arg(long, value_name = "ZONE|recipient", requires = "window")]
    pub(crate) window_tz: Option<String>,

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

// Packages and shell: completions, man pages and the configuration files.

const COMPLETIONS_LONG_ABOUT: &str = "\
Print the completion script of a shell on stdout. The Debian package installs them; by hand:
  bash: wacast completions bash > ~/.local/share/bash-completion/completions/wacast
  zsh:  wacast completions zsh > ~/.zfunc/_wacast   (with fpath+=(~/.zfunc) in ~/.zshrc)
  fish: wacast completions fish > ~/.config/fish/completions/wacast.fish";

/// `wacast completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: CompletionShell,
}

/// The shells `wacast completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `wacast config`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub(crate) command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print each setting in force (redis_url, prefix, templates, region, tz), its value and
    /// where it came from: a flag, a variable, a configuration file or the built-in default;
    /// then the files looked for. Passwords in the Redis URL are shown as ***.
    Show,
}

/// `wacast manpages`.
#[derive(Debug, Args)]
pub(crate) struct ManpagesArgs {
    /// The folder to write them into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
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

fn parse_report_status(text: &str) -> Result<ReportStatus, String> {
    Ok(match text.trim() {
        "delivered" => ReportStatus::Delivered,
        "read" => ReportStatus::Read,
        "replied" => ReportStatus::Replied,
        "delivery_failed" => ReportStatus::DeliveryFailed,
        other => ReportStatus::Status(
            other
                .parse()
                .map_err(|e| format!("{e}; or delivered, read, replied, delivery_failed"))?,
        ),
    })
}

fn parse_retry_status(text: &str) -> Result<wacast_shared::queue::MessageStatus, String> {
    use wacast_shared::queue::MessageStatus;
    match text.trim().parse() {
        Ok(status @ (MessageStatus::Failed | MessageStatus::Unknown)) => Ok(status),
        _ => Err(format!("{text:?}: retry takes failed or unknown")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
