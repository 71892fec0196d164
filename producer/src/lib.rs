//! `wacast`: the operator's CLI, as a library under a thin binary. [`main`] parses the command
//! line and reports the error of a command once; [`ingest`] is the upload pipeline, callable
//! without the command line (by tests, and by the browser console to come).
//!
//! # Layout
//!
//! - `cli`: the clap definitions; `--help` is the reference.
//! - `cmd`: the commands, one module each, and what they share.
//! - `config_file`: /etc/wacast/wacast.toml and the user's file, the defaults of the flags.
//! - `console`: `wacast serve`, the console in the browser (server, login, pages).
//! - `csv_out`: how every CSV file wacast writes is written (formulas neutralised, never the
//!   input or through a link, renamed into place).
//! - `ingest`: the CSV → queue pipeline behind `wacast enqueue`, with an API of plain data
//!   (`IngestRequest`, `Source` → `IngestReport`, progress through a callback).

mod cli;
mod cmd;
mod config_file;
mod console;
mod csv_out;
pub mod ingest;

use std::io::IsTerminal;
use std::process::ExitCode;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};
use tracing_subscriber::EnvFilter;
use wacast_shared::queue::{RedisTls, TlsFiles};

use crate::cli::{Cli, Command, ConfigCommand, Format};
use crate::cmd::{
    cancel, config, control, enqueue, hooks, list, optout, output, purge, rate, report, retry,
    serve, shell, status, tier, wait, workers,
};
use crate::config_file::{InForce, Origin, Settings};

/// Exit status of an error: nothing (more) was done.
const EXIT_ERROR: u8 = 2;

/// The `wacast` binary: parses the command line, runs the command, and prints its error (if
/// any) once, as `error: {err:#}` (a JSON object with `--format json`) with exit status 2. A
/// closed stdout ends the command quietly with status 0.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A first, lenient pass finds --config (or WACAST_CONFIG): the files give the flags their
    // defaults, so they are read before the command line is parsed for real.
    let named = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .ok()
        .and_then(|matches| matches.get_one::<PathBuf>("config_file").cloned());
    let settings = match Settings::load(named.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let matches = settings.apply(Cli::command()).get_matches_from(&args);
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let format = cli.global.format;
    let redis_from = match config_file::redis_url(&cli.global, &matches, &settings) {
        Ok((url, origin)) => {
            cli.global.redis_url = url;
            origin
        }
        Err(err) => {
            report_error(
                &wacast_shared::error_chain::error_chain(&err).to_string(),
                format,
            );
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let tls = RedisTls::load(&TlsFiles {
        ca_file: cli.global.redis_ca_file.clone(),
        client_cert: cli.global.redis_client_cert.clone(),
        client_key: cli.global.redis_client_key.clone(),
    });
    match tls {
        Ok(tls) => cli.global.redis_tls = tls,
        Err(err) => {
            report_error(
                &wacast_shared::error_chain::error_chain(&err).to_string(),
                format,
            );
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let prefix_from = Origin::of_arg(
        &matches,
        "prefix",
        "--prefix",
        cli::env::PREFIX,
        settings.prefix.as_ref(),
    );
    let in_force = InForce {
        settings,
        redis_from,
        prefix_from,
    };
    match run(cli, &in_force) {
        Ok(code) => code,
        // `wacast report ID | head`: the reader has what it wanted.
        Err(err) if err.is::<output::StdoutClosed>() => ExitCode::SUCCESS,
        Err(err) => {
            report_error(&format!("{err:#}"), format);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Prints an error on stderr: `error: …` with its hint below it as text, or one JSON object
/// `{"error": …, "hint": …}` (hint null when there is none) for scripts that asked for JSON.
fn report_error(text: &str, format: Format) {
    match format {
        Format::Text => eprintln!("error: {text}"),
        Format::Json => eprintln!("{}", error_json(text)),
    }
}

/// An error's text as JSON: the hint an error ends with (`\n\nhint: …`) in a field of its own.
fn error_json(text: &str) -> serde_json::Value {
    let (error, hint) = match text.split_once("\n\nhint: ") {
        Some((error, hint)) => (error, Some(hint)),
        None => (text, None),
    };
    serde_json::json!({"error": error, "hint": hint})
}

fn run(cli: Cli, in_force: &InForce) -> anyhow::Result<ExitCode> {
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
            Command::Completions(args) => shell::completions(args.shell),
            Command::Manpages(args) => shell::manpages(&args.out),
            Command::Config(args) => match args.command {
                ConfigCommand::Show => config::show(&cli.global, in_force),
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_keep_their_hint_apart() {
        assert_eq!(
            error_json("campaign x not found\n\nhint: see `wacast list`"),
            serde_json::json!({"error": "campaign x not found", "hint": "see `wacast list`"})
        );
        assert_eq!(
            error_json("refused"),
            serde_json::json!({"error": "refused", "hint": null})
        );
    }
}
