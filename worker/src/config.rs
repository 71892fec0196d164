//! Command-line flags (each with an environment fallback) and the validated `Config` built from
//! them before any work starts. `wacast-worker check-config` runs the same validation and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use wacast_shared::duration::parse_duration;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::provider::ProvidersConfig;
use wacast_shared::provider::bird::BirdCredentials;
use wacast_shared::provider::seven::SevenConfig;
use wacast_shared::queue::limits::{ClaimLimits, Rate};
use wacast_shared::redact::redact_url;
use wacast_shared::secret::{BIRD_ACCESS_KEY, SEVEN_API_KEY};

/// Environment variable names, kept in one place so that `--help`, the env file example and the
/// code agree.
pub mod env {
    pub const REDIS_URL: &str = "WACAST_REDIS_URL";
    pub const PREFIX: &str = "WACAST_PREFIX";
    pub const SEVEN_BASE_URL: &str = "WACAST_SEVEN_BASE_URL";
    pub const SEVEN_API_KEY: &str = wacast_shared::secret::SEVEN_API_KEY.env;
    pub const API_KEY_FILE: &str = "WACAST_API_KEY_FILE";
    pub const BIRD_BASE_URL: &str = "WACAST_BIRD_BASE_URL";
    pub const BIRD_ACCESS_KEY: &str = wacast_shared::secret::BIRD_ACCESS_KEY.env;
    pub const BIRD_ACCESS_KEY_FILE: &str = "WACAST_BIRD_ACCESS_KEY_FILE";
    pub const RATE: &str = "WACAST_RATE";
    pub const DEFAULT_RATE: &str = "WACAST_DEFAULT_RATE";
    pub const PAIR_INTERVAL: &str = "WACAST_PAIR_INTERVAL";
    pub const CONCURRENCY: &str = "WACAST_CONCURRENCY";
    pub const THREADS: &str = "WACAST_THREADS";
    pub const MAX_ATTEMPTS: &str = "WACAST_MAX_ATTEMPTS";
    pub const SHUTDOWN_TIMEOUT: &str = "WACAST_SHUTDOWN_TIMEOUT";
    pub const LEASE: &str = "WACAST_LEASE";
    pub const REQUEST_TIMEOUT: &str = "WACAST_REQUEST_TIMEOUT";
    pub const LOG_FORMAT: &str = "WACAST_LOG_FORMAT";
    pub const METRICS_ADDR: &str = "WACAST_METRICS_ADDR";
    pub const NAME: &str = "WACAST_WORKER_NAME";
}

