//! Command-line flags (each with an environment fallback) and the validated `Config` built from
//! them before any work starts. `wacast-worker check-config` runs the same validation and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use wacast_shared::delivery::{DEFAULT_OPTOUT_KEYWORDS, DeliveryPolicy};
use wacast_shared::duration::parse_duration;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::provider::ProvidersConfig;
use wacast_shared::provider::bird::BirdCredentials;
use wacast_shared::provider::seven::SevenConfig;
use wacast_shared::queue::limits::{ClaimLimits, Rate};
use wacast_shared::queue::{Endpoint, RedisTls, TlsFiles};
use wacast_shared::redact::redact_url;
use wacast_shared::secret::{BIRD_ACCESS_KEY, KeySource, SEVEN_API_KEY};

use crate::provider_health::{BreakerArgs, BreakerSettings};

/// Environment variable names, kept in one place so that `--help`, the env file example and the
/// code agree.
pub mod env {
    pub const REDIS_URL: &str = "WACAST_REDIS_URL";
    pub const REDIS_URL_FILE: &str = "WACAST_REDIS_URL_FILE";
    pub const REDIS_CA_FILE: &str = "WACAST_REDIS_CA_FILE";
    pub const REDIS_CLIENT_CERT: &str = "WACAST_REDIS_CLIENT_CERT";
    pub const REDIS_CLIENT_KEY: &str = "WACAST_REDIS_CLIENT_KEY";
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
    pub const PAUSE_AFTER_FAILURES: &str = "WACAST_PAUSE_AFTER_FAILURES";
    pub const SHUTDOWN_TIMEOUT: &str = "WACAST_SHUTDOWN_TIMEOUT";
    pub const LEASE: &str = "WACAST_LEASE";
    pub const REQUEST_TIMEOUT: &str = "WACAST_REQUEST_TIMEOUT";
    pub const LOG_FORMAT: &str = "WACAST_LOG_FORMAT";
    pub const METRICS_ADDR: &str = "WACAST_METRICS_ADDR";
    pub const PROGRESS_INTERVAL: &str = "WACAST_PROGRESS_INTERVAL";
    pub const NAME: &str = "WACAST_WORKER_NAME";
    pub const HOOKS_ADDR: &str = "WACAST_HOOKS_ADDR";
    pub const HOOKS_PUBLIC_URL: &str = "WACAST_HOOKS_PUBLIC_URL";
    pub const SEVEN_SIGNING_KEY: &str = "WACAST_SEVEN_SIGNING_KEY";
    pub const SEVEN_SIGNING_KEY_FILE: &str = "WACAST_SEVEN_SIGNING_KEY_FILE";
    pub const BIRD_SIGNING_KEY: &str = "WACAST_BIRD_SIGNING_KEY";
    pub const BIRD_SIGNING_KEY_FILE: &str = "WACAST_BIRD_SIGNING_KEY_FILE";
    pub const HOOKS_ALLOW_UNSIGNED: &str = "WACAST_HOOKS_ALLOW_UNSIGNED";
    pub const OPTOUT_KEYWORDS: &str = "WACAST_OPTOUT_KEYWORDS";
    pub const REPLY_WINDOW: &str = "WACAST_REPLY_WINDOW";
    pub const MARKETING_LIMIT_DELAY: &str = "WACAST_MARKETING_LIMIT_DELAY";
    pub const DURABILITY: &str = "WACAST_DURABILITY";
    pub const REPLICAS: &str = "WACAST_REPLICAS";
}

/// seven's webhook signing key: `WACAST_SEVEN_SIGNING_KEY`, a key file, or the credential
/// `seven-signing-key`.
pub const SEVEN_SIGNING_KEY: KeySource = KeySource {
    what: "seven signing key",
    env: env::SEVEN_SIGNING_KEY,
    credential: Some("seven-signing-key"),
};

