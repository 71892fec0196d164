//! The apalis backend's concurrency slots: how many messages a worker has out, the leases it
//! holds (which its heartbeat extends), and the [`Slot`] each claimed message takes until the
//! worker has finished with it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use foldhash::{HashSet, HashSetExt};
use futures::task::AtomicWaker;

use crate::queue::lease::Lease;

/// A backend's slots, shared by the backend, its background tasks and the slots themselves.
pub(crate) struct Slots {
    /// Messages claimed and not finished (buffered or handed out).
    in_flight: AtomicUsize,
    /// Woken when a slot frees, for `poll_ready`.
    ready: AtomicWaker,
    /// The leases held, for the heartbeat. Every message inserts and removes its lease:
    /// hashed with foldhash, not SipHash (the worker's own data, not an attacker's).
    held: Mutex<HashSet<Lease>>,
}

impl Slots {
    /// No slot taken.
    pub(crate) fn new() -> Slots {
        Slots {
            in_flight: AtomicUsize::new(0),
            ready: AtomicWaker::new(),
            held: Mutex::new(HashSet::new()),
        }
    }

    /// Messages claimed and not finished.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Wakes `waker` when a slot frees.
    pub(crate) fn register(&self, waker: &Waker) {
        self.ready.register(waker);
    }

    /// The leases held now.
    pub(crate) fn leases(&self) -> Vec<Lease> {
        self.held().iter().cloned().collect()
    }

    /// A slot for the message claimed under `lease`, held until the [`Slot`] is dropped.
    pub(crate) fn take(self: &Arc<Self>, lease: &Lease) -> Slot {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.held().insert(lease.clone());
        Slot {
            slots: Arc::clone(self),
            lease: lease.clone(),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashSet<Lease>> {
        // The set is only inserted into and removed from: a panic elsewhere cannot leave it
        // half-changed, so a poisoned lock is still usable.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One message's concurrency slot and heartbeat registration, released on drop.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    lease: Lease,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.held().remove(&self.lease);
        self.slots.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.slots.ready.wake();
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").field("lease", &self.lease).finish()
    }
}