/// wacast-worker: sends the due messages of wacast campaigns through seven's WhatsApp API or
/// Bird's Channels API, whichever each campaign names.
///
/// Run as many processes as you like, on one or many hosts, against the same Redis: each claims
/// due messages under a lease, waits for the sender's rate limit, sends, and records the outcome.
/// SIGTERM or SIGINT stops claiming, finishes the requests in flight and exits 0.
///
/// A worker needs the key of each provider its campaigns use: seven's from SEVEN_API_KEY,
/// --api-key-file or the systemd credential `seven-api-key`; Bird's from BIRD_ACCESS_KEY,
/// --bird-access-key-file or the credential `bird-access-key`. A campaign whose provider has no
/// key in this worker is paused with a reason that says so, never failed.
#[derive(Debug, Parser)]
#[command(name = "wacast-worker", version, about, long_about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Redis server holding the queue.
    #[arg(long, env = env::REDIS_URL, default_value = "redis://127.0.0.1:6379", global = true)]
    pub redis_url: String,

    /// Key prefix of every wacast key in Redis.
    #[arg(long, env = env::PREFIX, default_value = wacast_shared::keys::DEFAULT_PREFIX, global = true)]
    pub prefix: String,

    /// Base URL of seven's API (point it at mock-gateway for tests and the demo).
    #[arg(long, env = env::SEVEN_BASE_URL, default_value = "https://gateway.seven.io", global = true)]
    pub seven_base_url: String,

    /// File holding the seven API key (one line). Used when SEVEN_API_KEY is not set.
    #[arg(long, env = env::API_KEY_FILE, global = true)]
    pub api_key_file: Option<PathBuf>,

    /// Base URL of Bird's API (point it at mock-gateway for tests and the demo).
    #[arg(long, env = env::BIRD_BASE_URL, default_value = wacast_shared::provider::bird::DEFAULT_BASE_URL, global = true)]
    pub bird_base_url: String,

    /// File holding the Bird access key (one line). Used when BIRD_ACCESS_KEY is not set.
    #[arg(long, env = env::BIRD_ACCESS_KEY_FILE, global = true)]
    pub bird_access_key_file: Option<PathBuf>,

    /// Rate of one sender: SENDER=MPS[:BURST] or SENDER=unlimited, e.g. 4915112345678=80:10.
    /// Repeatable; the environment variable takes a comma-separated list. A rate set with
    /// `wacast rate set` (in Redis, for every worker) takes precedence.
    #[arg(long = "rate", env = env::RATE, value_delimiter = ',', global = true)]
    pub rates: Vec<String>,

    /// Rate of senders without their own --rate or `wacast rate set`: MPS[:BURST] or
    /// `unlimited`. WhatsApp's default throughput per number is 80 messages per second. Rates
    /// hold across every worker of the fleet (the schedule is in Redis).
    #[arg(long, env = env::DEFAULT_RATE, default_value = "80", global = true)]
    pub default_rate: String,

    /// At most one message per recipient and sender in this interval, across all campaigns and
    /// workers (WhatsApp refuses a second one within about 6 s); a message that would break it
    /// waits. 0 turns it off.
    #[arg(long, env = env::PAIR_INTERVAL, default_value = "6s", value_parser = parse_duration, global = true)]
    pub pair_interval: Duration,

    /// Most requests in flight at once in this process; a fetch never claims more than the free
    /// slots.
    #[arg(long, env = env::CONCURRENCY, default_value_t = 64, global = true)]
    pub concurrency: usize,

    /// Threads of the async runtime. With 1 everything runs on one thread; more move HTTP
    /// connections and Redis I/O to that many threads, which costs more CPU per message (the
    /// task of every message runs on one thread either way, and each hand-over between threads
    /// is a wake-up) and rarely sends more. To use more cores, run more worker processes.
    #[arg(long, env = env::THREADS, default_value_t = 1, global = true)]
    pub threads: usize,

    /// Attempts per message before a transient failure (429, 5xx, connect error) becomes
    /// `failed`.
    #[arg(long, env = env::MAX_ATTEMPTS, default_value_t = 8, global = true)]
    pub max_attempts: u32,

    /// How long SIGTERM waits for requests in flight before exiting; keep it below systemd's
    /// TimeoutStopSec.
    #[arg(long, env = env::SHUTDOWN_TIMEOUT, default_value = "25s", value_parser = parse_duration, global = true)]
    pub shutdown_timeout: Duration,

    /// Lease on a claimed message. A worker that dies holding it loses it after this long:
    /// `claimed` messages go back to the queue, `sending` ones become `unknown`. Renewed while
    /// the worker lives.
    #[arg(long, env = env::LEASE, default_value = "60s", value_parser = parse_duration, global = true)]
    pub lease: Duration,

    /// Timeout of one provider request, connect included.
    #[arg(long, env = env::REQUEST_TIMEOUT, default_value = "30s", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,

    /// Log format on stderr.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Serve Prometheus metrics on http://ADDR/metrics and a health check on /healthz.
    #[arg(long, env = env::METRICS_ADDR, global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// A name for this worker (e.g. the systemd instance %i); the worker id is
    /// NAME-HOST-PID-RANDOM, unique per process start.
    #[arg(long, env = env::NAME, default_value = "worker", global = true)]
    pub name: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration (flags, environment, provider keys, Redis reachable) and
    /// exit: 0 when it is sound, 2 otherwise. The systemd unit runs it as ExecStartPre.
    CheckConfig,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration the worker runs with.
#[derive(Debug)]
pub struct Config {
    pub redis_url: String,
    pub prefix: String,
    /// The providers this worker has a key for, with their endpoints.
    pub providers: ProvidersConfig,
    /// The sender limits the worker's claims apply where the operator set none.
    pub limits: ClaimLimits,
    pub concurrency: usize,
    pub threads: usize,
    pub max_attempts: u32,
    pub shutdown_timeout: Duration,
    pub lease: Duration,
    pub request_timeout: Duration,
    pub metrics_addr: Option<SocketAddr>,
    pub worker_id: String,
}

