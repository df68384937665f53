//! The command line: `server` (serve the site and API) and the operator commands.

use clap::{Parser, Subcommand};

use crate::{
    config::Config,
    startup::{self, Application, StartupError},
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
}

/// Runs the chosen command to completion.
pub async fn run(cli: Cli, config: Config) -> Result<(), StartupError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(&config).await?;
            tracing::info!(
                address = %app.local_addr(),
                public_url = %config.public_url,
                backend = ?app.state().db.backend(),
                "Slimage is listening on http://{}",
                app.local_addr()
            );
            app.run_until(startup::shutdown_signal()).await
        }
        Command::Migrate => {
            let db = startup::open_database(&config).await?;
            tracing::info!(backend = ?db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
    }
}
