//! systemd integration: readiness (`READY=1`), the watchdog, and stopping (`STOPPING=1`).
//!
//! Every call is a no-op when the process does not run under systemd (`NOTIFY_SOCKET` unset).

use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd the worker is ready (the unit is `Type=notify`).
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// Tells systemd the worker is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Sends one watchdog keep-alive.
pub fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// How often to send keep-alives: half the unit's `WatchdogSec`, or `None` without a watchdog.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|period| period / 2)
}

fn notify(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "Cannot notify systemd.");
    }
}
