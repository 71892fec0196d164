//! The mock's command line (every flag has a `MOCK_…` environment fallback) and the validated
//! [`Config`] it becomes. Tests that run the gateway in-process build a `Config` the same way:
//! `Args::try_parse_from(["mock-gateway", "--all-windows-open"])?.into_config()?`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::gateway::bird::{BirdSettings, DEFAULT_ACCESS_KEY, DEFAULT_CHANNEL, DEFAULT_WORKSPACE};
use crate::gateway::callbacks::config::{CallbackArgs, CallbackConfig};
use crate::gateway::templates::Templates;

/// A local stand-in for seven's WhatsApp API, for tests, demos and benchmarks.
///
/// Prints `listening on ADDR:PORT` as its first stdout line once it accepts connections.
#[derive(Debug, Clone, Parser)]
#[command(name = "mock-gateway", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOCK_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Port to listen on; 0 picks a free one (read it from the first stdout line).
    #[arg(long, env = "MOCK_PORT", default_value_t = 0)]
    pub port: u16,

    /// Tokio worker threads; 1 runs everything on one thread, which is the fastest on one core.
    #[arg(long, env = "MOCK_THREADS", default_value_t = 1)]
    pub threads: usize,

    /// The API key clients must send as `X-Api-Key`; any other key gets code 900.
    #[arg(long, env = "MOCK_API_KEY", default_value = "test-key")]
    pub api_key: String,

    /// A key that authenticates but lacks the waba scope: requests with it get code 902.
    #[arg(long, env = "MOCK_NO_WABA_SCOPE_KEY")]
    pub no_waba_scope_key: Option<String>,

    /// Registered WhatsApp Business sender numbers (digits, comma-separated).
    #[arg(
        long,
        env = "MOCK_SENDERS",
        value_delimiter = ',',
        default_value = "4915112345678"
    )]
    pub senders: Vec<String>,

    /// Extra approved templates, JSON or TOML (.toml): entries of name, language and the counts of
    /// header, body and buttons parameters (optional header_format, header_text, body_text). The
    /// seed's templates are built in.
    #[arg(long, env = "MOCK_TEMPLATES")]
    pub templates: Option<PathBuf>,

    /// File of recipient numbers (one per line, `#` comments) with an open 24-hour window.
    #[arg(long, env = "MOCK_WINDOWS")]
    pub windows: Option<PathBuf>,

    /// Treat every recipient as having an open 24-hour window.
    #[arg(long, env = "MOCK_ALL_WINDOWS_OPEN")]
    pub all_windows_open: bool,

    /// Price charged per accepted message, in euros.
    #[arg(long, env = "MOCK_PRICE", default_value_t = 0.0735)]
    pub price: f64,

    /// Starting account balance in euros; each accepted message lowers it by its price.
    #[arg(long, env = "MOCK_BALANCE", default_value_t = 1000.0)]
    pub balance: f64,

    /// Time zone for `delay` given as `YYYY-MM-DD hh:mm:ss` (seven is a German gateway; assumed).
    #[arg(long, env = "MOCK_TIMEZONE", default_value = "Europe/Berlin")]
    pub timezone: chrono_tz::Tz,

    /// Fraction of API requests answered with a random 500, 502 or 503.
    #[arg(long, env = "MOCK_FAIL_5XX", default_value_t = 0.0)]
    pub fail_5xx: f64,

    /// Global limit of API requests per second; requests beyond it in the current second get 429.
    #[arg(long, env = "MOCK_RATE_LIMIT")]
    pub rate_limit: Option<u32>,

    /// Limit of message requests per second per sender (`from`); beyond it they get 429.
    #[arg(long, env = "MOCK_RATE_LIMIT_PER_SENDER")]
    pub rate_limit_per_sender: Option<u32>,

    /// Added latency before every API answer: `MS` or `MIN-MAX` (uniform), in milliseconds.
    #[arg(long, env = "MOCK_LATENCY")]
    pub latency: Option<Latency>,

    /// Fraction of API requests never answered (the connection is held open).
    #[arg(long, env = "MOCK_HANG", default_value_t = 0.0)]
    pub hang: f64,

    /// Fraction of accepted seven messages whose answer is lost: the message is accepted (and
    /// its callbacks follow) but the connection is held open, so the client cannot tell.
    #[arg(long, env = "MOCK_LOSE_ANSWER", default_value_t = 0.0)]
    pub lose_answer: f64,

    /// Fraction of message requests answered HTTP 200 with an error body (see --error-body-code).
    #[arg(long, env = "MOCK_ERROR_BODY", default_value_t = 0.0)]
    pub error_body: f64,

    /// The `success` code of injected error bodies.
    #[arg(long, env = "MOCK_ERROR_BODY_CODE", default_value = "400")]
    pub error_body_code: String,

    /// Seed for the fault-injection randomness, for reproducible runs.
    #[arg(long, env = "MOCK_SEED")]
    pub seed: Option<u64>,

    /// How many accepted messages `GET /messages` keeps (with their request body); 0 keeps none.
    #[arg(long, env = "MOCK_KEEP_MESSAGES", default_value_t = 100_000)]
    pub keep_messages: usize,

    /// The access key clients must send to Bird's endpoint as `Authorization: AccessKey <key>`;
    /// anything else gets 401.
    #[arg(long, env = "MOCK_BIRD_ACCESS_KEY", default_value = DEFAULT_ACCESS_KEY)]
    pub bird_access_key: String,

    /// Bird workspaces the mock knows (UUIDs, comma-separated); others get 404.
    #[arg(long, env = "MOCK_BIRD_WORKSPACE", value_delimiter = ',', default_value = DEFAULT_WORKSPACE)]
    pub bird_workspace: Vec<String>,

    /// Bird WhatsApp channels the mock knows (UUIDs, comma-separated); others get 404.
    #[arg(long, env = "MOCK_BIRD_CHANNEL", value_delimiter = ',', default_value = DEFAULT_CHANNEL)]
    pub bird_channel: Vec<String>,

    /// Write one JSON line per message request on arrival and one per accepted message to this
    /// file (created or truncated), for checking a long run afterwards; see `journal.rs`.
    #[arg(long, env = "MOCK_JOURNAL")]
    pub journal: Option<PathBuf>,

    /// Extra approved Bird templates, JSON or TOML (.toml): entries of project_id, version,
    /// locale and the names of their parameters. One per template example of the seed is built in.
    #[arg(long, env = "MOCK_BIRD_TEMPLATES")]
    pub bird_templates: Option<PathBuf>,

    /// Delivery callbacks to the receiver at `--callback-url`, like the providers send them.
    #[command(flatten)]
    pub callbacks: CallbackArgs,
}

