//! The soak's flags and the validated [`Config`] they become; `--short` picks the defaults of
//! the one-minute version.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, ValueEnum};

/// The chaos soak: three campaigns sent by three `wacast-worker` processes through a faulty
/// mock gateway while workers are killed, Redis restarts, a campaign is paused and resumed,
/// another cancelled halfway and a sender's rate changed; then every message is checked.
///
/// Prints one `chaos_NAME VALUE` line per figure on stdout and exits 0 when wacast kept its
/// promise, 1 on any violation, 2 when the soak itself could not run.
#[derive(Debug, Parser)]
#[command(name = "chaos")]
pub struct Args {
    /// The short version (for scripts/test.sh): one minute of chaos, 1,000 rows per campaign,
    /// lower rates, shorter leases and fewer attempts. Other flags still override its values.
    #[arg(long)]
    pub short: bool,

    /// Minutes of chaos before the soak waits for the campaigns to finish [default: 5, short 1].
    #[arg(long)]
    pub minutes: Option<f64>,

    /// Rows of each campaign [default: 30000, short 1000].
    #[arg(long)]
    pub rows: Option<u64>,

    /// Worker processes kept running.
    #[arg(long, default_value_t = 3)]
    pub workers: usize,

    /// Every sender's rate as the workers are configured, MPS:BURST [default: 150:30, short
    /// 40:10].
    #[arg(long)]
    pub rate: Option<Rate>,

    /// The mock's per-sender limit in requests per second, beyond which it answers 429; below
    /// the rate, so that the workers meet it [default: 80% of the rate].
    #[arg(long)]
    pub gateway_limit: Option<u32>,

    /// The rate `wacast rate set` gives the paused campaign's sender halfway through, MPS:BURST
    /// [default: two thirds of the rate and burst].
    #[arg(long)]
    pub changed_rate: Option<Rate>,

    /// Leave the sender's rate alone: no `wacast rate set` halfway.
    #[arg(long)]
    pub no_rate_change: bool,

    /// How long after `wacast rate set` every worker must send at the new rate.
    #[arg(long, default_value_t = 5)]
    pub rate_change_within_secs: u64,

    /// The provider of the third campaign (`seven`: all three go through seven).
    #[arg(long, value_enum, default_value_t = Provider::Bird)]
    pub third_provider: Provider,

    /// Seed of every random choice (victims, intervals, the mock's faults), for a reproducible
    /// schedule; printed at the start [default: random].
    #[arg(long)]
    pub seed: Option<u64>,

    /// The workers' lease in seconds: how soon a killed worker's messages are recovered
    /// [default: 10, short 5].
    #[arg(long)]
    pub lease_secs: Option<u64>,

    /// The workers' request timeout in seconds: how long a hung request holds its message
    /// [default: 5, short 3].
    #[arg(long)]
    pub request_timeout_secs: Option<u64>,

    /// The workers' shutdown timeout in seconds, within which a SIGTERM must end a worker with
    /// exit code 0 [default: 10, short 6].
    #[arg(long)]
    pub shutdown_timeout_secs: Option<u64>,

    /// The workers' attempts per message before a transient failure is `failed`: the last
    /// backoffs (exponential, 1 s base) are what the campaigns' tail waits for
    /// [default: 8, short 5].
    #[arg(long)]
    pub max_attempts: Option<u32>,

    /// How long to wait for every campaign to finish after the chaos, in seconds
    /// [default: 600, short 60].
    #[arg(long)]
    pub finish_timeout_secs: Option<u64>,

    /// A request that arrives at the gateway this many milliseconds after its message's send time
    /// plus ttl counts as a late send. The worker checks the ttl before it marks the message
    /// `sending`; the margin covers that step and the request's way to the gateway.
    #[arg(long, default_value_t = 1000)]
    pub late_grace_ms: i64,

    /// How much of a second the rate check forgives for a request's way from the limiter to the
    /// gateway: it counts each sender's requests in every window of one second less this.
    #[arg(long, default_value_t = 50)]
    pub rate_jitter_ms: i64,

    /// Where to put the CSVs, the gateway's journal and every process's log; kept after the run.
    /// [default: a new directory under the temp dir, removed when every check passes].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// A provider a campaign can go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// seven's WhatsApp API.
    Seven,
    /// Bird's Channels API.
    Bird,
}

/// Messages per second and burst, as `wacast-worker --default-rate` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages per second.
    pub per_second: u32,
    /// Messages that may go at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    /// The most messages any one-second window may hold: the rate plus the burst.
    pub fn window_bound(self) -> u32 {
        self.per_second + self.burst
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.per_second, self.burst)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let parse = |part: &str| part.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (mps, burst) = text
            .split_once(':')
            .ok_or_else(|| format!("rate {text:?} must be MPS:BURST, e.g. 150:30"))?;
        match (parse(mps), parse(burst)) {
            (Some(per_second), Some(burst)) => Ok(Rate { per_second, burst }),
            _ => Err(format!(
                "rate {text:?}: MPS and BURST must be whole numbers ≥ 1"
            )),
        }
    }
}