/// Bird's webhook signing key: `WACAST_BIRD_SIGNING_KEY`, a key file, or the credential
/// `bird-signing-key`.
pub const BIRD_SIGNING_KEY: KeySource = KeySource {
    what: "Bird signing key",
    env: env::BIRD_SIGNING_KEY,
    credential: Some("bird-signing-key"),
};

/// wacast-worker: sends the due messages of wacast campaigns through seven's WhatsApp API or
/// Bird's Channels API, whichever each campaign names.
///
/// Run as many processes as you like, on one or many hosts, against the same Redis: each claims
/// due messages under a lease, waits for the sender's rate limit, sends, and records the outcome.
/// SIGTERM or SIGINT stops claiming, finishes the requests in flight and exits 0.
///
/// A worker needs the key of each provider its campaigns use: seven's from SEVEN_API_KEY,
/// --api-key-file or the systemd credential `seven-api-key`; Bird's from BIRD_ACCESS_KEY,
/// --bird-access-key-file or the credential `bird-access-key`. A worker without a provider's
/// key (or whose key the provider refuses) leaves that provider's messages to the workers that
/// can send them; a campaign no live worker can send is paused with a reason that says so,
/// never failed.
#[derive(Debug, Parser)]
#[command(name = "wacast-worker", version, about, long_about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Redis server holding the queue: `redis://[:PASSWORD@]HOST[:PORT][/DB]` (over TLS:
    /// `rediss://USER:PASSWORD@HOST:PORT`, see --redis-ca-file), or the
    /// primary Redis Sentinel names, followed through failovers:
    /// `redis+sentinel://[:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB]` [default: the
    /// file of --redis-url-file, else the systemd credential `redis-url`, else
    /// redis://127.0.0.1:6379]. Its value is never shown in --help: it may hold a password.
    #[arg(long, env = env::REDIS_URL, hide_env_values = true, global = true)]
    pub redis_url: Option<String>,

    /// A file holding the Redis URL on its first line, which keeps a password out of the
    /// command line and the environment (the unit passes it as the credential `redis-url`).
    #[arg(long, env = env::REDIS_URL_FILE, global = true, value_name = "FILE")]
    pub redis_url_file: Option<PathBuf>,

    /// CA certificates (PEM) that Redis's certificate must be signed by, for a rediss:// URL
    /// [default: the system's roots].
    #[arg(long, env = env::REDIS_CA_FILE, global = true, value_name = "FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// This worker's certificate (PEM), for a Redis with `tls-auth-clients yes`; with
    /// --redis-client-key.
    #[arg(long, env = env::REDIS_CLIENT_CERT, global = true, value_name = "FILE")]
    pub redis_client_cert: Option<PathBuf>,

    /// The unencrypted private key (PEM) of --redis-client-cert.
    #[arg(long, env = env::REDIS_CLIENT_KEY, global = true, value_name = "FILE")]
    pub redis_client_key: Option<PathBuf>,

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

    /// Refusals in a row with the same code (counted per campaign across the fleet) that pause
    /// the campaign with that reason instead of failing every row; 0 never pauses. WhatsApp's
    /// template-level codes (132000, 132001, 132005, 132007, 132012, 132015, 132016) pause
    /// after 3 whatever this says.
    #[arg(long, env = env::PAUSE_AFTER_FAILURES, default_value_t = wacast_shared::streak::DEFAULT_PAUSE_AFTER, global = true)]
    pub pause_after_failures: u32,

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

    /// How often the worker logs one progress line per running campaign (sent, failed,
    /// remaining, rate). The lifecycle lines (started, paused, resumed, completed) come within
    /// a few seconds of the change whatever this says.
    #[arg(long, env = env::PROGRESS_INTERVAL, default_value = "1m", value_parser = parse_duration, global = true)]
    pub progress_interval: Duration,

    #[command(flatten)]
    pub breaker: BreakerArgs,

    /// A name for this worker (e.g. the systemd instance %i); the worker id is
    /// NAME-HOST-PID-RANDOM, unique per process start.
    #[arg(long, env = env::NAME, default_value = "worker", global = true)]
    pub name: String,

    /// Receive the providers' delivery callbacks on http://ADDR/hooks/seven and /hooks/bird, a
    /// listener of its own (it faces the internet through your TLS proxy; the metrics listener
    /// does not). Any worker may receive any callback.
    #[arg(long, env = env::HOOKS_ADDR, global = true)]
    pub hooks_addr: Option<SocketAddr>,

    /// The public https URL the providers call, without the /hooks/... path (e.g.
    /// https://wacast.example.com): signatures cover the URL the provider called, which the
    /// proxy rewrites. Needed with a signing key.
    #[arg(long, env = env::HOOKS_PUBLIC_URL, global = true)]
    pub hooks_public_url: Option<String>,

    /// File holding seven's webhook signing key (one line). Used when WACAST_SEVEN_SIGNING_KEY
    /// is not set; else the systemd credential `seven-signing-key`. Without a key /hooks/seven
    /// refuses every request.
    #[arg(long, env = env::SEVEN_SIGNING_KEY_FILE, global = true)]
    pub seven_signing_key_file: Option<PathBuf>,

    /// File holding Bird's webhook signing key (one line). Used when WACAST_BIRD_SIGNING_KEY is
    /// not set; else the systemd credential `bird-signing-key`. Without a key /hooks/bird
    /// refuses every request.
    #[arg(long, env = env::BIRD_SIGNING_KEY_FILE, global = true)]
    pub bird_signing_key_file: Option<PathBuf>,

    /// Accept callbacks without a valid signature on the endpoint of a provider that has no
    /// signing key here. Anyone who can reach the endpoint can then forge deliveries and
    /// opt-outs: for tests and trusted networks only.
    #[arg(long, env = env::HOOKS_ALLOW_UNSIGNED, global = true)]
    pub hooks_allow_unsigned: bool,

    /// Replies whose whole text is one of these words (any case) opt the number out,
    /// comma-separated.
    #[arg(long, env = env::OPTOUT_KEYWORDS, value_delimiter = ',', default_values_t = DEFAULT_OPTOUT_KEYWORDS.map(String::from), global = true)]
    pub optout_keywords: Vec<String>,

    /// An inbound message counts as a reply to the most recent campaign that messaged its
    /// writer from that sender within this long.
    #[arg(long, env = env::REPLY_WINDOW, default_value = "7d", value_parser = parse_duration, global = true)]
    pub reply_window: Duration,

    /// How long after a late 131049 (the recipient's marketing limit) its row is due again;
    /// Meta asks for at least 24 hours.
    #[arg(long, env = env::MARKETING_LIMIT_DELAY, default_value = "24h", value_parser = parse_duration, global = true)]
    pub marketing_limit_delay: Duration,

    /// `strict`: refuse to start unless Redis keeps a `sending` mark through a crash
    /// (`appendonly yes` with `appendfsync always`, or Redis 7.2's WAITAOF) and never evicts
    /// the queue's keys (`maxmemory-policy noeviction`), so that no message is sent twice
    /// because Redis forgot it was sent. `relaxed`: start anyway, with one WARN naming the risk.
    #[arg(long, env = env::DURABILITY, value_enum, default_value_t = Durability::Strict, global = true)]
    pub durability: Durability,

    /// Replicas that must acknowledge each batch of `sending` marks (Redis WAIT) before their
    /// requests are written, so that a failover to one of them keeps the marks. Messages whose
    /// marks were not acknowledged in time go back to the queue unsent.
    #[arg(long, env = env::REPLICAS, default_value_t = 0, global = true)]
    pub replicas: u32,
}

