//! Operator commands: `server admin create-user` and `server admin set-role`.

use std::io::{BufRead, IsTerminal};

use app::{
    error::AppError,
    ssr::{accounts, tokens::random_alphanumeric},
};
use clap::Subcommand;

use crate::{
    config::Config,
    startup::{self, StartupError},
};

/// The operator's account commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account. The password is read from standard input when it is piped in;
    /// otherwise a random one is generated and printed once.
    CreateUser {
        /// The account's email address.
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Change an account's role.
    SetRole {
        /// The account's email address.
        email: String,
        /// `user` or `admin`.
        #[arg(value_parser = ["user", "admin"])]
        role: String,
    },
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The database could not be opened.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The command was refused (the message says why).
    #[error("{0}")]
    Refused(String),
}

impl From<AppError> for AdminError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => Self::Refused("no account has this email".into()),
            other => Self::Refused(other.to_string()),
        }
    }
}

/// Runs one admin command.
pub async fn run(command: AdminCommand, config: &Config) -> Result<(), AdminError> {
    let db = startup::open_database(config).await?;
    let result = match command {
        AdminCommand::CreateUser { email, admin } => {
            let (password, generated) = read_or_generate_password()?;
            let role = if admin { "admin" } else { "user" };
            let user = accounts::create_user(&db, &email, password.clone(), role).await?;
            println!("created {} ({})", user.email, user.role);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        AdminCommand::SetRole { email, role } => {
            let user = accounts::set_role(&db, &email, &role).await?;
            println!("{} is now {}", user.email, user.role);
            Ok(())
        }
    };
    db.close().await;
    result
}

fn read_or_generate_password() -> Result<(String, bool), AdminError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((random_alphanumeric(20), true));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        AdminError::Refused(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Ok((random_alphanumeric(20), true));
    }
    Ok((password, false))
}
