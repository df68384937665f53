//! Periodic clean-up, in every web process (each statement is idempotent, so several processes
//! doing it is harmless): expired sessions, spent reset links, old security events, and the ids
//! of Stripe events older than Stripe's redelivery window.

use std::time::Duration;

use app::ssr::{billing, db::Db, password_reset, security, sessions::SqlSessionStore};

/// How often the clean-up runs.
pub const PERIOD: Duration = Duration::from_secs(15 * 60);
/// Days security events are kept.
pub const SECURITY_EVENT_DAYS: i64 = 180;
/// Days processed Stripe event ids are kept (Stripe retries a delivery for up to 3 days).
pub const STRIPE_EVENT_DAYS: i64 = 30;

/// Runs the clean-up every [`PERIOD`], forever (the server aborts it at shutdown).
pub async fn run(db: Db) {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        clean_up(&db).await;
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
    if let Err(error) = billing::prune_events(db, STRIPE_EVENT_DAYS).await {
        tracing::warn!(%error, "could not delete old Stripe event ids");
    }
}