/// How strictly the worker holds Redis to durability (`--durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// Refuse a Redis that could lose a `sending` mark.
    Strict,
    /// Accept it, with a warning: a Redis crash may resend messages.
    Relaxed,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration (flags, environment, provider keys, Redis reachable and
    /// durable) and exit: 0 when it is sound, 2 otherwise. The systemd unit runs it as
    /// ExecStartPre. With --probe it also proves each provider key with a harmless request.
    CheckConfig(CheckConfigArgs),
    /// Write the man pages (wacast-worker.1, …) into --out and exit; for packaging.
    #[command(hide = true)]
    Manpages {
        /// The directory to write them into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

/// `check-config`'s own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckConfigArgs {
    /// Prove each configured provider key with a harmless authenticated request: seven's
    /// `GET /api/balance`, Bird's `GET /workspaces/{ws}/channels/{ch}` (give
    /// --probe-bird-workspace and --probe-bird-channel). Exit 0 only when every key is
    /// accepted; otherwise 2, naming the provider, its answer and the fix.
    #[arg(long)]
    pub probe: bool,

    /// The Bird workspace (UUID) whose channel the Bird probe reads.
    #[arg(long, value_name = "UUID", requires = "probe_bird_channel")]
    pub probe_bird_workspace: Option<String>,

    /// The Bird WhatsApp channel (UUID) the Bird probe reads: one the campaigns send on.
    #[arg(long, value_name = "UUID", requires = "probe_bird_workspace")]
    pub probe_bird_channel: Option<String>,
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
    /// The CA and client certificate of a rediss:// URL, read and checked.
    pub redis_tls: RedisTls,
    pub prefix: String,
    /// The providers this worker has a key for, with their endpoints.
    pub providers: ProvidersConfig,
    /// The sender limits the worker's claims apply where the operator set none.
    pub limits: ClaimLimits,
    pub concurrency: usize,
    pub threads: usize,
    pub max_attempts: u32,
    /// Refusals in a row with the same code that pause a campaign (0: never).
    pub pause_after_failures: u32,
    pub shutdown_timeout: Duration,
    pub lease: Duration,
    pub request_timeout: Duration,
    pub metrics_addr: Option<SocketAddr>,
    /// `--progress-interval`.
    pub progress_interval: Duration,
    pub worker_id: String,
    /// The callbacks endpoint, when `--hooks-addr` asks for one.
    pub hooks: Option<HooksConfig>,
    /// `--durability`.
    pub durability: Durability,
    /// `--replicas`.
    pub replicas: u32,
    /// The providers' circuit breakers and probes.
    pub breaker: BreakerSettings,
}

/// The callbacks endpoint's configuration.
#[derive(Debug, Clone)]
pub struct HooksConfig {
    pub addr: SocketAddr,
    /// The public URL without a trailing slash; `/hooks/{provider}` is appended for signatures.
    pub public_url: String,
    /// seven's signing key; `None`: /hooks/seven refuses everything (unless unsigned is allowed).
    pub seven_key: Option<SecretString>,
    /// Bird's signing key, likewise.
    pub bird_key: Option<SecretString>,
    /// Whether a provider without a key is accepted unsigned.
    pub allow_unsigned: bool,
    /// How recorded callbacks act on the queue.
    pub policy: DeliveryPolicy,
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
        if args.progress_interval < Duration::from_secs(1) {
            bail!("--progress-interval must be at least 1s");
        }
        if args.lease < Duration::from_secs(5) {
            bail!("--lease must be at least 5s: leases are renewed every third of it");
        }
        let redis_url = wacast_shared::redis_url::resolve(
            args.redis_url.as_deref(),
            args.redis_url_file.as_deref(),
        )?;
        if !redis_url.starts_with("redis://")
            && !redis_url.starts_with("rediss://")
            && !redis_url.starts_with("unix://")
            && !redis_url.starts_with("redis+sentinel://")
            // Refused below, saying why.
            && !redis_url.starts_with("rediss+sentinel://")
        {
            bail!(
                "--redis-url must start with redis://, rediss://, unix:// or redis+sentinel:// (got {:?})",
                redact_url(&redis_url)
            );
        }
        let redis_tls = RedisTls::load(&TlsFiles {
            ca_file: args.redis_ca_file.clone(),
            client_cert: args.redis_client_cert.clone(),
            client_key: args.redis_client_key.clone(),
        })?;
        Endpoint::parse(&redis_url)
            .and_then(|endpoint| endpoint.check_tls(&redis_tls))
            .map_err(|e| anyhow::anyhow!("--redis-url {:?}: {e}", redact_url(&redis_url)))?;
        let providers = providers(args)?;
        let hooks = hooks(args)?;
        Ok(Config {
            redis_url,
            redis_tls,
            prefix: args.prefix.clone(),
            providers,
            limits,
            concurrency: args.concurrency,
            threads: args.threads,
            max_attempts: args.max_attempts,
            pause_after_failures: args.pause_after_failures,
            shutdown_timeout: args.shutdown_timeout,
            lease: args.lease,
            request_timeout: args.request_timeout,
            metrics_addr: args.metrics_addr,
            progress_interval: args.progress_interval,
            worker_id: worker_id(&args.name),
            hooks,
            durability: args.durability,
            replicas: args.replicas,
            breaker: args.breaker.settings()?,
        })
    }
}

