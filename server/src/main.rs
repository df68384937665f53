//! The `server` binary: configuration from the environment, then the command.

use std::process::ExitCode;

use clap::Parser;
use server::{cli, config::Config, telemetry};

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("slimage: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, &config.log_filter);
    // At least four workers even on one or two cores: Leptos' server rendering has been reported
    // to stall pages with resources on one worker (leptos-rs/leptos#4647). Our own occasional
    // hang of /account persisted with four and went away only when that page stopped sharing a
    // resource between two suspense boundaries (see pages/account.rs); this is a margin, not
    // the fix.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(4);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("slimage: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, so that the operator sees the cause rather than a backtrace.
            eprintln!("slimage: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
