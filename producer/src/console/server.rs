//! The console's process: its shared state ([`Console`]: the queue, the sessions, the login
//! throttle, the configuration), the router of every page, listening, and shutting down
//! gracefully on SIGINT or SIGTERM.
//!
//! # Adding a page
//!
//! A page module exposes `pub(crate) fn routes() -> Router<Console>`, merged in [`router`].
//! Its handlers take, as axum extractors:
//! - `State(console): State<Console>` (`console::state`) for the queue (`console.queue()`, every Redis read and
//!   write goes through `shared::queue`) and the configuration (`console.templates()`);
//! - [`Login`](crate::console::sessions::Login) to require a login (a page without one is sent to
//!   the login form): `login.role`, `login.may_act()`, `login.csrf`;
//! - [`Operator`](crate::console::auth::Operator) instead, for an action: a viewer gets 403.
//!
//! A page is `layout::page(title, &login, Nav::…, html! { … })`, a maud `Markup` (escaped by
//! default). Every POST form holds `(layout::csrf_field(&login))`; a multipart form carries the
//! token in its action's query instead (`action={"/campaigns/new?csrf=" (login.csrf)}`), as
//! the CSRF middleware ([`auth::check_csrf`]) reads it before any handler, so a handler never
//! checks it again. Handlers return `Result<Markup, PageError>` (`layout::PageError`, from a
//! `QueueError` or an `anyhow::Error`) or any `IntoResponse`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use wacast_shared::queue::Queue;
use wacast_shared::redact::redact_url;

use crate::cmd::serve::ServeConfig;
use crate::console::sessions::{LoginLimiter, SessionStore, Tokens};
use crate::console::state::{Console, Inner};
use crate::console::{
    assets, auth, campaign, campaigns, message, new_campaign, optouts, senders, workers,
};

/// Bodies larger than this are refused unless a route raises it (the upload does).
const BODY_LIMIT: usize = 1024 * 1024;

/// Every route, with the CSRF check and the security headers around them.
pub(crate) fn router(console: Console) -> Router {
    Router::new()
        .merge(auth::routes())
        .merge(assets::routes())
        .merge(campaigns::routes())
        .merge(campaign::routes())
        .merge(message::routes())
        .merge(senders::routes())
        .merge(optouts::routes())
        .merge(workers::routes())
        .merge(new_campaign::routes(console.inner.max_upload))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            auth::check_csrf,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(assets::security_headers))
        .with_state(console)
}

/// Serves the console until SIGINT or SIGTERM (`serve::config` refused a console beyond
/// loopback without an operator token).
pub(crate) async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let queue = Queue::connect_tls(&config.redis_url, &config.redis_tls, &config.prefix)
        .await
        .with_context(|| {
            format!(
                "cannot connect to Redis at {}",
                redact_url(&config.redis_url)
            )
        })?;
    let console = Console {
        inner: Arc::new(Inner {
            queue,
            tokens: Tokens {
                operator: config.operator_token,
                viewer: config.viewer_token,
            },
            sessions: SessionStore::new(config.session_ttl),
            login_limiter: LoginLimiter::new(),
            https: config.https,
            trusted_proxies: config.trusted_proxies,
            templates: config.templates,
            max_upload: config.max_upload,
        }),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    // The one line on stdout: tests and scripts read the address from it (with --listen
    // 127.0.0.1:0, the port the system chose).
    println!("wacast console listening on http://{local}");
    tracing::info!(%local, "Console listening.");
    axum::serve(
        listener,
        router(console).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the console's server failed")?;
    tracing::info!("Console stopped.");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(err) => {
                tracing::warn!(error = %err, "Cannot watch SIGTERM; SIGINT still stops the console.");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
