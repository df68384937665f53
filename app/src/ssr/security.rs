//! Security events and the throttles built on them.
//!
//! Every failed log-in, lock-out, sign-up, reset request and password change is one row in
//! `security_events` (the operator's audit trail, shared by every web process) and one WARN or
//! INFO log line with `event=…`. The throttles count those rows in a time window, so they hold
//! across processes and restarts.

use std::net::IpAddr;

use super::db::{now, Db};
use crate::{error::AppError, on_pool};

/// The kinds of event recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A log-in with a wrong email or password.
    LoginFailed,
    /// A log-in refused because of earlier failures.
    LoginLocked,
    /// A successful log-in.
    LoggedIn,
    /// A new account.
    SignedUp,
    /// Sign-up refused by the per-IP throttle.
    SignupThrottled,
    /// Someone asked for a password-reset email.
    PasswordResetRequested,
    /// A reset request refused by the per-IP throttle.
    PasswordResetThrottled,
    /// A password was reset through an emailed link.
    PasswordReset,
    /// A signed-in user changed their password.
    PasswordChanged,
    /// A user deleted their account.
    AccountDeleted,
    /// A request to the Stripe webhook with a missing, wrong or stale signature.
    StripeWebhookRefused,
}

impl SecurityEvent {
    /// The stable name stored in the table and logged as `event`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::LoggedIn => "logged_in",
            Self::SignedUp => "signed_up",
            Self::SignupThrottled => "signup_throttled",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordResetThrottled => "password_reset_throttled",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::AccountDeleted => "account_deleted",
            Self::StripeWebhookRefused => "stripe_webhook_refused",
        }
    }

    fn is_warning(self) -> bool {
        matches!(
            self,
            Self::LoginFailed
                | Self::LoginLocked
                | Self::SignupThrottled
                | Self::PasswordResetRequested
                | Self::PasswordResetThrottled
                | Self::StripeWebhookRefused
        )
    }
}

/// A throttle: at most `max` events of a kind from one key within `window_secs`.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// The event counted.
    pub event: SecurityEvent,
    /// How many are allowed in the window.
    pub max: i64,
    /// The window's length in seconds.
    pub window_secs: i64,
}

/// Five failed log-ins for one email from one address lock that pair for 15 minutes.
pub const LOGIN_FAILURES: Throttle = Throttle {
    event: SecurityEvent::LoginFailed,
    max: 5,
    window_secs: 15 * 60,
};
/// Ten new accounts per address per hour.
pub const SIGNUPS: Throttle = Throttle {
    event: SecurityEvent::SignedUp,
    max: 10,
    window_secs: 60 * 60,
};
/// Five reset emails per address per 15 minutes.
pub const RESET_REQUESTS: Throttle = Throttle {
    event: SecurityEvent::PasswordResetRequested,
    max: 5,
    window_secs: 15 * 60,
};

/// Writes one event row and its log line.
pub async fn record(
    db: &Db,
    event: SecurityEvent,
    ip: IpAddr,
    email: Option<&str>,
    user_id: Option<i64>,
) -> Result<(), AppError> {
    let ip_text = ip.to_string();
    if event.is_warning() {
        tracing::warn!(event = event.name(), ip = %ip_text, email, user_id, "security event");
    } else {
        tracing::info!(event = event.name(), ip = %ip_text, email, user_id, "security event");
    }
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO security_events (created_at, event, ip, email, user_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now())
    .bind(event.name())
    .bind(&ip_text)
    .bind(email)
    .bind(user_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `Ok` while `ip` (and `email`, when given) is under `throttle`; otherwise the 429 to answer,
/// with the seconds until the oldest counted event leaves the window.
pub async fn check(
    db: &Db,
    throttle: Throttle,
    ip: IpAddr,
    email: Option<&str>,
) -> Result<(), AppError> {
    let since = now() - throttle.window_secs;
    let ip_text = ip.to_string();
    let (count, oldest): (i64, Option<i64>) = match email {
        Some(email) => on_pool!(db, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM security_events \
             WHERE event = $1 AND ip = $2 AND email = $3 AND created_at > $4",
        )
        .bind(throttle.event.name())
        .bind(&ip_text)
        .bind(email)
        .bind(since)
        .fetch_one(pool)
        .await)?,
        None => on_pool!(db, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM security_events \
             WHERE event = $1 AND ip = $2 AND created_at > $3",
        )
        .bind(throttle.event.name())
        .bind(&ip_text)
        .bind(since)
        .fetch_one(pool)
        .await)?,
    };
    if count < throttle.max {
        return Ok(());
    }
    let retry_after = (oldest.unwrap_or(since) + throttle.window_secs - now()).max(1);
    let minutes = (retry_after + 59) / 60;
    Err(AppError::TooManyRequests {
        message: format!(
            "Too many attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
        retry_after_secs: retry_after as u64,
    })
}

/// Deletes events older than `days` (the audit trail's retention).
pub async fn prune(db: &Db, days: i64) -> Result<u64, sqlx::Error> {
    on_pool!(db, pool => sqlx::query("DELETE FROM security_events WHERE created_at < $1")
        .bind(now() - days * 86_400)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
}
