//! The server's shared state: configuration, the id counter and one lock around everything that
//! changes (counters, scheduled messages, open windows, rate-limit windows, the random source).
//!
//! One `std::sync::Mutex` is enough: every critical section is a few map operations with no
//! `.await` inside, so even with several worker threads the lock is held for well under a
//! microsecond, and on the default single thread it is never contended.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::gateway::callbacks::Callbacks;
use crate::gateway::config::{Config, Faults};
use crate::gateway::journal::Journal;
use crate::gateway::stats::Stats;

/// The first message id handed out; ids then count up by one.
pub(crate) const FIRST_ID: u64 = 100_000_001;

/// An accepted message as `GET /messages` shows it.
#[derive(Debug)]
pub(crate) struct StoredMessage {
    pub(crate) id: u64,
    pub(crate) from: Box<str>,
    pub(crate) to: Box<str>,
    pub(crate) foreign_id: Option<Box<str>>,
    pub(crate) label: Option<Box<str>>,
    pub(crate) text: Box<str>,
    /// The request body exactly as the client sent it.
    pub(crate) request: Box<str>,
    pub(crate) accepted_at_ms: i64,
    pub(crate) send_at_ms: Option<i64>,
}

/// Request counts of the current calendar second, for `--rate-limit` and
/// `--rate-limit-per-sender`.
#[derive(Debug, Default)]
pub(crate) struct RateWindows {
    global: (i64, u32),
    per_sender: HashMap<Box<str>, (i64, u32)>,
}

fn admit(window: &mut (i64, u32), second: i64, limit: u32) -> bool {
    if window.0 != second {
        *window = (second, 0);
    }
    window.1 = window.1.saturating_add(1);
    window.1 <= limit
}

impl RateWindows {
    pub(crate) fn admit_global(&mut self, second: i64, limit: u32) -> bool {
        admit(&mut self.global, second, limit)
    }

    pub(crate) fn admit_sender(&mut self, sender: &str, second: i64, limit: u32) -> bool {
        let window = match self.per_sender.get_mut(sender) {
            Some(window) => window,
            None => self.per_sender.entry(sender.into()).or_default(),
        };
        admit(window, second, limit)
    }
}

/// Everything that changes while serving.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) stats: Stats,
    pub(crate) rng: StdRng,
    pub(crate) windows: HashSet<String>,
    pub(crate) balance: f64,
    /// Scheduled message id → when it will be sent (unix ms).
    pub(crate) scheduled: HashMap<u64, i64>,
    pub(crate) deleted: HashSet<u64>,
    pub(crate) stored: Vec<StoredMessage>,
    pub(crate) rate: RateWindows,
    /// The faults in force: the flags', changed at runtime by `POST /faults`.
    pub(crate) faults: Arc<Faults>,
    /// The accepted seven API key and Bird access key: the flags', changed by `POST /faults`.
    pub(crate) api_key: Arc<str>,
    pub(crate) bird_access_key: Arc<str>,
}

impl Inner {
    /// Whether a fault of this probability happens now.
    pub(crate) fn roll(&mut self, fraction: f64) -> bool {
        fraction > 0.0 && (fraction >= 1.0 || self.rng.random_bool(fraction))
    }

    /// Drops what `POST /stats/reset` clears; ids keep counting so none is ever reused.
    pub(crate) fn reset(&mut self) {
        self.stats = Stats::default();
        self.stored.clear();
        self.rate = RateWindows::default();
    }
}

/// Shared by all connections.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) next_id: AtomicU64,
    /// `--journal`: written outside `inner`'s lock, which stays free of I/O.
    pub(crate) journal: Option<Journal>,
    /// `--callback-url`: the callbacks of accepted messages.
    pub(crate) callbacks: Option<Arc<Callbacks>>,
    inner: Mutex<Inner>,
}

impl AppState {
    pub(crate) fn new(
        config: Config,
        journal: Option<Journal>,
        callbacks: Option<Arc<Callbacks>>,
    ) -> AppState {
        let rng = match config.faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let inner = Inner {
            stats: Stats::default(),
            rng,
            windows: config.windows.clone(),
            balance: config.balance,
            scheduled: HashMap::new(),
            deleted: HashSet::new(),
            stored: Vec::new(),
            rate: RateWindows::default(),
            faults: Arc::new(config.faults.clone()),
            api_key: config.api_key.as_str().into(),
            bird_access_key: config.bird.access_key.as_str().into(),
        };
        AppState {
            config,
            next_id: AtomicU64::new(FIRST_ID),
            journal,
            callbacks,
            inner: Mutex::new(inner),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic inside a critical section leaves plain counters behind; serving on is fine.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The faults in force now.
    pub(crate) fn faults(&self) -> Arc<Faults> {
        Arc::clone(&self.lock().faults)
    }

    /// The seven API key accepted now.
    pub(crate) fn api_key(&self) -> Arc<str> {
        Arc::clone(&self.lock().api_key)
    }

    /// The Bird access key accepted now.
    pub(crate) fn bird_access_key(&self) -> Arc<str> {
        Arc::clone(&self.lock().bird_access_key)
    }

    pub(crate) fn allocate_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether `id` was ever handed out.
    pub(crate) fn was_issued(&self, id: u64) -> bool {
        (FIRST_ID..self.next_id.load(Ordering::Relaxed)).contains(&id)
    }
}

/// Milliseconds since the unix epoch.
pub(crate) fn unix_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
