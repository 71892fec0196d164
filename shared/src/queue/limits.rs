//! Sender limits that hold across the whole fleet: rate, recipient pair interval and messaging
//! tier, applied where every worker takes its work (the claim script), and the operator's
//! settings for them in Redis.
//!
//! Why in the claim: a limit kept in each process (governor's, say) lets three processes send
//! three times the rate. Keeping the schedule in Redis and asking it per message would cost a
//! round trip per message. The claim already is one round trip per batch, and it is the only
//! place that can keep a throttled sender's rows *in the queue* instead of in a worker's
//! concurrency slots, so rows of another sender are never stuck behind them. Each claimed row
//! takes its sender's next slot of a GCRA schedule kept in Redis and carries it as
//! [`Claimed::not_before_ms`](crate::queue::Claimed): the worker sends at that moment, which
//! paces the process without a second limiter.
//!
//! A rate set with `wacast rate set` (stored under `{prefix}:limit:{provider}:{sender}`) wins
//! over a worker's own `--rate` flags, which are the default for senders the operator has not
//! set. Changes apply at the next claim, in every worker, without restarts.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use redis::AsyncCommands;

use crate::campaign::ProviderKind;
use crate::keys::sender_name;
use crate::phone::PhoneNumber;
use crate::queue::clock::{millis, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::scripts::SCRIPTS;

/// A sender's rate: messages per second with a burst, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// No limit: rows are claimed as fast as workers take them.
    Unlimited,
    /// A limit.
    PerSecond {
        /// Messages per second.
        mps: NonZeroU32,
        /// How many may go at once after a quiet spell (1: evenly spaced).
        burst: NonZeroU32,
    },
}

impl Rate {
    /// `mps` per second, one at a time.
    pub fn per_second(mps: u32) -> Rate {
        NonZeroU32::new(mps).map_or(Rate::Unlimited, |mps| Rate::PerSecond {
            mps,
            burst: NonZeroU32::MIN,
        })
    }

    /// The rate as the claim script reads it (and `--rate` takes it): `mps:burst`, `0:1` for
    /// unlimited.
    pub fn script_arg(self) -> String {
        match self {
            Rate::Unlimited => "0:1".into(),
            Rate::PerSecond { mps, burst } => format!("{mps}:{burst}"),
        }
    }

    /// The most messages in any one-second window: rate plus burst less one.
    pub fn max_per_second(self) -> Option<u32> {
        match self {
            Rate::Unlimited => None,
            Rate::PerSecond { mps, burst } => Some(mps.get() + burst.get() - 1),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Unlimited => f.write_str("unlimited"),
            Rate::PerSecond { mps, burst } if burst.get() == 1 => write!(f, "{mps}/s"),
            Rate::PerSecond { mps, burst } => write!(f, "{mps}/s (burst {burst})"),
        }
    }
}

/// Why a rate cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rate {0:?}: give MPS or MPS:BURST with whole numbers ≥ 1 (e.g. 80 or 80:10), or `unlimited`"
)]
pub struct RateError(String);

impl FromStr for Rate {
    type Err = RateError;

    /// `MPS`, `MPS:BURST` or `unlimited`.
    fn from_str(s: &str) -> Result<Rate, RateError> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(Rate::Unlimited);
        }
        let error = || RateError(s.to_string());
        let (mps, burst) = text.split_once(':').unwrap_or((text, "1"));
        Ok(Rate::PerSecond {
            mps: mps.trim().parse().map_err(|_| error())?,
            burst: burst.trim().parse().map_err(|_| error())?,
        })
    }
}

/// WhatsApp's messaging tiers: unique recipients a business account may start conversations
/// with in a rolling 24 hours. Any positive cap is accepted (tests use small ones).
pub const WHATSAPP_TIERS: [u32; 4] = [250, 2_000, 10_000, 100_000];

/// What a worker's claims apply besides the operator's settings in Redis.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    /// The rate of senders without one in Redis or in `sender_rates`.
    pub default_rate: Rate,
    /// The worker's own rates of some senders (its `--rate` flags), below the operator's.
    pub sender_rates: Vec<(PhoneNumber, Rate)>,
    /// At most one message per recipient and sender in this interval; zero turns it off.
    pub pair_interval: Duration,
    /// How far ahead of its slot a row may be claimed: enough that the next message is in the
    /// worker when its slot comes, little enough that a worker that dies wastes few slots.
    pub lookahead: Duration,
    /// The window a messaging tier counts unique recipients in (24 hours on WhatsApp).
    pub tier_window: Duration,
    /// The providers this worker takes messages of now; others' due entries stay untouched.
    pub providers: ProviderGate,
}

impl ClaimLimits {
    /// The default pair interval: WhatsApp refuses a second message to the same user within
    /// about six seconds (error 131056, "pair rate limit").
    pub const DEFAULT_PAIR_INTERVAL: Duration = Duration::from_secs(6);
    /// The default lookahead.
    pub const DEFAULT_LOOKAHEAD: Duration = Duration::from_millis(250);
    /// WhatsApp's tier window.
    pub const TIER_WINDOW: Duration = Duration::from_secs(24 * 3600);