impl Config {
    /// Checks the flags and reads the API key. Does not touch the network.
    pub fn from_args(args: &Args) -> anyhow::Result<Config> {
        let mut sender_rates = Vec::new();
        for spec in args.rates.iter().filter(|s| !s.trim().is_empty()) {
            let (sender, rate) = spec.split_once('=').with_context(|| {
                format!("--rate {spec:?}: write SENDER=MPS[:BURST], e.g. 4915112345678=80:10")
            })?;
            let sender = PhoneNumber::parse(sender, None)
                .with_context(|| format!("--rate {spec:?}: sender"))?;
            let rate: Rate = rate.parse().with_context(|| format!("--rate {spec:?}"))?;
            sender_rates.push((sender, rate));
        }
        let default_rate: Rate = args.default_rate.parse().context("--default-rate")?;
        let limits = ClaimLimits {
            default_rate,
            sender_rates,
            pair_interval: args.pair_interval,
            ..ClaimLimits::default()
        };
        if args.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if args.threads == 0 {
            bail!("--threads must be at least 1");
        }
        if args.max_attempts == 0 {
            bail!("--max-attempts must be at least 1");
        }
        if args.lease < Duration::from_secs(5) {
            bail!("--lease must be at least 5s: leases are renewed every third of it");
        }
        if !args.redis_url.starts_with("redis://")
            && !args.redis_url.starts_with("rediss://")
            && !args.redis_url.starts_with("unix://")
        {
            bail!(
                "--redis-url must start with redis://, rediss:// or unix:// (got {:?})",
                redact_url(&args.redis_url)
            );
        }
        let providers = providers(args)?;
        Ok(Config {
            redis_url: args.redis_url.clone(),
            prefix: args.prefix.clone(),
            providers,
            limits,
            concurrency: args.concurrency,
            threads: args.threads,
            max_attempts: args.max_attempts,
            shutdown_timeout: args.shutdown_timeout,
            lease: args.lease,
            request_timeout: args.request_timeout,
            metrics_addr: args.metrics_addr,
            worker_id: worker_id(&args.name),
        })
    }
}

/// The providers with a key, each with its base URL and the request timeouts. At least one
/// key is needed; a worker with only one sends only that provider's campaigns.
fn providers(args: &Args) -> anyhow::Result<ProvidersConfig> {
    // Connect errors are the one failure known to leave nothing sent (so they are retried); a
    // connect timeout below the request timeout keeps them distinguishable.
    let timeout = args.request_timeout;
    let connect_timeout = (timeout / 2).min(Duration::from_secs(5));
    let seven = SEVEN_API_KEY
        .read(args.api_key_file.as_deref())?
        .map(|api_key| {
            Ok::<_, anyhow::Error>(SevenConfig {
                base_url: base_url("--seven-base-url", &args.seven_base_url)?,
                api_key,
                timeout,
                connect_timeout,
            })
        })
        .transpose()?;
    let bird = BIRD_ACCESS_KEY
        .read(args.bird_access_key_file.as_deref())?
        .map(|access_key| {
            Ok::<_, anyhow::Error>(BirdCredentials {
                base_url: base_url("--bird-base-url", &args.bird_base_url)?,
                access_key,
                timeout,
                connect_timeout,
            })
        })
        .transpose()?;
    if seven.is_none() && bird.is_none() {
        bail!(
            "no provider key: set {} (seven) or {} (Bird), or pass --api-key-file or \
             --bird-access-key-file; a worker sends the campaigns of the providers it has a key for",
            env::SEVEN_API_KEY,
            env::BIRD_ACCESS_KEY
        );
    }
    Ok(ProvidersConfig { seven, bird })
}

/// An http(s) base URL, as the provider's configuration types it.
fn base_url<U>(flag: &str, text: &str) -> anyhow::Result<U>
where
    U: std::str::FromStr,
    U::Err: std::error::Error + Send + Sync + 'static,
{
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        bail!("{flag} {text:?} must start with http:// or https://");
    }
    text.parse()
        .with_context(|| format!("{flag} {text:?} is not a URL"))
}

/// A worker id unique per process start: a restarted worker never inherits its predecessor's
/// leases, so orphan recovery can tell them apart.
fn worker_id(name: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".to_string());
    let random = ulid::Ulid::new().to_string();
    format!(
        "{name}-{host}-{}-{}",
        std::process::id(),
        &random[random.len() - 6..]
    )
}
