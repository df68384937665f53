//! The batch API under `/api/v1/jobs`: many files in one request, compressed in the background.
//!
//! - `POST /api/v1/jobs`: `multipart/form-data` with an optional `options` field (the job's
//!   options as JSON), an optional `callback_url` field, then the files. The same rules as the
//!   compress page apply while the files stream in (plan size, files per batch, storage, monthly
//!   allowance, concurrent jobs). Answers 202 with the job. An `Idempotency-Key` header names the
//!   job for 24 hours: the same key again answers the same job (202, `Idempotent-Replayed: true`)
//!   and creates and charges nothing.
//! - `GET /api/v1/jobs/{id}`: status, per-file progress and results (each result downloads from
//!   its `url`, Tinify's `/output/{id}`).
//! - `GET /api/v1/jobs/{id}/archive.zip`: every finished result in one ZIP (plans with bulk ZIP).
//! - `DELETE /api/v1/jobs/{id}`: deletes its files now.
//!
//! A job that is not the key owner's is 404, as if it did not exist.

use app::{
    compress::{ItemStatus, ItemView, JobOptions},
    error::AppError,
    ssr::{
        api_jobs::{self, CallbackState},
        api_keys::ApiCaller,
        billing,
        db::now,
        http_error::ErrorBody,
        job_files::{self, Owner},
        jobs::{self, Created, JobExtras, NewJob},
        state::AppState,
        uploads::UploadPolicy,
    },
};
use axum::{
    extract::{multipart::MultipartRejection, Multipart, Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use url::Url;
use utoipa::ToSchema;

use crate::{
    files,
    uploads::{Batch, Fingerprint},
};

/// The header that makes a job creation safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer that replays the job an idempotency key already names.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Where a job stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// No file has started yet.
    Queued,
    /// Some files are still waiting or being compressed.
    Running,
    /// Every file is done or failed.
    Finished,
}

/// A batch job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiJob {
    /// The job's id (unguessable).
    pub id: String,
    /// Where it stands.
    pub status: JobStatus,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When its files are deleted (Unix seconds; the plan's retention).
    pub expires_at: i64,
    /// Its files are gone (retention passed, or deleted); sizes remain.
    pub files_deleted: bool,
    /// The options it is compressed with.
    pub options: JobOptions,
    /// How many files are where.
    pub progress: ApiProgress,
    /// Its files, in the order they were sent.
    pub items: Vec<ApiItem>,
    /// The finished results as one ZIP; `null` when the plan has no bulk download.
    pub archive_url: Option<String>,
    /// The callback, when one was asked for.
    pub callback: Option<ApiCallback>,
}

/// Files per state.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ApiProgress {
    /// Files in the job.
    pub total: i64,
    /// Waiting for a worker (or for a retry).
    pub queued: i64,
    /// Being compressed.
    pub running: i64,
    /// Compressed.
    pub done: i64,
    /// Could not be compressed.
    pub failed: i64,
    /// Bytes sent.
    pub input_bytes: i64,
    /// Bytes of the results so far (of the files that are done).
    pub output_bytes: i64,
}

/// One file of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiItem {
    /// The file's id (unguessable; also its `/output/{id}`).
    pub id: String,
    /// Its name as sent, folders kept.
    pub name: String,
    /// Where it stands.
    pub status: ItemStatus,
    /// Its size as sent.
    pub input_bytes: i64,
    /// The result, once done.
    pub output: Option<ApiOutput>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A finished file's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiOutput {
    /// Bytes.
    pub size: i64,
    /// Its media type, e.g. `image/png`.
    #[serde(rename = "type")]
    pub media_type: String,
    /// Pixels.
    pub width: i64,
    /// Pixels.
    pub height: i64,
    /// Output size / input size.
    pub ratio: f64,
    /// The measured quality (SSIMULACRA2, 100 = identical), when one was measured.
    pub score: Option<f64>,
    /// Nothing smaller kept the quality: the result is the original.
    pub kept_original: bool,
    /// Where to download it (no key needed: the id is the credential); `null` once the job's
    /// files are deleted.
    pub url: Option<String>,
}

/// How a job's callback stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiCallback {
    /// Where it is POSTed.
    pub url: String,
    /// `pending` (the job runs, or a retry is due), `delivered` or `failed` (given up).
    pub status: CallbackStatus,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// What went wrong last time.
    pub last_error: Option<String>,
}

