//! `chaos`: the chaos soak (see `wacast_tests::chaos`), run by `scripts/chaos.sh`. Prints one
//! `chaos_NAME VALUE` line per figure on stdout; exits 0 when the promise held, 1 on any
//! violation, 2 when the soak could not run.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use wacast_tests::chaos::{self, config::Args};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let config = Args::parse().into_config()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the tokio runtime")?;
    let report = runtime.block_on(async {
        tokio::select! {
            report = chaos::run(&config) => report,
            // Dropping the soak stops every process it started.
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })?;
    for (name, value) in &report.figures {
        println!("{name} {value}");
    }
    if report.violations.is_empty() {
        eprintln!("chaos: every check passed");
        if config.dir.is_none() {
            // Nothing to look into; a given --dir is the caller's to keep.
            let _ = std::fs::remove_dir_all(&report.dir);
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("chaos: {} violations:", report.violations.len());
    for violation in &report.violations {
        eprintln!("  {violation}");
    }
    eprintln!(
        "chaos: the CSVs, the gateway's journal and every process's log are in {}",
        report.dir.display()
    );
    Ok(ExitCode::from(1))
}
