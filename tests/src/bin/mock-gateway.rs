//! `mock-gateway`: seven's WhatsApp API on localhost for tests, demo and benchmarks. All the
//! behaviour lives in `wacast_tests::gateway`; this parses flags, builds the runtime and serves.

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use wacast_tests::gateway::config::Args;
use wacast_tests::gateway::{LISTENING_PREFIX, Server};

// Every request allocates its parsed JSON, headers and stats keys: with glibc's malloc the
// gateway spent about a tenth of its CPU in malloc and free; mimalloc is what the worker uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Quiet by default: a log line per request would cost more than serving it.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Args::parse().into_config()?;
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()
    }
    .context("failed to start the tokio runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config)
            .await
            .context("failed to bind the listening socket or create the journal")?;
        let addr = server.local_addr()?;
        let mut stdout = std::io::stdout().lock();
        // Tests and scripts read this line to learn the port; flush so they see it at once.
        writeln!(stdout, "{LISTENING_PREFIX}{addr}")?;
        stdout.flush()?;
        drop(stdout);
        tokio::select! {
            served = server.run() => served.context("serving failed")?,
            _ = shutdown_signal() => {}
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(terminate) => terminate,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