/// Where a callback's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStatus {
    /// Not sent yet, or to be retried.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after every attempt failed.
    Failed,
}

impl From<CallbackState> for ApiCallback {
    fn from(state: CallbackState) -> Self {
        let status = if state.delivered_at.is_some() {
            CallbackStatus::Delivered
        } else if state.failed_at.is_some() {
            CallbackStatus::Failed
        } else {
            CallbackStatus::Pending
        };
        Self {
            url: state.url,
            status,
            attempts: state.attempts,
            last_status: state.last_status,
            last_error: state.last_error,
        }
    }
}

/// The media type of an engine format name.
pub fn media_type_of(format: Option<&str>) -> &'static str {
    match format {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("gif") => "image/gif",
        _ => "application/octet-stream",
    }
}

/// `PUBLIC_URL` + `path`.
fn public(state: &AppState, path: &str) -> Result<String, AppError> {
    Ok(state
        .settings
        .public_url
        .join(path)
        .map_err(|_| AppError::Internal)?
        .to_string())
}

/// `PUBLIC_URL/output/{item}`: where an item's result downloads (Tinify's output URL).
pub fn output_url(state: &AppState, item_id: &str) -> Result<String, AppError> {
    public(state, &format!("/output/{item_id}"))
}

/// Output size ÷ input size to four decimals, as Tinify reports it.
pub fn ratio(output_bytes: i64, input_bytes: i64) -> f64 {
    (output_bytes as f64 / input_bytes.max(1) as f64 * 10_000.0).round() / 10_000.0
}

/// Job `job_id` of `user_id` as the API shows it (404 when it is not theirs).
pub async fn api_job(
    state: &AppState,
    user_id: i64,
    job_id: &str,
    bulk_zip: bool,
) -> Result<ApiJob, AppError> {
    let view = job_files::job_view(&state.db, &Owner::User(user_id), job_id, bulk_zip).await?;
    let callback = api_jobs::callback_state(&state.db, job_id).await?;
    let count =
        |status: ItemStatus| view.items.iter().filter(|i| i.status == status).count() as i64;
    let (_, output_bytes) = view.done_totals();
    let progress = ApiProgress {
        total: view.items.len() as i64,
        queued: count(ItemStatus::Queued),
        running: count(ItemStatus::Running),
        done: count(ItemStatus::Done),
        failed: count(ItemStatus::Failed),
        input_bytes: view.items.iter().map(|i| i.input_bytes).sum(),
        output_bytes,
    };
    let status = if view.is_finished() {
        JobStatus::Finished
    } else if progress.queued == progress.total {
        JobStatus::Queued
    } else {
        JobStatus::Running
    };
    let items = view
        .items
        .iter()
        .map(|item| api_item(state, item, view.files_deleted))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiJob {
        archive_url: (bulk_zip && !view.files_deleted)
            .then(|| public(state, &format!("/api/v1/jobs/{job_id}/archive.zip")))
            .transpose()?,
        id: view.id,
        status,
        created_at: view.created_at,
        expires_at: view.expires_at,
        files_deleted: view.files_deleted,
        options: view.options,
        progress,
        items,
        callback: callback.map(ApiCallback::from),
    })
}

fn api_item(state: &AppState, item: &ItemView, files_deleted: bool) -> Result<ApiItem, AppError> {
    let output = match (item.status, item.output_bytes) {
        (ItemStatus::Done, Some(size)) => Some(ApiOutput {
            size,
            media_type: media_type_of(item.format.as_deref()).to_string(),
            width: item.width.unwrap_or(0),
            height: item.height.unwrap_or(0),
            ratio: ratio(size, item.input_bytes),
            score: item.score,
            kept_original: item.kept_original,
            url: (!files_deleted)
                .then(|| output_url(state, &item.id))
                .transpose()?,
        }),
        _ => None,
    };
    Ok(ApiItem {
        id: item.id.clone(),
        name: item.name.clone(),
        status: item.status,
        input_bytes: item.input_bytes,
        output,
        error: item.error.clone(),
    })
}

/// Whether the key owner's plan has bulk ZIPs (reading a job is never refused for limits).
async fn bulk_zip_of(state: &AppState, caller: &ApiCaller) -> Result<bool, AppError> {
    let user = caller.user(&state.db).await?;
    Ok(billing::plan_state(state, &user).await?.plan.bulk_zip)
}

