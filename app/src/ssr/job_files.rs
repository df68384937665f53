//! Jobs as their owners see them: who owns a job, reading it with its items, its files, the
//! history of an account, and deleting a job's files. Every read names the caller; a job or item
//! that is not theirs is `NotFound`, exactly like one that does not exist (no IDOR, no oracle).

use super::{accounts, billing, db::Db, sessions::AuthSession, state::AppState, storage::Storage};
use crate::{
    compress::{
        format_remaining, HistoryPage, ItemStatus, ItemView, JobOptions, JobSummary, JobView,
        HISTORY_PAGE_SIZE,
    },
    error::AppError,
    on_pool,
};

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A signed-in account.
    User(i64),
    /// A visitor who is not signed in, known by a random token kept in their session.
    Visitor(String),
}

impl Owner {
    fn binds(&self) -> (Option<i64>, Option<&str>) {
        match self {
            Self::User(id) => (Some(*id), None),
            Self::Visitor(token) => (None, Some(token.as_str())),
        }
    }

    /// The storage folder of this owner's files: `u42/` or `v<token>/`.
    pub fn key_prefix(&self) -> String {
        match self {
            Self::User(id) => format!("u{id}"),
            Self::Visitor(token) => format!("v{token}"),
        }
    }
}

/// Who is looking at jobs: the owner they act as, and whether their plan allows bulk ZIPs.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Whose jobs they can see.
    pub owner: Owner,
    /// Their plan lets them download a job as one ZIP.
    pub bulk_zip: bool,
}

/// The viewer a session stands for: its signed-in user, or the visitor who started jobs in it;
/// `None` for a session that is neither.
pub async fn viewer(state: &AppState, session: &AuthSession) -> Result<Option<Viewer>, AppError> {
    if let Some(user_id) = session.user_id().await? {
        if let Some(user) = accounts::find_by_id(&state.db, user_id).await? {
            let plan = billing::plan_state(state, &user).await?.plan;
            return Ok(Some(Viewer {
                owner: Owner::User(user.id),
                bulk_zip: plan.bulk_zip,
            }));
        }
    }
    Ok(session.visitor_token().await?.map(|token| Viewer {
        owner: Owner::Visitor(token),
        bulk_zip: false,
    }))
}

/// `job_id` belongs to `owner` (the same `$2`/`$3` binds everywhere below).
const OWNED: &str = "((j.user_id = $2) OR (j.user_id IS NULL AND j.visitor_token = $3))";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    created_at: i64,
    expires_at: i64,
    files_deleted_at: Option<i64>,
    options: String,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: String,
    name: String,
    status: String,
    input_bytes: i64,
    output_bytes: Option<i64>,
    output_format: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    score: Option<f64>,
    kept_original: Option<bool>,
    error: Option<String>,
}

impl From<ItemRow> for ItemView {
    fn from(row: ItemRow) -> Self {
        let status = match row.status.as_str() {
            "running" => ItemStatus::Running,
            "done" => ItemStatus::Done,
            "failed" => ItemStatus::Failed,
            _ => ItemStatus::Queued,
        };
        Self {
            id: row.id,
            name: row.name,
            status,
            input_bytes: row.input_bytes,
            output_bytes: row.output_bytes,
            format: row.output_format,
            width: row.width,
            height: row.height,
            // A retry that was still queued shows no stale score.
            score: row.score.filter(|_| status == ItemStatus::Done),
            kept_original: row.kept_original.unwrap_or(false),
            error: row.error.filter(|_| status == ItemStatus::Failed),
        }
    }
}

/// Job `job_id` with its items, when `owner` owns it. `bulk_zip` is the owner's plan's.
pub async fn job_view(
    db: &Db,
    owner: &Owner,
    job_id: &str,
    bulk_zip: bool,
) -> Result<JobView, AppError> {
    let (user, visitor) = owner.binds();
    let sql = format!(
        "SELECT j.id, j.created_at, j.expires_at, j.files_deleted_at, j.options FROM jobs j \
         WHERE j.id = $1 AND {OWNED}"
    );
    let job: Option<JobRow> = on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(job_id)
        .bind(user)
        .bind(visitor)
        .fetch_optional(pool)
        .await)?;
    let job = job.ok_or(AppError::NotFound)?;
    let items: Vec<ItemRow> = on_pool!(db, pool => sqlx::query_as(
        "SELECT id, name, status, input_bytes, output_bytes, output_format, width, height, score, \
         kept_original, error FROM job_items WHERE job_id = $1 ORDER BY position",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await)?;
    Ok(JobView {
        id: job.id,
        created_at: job.created_at,
        expires_at: job.expires_at,
        files_deleted: job.files_deleted_at.is_some(),
        bulk_zip,
        expires_text: format_remaining(job.expires_at - super::db::now()),
        // Options were validated when the job was created; an unreadable row shows defaults.
        options: serde_json::from_str::<JobOptions>(&job.options).unwrap_or_default(),
        items: items.into_iter().map(ItemView::from).collect(),
    })
}