/// Added response latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Shortest added delay.
    pub min: Duration,
    /// Longest added delay (equal to `min` for a fixed latency).
    pub max: Duration,
}

impl FromStr for Latency {
    type Err = String;

    fn from_str(text: &str) -> Result<Latency, String> {
        let parse = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("latency {text:?} must be MS or MIN-MAX in milliseconds"))
        };
        let (min, max) = match text.split_once('-') {
            Some((min, max)) => (parse(min)?, parse(max)?),
            None => {
                let fixed = parse(text)?;
                (fixed, fixed)
            }
        };
        if min > max {
            return Err(format!("latency {text:?}: MIN is above MAX"));
        }
        Ok(Latency { min, max })
    }
}

/// Which faults to inject, validated.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Fraction of API requests answered 5xx.
    pub fail_5xx: f64,
    /// Fraction of API requests never answered.
    pub hang: f64,
    /// Fraction of accepted seven messages whose answer is lost.
    pub lose_answer: f64,
    /// Fraction of message requests answered 200 with an error body.
    pub error_body: f64,
    /// The `success` code of injected error bodies.
    pub error_body_code: String,
    /// Global API requests per second.
    pub rate_limit: Option<u32>,
    /// Message requests per second per sender.
    pub rate_limit_per_sender: Option<u32>,
    /// Added latency.
    pub latency: Option<Latency>,
    /// Randomness seed; `None` seeds from the OS.
    pub seed: Option<u64>,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port (0: any).
    pub port: u16,
    /// Tokio worker threads (at least 1).
    pub threads: usize,
    /// The accepted API key.
    pub api_key: String,
    /// A key answered with 902.
    pub no_waba_scope_key: Option<String>,
    /// Registered sender numbers.
    pub senders: HashSet<String>,
    /// Approved templates.
    pub templates: Templates,
    /// Recipients with an open 24-hour window at start.
    pub windows: HashSet<String>,
    /// Every recipient has an open window.
    pub all_windows_open: bool,
    /// Price per message.
    pub price: f64,
    /// Starting balance.
    pub balance: f64,
    /// Time zone of `YYYY-MM-DD hh:mm:ss` delays.
    pub timezone: chrono_tz::Tz,
    /// Fault injection.
    pub faults: Faults,
    /// Accepted messages kept for `GET /messages`.
    pub keep_messages: usize,
    /// Bird's endpoint.
    pub bird: BirdSettings,
    /// Where to write the journal of message requests, if anywhere.
    pub journal: Option<PathBuf>,
    /// Delivery callbacks, when `--callback-url` is given.
    pub callbacks: Option<CallbackConfig>,
}

