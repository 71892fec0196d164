//! `wacast`: the operator's CLI. `main` parses the command line and reports the error of
//! [`run`] once; each command lives in its own module.
//!
//! # Layout
//!
//! - `cli`: the clap definitions; `--help` is the reference.
//! - `enqueue`: `wacast enqueue`, the CSV → queue pipeline, over
//!   - `source` (the file's bytes: hash, encoding, delimiter),
//!   - `csv_import` (header mapping and per-row checks), `pump` (reader thread → Redis),
//!   - `normalise` (phone numbers, with a fast path for E.164),
//!   - `options` (delay, ttl, label, language), `content` (the message body from the flags),
//!   - `templates` (the approved-templates check), `rejects` and `summary` (what is reported).

mod cli;
mod content;
mod csv_import;
mod enqueue;
mod normalise;
mod options;
mod pump;
mod rejects;
mod source;
mod summary;
mod templates;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

/// Exit status of an error: nothing (more) was done.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // One thread does the Redis I/O; the CSV is parsed on a thread of its own (see `enqueue`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match &cli.command {
            Command::Enqueue(args) => enqueue::run(&cli.global, args).await,
        }
    })
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only for a person at a terminal, and never when NO_COLOR is set (no-color.org).
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}
