//! The callback flags of `mock-gateway` (flattened into its [`Args`](crate::gateway::config::Args))
//! and the validated [`CallbackConfig`] they become: where to send, the signing keys, what to
//! send for each accepted message, the faults, and how long to retry.

use std::time::Duration;

use anyhow::bail;
use clap::Args as ClapArgs;
use wacast_shared::duration::parse_duration;

/// WhatsApp's late failure codes the mock picks from by default: the marketing limit, stopped
/// marketing, undeliverable.
pub const DEFAULT_LATE_FAILURE_CODES: &str = "131049,131050,131026";

/// How the mock sends delivery callbacks, like the providers do.
#[derive(Debug, Clone, ClapArgs)]
pub struct CallbackArgs {
    /// The receiver's public base URL (the worker's hooks listener, e.g. http://127.0.0.1:8081);
    /// `/hooks/seven` and `/hooks/bird` are appended. Without it no callbacks are sent.
    #[arg(long, env = "MOCK_CALLBACK_URL")]
    pub callback_url: Option<String>,

    /// The key seven signs its callbacks with (`X-Signature`); without it they go unsigned.
    #[arg(long, env = "MOCK_SEVEN_SIGNING_KEY")]
    pub seven_signing_key: Option<String>,

    /// The key Bird signs its callbacks with (`messagebird-signature`); without it they go
    /// unsigned.
    #[arg(long, env = "MOCK_BIRD_SIGNING_KEY")]
    pub bird_signing_key: Option<String>,

    /// How long after a message is sent its `delivered` follows (and each later callback the one
    /// before it), jittered by ±50%.
    #[arg(long, env = "MOCK_CALLBACK_DELAY", default_value = "200ms", value_parser = parse_duration)]
    pub callback_delay: Duration,

    /// Fraction of delivered messages that are also read.
    #[arg(long, env = "MOCK_READ_SHARE", default_value_t = 0.0)]
    pub read_share: f64,

    /// Fraction of recipients who write back (an inbound message after the delivery).
    #[arg(long, env = "MOCK_REPLY_SHARE", default_value_t = 0.0)]
    pub reply_share: f64,

    /// Fraction of those replies that say `STOP`.
    #[arg(long, env = "MOCK_STOP_SHARE", default_value_t = 0.0)]
    pub stop_share: f64,

    /// Fraction of callbacks sent twice.
    #[arg(long, env = "MOCK_CALLBACK_DUPLICATE_SHARE", default_value_t = 0.0)]
    pub callback_duplicate_share: f64,

    /// Fraction of read messages whose `read` arrives before their `delivered`.
    #[arg(long, env = "MOCK_CALLBACK_REORDER", default_value_t = 0.0)]
    pub callback_reorder: f64,

    /// Fraction of callbacks never sent (counted as dropped).
    #[arg(long, env = "MOCK_CALLBACK_DROP_SHARE", default_value_t = 0.0)]
    pub callback_drop_share: f64,

    /// Fraction of accepted messages that fail late (`failed` with one of
    /// --late-failure-codes instead of `delivered`).
    #[arg(long, env = "MOCK_LATE_FAILURE_SHARE", default_value_t = 0.0)]
    pub late_failure_share: f64,

    /// The WhatsApp codes late failures carry, picked at random (comma-separated).
    #[arg(
        long,
        env = "MOCK_LATE_FAILURE_CODES",
        value_delimiter = ',',
        default_value = DEFAULT_LATE_FAILURE_CODES
    )]
    pub late_failure_codes: Vec<String>,

    /// Fraction of callbacks preceded by a forged copy with a wrong signature (answered 401 by a
    /// verifying receiver, and not retried).
    #[arg(long, env = "MOCK_BAD_SIGNATURE_SHARE", default_value_t = 0.0)]
    pub bad_signature_share: f64,

    /// How long a callback answered 429, 5xx or not at all is retried, with backoff, before the
    /// mock gives up (the providers retry for hours).
    #[arg(long, env = "MOCK_CALLBACK_RETRY_FOR", default_value = "2m", value_parser = parse_duration)]
    pub callback_retry_for: Duration,

    /// Callback requests in flight at most.
    #[arg(long, env = "MOCK_CALLBACK_CONCURRENCY", default_value_t = 64)]
    pub callback_concurrency: usize,

    /// A final price (euros) carried by `delivered` callbacks; none by default.
    #[arg(long, env = "MOCK_CALLBACK_PRICE")]
    pub callback_price: Option<f64>,
}

