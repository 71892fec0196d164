//! The callbacks listener: [`serve`] binds `--hooks-addr`, routes `POST /hooks/seven` and
//! `POST /hooks/bird` to the handler with each client's socket address (the limiter's key),
//! and logs which providers are signed.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use axum::Router;
use axum::routing::post;
use wacast_shared::campaign::ProviderKind;
use wacast_shared::queue::Queue;

use crate::config::HooksConfig;
use crate::hooks::handler::{self, Hooks};
use crate::hooks::limiter::{FAILURE_BURST, FAILURES_PER_SECOND, FailureLimiter};
use crate::hooks::verify::{Endpoint, path};

/// Binds the callbacks listener and serves it until the process exits.
pub async fn serve(config: &HooksConfig, queue: Queue) -> anyhow::Result<()> {
    let hooks = Arc::new(Hooks {
        queue,
        policy: config.policy.clone(),
        seven: Endpoint::new(
            ProviderKind::Seven,
            config.seven_key.clone(),
            &config.public_url,
            config.allow_unsigned,
        ),
        bird: Endpoint::new(
            ProviderKind::Bird,
            config.bird_key.clone(),
            &config.public_url,
            config.allow_unsigned,
        ),
        limiter: FailureLimiter::new(
            NonZeroU32::new(FAILURES_PER_SECOND).expect("a positive constant"),
            NonZeroU32::new(FAILURE_BURST).expect("a positive constant"),
        ),
        unavailable: AtomicBool::new(false),
    });
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("failed to bind the callbacks listener on {}", config.addr))?;
    let endpoints = [&hooks.seven, &hooks.bird];
    let names = |signed: bool| {
        endpoints
            .iter()
            .filter(|e| e.is_signed() == signed)
            .map(|e| e.provider.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (signed, unsigned) = (names(true), names(false));
    if !unsigned.is_empty() {
        if config.allow_unsigned {
            tracing::warn!(providers = %unsigned, "Accepting unsigned callbacks (--hooks-allow-unsigned): anyone who reaches the endpoint can forge deliveries and opt-outs.");
        } else {
            tracing::info!(providers = %unsigned, "No signing key: these providers' callbacks are refused.");
        }
    }
    tracing::info!(
        addr = %config.addr,
        public_url = %config.public_url,
        signed = %signed,
        "Receiving callbacks on {} and {}.",
        path(ProviderKind::Seven),
        path(ProviderKind::Bird)
    );
    let app = Router::new()
        .route(path(ProviderKind::Seven), post(handler::seven))
        .route(path(ProviderKind::Bird), post(handler::bird))
        .with_state(hooks);
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "The callbacks server stopped.");
        }
    });
    Ok(())
}