/// The callbacks endpoint's settings, when `--hooks-addr` is given (the other hooks flags are
/// ignored without it, so that one env file serves workers with and without the endpoint).
fn hooks(args: &Args) -> anyhow::Result<Option<HooksConfig>> {
    let Some(addr) = args.hooks_addr else {
        return Ok(None);
    };
    let seven_key = SEVEN_SIGNING_KEY.read(args.seven_signing_key_file.as_deref())?;
    let bird_key = BIRD_SIGNING_KEY.read(args.bird_signing_key_file.as_deref())?;
    let public_url = match args.hooks_public_url.as_deref().map(str::trim) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            if url.contains("/hooks/") {
                bail!(
                    "--hooks-public-url {url:?}: give the URL without the /hooks/... path, \
                     e.g. https://wacast.example.com"
                );
            }
            url.trim_end_matches('/').to_string()
        }
        Some(url) => bail!("--hooks-public-url {url:?} must start with https:// or http://"),
        None if seven_key.is_some() || bird_key.is_some() => bail!(
            "--hooks-public-url is needed to check signatures: the providers sign the URL \
             they call (e.g. https://wacast.example.com)"
        ),
        None => String::new(),
    };
    if seven_key.is_none() && bird_key.is_none() && !args.hooks_allow_unsigned {
        bail!(
            "--hooks-addr without a signing key would refuse every callback: set {} or {} \
             (or their --...-signing-key-file flags, or the systemd credentials)",
            env::SEVEN_SIGNING_KEY,
            env::BIRD_SIGNING_KEY
        );
    }
    let optout_keywords: Vec<String> = args
        .optout_keywords
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if args.reply_window.is_zero() {
        bail!("--reply-window must be more than 0");
    }
    if args.marketing_limit_delay.is_zero() {
        bail!("--marketing-limit-delay must be more than 0");
    }
    Ok(Some(HooksConfig {
        addr,
        public_url,
        seven_key,
        bird_key,
        allow_unsigned: args.hooks_allow_unsigned,
        policy: DeliveryPolicy {
            marketing_limit_delay: args.marketing_limit_delay,
            reply_window: args.reply_window,
            optout_keywords,
        },
    }))
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
    // The uname(2) system call, not /proc/sys/kernel/hostname: the shipped unit's
    // ProtectKernelTunables= and ProtectHostname= hide /proc/sys, and every worker was "host".
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .trim()
        .to_string();
    let host = if host.is_empty() {
        "host".to_string()
    } else {
        host
    };
    let random = ulid::Ulid::new().to_string();
    format!(
        "{name}-{host}-{}-{}",
        std::process::id(),
        &random[random.len() - 6..]
    )
}