/// The `Idempotency-Key` header, checked: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadRequest(
            "Idempotency-Key is 1 to 255 visible ASCII characters, e.g. a UUID.".into(),
        ));
    }
    Ok(Some(key.to_string()))
}

/// A callback URL, checked now (http or https, a public address or an allowed network); it is
/// checked again at each delivery.
async fn callback_url(state: &AppState, text: &str) -> Result<String, AppError> {
    let text = text.trim();
    let url = Url::parse(text).map_err(|_| {
        AppError::BadRequest(format!(
            "callback_url {:?} is not a URL.",
            text.chars().take(200).collect::<String>()
        ))
    })?;
    if text.len() > 2000 {
        return Err(AppError::BadRequest(
            "callback_url is longer than 2000 characters.".into(),
        ));
    }
    crate::source_url::checked_address(&url, &state.settings.outbound_allowed)
        .await
        .map_err(|_| {
            AppError::BadRequest(
                "callback_url must be an http or https URL of a public address (not loopback, \
                 private or link-local)."
                    .into(),
            )
        })?;
    Ok(url.to_string())
}

/// `POST /api/v1/jobs`
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    summary = "Create a batch job",
    description = "`multipart/form-data`: optional `options` (JSON) and `callback_url` fields first, then one part per image with its filename. Checked while it streams; answers `202` with the job.",
    tag = "Batch jobs",
    security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the request safe to retry: the same key within 24 hours answers the same job and charges nothing again.")),
    request_body(content = CreateJobForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "The job was queued (or, with a known Idempotency-Key, already was).", body = ApiJob),
        (status = 400, description = "No files, bad options, a bad callback_url or Idempotency-Key.", body = ErrorBody),
        (status = 408, description = "The client sent nothing for 30 seconds; nothing was kept.", body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for a different request in the last 24 hours.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 413, description = "A file, the number of files or the storage is over the plan's limit.", body = ErrorBody),
        (status = 415, description = "A file is not an image Slimage reads.", body = ErrorBody),
        (status = 429, description = "The monthly allowance, the concurrent jobs or the rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let now = now();
    let key = idempotency_key(&headers)?;
    let mut multipart = multipart.map_err(crate::uploads::not_multipart)?;
    let user = caller.user(&state.db).await?;
    // A retry is answered whatever the limits say now: the job it names exists already (and may
    // be the very job that keeps the plan's concurrency busy). It is looked for again when the
    // limits refuse, in case the original request committed in between.
    let policy = match UploadPolicy::for_user(&state, &user, now).await {
        Ok(policy) if key.is_none() => policy,
        checked => {
            let known = match &key {
                Some(key) => api_jobs::idempotent_job(&state.db, caller.user_id, key, now).await?,
                None => None,
            };
            match (known, checked) {
                (Some((job_id, fingerprint)), _) => {
                    let shown = UploadPolicy::of_user(&state, &user, now).await?;
                    let limit = shown.max_file_bytes.saturating_mul(shown.max_files);
                    let sent = Fingerprint::of_unused(&mut multipart, limit).await.finish();
                    if sent != fingerprint {
                        return Err(key_reused());
                    }
                    return replay(&state, caller.user_id, &job_id, shown.bulk_zip).await;
                }
                (None, checked) => checked?,
            }
        }
    };
    let bulk_zip = policy.bulk_zip;
    let job_id = jobs::new_id();
    let mut batch = Batch::new(&state.storage, &policy, &job_id);
    let mut options_text = None;
    let mut callback_text = None;
    let received = batch
        .receive(&mut multipart, now, |name, text| {
            let slot = match name {
                "options" => &mut options_text,
                "callback_url" => &mut callback_text,
                other => {
                    return Err(AppError::BadRequest(format!(
                        "Unexpected form field {other:?}: send `options` and `callback_url` (both \
                         optional), then the files."
                    )))
                }
            };
            if slot.is_some() {
                return Err(AppError::BadRequest(format!(
                    "The field {name:?} came twice."
                )));
            }
            *slot = Some(text.to_string());
            Ok(())
        })
        .await;
    // What this request was, to tell a retry from another request under the same key.
    let sent = std::mem::take(&mut batch.fingerprint).finish();
    let created = async {
        received?;
        if batch.items.is_empty() {
            return Err(AppError::BadRequest(
                "No files were sent: add one part with a filename per image.".into(),
            ));
        }
        let options = match &options_text {
            Some(text) => crate::uploads::parse_options(text)?,
            None => JobOptions::default(),
        };
        let callback_url = match &callback_text {
            Some(text) => Some(callback_url(&state, text).await?),
            None => None,
        };
        let job = NewJob {
            id: job_id.clone(),
            user_id: Some(caller.user_id),
            visitor_ip: None,
            visitor_token: None,
            source: "api",
            options: serde_json::to_string(&options).map_err(|_| AppError::Internal)?,
            priority: policy.priority,
            expires_at: policy.expires_at,
        };
        let extras = JobExtras {
            idempotency: key.clone().map(|key| (caller.user_id, key, sent.clone())),
            callback_url,
            admission: policy.admission(),
        };
        jobs::create_job_with(&state.db, &job, &batch.items, &extras, now).await
    }
    .await;
    match created {
        Ok(Created::New) => {
            tracing::info!(job = %job_id, files = batch.items.len(), bytes = batch.bytes, "API job queued");
            let job = api_job(&state, caller.user_id, &job_id, bulk_zip).await?;
            Ok((StatusCode::ACCEPTED, Json(job)).into_response())
        }
        Ok(Created::Existing {
            job_id: existing,
            fingerprint,
        }) => {
            // Another request with the same key won the race: its job is the answer, if it was
            // the same request.
            batch.discard().await;
            if sent != fingerprint {
                return Err(key_reused());
            }
            replay(&state, caller.user_id, &existing, bulk_zip).await
        }
        Ok(Created::OverLimit(over)) => {
            batch.discard().await;
            Err(policy.over_limit_error(over, batch.items.len() as i64, now))
        }
        Err(error) => {
            batch.discard().await;
            Err(error)
        }
    }
}

