//! The durable work queue: compression jobs and their items in the database, claimed by workers
//! under leases.
//!
//! - A worker claims the next item in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a
//!   single `UPDATE … RETURNING` on SQLite, whose writes are serialised), highest job priority
//!   first, then oldest job, then the item's position.
//! - The claim is a lease: an item whose lease expires (its worker crashed or hung) is claimable
//!   again. Only the lease holder can finish an item; a worker that lost its lease learns so and
//!   its result is discarded.
//! - A transient failure puts the item back with exponential backoff; a permanent one (a bad
//!   input) marks it `failed` with the engine's message; so does running out of attempts.
//! - Finishing an item counts one usage unit for the job's owner in the same transaction, exactly
//!   once (`counted`), however often the item was retried.

use super::{db::Db, tokens::random_alphanumeric, usage};
use crate::{error::AppError, on_pool};

/// Attempts before an item is failed for good.
pub const MAX_ATTEMPTS: i64 = 4;

/// Seconds before attempt `attempts + 1` may start: 5 s, 20 s, 80 s, … capped at 10 minutes.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 6) - 1).unwrap_or(0);
    (5 * 4_i64.pow(exponent)).min(600)
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id ([`new_id`]), chosen before the files are stored under it.
    pub id: String,
    /// The owner; `None` for a visitor who is not signed in.
    pub user_id: Option<i64>,
    /// A visitor's address (their daily allowance is counted by it).
    pub visitor_ip: Option<String>,
    /// A visitor's session token (the job is theirs).
    pub visitor_token: Option<String>,
    /// `web` or `api`.
    pub source: &'static str,
    /// The compression options, as JSON.
    pub options: String,
    /// Higher is served first (the plan's queue priority).
    pub priority: i64,
    /// When the job's files are deleted.
    pub expires_at: i64,
}

/// One file of a job to create.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// Its id ([`new_id`]).
    pub id: String,
    /// The file's name with its folder path, as the user dropped it.
    pub name: String,
    /// Where the uploaded bytes are stored.
    pub input_key: String,
    /// Their size.
    pub input_bytes: i64,
}

/// A new unguessable id for a job or an item (24 letters and digits, ~143 bits).
pub fn new_id() -> String {
    random_alphanumeric(24)
}

/// Where an item's upload is stored: under its owner's folder and its job.
pub fn input_key(owner_prefix: &str, job_id: &str, item_id: &str) -> String {
    format!("{owner_prefix}/{job_id}/in/{item_id}")
}

/// Where an item's result is stored: beside its upload.
pub fn output_key(input_key: &str, item_id: &str) -> String {
    match input_key.rsplit_once("/in/") {
        Some((folder, _)) => format!("{folder}/out/{item_id}"),
        None => format!("{input_key}.out"),
    }
}

/// Creates a job and all its items in one transaction; returns the job id and the item ids.
pub async fn create_job(
    db: &Db,
    job: &NewJob,
    items: &[NewItem],
    now: i64,
) -> Result<(String, Vec<String>), AppError> {
    match create_job_with(db, job, items, &JobExtras::default(), now).await? {
        Created::New => Ok((job.id.clone(), items.iter().map(|i| i.id.clone()).collect())),
        Created::Existing { .. } | Created::OverLimit(_) => Err(AppError::Internal),
    }
}

/// How long an `Idempotency-Key` names its job.
pub const IDEMPOTENCY_SECS: i64 = 24 * 3600;

/// What an API job carries besides its files.
#[derive(Debug, Clone, Default)]
pub struct JobExtras {
    /// `(user, Idempotency-Key, fingerprint of the request)`: the job is recorded under the key,
    /// and not created when the key already names a job of the last 24 hours.
    pub idempotency: Option<(i64, String, String)>,
    /// Where to POST the finished job.
    pub callback_url: Option<String>,
    /// The owner's limits, checked again inside the creating transaction.
    pub admission: Option<Admission>,
}

/// A signed-in owner's limits, checked again inside the transaction that creates the job, after
/// its items are written and under a per-user lock: two requests of one user at the same moment
/// cannot both pass the checks made when they started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The owner.
    pub user_id: i64,
    /// Jobs the plan runs at once.
    pub concurrent_jobs: i64,
    /// The plan's monthly images.
    pub monthly_allowance: i64,
}

