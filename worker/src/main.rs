//! wacast-worker: parses flags, sets up logging and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use wacast_worker::config::{Args, Command, Config};
use wacast_worker::{shutdown, telemetry};

fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_format);
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        Some(Command::CheckConfig) => runtime.block_on(wacast_worker::check_config(&config)),
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
