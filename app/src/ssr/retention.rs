//! Retention and quotas: files are deleted when their job's retention has passed, when an account
//! holds more than its plan's storage (oldest finished jobs first, e.g. after a downgrade), and
//! when an object belongs to no job at all (an upload or a result whose rows never landed). Job
//! rows stay [`JOB_ROWS_KEPT_SECS`] with their sizes for the history, then go.
//!
//! With several server processes only one cleans at a time: [`try_lock`] takes a lease on a row
//! of `task_locks` with one conditional `UPDATE`, on both backends alike.

use super::{billing, db::Db, job_files, state::AppState};
use crate::{error::AppError, on_pool};

/// The lock the clean-up takes.
pub const CLEANUP_LOCK: &str = "cleanup";
/// How long job rows (without their files) stay for the history.
pub const JOB_ROWS_KEPT_SECS: i64 = 90 * 86_400;
/// An object younger than this is never an orphan: its upload may still be running.
pub const ORPHAN_GRACE_SECS: i64 = 3_600;

/// Takes lock `name` for `holder` for `secs` when it is free, expired, or already `holder`'s.
pub async fn try_lock(
    db: &Db,
    name: &str,
    holder: &str,
    secs: i64,
    now: i64,
) -> Result<bool, AppError> {
    let taken = on_pool!(db, pool => sqlx::query(
        "UPDATE task_locks SET holder = $1, expires_at = $2 \
         WHERE name = $3 AND (expires_at < $4 OR holder = $1)",
    )
    .bind(holder)
    .bind(now + secs)
    .bind(name)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(taken == 1)
}

/// Gives lock `name` back, when `holder` has it.
pub async fn unlock(db: &Db, name: &str, holder: &str) -> Result<(), AppError> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE task_locks SET expires_at = 0 WHERE name = $1 AND holder = $2",
    )
    .bind(name)
    .bind(holder)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Jobs whose retention had passed.
    pub expired_jobs: usize,
    /// Jobs removed to bring an account under its storage quota.
    pub over_quota_jobs: usize,
    /// Objects that belonged to no job with files.
    pub orphaned_objects: usize,
    /// Job rows older than the history keeps.
    pub old_rows: u64,
}

/// One clean-up pass (the caller holds [`CLEANUP_LOCK`]).
pub async fn clean_files(state: &AppState, now: i64) -> Result<CleanupReport, AppError> {
    let db = &state.db;
    let mut report = CleanupReport::default();
    let expired: Vec<String> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT id FROM jobs WHERE expires_at <= $1 AND files_deleted_at IS NULL ORDER BY expires_at",
    )
    .bind(now)
    .fetch_all(pool)
    .await)?;
    for job in &expired {
        job_files::delete_files(db, &state.storage, job, now).await?;
        report.expired_jobs += 1;
    }
    report.over_quota_jobs = enforce_quotas(state, now).await?;
    report.orphaned_objects = delete_orphans(state, now).await?;
    report.old_rows = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "DELETE FROM job_items WHERE job_id IN \
             (SELECT id FROM jobs WHERE files_deleted_at IS NOT NULL AND created_at < $1)",
        )
        .bind(now - JOB_ROWS_KEPT_SECS)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query("DELETE FROM jobs WHERE files_deleted_at IS NOT NULL AND created_at < $1")
            .bind(now - JOB_ROWS_KEPT_SECS)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok::<_, sqlx::Error>(rows)
    })?;
    Ok(report)
}

/// Deletes the oldest finished jobs' files of every account over its plan's storage.
async fn enforce_quotas(state: &AppState, now: i64) -> Result<usize, AppError> {
    let db = &state.db;
    let holders: Vec<i64> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM jobs WHERE files_deleted_at IS NULL AND user_id IS NOT NULL",
    )
    .fetch_all(pool)
    .await)?;
    let mut removed = 0;
    for user_id in holders {
        let Some(user) = super::accounts::find_by_id(db, user_id).await? else {
            continue;
        };
        let quota = billing::plan_state(state, &user)
            .await?
            .plan
            .storage_quota_bytes;
        let mut stored = job_files::stored_bytes(db, user_id).await?;
        if stored <= quota {
            continue;
        }
        // Oldest first; a job still compressing is left alone.
        let jobs: Vec<(String, i64)> = on_pool!(db, pool => sqlx::query_as(
            "SELECT j.id, CAST(COALESCE(SUM(i.input_bytes + COALESCE(i.output_bytes, 0)), 0) AS BIGINT) \
             FROM jobs j JOIN job_items i ON i.job_id = j.id \
             WHERE j.user_id = $1 AND j.files_deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM job_items w WHERE w.job_id = j.id AND w.status IN ('queued', 'running')) \
             GROUP BY j.id, j.created_at ORDER BY j.created_at, j.id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?;
        for (job, bytes) in jobs {
            if stored <= quota {
                break;
            }
            job_files::delete_files(db, &state.storage, &job, now).await?;
            stored -= bytes;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The job id in a stored key (`<owner>/<job>/in|out/<item>`).
fn job_of_key(key: &str) -> Option<&str> {
    let mut parts = key.split('/');
    let (_owner, job, kind, _item) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && matches!(kind, "in" | "out")).then_some(job)
}

/// Deletes stored objects older than [`ORPHAN_GRACE_SECS`] that belong to no job with files.
async fn delete_orphans(state: &AppState, now: i64) -> Result<usize, AppError> {
    let db = &state.db;
    let mut deleted = 0;
    for object in state.storage.list("").await? {
        if object.modified_at > now - ORPHAN_GRACE_SECS {
            continue;
        }
        let live = match job_of_key(&object.key) {
            Some(job) => {
                let found: Option<i64> = on_pool!(db, pool => sqlx::query_scalar(
                    "SELECT 1 FROM job_items i JOIN jobs j ON j.id = i.job_id \
                     WHERE j.id = $1 AND j.files_deleted_at IS NULL \
                     AND (i.input_key = $2 OR i.output_key = $2) LIMIT 1",
                )
                .bind(job)
                .bind(&object.key)
                .fetch_optional(pool)
                .await)?;
                found.is_some()
            }
            None => false,
        };
        if !live {
            state.storage.delete(&object.key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::job_of_key;

    #[test]
    fn keys_name_their_job() {
        assert_eq!(job_of_key("u7/abc/in/item"), Some("abc"));
        assert_eq!(job_of_key("vTOKEN/abc/out/item"), Some("abc"));
        assert_eq!(job_of_key("u7/abc/elsewhere/item"), None);
        assert_eq!(job_of_key("stray-file"), None);
    }
}
