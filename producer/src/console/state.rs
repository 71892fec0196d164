//! The state every handler of the console shares ([`Console`]): the queue, the tokens, the
//! sessions, the login throttle and the configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wacast_shared::queue::Queue;

use crate::console::sessions::{LoginLimiter, SessionStore, Tokens};

/// The state every handler shares; cloning it is cheap.
#[derive(Clone)]
pub(crate) struct Console {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) queue: Queue,
    pub(crate) tokens: Tokens,
    pub(crate) sessions: SessionStore,
    pub(crate) login_limiter: LoginLimiter,
    pub(crate) https: bool,
    pub(crate) templates: Option<PathBuf>,
    /// The largest upload the new campaign page accepts, in bytes.
    pub(crate) max_upload: u64,
}

impl Console {
    /// The queue: every read and write of Redis.
    pub(crate) fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    /// The approved templates file, if `--templates` named one.
    pub(crate) fn templates(&self) -> Option<&Path> {
        self.inner.templates.as_deref()
    }

    pub(crate) fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    pub(crate) fn sessions(&self) -> &SessionStore {
        &self.inner.sessions
    }

    pub(crate) fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }

    /// Whether cookies are `Secure` whatever the request says (`--https`).
    pub(crate) fn https(&self) -> bool {
        self.inner.https
    }
}
