//! Periodic clean-up in every web process. Records: expired sessions, spent reset links, old
//! security events, and the ids of Stripe events older than Stripe's redelivery window (each
//! statement is idempotent, so several processes doing it is harmless). Files: retention, storage
//! quotas and orphans (`app::ssr::retention`), by one process at a time under a database lock.

use std::time::Duration;

use app::ssr::{
    api_jobs, billing,
    db::{now, Db},
    password_reset, rate_limit, retention, security,
    sessions::SqlSessionStore,
    state::AppState,
};

/// How often the records' clean-up runs.
pub const PERIOD: Duration = Duration::from_secs(15 * 60);
/// How often files are checked for retention and quotas.
pub const FILES_PERIOD: Duration = Duration::from_secs(60);
/// How long the file clean-up's lock lasts (a process that dies holding it frees it by then).
const LOCK_SECS: i64 = 600;
/// Days security events are kept.
pub const SECURITY_EVENT_DAYS: i64 = 180;
/// Days processed Stripe event ids are kept (Stripe retries a delivery for up to 3 days).
pub const STRIPE_EVENT_DAYS: i64 = 30;

/// Runs the clean-ups forever (the server aborts them at shutdown).
pub async fn run(state: AppState) {
    let holder = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
        std::process::id()
    );
    let mut files = tokio::time::interval(FILES_PERIOD);
    let mut records = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = files.tick() => clean_files(&state, &holder).await,
            _ = records.tick() => clean_up(&state.db).await,
        }
    }
}

/// One file clean-up pass, when no other process is running one.
pub async fn clean_files(state: &AppState, holder: &str) {
    let db = &state.db;
    match retention::try_lock(db, retention::CLEANUP_LOCK, holder, LOCK_SECS, now()).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::warn!(%error, "could not take the clean-up lock");
            return;
        }
    }
    match retention::clean_files(state, now()).await {
        Ok(report) if report != retention::CleanupReport::default() => {
            tracing::info!(?report, "files cleaned up");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "the file clean-up stopped; it resumes next time"),
    }
    if let Err(error) = retention::unlock(db, retention::CLEANUP_LOCK, holder).await {
        tracing::warn!(%error, "could not release the clean-up lock; it expires by itself");
    }
}

/// One clean-up pass; failures are logged and retried next time.
pub async fn clean_up(db: &Db) {
    match SqlSessionStore::new(db.clone()).delete_expired().await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "expired sessions deleted"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not delete expired sessions"),
    }
    if let Err(error) = password_reset::prune(db).await {
        tracing::warn!(%error, "could not delete old password-reset links");
    }
    if let Err(error) = security::prune(db, SECURITY_EVENT_DAYS).await {
        tracing::warn!(%error, "could not delete old security events");
    }
    if let Err(error) = rate_limit::prune(db, now()).await {
        tracing::warn!(%error, "could not delete old API rate windows");
    }
    if let Err(error) = api_jobs::prune_idempotency_keys(db, now()).await {
        tracing::warn!(%error, "could not delete old idempotency keys");
    }
    if let Err(error) = billing::prune_events(db, STRIPE_EVENT_DAYS).await {
        tracing::warn!(%error, "could not delete old Stripe event ids");
    }
}