/// The shares of [`CallbackConfig`], each a fraction between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    /// Delivered messages that are also read.
    pub read: f64,
    /// Recipients who reply.
    pub reply: f64,
    /// Replies that say STOP.
    pub stop: f64,
    /// Callbacks sent twice.
    pub duplicate: f64,
    /// Reads sent before their delivery.
    pub reorder: f64,
    /// Callbacks never sent.
    pub drop: f64,
    /// Messages that fail late.
    pub late_failure: f64,
    /// Callbacks preceded by a forged copy.
    pub bad_signature: f64,
}

/// The validated callback settings.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// Base URL of the receiver, without a trailing slash.
    pub url: String,
    /// seven's signing key, if any.
    pub seven_key: Option<String>,
    /// Bird's signing key, if any.
    pub bird_key: Option<String>,
    /// The mean delay between a message's send and its first callback, and between callbacks.
    pub delay: Duration,
    /// What to send, and the faults.
    pub shares: Shares,
    /// WhatsApp codes of late failures (at least one).
    pub late_failure_codes: Vec<String>,
    /// How long to retry a callback.
    pub retry_for: Duration,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// The final price of `delivered` callbacks.
    pub price: Option<f64>,
}

impl CallbackArgs {
    /// Checks the flags; `None` when no `--callback-url` is given.
    pub fn into_config(self) -> anyhow::Result<Option<CallbackConfig>> {
        let shares = Shares {
            read: self.read_share,
            reply: self.reply_share,
            stop: self.stop_share,
            duplicate: self.callback_duplicate_share,
            reorder: self.callback_reorder,
            drop: self.callback_drop_share,
            late_failure: self.late_failure_share,
            bad_signature: self.bad_signature_share,
        };
        for (name, fraction) in [
            ("--read-share", shares.read),
            ("--reply-share", shares.reply),
            ("--stop-share", shares.stop),
            ("--callback-duplicate-share", shares.duplicate),
            ("--callback-reorder", shares.reorder),
            ("--callback-drop-share", shares.drop),
            ("--late-failure-share", shares.late_failure),
            ("--bad-signature-share", shares.bad_signature),
        ] {
            if !(0.0..=1.0).contains(&fraction) {
                bail!("{name} {fraction} must be a fraction between 0 and 1");
            }
        }
        let codes: Vec<String> = self
            .late_failure_codes
            .iter()
            .map(|code| code.trim().to_owned())
            .filter(|code| !code.is_empty())
            .collect();
        if let Some(code) = codes
            .iter()
            .find(|code| !code.bytes().all(|b| b.is_ascii_digit()))
        {
            bail!("--late-failure-codes: {code:?} is not a numeric WhatsApp error code");
        }
        if codes.is_empty() && shares.late_failure > 0.0 {
            bail!("--late-failure-share needs at least one code in --late-failure-codes");
        }
        if self.callback_concurrency == 0 {
            bail!("--callback-concurrency must be at least 1");
        }
        if let Some(price) = self.callback_price
            && (!price.is_finite() || price < 0.0)
        {
            bail!("--callback-price {price} must be a non-negative number");
        }
        let Some(url) = self.callback_url else {
            return Ok(None);
        };
        let url = url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--callback-url {url:?} must start with http:// or https://");
        }
        Ok(Some(CallbackConfig {
            url,
            seven_key: self.seven_signing_key,
            bird_key: self.bird_signing_key,
            delay: self.callback_delay,
            shares,
            late_failure_codes: codes,
            retry_for: self.callback_retry_for,
            concurrency: self.callback_concurrency,
            price: self.callback_price,
        }))
    }
}
