//! The command line: `server` (serve the site and API) and the operator commands.

use clap::{Parser, Subcommand};

use crate::{
    admin::{self, AdminCommand, AdminError},
    config::Config,
    startup::{self, Application, StartupError},
    worker,
};

/// Slimage: image compression as a web service.
#[derive(Debug, Parser)]
#[command(name = "server", version, about)]
pub struct Cli {
    /// What to do; serves the site when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The server's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web site and API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Run compression workers only (no web server), until SIGTERM: `WORKERS` of them, at least one.
    Worker,
    /// Manage accounts.
    Admin {
        /// The admin command.
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Serving or migrating failed.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// An admin command failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// Runs the chosen command to completion.
pub async fn run(cli: Cli, config: Config) -> Result<(), CommandError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(&config).await?;
            let shutdown = startup::shutdown_signal();
            tracing::info!(
                address = %app.local_addr(),
                public_url = %config.public_url,
                backend = ?app.state().db.backend(),
                "Slimage is listening on http://{}",
                app.local_addr()
            );
            Ok(app.run_until(shutdown).await?)
        }
        Command::Migrate => {
            let db = startup::open_database(&config).await?;
            tracing::info!(backend = ?db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::Worker => {
            let state = startup::build_state(&config, config.site_addr).await?;
            let shutdown = startup::shutdown_signal();
            let count = config.workers.max(1);
            let workers = worker::spawn(&state, count);
            tracing::info!(workers = count, backend = ?state.db.backend(), "Slimage workers are running");
            shutdown.await;
            workers.iter().for_each(tokio::task::JoinHandle::abort);
            state.db.close().await;
            Ok(())
        }
        Command::Admin { command } => Ok(admin::run(command, &config).await?),
    }
}