/// Which limit a job would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// More jobs would run at once than the plan allows.
    ConcurrentJobs,
    /// Counted and pending images would exceed the monthly allowance.
    Allowance,
}

/// What [`create_job_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The job and its items exist now.
    New,
    /// Nothing was created: the idempotency key already names a job.
    Existing {
        /// That job.
        job_id: String,
        /// The fingerprint of the request that created it.
        fingerprint: String,
    },
    /// Nothing was created: another request of the owner took what was left of a limit.
    OverLimit(OverLimit),
}

/// Creates a job, its items and its extras in one transaction; a key that is already taken
/// (even by a request that committed a moment ago) creates nothing.
pub async fn create_job_with(
    db: &Db,
    job: &NewJob,
    items: &[NewItem],
    extras: &JobExtras,
    now: i64,
) -> Result<Created, AppError> {
    let job_id = job.id.clone();
    let item_ids: Vec<String> = items.iter().map(|item| item.id.clone()).collect();
    // PostgreSQL: one creating transaction per user at a time (released at commit/rollback).
    // SQLite needs no lock of its own: the first write below takes its single write lock.
    let user_lock = match (db, &extras.admission) {
        (Db::Postgres(_), Some(admission)) => Some(admission.user_id),
        _ => None,
    };
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if let Some(user_id) = user_lock {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((user_id, key, fingerprint)) = &extras.idempotency {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 \
                 AND created_at <= $3",
            )
            .bind(user_id)
            .bind(key)
            .bind(now - IDEMPOTENCY_SECS)
            .execute(&mut *tx)
            .await?;
            let taken = sqlx::query(
                "INSERT INTO idempotency_keys (user_id, idempotency_key, job_id, fingerprint, \
                 created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            )
            .bind(user_id)
            .bind(key)
            .bind(&job_id)
            .bind(fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 0;
            if taken {
                tx.rollback().await?;
                let existing: Option<(String, String)> = sqlx::query_as(
                    "SELECT job_id, fingerprint FROM idempotency_keys \
                     WHERE user_id = $1 AND idempotency_key = $2",
                )
                .bind(user_id)
                .bind(key)
                .fetch_optional(pool)
                .await?;
                let (job_id, fingerprint) = existing.ok_or(AppError::Internal)?;
                return Ok(Created::Existing {
                    job_id,
                    fingerprint,
                });
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, user_id, visitor_ip, source, options, priority, item_count, \
             created_at, expires_at, visitor_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&job_id)
        .bind(job.user_id)
        .bind(&job.visitor_ip)
        .bind(job.source)
        .bind(&job.options)
        .bind(job.priority)
        .bind(items.len() as i64)
        .bind(now)
        .bind(job.expires_at)
        .bind(&job.visitor_token)
        .execute(&mut *tx)
        .await?;
        for (position, (item, id)) in items.iter().zip(&item_ids).enumerate() {
            sqlx::query(
                "INSERT INTO job_items (id, job_id, position, name, input_key, input_bytes, \
                 available_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(&job_id)
            .bind(position as i64)
            .bind(&item.name)
            .bind(&item.input_key)
            .bind(item.input_bytes)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(admission) = &extras.admission {
            // This job's items are written: count them with everyone else's.
            let active: i64 = sqlx::query_scalar(super::job_files::ACTIVE_JOBS_SQL)
            .bind(admission.user_id)
            .fetch_one(&mut *tx)
            .await?;
            let pending: i64 = sqlx::query_scalar(super::job_files::PENDING_ITEMS_SQL)
            .bind(admission.user_id)
            .fetch_one(&mut *tx)
            .await?;
            let used: i64 = sqlx::query_scalar(usage::USED_SQL)
            .bind(admission.user_id)
            .bind(usage::month_of(now))
            .fetch_one(&mut *tx)
            .await?;
            let over = if active > admission.concurrent_jobs {
                Some(OverLimit::ConcurrentJobs)
            } else if used + pending > admission.monthly_allowance {
                Some(OverLimit::Allowance)
            } else {
                None
            };
            if let Some(over) = over {
                tx.rollback().await?;
                return Ok(Created::OverLimit(over));
            }
        }
        if let Some(url) = &extras.callback_url {
            sqlx::query(
                "INSERT INTO job_callbacks (job_id, url, next_attempt_at) VALUES ($1, $2, $3)",
            )
            .bind(&job_id)
            .bind(url)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(Created::New)
}

/// An item a worker holds the lease on.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedItem {
    /// The item.
    pub id: String,
    /// Its job.
    pub job_id: String,
    /// The file's name.
    pub name: String,
    /// Where its input is stored.
    pub input_key: String,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
}

const CLAIMABLE: &str = "((i.status = 'queued' AND i.available_at <= $3) \
     OR (i.status = 'running' AND i.lease_expires_at < $3)) AND i.attempts < $4";

/// Claims the next item for `worker` for `lease_secs`, or `None` when nothing is waiting.
pub async fn claim_next(
    db: &Db,
    worker: &str,
    lease_secs: i64,
    now: i64,
) -> Result<Option<ClaimedItem>, AppError> {
    fail_exhausted(db, now).await?;
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE OF i SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE job_items SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
         lease_expires_at = $2 \
         WHERE id = (SELECT i.id FROM job_items i JOIN jobs j ON j.id = i.job_id \
                     WHERE {CLAIMABLE} \
                     ORDER BY j.priority DESC, j.created_at, j.id, i.position LIMIT 1 {lock}) \
         RETURNING id, job_id, name, input_key, attempts"
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ClaimedItem>(&sql)
        .bind(worker)
        .bind(now + lease_secs)
        .bind(now)
        .bind(MAX_ATTEMPTS)
        .fetch_optional(pool)
        .await)?)
}

/// Fails items whose last allowed attempt lost its lease (an input that kills its worker).
async fn fail_exhausted(db: &Db, now: i64) -> Result<(), AppError> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE job_items SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, \
         finished_at = $1, error = 'Processing this file did not finish; it was tried several times.' \
         WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= $2",
    )
    .bind(now)
    .bind(MAX_ATTEMPTS)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Extends `worker`'s lease on `item_id` (long compressions); `false` when it no longer holds it.
pub async fn extend_lease(
    db: &Db,
    item_id: &str,
    worker: &str,
    lease_secs: i64,
    now: i64,
) -> Result<bool, AppError> {
    let changed = on_pool!(db, pool => sqlx::query(
        "UPDATE job_items SET lease_expires_at = $1 \
         WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
    )
    .bind(now + lease_secs)
    .bind(item_id)
    .bind(worker)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// What the engine made of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    /// Where the output is stored.
    pub output_key: String,
    /// Its size.
    pub output_bytes: i64,
    /// `png`, `jpeg`, `webp`.
    pub output_format: String,
    /// Output width.
    pub width: i64,
    /// Output height.
    pub height: i64,
    /// The measured score.
    pub score: Option<f64>,
    /// The input came back unchanged.
    pub kept_original: bool,
}

/// Records `worker`'s result for `item_id` and counts its usage unit once. `false` when the
/// worker no longer holds the lease (another worker took the item over): nothing is recorded.
pub async fn complete(
    db: &Db,
    item_id: &str,
    worker: &str,
    result: &ItemResult,
    now: i64,
) -> Result<bool, AppError> {
    let month = usage::month_of(now);
    let finished = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(
            "UPDATE job_items SET status = 'done', output_key = $1, output_bytes = $2, \
             output_format = $3, width = $4, height = $5, score = $6, kept_original = $7, \
             finished_at = $8, lease_owner = NULL, lease_expires_at = NULL, error = NULL \
             WHERE id = $9 AND lease_owner = $10 AND status = 'running'",
        )
        .bind(&result.output_key)
        .bind(result.output_bytes)
        .bind(&result.output_format)
        .bind(result.width)
        .bind(result.height)
        .bind(result.score)
        .bind(result.kept_original)
        .bind(now)
        .bind(item_id)
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1 {
            let first_count = sqlx::query(
                "UPDATE job_items SET counted = TRUE WHERE id = $1 AND counted = FALSE",
            )
            .bind(item_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let owner: Option<i64> = sqlx::query_scalar(
                "SELECT j.user_id FROM jobs j JOIN job_items i ON i.job_id = j.id WHERE i.id = $1",
            )
            .bind(item_id)
            .fetch_one(&mut *tx)
            .await?;
            if let (1, Some(user_id)) = (first_count, owner) {
                sqlx::query(usage::RECORD_SQL)
                    .bind(user_id)
                    .bind(&month)
                    .bind(1_i64)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(done == 1)
    })?;
    Ok(finished)
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying (storage unreachable, worker shutting down).
    Transient(String),
    /// The input itself is bad: the message is shown to the user.
    Permanent(String),
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Back in the queue, claimable from this time.
    Retry {
        /// Unix seconds.
        at: i64,
    },
    /// Failed for good.
    Failed,
    /// The worker no longer held the lease: nothing was changed.
    LeaseLost,
}

/// Records a failed attempt of `worker` on `item_id`.
pub async fn fail(
    db: &Db,
    item_id: &str,
    worker: &str,
    failure: &Failure,
    now: i64,
) -> Result<Fate, AppError> {
    let attempts: Option<i64> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT attempts FROM job_items WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(item_id)
    .bind(worker)
    .fetch_optional(pool)
    .await)?;
    let Some(attempts) = attempts else {
        return Ok(Fate::LeaseLost);
    };
    let (fate, message) = match failure {
        Failure::Transient(message) if attempts < MAX_ATTEMPTS => (
            Fate::Retry {
                at: now + backoff_secs(attempts),
            },
            message,
        ),
        Failure::Transient(message) | Failure::Permanent(message) => (Fate::Failed, message),
    };
    // Back in the queue from `at`, or failed for good now.
    let (status, available_at, finished_at) = match fate {
        Fate::Retry { at } => ("queued", Some(at), None),
        _ => ("failed", None, Some(now)),
    };
    let changed = on_pool!(db, pool => sqlx::query(
        "UPDATE job_items SET status = $1, available_at = COALESCE($2, available_at), \
         finished_at = $3, lease_owner = NULL, lease_expires_at = NULL, error = $4 \
         WHERE id = $5 AND lease_owner = $6 AND status = 'running'",
    )
    .bind(status)
    .bind(available_at)
    .bind(finished_at)
    .bind(message)
    .bind(item_id)
    .bind(worker)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(if changed == 1 { fate } else { Fate::LeaseLost })
}

/// The options (JSON) of job `job_id`.
pub async fn options_of(db: &Db, job_id: &str) -> Result<String, AppError> {
    let options: Option<String> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT options FROM jobs WHERE id = $1",
    )
    .bind(job_id)
    .fetch_optional(pool)
    .await)?;
    options.ok_or(AppError::NotFound)
}

/// How far a job has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Waiting (including retries in backoff).
    pub queued: i64,
    /// Being compressed.
    pub running: i64,
    /// Finished.
    pub done: i64,
    /// Failed for good.
    pub failed: i64,
}

/// The state of `job_id`'s items.
pub async fn progress(db: &Db, job_id: &str) -> Result<Progress, AppError> {
    let rows: Vec<(String, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT status, COUNT(*) FROM job_items WHERE job_id = $1 GROUP BY status",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await)?;
    let mut progress = Progress::default();
    for (status, count) in rows {
        match status.as_str() {
            "queued" => progress.queued = count,
            "running" => progress.running = count,
            "done" => progress.done = count,
            "failed" => progress.failed = count,
            _ => {}
        }
    }
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_stored_beside_their_upload() {
        let input = input_key("u7", "job1", "item1");
        assert_eq!(input, "u7/job1/in/item1");
        assert_eq!(output_key(&input, "item1"), "u7/job1/out/item1");
    }

    #[test]
    fn backoff_grows_fourfold_and_is_capped() {
        assert_eq!(
            [1, 2, 3, 4, 5, 9].map(backoff_secs),
            [5, 20, 80, 320, 600, 600]
        );
    }
}
