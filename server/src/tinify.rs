//! The Tinify-compatible API (TinyPNG's HTTP protocol), so existing Tinify clients work by
//! changing their endpoint: `POST /shrink` with the image as the body and `GET /output/{id}` for
//! the result. A shrink is a one-file job on the same queue, limits and usage as the compress page;
//! the request waits for a worker to finish it.
//!
//! Errors are Tinify's shape, `{"error": "...", "message": "..."}` (plus our `request_id`).

use std::time::Duration;

use app::{
    compress::{ItemStatus, JobOptions},
    error::AppError,
    ssr::{
        accounts,
        api_keys::{self, ApiCaller},
        db::now,
        http_error::ErrorBody,
        job_files, request_id,
        state::AppState,
        uploads::{queue_single, UploadPolicy},
        usage,
    },
};
use axum::{
    body::{to_bytes, Body},
    extract::{Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

/// How long `/shrink` waits for a worker before answering 503.
const WAIT: Duration = Duration::from_secs(300);
/// How often it looks.
const POLL: Duration = Duration::from_millis(50);

/// `Compression-Count`: this month's compressions, sent on every authenticated answer.
pub const COMPRESSION_COUNT: HeaderName = HeaderName::from_static("compression-count");

/// `{"input":{"size","type"},"output":{…}}`
#[derive(Debug, Serialize)]
pub struct ShrinkBody {
    input: InputBody,
    output: OutputBody,
}

#[derive(Debug, Serialize)]
struct InputBody {
    size: i64,
    #[serde(rename = "type")]
    media_type: &'static str,
}

#[derive(Debug, Serialize)]
struct OutputBody {
    size: i64,
    #[serde(rename = "type")]
    media_type: &'static str,
    width: i64,
    height: i64,
    ratio: f64,
    url: String,
}

fn media_type_of(format: Option<&str>) -> &'static str {
    match format {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("gif") => "image/gif",
        _ => "application/octet-stream",
    }
}

/// A Tinify error with a code our [`AppError`] has no variant for.
fn tinify_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: code.to_string(),
        message: message.to_string(),
        request_id: request_id::current(),
    };
    (status, Json(body)).into_response()
}

/// `POST /shrink`: compresses the image in the body.
pub async fn shrink(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let now = now();
    let user = accounts::find_by_id(&state.db, caller.user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let policy = UploadPolicy::for_user(&state, &user, now).await?;
    let limit = usize::try_from(policy.max_file_bytes).unwrap_or(usize::MAX);
    let bytes = to_bytes(body, limit.saturating_add(1)).await.map_err(|_| {
        AppError::PayloadTooLarge(format!(
            "The file is larger than the {} plan accepts ({} bytes).",
            policy.plan_name, policy.max_file_bytes
        ))
    })?;
    if bytes.is_empty() {
        return Ok(tinify_error(
            StatusCode::BAD_REQUEST,
            "InputMissing",
            "File is empty.",
        ));
    }
    if is_json {
        return Ok(tinify_error(
            StatusCode::BAD_REQUEST,
            "Source",
            "Compressing from a URL is not available yet; send the image itself as the body.",
        ));
    }
    let format = engine::sniff_format(&bytes);
    let (_, item_id) = queue_single(
        &state,
        &policy,
        "image",
        bytes.to_vec(),
        &JobOptions::default(),
        format.is_some(),
        now,
    )
    .await?;
    let item = wait_for(&state, &item_id).await?;
    let count = usage::used(&state.db, user.id, app::ssr::db::now()).await?;
    let view = item.item;
    if view.status == ItemStatus::Failed {
        return Ok(with_count(
            tinify_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedFile",
                view.error
                    .as_deref()
                    .unwrap_or("The file could not be compressed."),
            ),
            count,
        ));
    }
    let url = state
        .settings
        .public_url
        .join(&format!("/output/{item_id}"))
        .map_err(|_| AppError::Internal)?
        .to_string();
    let output_size = view.output_bytes.unwrap_or(view.input_bytes);
    let body = ShrinkBody {
        input: InputBody {
            size: view.input_bytes,
            media_type: format
                .map(|f| f.mime_type())
                .unwrap_or("application/octet-stream"),
        },
        output: OutputBody {
            size: output_size,
            media_type: media_type_of(view.format.as_deref()),
            width: view.width.unwrap_or(0),
            height: view.height.unwrap_or(0),
            ratio: (output_size as f64 / view.input_bytes.max(1) as f64 * 10_000.0).round()
                / 10_000.0,
            url: url.clone(),
        },
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(with_count(response, count))
}

fn with_count(mut response: Response, count: i64) -> Response {
    response
        .headers_mut()
        .insert(COMPRESSION_COUNT, HeaderValue::from(count));
    response
}

/// Waits until a worker has finished `item_id`.
async fn wait_for(state: &AppState, item_id: &str) -> Result<job_files::OutputFile, AppError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = job_files::output_file(&state.db, item_id, now())
            .await?
            .ok_or(AppError::Internal)?;
        if found.item.is_finished() {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AppError::Unavailable);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `GET /output/{id}`: the compressed image (the id is the credential; a key, when sent, adds
/// `Compression-Count`).
pub async fn output(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(api_keys::key_from_authorization);
    let caller = match key {
        Some(key) => api_keys::authenticate(&state.db, &key).await?,
        None => None,
    };
    let found = job_files::output_file(&state.db, &id, now())
        .await?
        .ok_or(AppError::NotFound)?;
    let key = found.output_key.clone().ok_or(AppError::NotFound)?;
    let bytes = state.storage.get(&key).await?;
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(media_type_of(found.item.format.as_deref())),
            ),
            (
                HeaderName::from_static("image-width"),
                HeaderValue::from(found.item.width.unwrap_or(0)),
            ),
            (
                HeaderName::from_static("image-height"),
                HeaderValue::from(found.item.height.unwrap_or(0)),
            ),
        ],
        bytes,
    )
        .into_response();
    if let Some(caller) = caller {
        let count = usage::used(&state.db, caller.user_id, now()).await?;
        response = with_count(response, count);
    }
    Ok(response)
}