    /// The rates of the worker's flags as the claim script reads them.
    pub(crate) fn sender_rates_arg(&self) -> String {
        let mut out = String::new();
        for (sender, rate) in &self.sender_rates {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(sender.digits());
            out.push('=');
            out.push_str(&rate.script_arg());
        }
        out
    }
}

impl Default for ClaimLimits {
    /// No rate or pair limit of the worker's own (the operator's settings in Redis still apply),
    /// the default lookahead and WhatsApp's tier window.
    fn default() -> Self {
        ClaimLimits {
            default_rate: Rate::Unlimited,
            sender_rates: Vec::new(),
            pair_interval: Duration::ZERO,
            lookahead: ClaimLimits::DEFAULT_LOOKAHEAD,
            tier_window: ClaimLimits::TIER_WINDOW,
            providers: ProviderGate::default(),
        }
    }
}

/// The providers a worker's claims take messages of, changed while it runs: a worker that
/// cannot send through a provider (its key is refused, its breaker is open) closes it, and its
/// claims leave that provider's rows in the due set for the workers that can. Clones share one
/// state. Open for every provider by default.
#[derive(Debug, Clone, Default)]
pub struct ProviderGate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    /// One bit per [`ProviderKind::ALL`] index: set while closed.
    closed: AtomicU8,
    /// Woken when a provider opens, for a fetcher that stopped claiming.
    opened: tokio::sync::Notify,
}

impl ProviderGate {
    /// Opens or closes `kind` for this worker's next claims.
    pub fn set(&self, kind: ProviderKind, open: bool) {
        let bit = 1u8
            << ProviderKind::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0);
        if open {
            self.0.closed.fetch_and(!bit, Ordering::SeqCst);
            self.0.opened.notify_waiters();
        } else {
            self.0.closed.fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// Whether claims take `kind`'s messages.
    pub fn is_open(&self, kind: ProviderKind) -> bool {
        let bit = 1u8
            << ProviderKind::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0);
        self.0.closed.load(Ordering::SeqCst) & bit == 0
    }

    /// Whether every provider is closed: the fetcher claims nothing until one opens.
    pub fn all_closed(&self) -> bool {
        ProviderKind::ALL.iter().all(|kind| !self.is_open(*kind))
    }

    /// Resolves when a provider opens (or soon after: a wake-up may be missed between the
    /// check and the wait, so callers also wait with a timeout).
    pub async fn opened(&self) {
        self.0.opened.notified().await;
    }

    /// The claim script's argument: `*` for every provider (no filter), else the open ones,
    /// comma-separated.
    pub(crate) fn script_arg(&self) -> String {
        if self.0.closed.load(Ordering::SeqCst) == 0 {
            return "*".into();
        }
        let open: Vec<&str> = ProviderKind::ALL
            .into_iter()
            .filter(|kind| self.is_open(*kind))
            .map(ProviderKind::as_str)
            .collect();
        open.join(",")
    }
}

/// Rows a claim put off instead of claiming, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deferrals {
    /// The sender's next slot was beyond the lookahead.
    pub rate: u64,
    /// The recipient got a message of this sender within the pair interval.
    pub pair: u64,
    /// The sender's tier was full with other recipients.
    pub tier: u64,
}

/// One sender's settings, as `wacast rate list` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderSettings {
    /// The provider the sender sends through.
    pub provider: String,
    /// The sender's number (E.164 digits).
    pub sender: String,
    /// The rate set by the operator, if any (`None`: the workers' flags apply).
    pub rate: Option<Rate>,
    /// The most messages in any one-second window at that rate.
    pub max_per_second: Option<u32>,
    /// The tier cap, if any.
    pub tier: Option<u32>,
    /// Unique recipients claimed within the tier window so far.
    pub tier_used: u64,
    /// When the settings last changed (RFC 3339).
    pub updated_at: Option<String>,
    /// The share of the rate the sender may use now, after its provider's rate limiting
    /// (1: all of it; see `queue::backoff`).
    pub rate_factor: f64,
}

impl Queue {
    /// Sets `sender`'s rate for every worker, from their next claim on.
    pub async fn set_rate(
        &self,
        provider: ProviderKind,
        sender: &PhoneNumber,
        rate: Rate,
    ) -> Result<(), QueueError> {
        let (mps, burst) = match rate {
            Rate::Unlimited => (0, 1),
            Rate::PerSecond { mps, burst } => (mps.get(), burst.get()),
        };
        self.set_settings(
            provider,
            sender,
            &[("rate", mps.to_string()), ("burst", burst.to_string())],
        )
        .await
    }

    /// Sets `sender`'s messaging tier (unique recipients per tier window); `None` removes it.
    pub async fn set_tier(
        &self,
        provider: ProviderKind,
        sender: &PhoneNumber,
        cap: Option<NonZeroU32>,
    ) -> Result<(), QueueError> {
        match cap {
            Some(cap) => {
                self.set_settings(provider, sender, &[("tier", cap.to_string())])
                    .await
            }
            None => {
                let key = self.keys.limit(&sender_name(provider, sender));
                let mut conn = self.conn();
                let () = conn
                    .hdel(&key, "tier")
                    .await
                    .map_err(QueueError::redis("tier unset"))?;
                Ok(())
            }
        }
    }

