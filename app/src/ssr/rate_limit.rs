//! Requests per API key per minute, as the key owner's plan allows (`api_requests_per_minute`).
//! One atomic upsert per request counts it in the current minute's window, shared by every process.

use super::db::Db;
use crate::{error::AppError, on_pool};

/// Window length.
pub const WINDOW_SECS: i64 = 60;

/// What the client is told in `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    /// Requests allowed per window.
    pub limit: i64,
    /// Requests left in this window (0 when refused).
    pub remaining: i64,
    /// Seconds until the window resets.
    pub reset_secs: i64,
    /// This request is within the limit.
    pub allowed: bool,
}

/// Counts one request of `key_id` now against `limit` per minute.
pub async fn hit(db: &Db, key_id: i64, limit: i64, now: i64) -> Result<RateState, AppError> {
    let window_start = now - now.rem_euclid(WINDOW_SECS);
    let requests: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "INSERT INTO api_rate_windows (key_id, window_start, requests) VALUES ($1, $2, 1) \
         ON CONFLICT (key_id, window_start) DO UPDATE SET requests = api_rate_windows.requests + 1 \
         RETURNING requests",
    )
    .bind(key_id)
    .bind(window_start)
    .fetch_one(pool)
    .await)?;
    Ok(RateState {
        limit,
        remaining: (limit - requests).max(0),
        reset_secs: window_start + WINDOW_SECS - now,
        allowed: requests <= limit,
    })
}

/// Deletes windows that have ended.
pub async fn prune(db: &Db, now: i64) -> Result<(), AppError> {
    on_pool!(db, pool => sqlx::query("DELETE FROM api_rate_windows WHERE window_start < $1")
        .bind(now - WINDOW_SECS)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}
