//! `wacast serve`: the flags and credentials → the console's configuration ([`ServeConfig`]),
//! which `console::server::run` serves until it is stopped.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use wacast_shared::queue::RedisTls;
use wacast_shared::secret::KeySource;

use crate::cli::{GlobalArgs, ServeArgs};

/// The operator token: `WACAST_CONSOLE_TOKEN`, `--token-file`, or the credential.
const OPERATOR_TOKEN: KeySource = KeySource {
    what: "console operator token",
    env: "WACAST_CONSOLE_TOKEN",
    credential: Some("console-token"),
};

/// The read-only token: `WACAST_CONSOLE_VIEWER_TOKEN`, `--viewer-token-file`, or the credential.
const VIEWER_TOKEN: KeySource = KeySource {
    what: "console viewer token",
    env: "WACAST_CONSOLE_VIEWER_TOKEN",
    credential: Some("console-viewer-token"),
};

/// What `wacast serve`'s flags and credentials come to.
pub(crate) struct ServeConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) redis_url: String,
    /// The CA and client certificate of a `rediss://` URL.
    pub(crate) redis_tls: RedisTls,
    pub(crate) prefix: String,
    /// Logs in as an operator; none: the console is open (on loopback only).
    pub(crate) operator_token: Option<SecretString>,
    /// Logs in as a viewer, who may look but not act.
    pub(crate) viewer_token: Option<SecretString>,
    pub(crate) https: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<IpAddr>,
    pub(crate) session_ttl: Duration,
    pub(crate) templates: Option<PathBuf>,
    /// The largest upload, in bytes.
    pub(crate) max_upload: u64,
}

/// The configuration of `wacast serve`, its tokens read.
pub(crate) fn config(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let operator_token = OPERATOR_TOKEN.read(args.token_file.as_deref())?;
    let viewer_token = VIEWER_TOKEN.read(args.viewer_token_file.as_deref())?;
    if operator_token.is_none() && viewer_token.is_some() {
        anyhow::bail!(
            "a viewer token is set but no operator token: set WACAST_CONSOLE_TOKEN (or \
             --token-file) too, else anyone could act"
        );
    }
    if operator_token.is_none() && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve the console on {} without a token: anyone who reaches it could \
             pause and cancel campaigns; set WACAST_CONSOLE_TOKEN (or --token-file, or the \
             credential `console-token`), or listen on 127.0.0.1",
            args.listen
        );
    }
    Ok(ServeConfig {
        listen: args.listen,
        redis_url: global.redis_url.clone(),
        redis_tls: global.redis_tls.clone(),
        prefix: global.prefix.clone(),
        operator_token,
        viewer_token,
        https: args.https,
        trusted_proxies: args.trusted_proxies.clone(),
        session_ttl: args.session_ttl,
        templates: args.templates.clone(),
        max_upload: args.max_upload.saturating_mul(1_000_000),
    })
}
