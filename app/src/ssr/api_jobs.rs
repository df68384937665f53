//! The batch API's bookkeeping: which job an `Idempotency-Key` names, the job-finished callbacks
//! (claimed under a lease so that one process of many delivers each, retried with backoff), and
//! the per-user secret that signs them.

use super::{db::Db, jobs::IDEMPOTENCY_SECS, tokens::random_alphanumeric};
use crate::{error::AppError, on_pool};

/// Delivery attempts before a callback is given up.
pub const CALLBACK_ATTEMPTS: i64 = 8;
/// How long a process holds a callback it is delivering.
const CALLBACK_LEASE_SECS: i64 = 60;

/// Seconds before callback attempt `attempts + 1`: 10 s, 30 s, 90 s, … capped at two hours
/// (the eight attempts span about three hours).
pub fn callback_backoff_secs(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    (10 * 3_i64.pow(exponent)).min(7200)
}

/// The job `key` names for `user_id` and the fingerprint of the request that created it, when the
/// key was used in the last 24 hours.
pub async fn idempotent_job(
    db: &Db,
    user_id: i64,
    key: &str,
    now: i64,
) -> Result<Option<(String, String)>, AppError> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT job_id, fingerprint FROM idempotency_keys WHERE user_id = $1 \
         AND idempotency_key = $2 AND created_at > $3",
    )
    .bind(user_id)
    .bind(key)
    .bind(now - IDEMPOTENCY_SECS)
    .fetch_optional(pool)
    .await)?)
}

/// Forgets idempotency keys older than 24 hours; returns how many.
pub async fn prune_idempotency_keys(db: &Db, now: i64) -> Result<u64, AppError> {
    Ok(on_pool!(db, pool => sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at <= $1",
    )
    .bind(now - IDEMPOTENCY_SECS)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?)
}

/// The secret that signs `user_id`'s callbacks, made on first use.
pub async fn callback_secret(db: &Db, user_id: i64, now: i64) -> Result<String, AppError> {
    let fresh = new_secret();
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO callback_secrets (user_id, secret, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(&fresh)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT secret FROM callback_secrets WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await)?)
}

/// Replaces `user_id`'s callback secret (the old one stops signing at once); returns the new one.
pub async fn roll_callback_secret(db: &Db, user_id: i64, now: i64) -> Result<String, AppError> {
    let fresh = new_secret();
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO callback_secrets (user_id, secret, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
    )
    .bind(user_id)
    .bind(&fresh)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(fresh)
}

fn new_secret() -> String {
    format!("whsec_{}", random_alphanumeric(32))
}

/// A callback a process has claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueCallback {
    /// The finished job.
    pub job_id: String,
    /// Where to POST it.
    pub url: String,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
    /// The job's owner (their secret signs it).
    pub user_id: i64,
}

/// Claims one callback whose job has finished (no item queued or running) and whose next attempt
/// is due; `None` when there is none. The claim is a lease: a process that dies mid-delivery
/// leaves it to another after a minute.
pub async fn claim_due_callback(db: &Db, now: i64) -> Result<Option<DueCallback>, AppError> {
    // The outer conditions are checked again on the row once locked, so of two processes racing
    // for one callback only one updates it.
    let claimed: Option<(String, String, i64)> = on_pool!(db, pool => sqlx::query_as(
        "UPDATE job_callbacks SET attempts = attempts + 1, lease_until = $1 \
         WHERE job_id = (SELECT c.job_id FROM job_callbacks c \
             WHERE c.delivered_at IS NULL AND c.failed_at IS NULL AND c.next_attempt_at <= $2 \
             AND (c.lease_until IS NULL OR c.lease_until < $2) \
             AND NOT EXISTS (SELECT 1 FROM job_items i WHERE i.job_id = c.job_id \
                 AND i.status IN ('queued', 'running')) \
             ORDER BY c.next_attempt_at LIMIT 1) \
         AND delivered_at IS NULL AND failed_at IS NULL \
         AND (lease_until IS NULL OR lease_until < $2) \
         RETURNING job_id, url, attempts",
    )
    .bind(now + CALLBACK_LEASE_SECS)
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    let Some((job_id, url, attempts)) = claimed else {
        return Ok(None);
    };
    let user_id: Option<i64> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT user_id FROM jobs WHERE id = $1",
    )
    .bind(&job_id)
    .fetch_one(pool)
    .await)?;
    Ok(Some(DueCallback {
        job_id,
        url,
        attempts,
        user_id: user_id.ok_or(AppError::Internal)?,
    }))
}

/// What became of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status code.
        status: u16,
    },
    /// It did not: why, and the status when there was an answer.
    Failed {
        /// The receiver's status, when it answered.
        status: Option<u16>,
        /// What went wrong, for the job's owner.
        error: String,
    },
}

/// Records attempt `attempts` of `job_id`'s callback: delivered, retried later, or given up after
/// [`CALLBACK_ATTEMPTS`].
pub async fn record_delivery(
    db: &Db,
    job_id: &str,
    attempts: i64,
    delivery: &Delivery,
    now: i64,
) -> Result<(), AppError> {
    let (status, error, delivered_at, failed_at, next) = match delivery {
        Delivery::Delivered { status } => (Some(i64::from(*status)), None, Some(now), None, now),
        Delivery::Failed { status, error } => {
            let given_up = attempts >= CALLBACK_ATTEMPTS;
            (
                status.map(i64::from),
                Some(error.as_str()),
                None,
                given_up.then_some(now),
                now + callback_backoff_secs(attempts),
            )
        }
    };
    on_pool!(db, pool => sqlx::query(
        "UPDATE job_callbacks SET last_status = $1, last_error = $2, delivered_at = $3, \
         failed_at = $4, next_attempt_at = $5, lease_until = NULL WHERE job_id = $6",
    )
    .bind(status)
    .bind(error)
    .bind(delivered_at)
    .bind(failed_at)
    .bind(next)
    .bind(job_id)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A job's callback and how its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallbackState {
    /// Where it is sent.
    pub url: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// When it was given up.
    pub failed_at: Option<i64>,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: i64,
    /// The receiver's last status code.
    pub last_status: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// `job_id`'s callback, if it has one.
pub async fn callback_state(db: &Db, job_id: &str) -> Result<Option<CallbackState>, AppError> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT url, attempts, delivered_at, failed_at, next_attempt_at, last_status, last_error \
         FROM job_callbacks WHERE job_id = $1",
    )
    .bind(job_id)
    .fetch_optional(pool)
    .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_back_off_threefold_up_to_two_hours() {
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 7, 8].map(callback_backoff_secs),
            [10, 30, 90, 270, 810, 2430, 7200, 7200]
        );
        let total: i64 = (1..CALLBACK_ATTEMPTS).map(callback_backoff_secs).sum();
        assert!((3 * 3600..4 * 3600).contains(&total), "{total}");
    }
}
