//! Operator commands: accounts (`create-user`, `set-role`), plans (`set-plan`, `plans list`,
//! `plans set`).

use std::io::{BufRead, IsTerminal};

use app::{
    error::AppError,
    ssr::{
        accounts, billing,
        plans::{self, format_bytes, format_duration},
        tokens::random_alphanumeric,
    },
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
    /// Set the plan an account has without a subscription (a paid Stripe subscription, while in
    /// force, takes precedence).
    SetPlan {
        /// The account's email address.
        email: String,
        /// A plan id: free, premium, pro.
        plan: String,
    },
    /// Show or change the plans and their limits.
    #[command(subcommand)]
    Plans(PlansCommand),
}

/// `server admin plans …`
#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Print every plan and its limits.
    List,
    /// Change one limit of one plan, e.g. `plans set free monthly_allowance 1000`.
    Set {
        /// The plan id.
        plan: String,
        /// The field: name, monthly_price_cents, monthly_allowance, max_file_bytes,
        /// max_files_per_batch, bulk_zip, retention_secs, storage_quota_bytes,
        /// api_requests_per_minute, concurrent_jobs, queue_priority, position.
        field: String,
        /// The new value.
        value: String,
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
        AdminCommand::SetPlan { email, plan } => {
            let user = billing::set_account_plan(&db, &email, &plan).await?;
            println!("{} is now on the {} plan", user.email, user.plan);
            Ok(())
        }
        AdminCommand::Plans(PlansCommand::List) => {
            print_plans(&plans::all(&db).await?);
            Ok(())
        }
        AdminCommand::Plans(PlansCommand::Set { plan, field, value }) => {
            match plans::set_field(&db, &plan, &field, &value).await {
                Ok(plan) => {
                    print_plans(std::slice::from_ref(&plan));
                    Ok(())
                }
                Err(AppError::NotFound) => Err(AdminError::Refused(format!("no plan {plan:?}"))),
                Err(other) => Err(other.into()),
            }
        }
    };
    db.close().await;
    result
}

fn print_plans(plans: &[plans::Plan]) {
    println!(
        "{:<9} {:<9} {:>7} {:>9} {:>8} {:>6} {:>4} {:>9} {:>8} {:>6} {:>4} {:>4}",
        "id",
        "name",
        "price",
        "images/mo",
        "max file",
        "batch",
        "zip",
        "retention",
        "storage",
        "api/min",
        "jobs",
        "prio"
    );
    for p in plans {
        println!(
            "{:<9} {:<9} {:>7} {:>9} {:>8} {:>6} {:>4} {:>9} {:>8} {:>6} {:>4} {:>4}",
            p.id,
            p.name,
            format!(
                "${}.{:02}",
                p.monthly_price_cents / 100,
                p.monthly_price_cents % 100
            ),
            p.monthly_allowance,
            format_bytes(p.max_file_bytes),
            p.max_files_per_batch,
            if p.bulk_zip { "yes" } else { "no" },
            format_duration(p.retention_secs),
            format_bytes(p.storage_quota_bytes),
            p.api_requests_per_minute,
            p.concurrent_jobs,
            p.queue_priority
        );
    }
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