/// One stored file of an item, found for its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Where it is stored.
    pub key: String,
    /// The item's name as dropped (folder path included).
    pub name: String,
    /// The result's format (`png`, …), `None` for an original.
    pub format: Option<String>,
}

/// The original (`result == false`) or result of item `item_id` of job `job_id`, when `owner`
/// owns the job and the file still exists.
pub async fn stored_file(
    db: &Db,
    owner: &Owner,
    job_id: &str,
    item_id: &str,
    result: bool,
) -> Result<StoredFile, AppError> {
    let (user, visitor) = owner.binds();
    let sql = format!(
        "SELECT i.input_key, i.output_key, i.name, i.output_format FROM job_items i \
         JOIN jobs j ON j.id = i.job_id \
         WHERE j.id = $1 AND {OWNED} AND i.id = $4 AND j.files_deleted_at IS NULL"
    );
    let row: Option<(String, Option<String>, String, Option<String>)> = on_pool!(db, pool => sqlx::query_as(&sql)
            .bind(job_id)
            .bind(user)
            .bind(visitor)
            .bind(item_id)
            .fetch_optional(pool)
            .await)?;
    let (input_key, output_key, name, format) = row.ok_or(AppError::NotFound)?;
    if result {
        Ok(StoredFile {
            key: output_key.ok_or(AppError::NotFound)?,
            name,
            format,
        })
    } else {
        Ok(StoredFile {
            key: input_key,
            name,
            format: None,
        })
    }
}

/// Every finished result of job `job_id`, in drop order, when `owner` owns it and its files exist.
pub async fn results(db: &Db, owner: &Owner, job_id: &str) -> Result<Vec<StoredFile>, AppError> {
    let view = job_view(db, owner, job_id, false).await?;
    if view.files_deleted {
        return Err(AppError::NotFound);
    }
    let rows: Vec<(String, String, Option<String>)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT output_key, name, output_format FROM job_items \
         WHERE job_id = $1 AND status = 'done' AND output_key IS NOT NULL ORDER BY position",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(key, name, format)| StoredFile { key, name, format })
        .collect())
}

/// The storage keys of job `job_id`'s files (originals and results).
async fn keys_of(db: &Db, job_id: &str) -> Result<Vec<String>, AppError> {
    let rows: Vec<(String, Option<String>)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT input_key, output_key FROM job_items WHERE job_id = $1",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows
        .into_iter()
        .flat_map(|(input, output)| std::iter::once(input).chain(output))
        .collect())
}

/// Deletes job `job_id`'s files and marks them deleted: items not yet processed are failed (they
/// will not be), the row stays for the history. Storage first, then the mark, so that a failure
/// half-way leaves the job visible and the next clean-up finishes it.
pub async fn delete_files(
    db: &Db,
    storage: &Storage,
    job_id: &str,
    now: i64,
) -> Result<(), AppError> {
    for key in keys_of(db, job_id).await? {
        storage.delete(&key).await?;
    }
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE job_items SET status = 'failed', error = 'The job was deleted before this file was compressed.', \
             finished_at = $2, lease_owner = NULL, lease_expires_at = NULL \
             WHERE job_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(job_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE jobs SET files_deleted_at = $2 WHERE id = $1 AND files_deleted_at IS NULL")
            .bind(job_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// Deletes job `job_id`'s files now, when `owner` owns it.
pub async fn delete_job(
    db: &Db,
    storage: &Storage,
    owner: &Owner,
    job_id: &str,
    now: i64,
) -> Result<(), AppError> {
    job_view(db, owner, job_id, false).await?;
    delete_files(db, storage, job_id, now).await
}

/// Page `page` (1-based) of `user_id`'s jobs, newest first.
pub async fn history(db: &Db, user_id: i64, page: i64) -> Result<HistoryPage, AppError> {
    let total: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await)?;
    let pages = ((total + HISTORY_PAGE_SIZE - 1) / HISTORY_PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    type Row = (String, i64, i64, i64, i64, i64, i64, i64, Option<i64>);
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(
        "SELECT j.id, j.created_at, j.expires_at, j.item_count, \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'done' THEN i.input_bytes ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN i.status = 'done' THEN i.output_bytes ELSE 0 END), 0) AS BIGINT), \
         j.files_deleted_at \
         FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id WHERE j.user_id = $1 \
         GROUP BY j.id, j.created_at, j.expires_at, j.item_count, j.files_deleted_at \
         ORDER BY j.created_at DESC, j.id LIMIT $2 OFFSET $3",
    )
    .bind(user_id)
    .bind(HISTORY_PAGE_SIZE)
    .bind((page - 1) * HISTORY_PAGE_SIZE)
    .fetch_all(pool)
    .await)?;
    let jobs = rows
        .into_iter()
        .map(
            |(
                id,
                created_at,
                expires_at,
                files,
                done,
                failed,
                input_bytes,
                output_bytes,
                deleted,
            )| {
                JobSummary {
                    created_text: date_time(created_at),
                    expires_text: if deleted.is_some() {
                        "deleted".into()
                    } else {
                        format_remaining(expires_at - super::db::now())
                    },
                    id,
                    created_at,
                    expires_at,
                    files,
                    done,
                    failed,
                    input_bytes,
                    output_bytes,
                    files_deleted: deleted.is_some(),
                }
            },
        )
        .collect();
    Ok(HistoryPage { jobs, page, pages })
}

/// "26 Nov 2026, 14:03 UTC".
fn date_time(unix: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Bytes `owner` holds in storage now (originals and results of jobs whose files still exist).
pub async fn stored_bytes(db: &Db, user_id: i64) -> Result<i64, AppError> {
    number_of_user(
        db,
        "SELECT CAST(COALESCE(SUM(i.input_bytes + COALESCE(i.output_bytes, 0)), 0) AS BIGINT) \
         FROM job_items i JOIN jobs j ON j.id = i.job_id \
         WHERE j.user_id = $1 AND j.files_deleted_at IS NULL",
        user_id,
    )
    .await
}

/// The one number `sql` computes for user `$1`.
async fn number_of_user(db: &Db, sql: &str, user_id: i64) -> Result<i64, AppError> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_one(pool)
        .await)?)
}