    /// Removes the operator's rate of `sender`: the workers' flags apply again.
    pub async fn unset_rate(
        &self,
        provider: ProviderKind,
        sender: &PhoneNumber,
    ) -> Result<bool, QueueError> {
        let key = self.keys.limit(&sender_name(provider, sender));
        let removed: u64 = self
            .conn()
            .hdel(&key, &["rate", "burst"])
            .await
            .map_err(QueueError::redis("rate unset"))?;
        Ok(removed > 0)
    }

    async fn set_settings(
        &self,
        provider: ProviderKind,
        sender: &PhoneNumber,
        fields: &[(&str, String)],
    ) -> Result<(), QueueError> {
        let key = self.keys.limit(&sender_name(provider, sender));
        let mut fields = fields.to_vec();
        fields.push(("updated_at", rfc3339_ms(self.now_ms())));
        let () = redis::pipe()
            .atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .sadd(self.keys.limits(), sender_name(provider, sender))
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("rate set"))?;
        Ok(())
    }

    /// Records on a campaign that its messages wait, why (`rate`, `pair`, `tier`, `window`)
    /// and until when, for `wacast status`; the claim script records the first three itself.
    pub async fn note_waiting(
        &self,
        campaign: &crate::campaign::CampaignId,
        reason: &str,
        until_ms: i64,
    ) -> Result<(), QueueError> {
        // Only on a campaign that still exists: a purged one must not come back as two fields.
        let () = SCRIPTS
            .note_waiting
            .key(self.keys.campaign(campaign))
            .arg(reason)
            .arg(rfc3339_ms(until_ms))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("note waiting"))?;
        Ok(())
    }

    /// Every sender the operator has set a rate or tier for, by provider and number.
    pub async fn list_settings(&self) -> Result<Vec<SenderSettings>, QueueError> {
        let mut conn = self.conn();
        let mut names: Vec<String> = conn
            .smembers(self.keys.limits())
            .await
            .map_err(QueueError::redis("rate list"))?;
        names.sort();
        let cutoff = self.now_ms() - millis(ClaimLimits::TIER_WINDOW);
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let Some((provider, sender)) = name.split_once(':') else {
                continue;
            };
            let (rate, burst, tier, updated_at): (
                Option<u32>,
                Option<u32>,
                Option<u32>,
                Option<String>,
            ) = redis::cmd("HMGET")
                .arg(self.keys.limit(&name))
                .arg(&["rate", "burst", "tier", "updated_at"])
                .query_async(&mut conn)
                .await
                .map_err(QueueError::redis("rate list"))?;
            let tier_used: u64 = conn
                .zcount(self.keys.tier(&name), format!("({cutoff}"), "+inf")
                .await
                .map_err(QueueError::redis("rate list"))?;
            if rate.is_none() && tier.is_none() {
                continue;
            }
            let rate_factor = self.sender_backoff(&name).await?;
            let rate = rate.map(|mps| match NonZeroU32::new(mps) {
                None => Rate::Unlimited,
                Some(mps) => Rate::PerSecond {
                    mps,
                    burst: burst.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN),
                },
            });
            out.push(SenderSettings {
                provider: provider.to_string(),
                sender: sender.to_string(),
                max_per_second: rate.and_then(Rate::max_per_second),
                rate,
                tier,
                tier_used,
                updated_at,
                rate_factor,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_names_the_open_providers_for_the_claim() {
        let gate = ProviderGate::default();
        let shared = gate.clone();
        assert_eq!(gate.script_arg(), "*");
        shared.set(ProviderKind::Seven, false);
        assert_eq!(gate.script_arg(), "bird");
        assert!(!gate.is_open(ProviderKind::Seven) && !gate.all_closed());
        shared.set(ProviderKind::Bird, false);
        assert_eq!(gate.script_arg(), "");
        assert!(gate.all_closed());
        shared.set(ProviderKind::Seven, true);
        assert_eq!(gate.script_arg(), "seven");
    }

    #[test]
    fn rates_read_as_operators_write_them() {
        assert_eq!("unlimited".parse::<Rate>(), Ok(Rate::Unlimited));
        assert_eq!("60".parse::<Rate>(), Ok(Rate::per_second(60)));
        let with_burst: Rate = "80:10".parse().unwrap();
        assert_eq!(with_burst.to_string(), "80/s (burst 10)");
        assert_eq!(with_burst.max_per_second(), Some(89));
        assert_eq!(with_burst.script_arg(), "80:10");
        for bad in ["0", "-1", "80:0", "fast", "1.5"] {
            let error = bad.parse::<Rate>().unwrap_err().to_string();
            assert!(error.contains("MPS:BURST"), "{bad}: {error}");
        }
    }
}
