//! `wacast`: the operator's CLI, as a library under a thin binary. [`main`] parses the command
//! line and reports the error of a command once; [`ingest`] is the upload pipeline, callable
//! without the command line (by tests, and by the browser console to come).
//!
//! # Layout
//!
//! - `cli`: the clap definitions; `--help` is the reference.
//! - `cmd`: the commands, one module each, and what they share.
//! - `console`: `wacast serve`, the console in the browser (server, login, pages).
//! - `csv_out`: how every CSV file wacast writes is written (formulas neutralised, never the
//!   input or through a link, renamed into place).
//! - `ingest`: the CSV → queue pipeline behind `wacast enqueue`, with an API of plain data
//!   (`IngestRequest`, `Source` → `IngestReport`, progress through a callback).

mod cli;
mod cmd;
mod console;
mod csv_out;
pub mod ingest;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::cmd::{
    cancel, control, enqueue, hooks, list, optout, purge, rate, report, retry, serve, status, tier,
    wait, workers,
};

/// Exit status of an error: nothing (more) was done.
const EXIT_ERROR: u8 = 2;

/// The `wacast` binary: parses the command line, runs the command, and prints its error (if
/// any) once, as `error: {err:#}` with exit status 2.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    let resolved = wacast_shared::redis_url::resolve(
        cli.global.redis_url_arg.as_deref(),
        cli.global.redis_url_file.as_deref(),
    );
    match resolved {
        Ok(url) => cli.global.redis_url = url,
        Err(err) => {
            eprintln!("error: {}", wacast_shared::error_chain::error_chain(&err));
            return ExitCode::from(EXIT_ERROR);
        }
    }
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
            Command::List(args) => list::run(&cli.global, args).await,
            Command::Status(args) => status::run(&cli.global, args).await,
            Command::Wait(args) => wait::run(&cli.global, args).await,
            Command::Report(args) => report::run(&cli.global, args).await,
            Command::Pause(args) => control::pause(&cli.global, args).await,
            Command::Resume(args) => control::resume(&cli.global, args).await,
            Command::Cancel(args) => cancel::run(&cli.global, args).await,
            Command::Retry(args) => retry::run(&cli.global, args).await,
            Command::Optout(args) => optout::run(&cli.global, args).await,
            Command::Purge(args) => purge::run(&cli.global, args).await,
            Command::Rate(args) => rate::run(&cli.global, args).await,
            Command::Tier(args) => tier::run(&cli.global, args).await,
            Command::Hooks(args) => hooks::run(&cli.global, args).await,
            Command::Workers => workers::run(&cli.global).await,
            Command::Serve(args) => {
                console::server::run(serve::config(&cli.global, args)?).await?;
                Ok(ExitCode::SUCCESS)
            }
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
