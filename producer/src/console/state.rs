//! The state every handler of the console shares ([`Console`]): the queue, the tokens, the
//! sessions, the login throttle and the configuration.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderMap;
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
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub(crate) trusted_proxies: Vec<IpAddr>,
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

    /// The client of a request from `peer`: `peer` itself, unless it is a trusted proxy and
    /// says whom it forwards (the last address of `X-Forwarded-For`, the one it saw; those
    /// before it are whatever the client wrote).
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.inner.trusted_proxies.contains(&peer) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
            .unwrap_or(peer)
    }

    /// Whether cookies are `Secure` whatever the request says (`--https`).
    pub(crate) fn https(&self) -> bool {
        self.inner.https
    }
}