/// `$1`'s items queued or running (also counted inside the transaction that creates a job).
pub const PENDING_ITEMS_SQL: &str =
    "SELECT COUNT(*) FROM job_items i JOIN jobs j ON j.id = i.job_id \
     WHERE j.user_id = $1 AND i.status IN ('queued', 'running')";

/// `$1`'s jobs with items queued or running.
pub const ACTIVE_JOBS_SQL: &str = "SELECT COUNT(DISTINCT j.id) FROM jobs j \
     JOIN job_items i ON i.job_id = j.id WHERE j.user_id = $1 AND i.status IN ('queued', 'running')";

/// Items of `user_id` accepted but not yet counted (queued or running): they will count against
/// the allowance when they finish, so a new batch must leave room for them.
pub async fn pending_items(db: &Db, user_id: i64) -> Result<i64, AppError> {
    number_of_user(db, PENDING_ITEMS_SQL, user_id).await
}

/// Jobs of `user_id` with files still waiting or being compressed.
pub async fn active_jobs(db: &Db, user_id: i64) -> Result<i64, AppError> {
    number_of_user(db, ACTIVE_JOBS_SQL, user_id).await
}

/// Images visitors from `ip` uploaded since `since` (their daily allowance).
pub async fn visitor_images_since(db: &Db, ip: &str, since: i64) -> Result<i64, AppError> {
    let count: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(item_count), 0) AS BIGINT) FROM jobs \
         WHERE visitor_ip = $1 AND user_id IS NULL AND created_at >= $2",
    )
    .bind(ip)
    .bind(since)
    .fetch_one(pool)
    .await)?;
    Ok(count)
}

/// A finished (or failed) item found by its id alone, for `GET /output/{id}`: ids are unguessable,
/// so the id is the credential, as in Tinify's protocol. `None` when unknown, not finished, or its
/// files are gone (deleted or past retention).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    /// The item.
    pub item: ItemView,
    /// Its job's owner (`None` for a visitor).
    pub user_id: Option<i64>,
    /// Where the input is stored.
    pub input_key: String,
    /// Where the result is stored.
    pub output_key: Option<String>,
}

/// The item `item_id` with its storage keys, while its files exist.
pub async fn output_file(db: &Db, item_id: &str, now: i64) -> Result<Option<OutputFile>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        item: ItemRow,
        user_id: Option<i64>,
        input_key: String,
        output_key: Option<String>,
    }
    let row: Option<Row> = on_pool!(db, pool => sqlx::query_as(
        "SELECT i.id, i.name, i.status, i.input_bytes, i.output_bytes, i.output_format, i.width, \
         i.height, i.score, i.kept_original, i.error, j.user_id, i.input_key, i.output_key \
         FROM job_items i JOIN jobs j ON j.id = i.job_id \
         WHERE i.id = $1 AND j.files_deleted_at IS NULL AND j.expires_at > $2",
    )
    .bind(item_id)
    .bind(now)
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(|row| OutputFile {
        item: ItemView::from(row.item),
        user_id: row.user_id,
        input_key: row.input_key,
        output_key: row.output_key,
    }))
}
