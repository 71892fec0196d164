//! wacast-worker: parses flags, sets up logging and hands over to the library.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use wacast_worker::config::{Args, Command, Config};
use wacast_worker::{shutdown, telemetry};

// Many small, short-lived allocations per message: with glibc's malloc the worker used 42 ms of
// CPU per 1,000 messages, with mimalloc 34 (one runtime thread, mock at 0 ms latency).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    // Before the configuration is read: packaging runs this with none.
    if let Some(Command::Manpages { out }) = &args.command {
        return manpages(out);
    }
    telemetry::init(args.log_format);
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match runtime(config.threads) {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        Some(Command::Manpages { .. }) => unreachable!("answered before the configuration"),
        Some(Command::CheckConfig(check)) => {
            runtime.block_on(wacast_worker::check_config(&config, &check))
        }
        None => runtime.block_on(wacast_worker::run(config, shutdown::signal())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// `wacast-worker manpages --out DIR`.
fn manpages(out: &std::path::Path) -> ExitCode {
    match wacast_shared::manual::write_man_pages(Args::command(), out) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "error: failed to write the man pages into {}: {err}",
                out.display()
            );
            ExitCode::from(2)
        }
    }
}

/// One thread runs everything (`--threads 1`, the default); more make a thread pool.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder.enable_all().build()
}