/// The 202 of a job an idempotency key already names.
async fn replay(
    state: &AppState,
    user_id: i64,
    job_id: &str,
    bulk_zip: bool,
) -> Result<Response, AppError> {
    let job = api_job(state, user_id, job_id, bulk_zip).await?;
    let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// 422 for an idempotency key sent again with another request.
fn key_reused() -> AppError {
    AppError::invalid(
        "Idempotency-Key",
        "This Idempotency-Key was used in the last 24 hours for a different request (other \
         options or files); nothing was created. Use a new key for a new request.",
    )
}

/// The form of `POST /api/v1/jobs` (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateJobForm {
    /// The job's options as JSON, e.g. `{"mode":"balanced","format":"webp","max_width":2000}`.
    options: Option<String>,
    /// Where to POST the finished job (http or https, a public address).
    callback_url: Option<String>,
    /// The images: one part each, with a filename (folders kept: `photos/a.jpg`).
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}

/// `GET /api/v1/jobs/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    summary = "A job's status, progress and results",
    tag = "Batch jobs",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "The job, its files' progress and results.", body = ApiJob),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such job of this key's account.", body = ErrorBody),
        (status = 429, description = "The rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn get_job(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(job_id): Path<String>,
) -> Result<Json<ApiJob>, AppError> {
    let bulk_zip = bulk_zip_of(&state, &caller).await?;
    Ok(Json(
        api_job(&state, caller.user_id, &job_id, bulk_zip).await?,
    ))
}

/// `GET /api/v1/jobs/{id}/archive.zip`
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/archive.zip",
    summary = "Every finished result as one ZIP",
    tag = "Batch jobs",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "Every finished result, folders and names kept.", content_type = "application/zip", body = Vec<u8>),
        (status = 400, description = "No file of the job is finished yet.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 403, description = "The plan has no bulk ZIP download.", body = ErrorBody),
        (status = 404, description = "No such job of this key's account.", body = ErrorBody),
        (status = 429, description = "The rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn archive(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(job_id): Path<String>,
) -> Result<Response, AppError> {
    let bulk_zip = bulk_zip_of(&state, &caller).await?;
    files::archive_response(&state, &Owner::User(caller.user_id), bulk_zip, &job_id).await
}

/// `DELETE /api/v1/jobs/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{id}",
    summary = "Delete a job's files now",
    tag = "Batch jobs",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The job's id.")),
    responses(
        (status = 204, description = "Its files are deleted (sizes stay in the history)."),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such job of this key's account.", body = ErrorBody),
        (status = 429, description = "The rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(job_id): Path<String>,
) -> Result<StatusCode, AppError> {
    job_files::delete_job(
        &state.db,
        &state.storage,
        &Owner::User(caller.user_id),
        &job_id,
        now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