impl Args {
    /// Checks the flags and loads the template and window files.
    pub fn into_config(self) -> anyhow::Result<Config> {
        for (name, fraction) in [
            ("--fail-5xx", self.fail_5xx),
            ("--hang", self.hang),
            ("--lose-answer", self.lose_answer),
            ("--error-body", self.error_body),
        ] {
            if !(0.0..=1.0).contains(&fraction) {
                bail!("{name} {fraction} must be a fraction between 0 and 1");
            }
        }
        if self.threads == 0 {
            bail!("--threads must be at least 1");
        }
        if self.rate_limit == Some(0) || self.rate_limit_per_sender == Some(0) {
            bail!("a rate limit of 0 would refuse everything; leave it unset for no limit");
        }
        if !self.price.is_finite() || self.price < 0.0 {
            bail!("--price {} must be a non-negative number", self.price);
        }
        let mut senders = HashSet::new();
        for sender in &self.senders {
            let sender = sender.trim();
            if sender.is_empty() || !sender.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--senders: {sender:?} is not a number in digits-only international format");
            }
            senders.insert(sender.to_owned());
        }
        let templates = match &self.templates {
            Some(path) => Templates::builtin_and_file(path)?,
            None => Templates::builtin(),
        };
        let windows = match &self.windows {
            Some(path) => read_numbers(path)?,
            None => HashSet::new(),
        };
        let callbacks = self.callbacks.into_config()?;
        let bird = BirdSettings::new(
            self.bird_access_key,
            &self.bird_workspace,
            &self.bird_channel,
            self.bird_templates.as_deref(),
        )?;
        Ok(Config {
            bind: self.bind,
            port: self.port,
            threads: self.threads,
            api_key: self.api_key,
            no_waba_scope_key: self.no_waba_scope_key,
            senders,
            templates,
            windows,
            all_windows_open: self.all_windows_open,
            price: self.price,
            balance: self.balance,
            timezone: self.timezone,
            faults: Faults {
                fail_5xx: self.fail_5xx,
                hang: self.hang,
                lose_answer: self.lose_answer,
                error_body: self.error_body,
                error_body_code: self.error_body_code,
                rate_limit: self.rate_limit,
                rate_limit_per_sender: self.rate_limit_per_sender,
                latency: self.latency,
                seed: self.seed,
            },
            keep_messages: self.keep_messages,
            bird,
            journal: self.journal,
            callbacks,
        })
    }
}

fn read_numbers(path: &std::path::Path) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read window file {}", path.display()))?;
    let mut numbers = HashSet::new();
    for (line_idx, line) in text.lines().enumerate() {
        let number = line.split('#').next().unwrap_or_default().trim();
        if number.is_empty() {
            continue;
        }
        let digits = number.strip_prefix('+').unwrap_or(number);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "{}:{}: {number:?} is not a phone number in international format",
                path.display(),
                line_idx + 1
            );
        }
        numbers.insert(digits.to_owned());
    }
    Ok(numbers)
}