/// The soak's settings, defaults resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Chaos time.
    pub chaos: Duration,
    /// Rows per campaign.
    pub rows: u64,
    /// Workers kept running.
    pub workers: usize,
    /// Every sender's configured rate.
    pub rate: Rate,
    /// The mock's 429 limit per sender and second.
    pub gateway_limit: u32,
    /// The rate given to one sender halfway; `None` leaves it alone.
    pub changed_rate: Option<Rate>,
    /// How soon a changed rate must hold.
    pub rate_change_within: Duration,
    /// The third campaign's provider.
    pub third_provider: Provider,
    /// The seed.
    pub seed: u64,
    /// Worker lease.
    pub lease: Duration,
    /// Worker request timeout.
    pub request_timeout: Duration,
    /// Worker shutdown timeout.
    pub shutdown_timeout: Duration,
    /// Worker attempts per message.
    pub max_attempts: u32,
    /// Bound of the wait for the campaigns after the chaos.
    pub finish_timeout: Duration,
    /// Lateness a send may have past its message's validity.
    pub late_grace_ms: i64,
    /// What the rate check forgives of a second.
    pub rate_jitter_ms: i64,
    /// The run's directory, if given.
    pub dir: Option<PathBuf>,
}

impl Args {
    /// Resolves the defaults (`--short`'s or the long soak's) and checks the values.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let short = self.short;
        let pick = |given: Option<u64>, long: u64, short_value: u64| {
            given.unwrap_or(if short { short_value } else { long })
        };
        let minutes = self.minutes.unwrap_or(if short { 1.0 } else { 5.0 });
        if !(minutes.is_finite() && minutes > 0.0 && minutes <= 24.0 * 60.0) {
            bail!("--minutes {minutes} must be above 0 and at most a day");
        }
        let rows = pick(self.rows, 30_000, 1_000);
        if rows < 100 {
            bail!("--rows {rows} is too few to cancel at 50% and pause in between: give ≥ 100");
        }
        if self.workers < 2 {
            bail!(
                "--workers {} leaves nobody to send while one is killed: give ≥ 2",
                self.workers
            );
        }
        let rate = self.rate.unwrap_or(if short {
            Rate {
                per_second: 40,
                burst: 10,
            }
        } else {
            Rate {
                per_second: 150,
                burst: 30,
            }
        });
        let gateway_limit = self
            .gateway_limit
            .unwrap_or((rate.per_second * 4 / 5).max(1));
        if gateway_limit == 0 {
            bail!("--gateway-limit 0 would refuse everything: give ≥ 1");
        }
        let changed_rate = (!self.no_rate_change).then(|| {
            self.changed_rate.unwrap_or(Rate {
                per_second: (rate.per_second * 2 / 3).max(1),
                burst: (rate.burst * 2 / 3).max(1),
            })
        });
        let lease = Duration::from_secs(pick(self.lease_secs, 10, 5));
        let request_timeout = Duration::from_secs(pick(self.request_timeout_secs, 5, 3));
        let shutdown_timeout = Duration::from_secs(pick(self.shutdown_timeout_secs, 10, 6));
        if request_timeout >= shutdown_timeout {
            bail!(
                "--request-timeout-secs must be below --shutdown-timeout-secs: a worker stopped \
                 with SIGTERM waits for its requests in flight, hung ones included"
            );
        }
        if !(0..500).contains(&self.rate_jitter_ms) {
            bail!(
                "--rate-jitter-ms {} must be from 0 to 499: the window stays most of a second",
                self.rate_jitter_ms
            );
        }
        if self.max_attempts == Some(0) {
            bail!("--max-attempts 0 would send nothing: give ≥ 1");
        }
        if lease.is_zero() || request_timeout.is_zero() {
            bail!("--lease-secs and --request-timeout-secs must be at least 1");
        }
        Ok(Config {
            chaos: Duration::from_secs_f64(minutes * 60.0),
            rows,
            workers: self.workers,
            rate,
            gateway_limit,
            changed_rate,
            rate_change_within: Duration::from_secs(self.rate_change_within_secs),
            third_provider: self.third_provider,
            seed: self.seed.unwrap_or_else(rand::random),
            lease,
            request_timeout,
            shutdown_timeout,
            max_attempts: u32::try_from(pick(self.max_attempts.map(u64::from), 8, 5))
                .unwrap_or(u32::MAX),
            finish_timeout: Duration::from_secs(pick(self.finish_timeout_secs, 600, 60)),
            late_grace_ms: self.late_grace_ms,
            rate_jitter_ms: self.rate_jitter_ms,
            dir: self.dir,
        })
    }
}
