//! The Tinify-compatible API (TinyPNG's HTTP protocol), so existing Tinify clients work by
//! changing their endpoint: `POST /shrink` with the image as the body and `GET /output/{id}` for
//! the result. A shrink is a one-file job on the same queue, limits and usage as the compress page;
//! the request waits for a worker to finish it.
//!
//! Errors are Tinify's shape, `{"error": "...", "message": "..."}` (plus our `request_id`).
//! `Compression-Count` and the rate-limit headers are added by [`crate::api_limits`] around these
//! routes.

use std::time::Duration;

use app::{
    compress::{ItemStatus, ItemView, JobOptions, OutputChoice, ResizeMethod, ResizeSpec},
    error::AppError,
    ssr::{
        api_keys::ApiCaller,
        db::now,
        http_error::ErrorBody,
        job_files, request_id,
        state::AppState,
        uploads::{queue_single, UploadPolicy},
    },
};
use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Serialize;

use utoipa::ToSchema;

use crate::api_jobs::{media_type_of, output_url, ratio};

/// How long `/shrink` waits for a worker before answering 503.
const WAIT: Duration = Duration::from_secs(300);
/// How often it looks.
const POLL: Duration = Duration::from_millis(50);

/// `{"input":{"size","type"},"output":{…}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ShrinkBody {
    input: InputBody,
    output: OutputBody,
}

/// The image as sent.
#[derive(Debug, Serialize, ToSchema)]
struct InputBody {
    size: i64,
    #[serde(rename = "type")]
    media_type: &'static str,
}

/// The compressed image.
#[derive(Debug, Serialize, ToSchema)]
struct OutputBody {
    size: i64,
    #[serde(rename = "type")]
    media_type: &'static str,
    width: i64,
    height: i64,
    ratio: f64,
    url: String,
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

/// `{"source":{"url":"https://…"}}`: the image to fetch instead of a body.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ShrinkSource {
    source: SourceUrl,
}

/// Where the image is.
#[derive(Debug, serde::Deserialize, ToSchema)]
struct SourceUrl {
    /// An http or https URL of a public address.
    url: String,
}

/// `POST /shrink`: compresses the image in the body.
#[utoipa::path(
    post,
    path = "/shrink",
    summary = "Compress one image",
    description = "The body is the image itself, or `{\"source\":{\"url\":\"https://…\"}}` to fetch it (public http/https addresses only). Waits for a worker and answers like TinyPNG: `201`, `Location` and `Compression-Count` headers, sizes and the output URL.",
    tag = "Tinify-compatible",
    security(("api_key" = [])),
    request_body(description = "The image itself, or a JSON source URL.", content(
        ("application/octet-stream"),
        ("image/png"),
        ("image/jpeg"),
        ("image/webp"),
        (ShrinkSource = "application/json"),
    )),
    responses(
        (status = 201, description = "Compressed; `Location` is the output's URL.", body = ShrinkBody,
            headers(("Location" = String, description = "PUBLIC_URL/output/{id}"),
                    ("Compression-Count" = i64, description = "Compressions this month."))),
        (status = 400, description = "Empty body (`InputMissing`), bad JSON, or a source URL that is refused.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 408, description = "The client sent nothing for 30 seconds.", body = ErrorBody),
        (status = 413, description = "Larger than the plan's largest file.", body = ErrorBody),
        (status = 415, description = "Not an image Slimage reads (`UnsupportedFile`).", body = ErrorBody),
        (status = 429, description = "The monthly allowance or the rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn shrink(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let now = now();
    let user = caller.user(&state.db).await?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let policy = UploadPolicy::for_user(&state, &user, now).await?;
    let bytes = read_body(body, &policy).await?;
    let bytes: Vec<u8> = if is_json && !bytes.is_empty() {
        let body: ShrinkSource = serde_json::from_slice(&bytes).map_err(|_| {
            AppError::BadRequest(
                "A JSON body is {\"source\":{\"url\":\"https://…\"}}; otherwise send the image itself."
                    .into(),
            )
        })?;
        crate::source_url::fetch(
            &body.source.url,
            policy.max_file_bytes,
            &state.settings.outbound_allowed,
        )
        .await?
    } else {
        bytes.to_vec()
    };
    if bytes.is_empty() {
        return Ok(tinify_error(
            StatusCode::BAD_REQUEST,
            "InputMissing",
            "File is empty.",
        ));
    }
    let format = engine::sniff_format(&bytes);
    let (_, item_id) = queue_single(
        &state,
        &policy,
        "image",
        bytes,
        &JobOptions::default(),
        format.is_some(),
        now,
    )
    .await?;
    let item = wait_for(&state, &item_id).await?;
    let view = item.item;
    if view.status == ItemStatus::Failed {
        return Ok(tinify_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedFile",
            view.error
                .as_deref()
                .unwrap_or("The file could not be compressed."),
        ));
    }
    let url = output_url(&state, &item_id)?;
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
            ratio: ratio(output_size, view.input_bytes),
            url: url.clone(),
        },
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The request body, at most the plan's largest file, given up when nothing arrives for
/// [`crate::uploads::STALL`].
async fn read_body(body: Body, policy: &UploadPolicy) -> Result<Vec<u8>, AppError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    loop {
        let next = tokio::time::timeout(crate::uploads::STALL, stream.next())
            .await
            .map_err(|_| crate::uploads::stalled())?;
        match next {
            None => return Ok(bytes),
            Some(Ok(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as i64 > policy.max_file_bytes {
                    return Err(AppError::PayloadTooLarge(format!(
                        "The file is larger than the {} plan accepts ({} bytes).",
                        policy.plan_name, policy.max_file_bytes
                    )));
                }
            }
            Some(Err(_)) => {
                return Err(AppError::BadRequest(
                    "The upload was interrupted; nothing was kept.".into(),
                ))
            }
        }
    }
}

/// An image answer as Tinify sends it: the bytes with their type and dimensions.
fn image_response(item: &ItemView, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(media_type_of(item.format.as_deref())),
            ),
            (
                HeaderName::from_static("image-width"),
                HeaderValue::from(item.width.unwrap_or(0)),
            ),
            (
                HeaderName::from_static("image-height"),
                HeaderValue::from(item.height.unwrap_or(0)),
            ),
        ],
        bytes,
    )
        .into_response()
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

/// `GET /output/{id}`: the compressed image (the id is the credential). A valid key, when sent,
/// reaches here as the rate-limit layer's [`ApiCaller`].
#[utoipa::path(
    get,
    path = "/output/{id}",
    summary = "Download a compressed image",
    description = "No key needed: the unguessable id is the credential, valid for the plan's retention. With a JSON body of commands (as Tinify's Python client sends them) it transforms like `POST`.",
    tag = "Tinify-compatible",
    params(("id" = String, Path, description = "The output's id, from `Location` or a job's item.")),
    responses(
        (status = 200, description = "The compressed image.", content(("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif")),
            headers(("Image-Width" = i64), ("Image-Height" = i64))),
        (status = 400, description = "Commands were sent in the body and are not valid.", body = ErrorBody),
        (status = 401, description = "Commands were sent in the body without a valid API key.", body = ErrorBody),
        (status = 404, description = "No such output, or it has expired.", body = ErrorBody),
        (status = 413, description = "Commands were sent and the original is over the plan's largest file.", body = ErrorBody),
        (status = 415, description = "Commands asked for AVIF (not available yet).", body = ErrorBody),
        (status = 429, description = "A key was sent and its rate limit or allowance is exhausted.", body = ErrorBody),
    )
)]
pub async fn output(
    State(state): State<AppState>,
    caller: Option<Extension<ApiCaller>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // Tinify's Python client sends its commands (resize, convert…) as the body of a GET.
    if !body.is_empty() {
        let Extension(caller) = caller.ok_or(AppError::Unauthorized)?;
        return transformed(&state, caller, &id, &body).await;
    }
    let found = job_files::output_file(&state.db, &id, now())
        .await?
        .ok_or(AppError::NotFound)?;
    let key = found.output_key.clone().ok_or(AppError::NotFound)?;
    let bytes = state.storage.get(&key).await?;
    Ok(image_response(&found.item, bytes))
}

/// The commands of `POST /output/{id}`, as Tinify's clients send them.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    resize: Option<ResizeCommand>,
    convert: Option<ConvertCommand>,
    transform: Option<TransformCommand>,
    preserve: Option<Vec<String>>,
}

/// `{"method":"fit","width":300,"height":200}`
#[derive(Debug, serde::Deserialize, ToSchema)]
struct ResizeCommand {
    /// `scale` (one side), `fit`, `cover` or `thumb` (both sides).
    method: String,
    width: Option<u32>,
    height: Option<u32>,
}

/// `{"type":"image/webp"}`, a list of types, or `*/*`: the smallest of them.
#[derive(Debug, serde::Deserialize, ToSchema)]
struct ConvertCommand {
    #[serde(rename = "type")]
    kind: serde_json::Value,
}

/// `{"background":"white"}`: what transparency is flattened onto.
#[derive(Debug, serde::Deserialize, ToSchema)]
struct TransformCommand {
    background: String,
}

/// The job options for `commands`, or the message of a 400 (or 415 for AVIF).
fn options_for(commands: &Commands) -> Result<JobOptions, AppError> {
    let bad = |message: &str| AppError::BadRequest(message.to_string());
    let mut options = JobOptions::default();
    if let Some(resize) = &commands.resize {
        let method = match resize.method.as_str() {
            "scale" => ResizeMethod::Scale,
            "fit" => ResizeMethod::Fit,
            "cover" => ResizeMethod::Cover,
            "thumb" => ResizeMethod::Thumb,
            _ => return Err(bad("resize.method is one of scale, fit, cover, thumb.")),
        };
        let sides = [resize.width, resize.height];
        if sides
            .iter()
            .flatten()
            .any(|side| !(1..=20_000).contains(side))
        {
            return Err(bad("resize.width and resize.height are 1 to 20000 pixels."));
        }
        let given = sides.iter().flatten().count();
        match method {
            ResizeMethod::Scale if given != 1 => {
                return Err(bad(
                    "resize with method scale takes exactly one of width and height.",
                ))
            }
            ResizeMethod::Fit | ResizeMethod::Cover | ResizeMethod::Thumb if given != 2 => {
                return Err(bad(
                    "resize with method fit, cover or thumb takes both width and height.",
                ))
            }
            _ => {}
        }
        options.resize = Some(ResizeSpec {
            method,
            width: resize.width,
            height: resize.height,
        });
    }
    if let Some(convert) = &commands.convert {
        let types: Vec<&str> = match &convert.kind {
            serde_json::Value::String(one) => vec![one.as_str()],
            serde_json::Value::Array(many) => many.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        options.format = match types.as_slice() {
            ["image/png"] => OutputChoice::Png,
            ["image/jpeg" | "image/jpg"] => OutputChoice::Jpeg,
            ["image/webp"] => OutputChoice::Webp,
            ["image/avif"] => OutputChoice::Avif,
            [] => return Err(bad("convert.type is a media type, a list of them, or */*.")),
            // Several, or "*/*": the smallest that keeps the quality.
            _ => OutputChoice::Auto,
        };
    }
    if let Some(transform) = &commands.transform {
        options.background = Some(parse_background(&transform.background).ok_or_else(|| {
            bad("transform.background is \"white\", \"black\" or a colour like \"#1a2b3c\".")
        })?);
    }
    for field in commands.preserve.iter().flatten() {
        match field.as_str() {
            "copyright" => options.keep_copyright = true,
            "creation" => options.keep_creation = true,
            "location" => options.keep_location = true,
            _ => return Err(bad("preserve takes copyright, creation and location.")),
        }
    }
    Ok(options)
}

fn parse_background(text: &str) -> Option<[u8; 3]> {
    match text.to_ascii_lowercase().as_str() {
        "white" => Some([255, 255, 255]),
        "black" => Some([0, 0, 0]),
        hex => {
            let digits = hex.strip_prefix('#')?;
            if digits.len() != 6 {
                return None;
            }
            let channel = |i: usize| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok();
            Some([channel(0)?, channel(2)?, channel(4)?])
        }
    }
}

/// `POST /output/{id}`: the output made again from its original with `resize`, `convert`,
/// `transform` and/or `preserve`, answered with the image itself. Counts as one compression.
#[utoipa::path(
    post,
    path = "/output/{id}",
    summary = "Resize, convert or flatten a compressed image",
    description = "Commands `resize`, `convert`, `transform` and `preserve`, one or several. The image is made again from its original and returned directly; counts as one compression.",
    tag = "Tinify-compatible",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The output's id.")),
    request_body(content = Commands, content_type = "application/json"),
    responses(
        (status = 200, description = "The transformed image.", content(("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif")),
            headers(("Image-Width" = i64), ("Image-Height" = i64))),
        (status = 400, description = "The commands are not valid.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 404, description = "No such output of this key's account.", body = ErrorBody),
        (status = 413, description = "The original is over the plan's largest file.", body = ErrorBody),
        (status = 415, description = "AVIF output is not available yet.", body = ErrorBody),
        (status = 429, description = "The monthly allowance or the rate limit is exhausted.", body = ErrorBody),
    )
)]
pub async fn transform(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    transformed(&state, caller, &id, &body).await
}

async fn transformed(
    state: &AppState,
    caller: ApiCaller,
    id: &str,
    body: &[u8],
) -> Result<Response, AppError> {
    let commands: Commands = if body.is_empty() {
        Commands::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| AppError::BadRequest(format!("The commands are not valid JSON: {e}.")))?
    };
    let options = options_for(&commands)?;
    let now = now();
    let found = job_files::output_file(&state.db, id, now)
        .await?
        .filter(|f| f.user_id == Some(caller.user_id))
        .ok_or(AppError::NotFound)?;
    let user = caller.user(&state.db).await?;
    let policy = UploadPolicy::for_user(state, &user, now).await?;
    let original = state.storage.get(&found.input_key).await?;
    let (_, item_id) = queue_single(state, &policy, "image", original, &options, true, now).await?;
    let done = wait_for(state, &item_id).await?;
    if done.item.status == ItemStatus::Failed {
        return Ok(tinify_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            done.item
                .error
                .as_deref()
                .unwrap_or("The image could not be transformed."),
        ));
    }
    let key = done.output_key.as_deref().ok_or(AppError::Internal)?;
    let bytes = state.storage.get(key).await?;
    Ok(image_response(&done.item, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tinify_commands_become_job_options() {
        let parse = |json: &str| options_for(&serde_json::from_str::<Commands>(json).unwrap());
        let options = parse(
            r##"{"resize":{"method":"fit","width":300,"height":200},"convert":{"type":["image/webp","image/png"]},"transform":{"background":"#FF0080"},"preserve":["copyright","location"]}"##,
        )
        .unwrap();
        assert_eq!(options.format, OutputChoice::Auto);
        assert_eq!(options.background, Some([255, 0, 128]));
        assert!(options.keep_copyright && options.keep_location && !options.keep_creation);
        assert_eq!(
            parse(r#"{"convert":{"type":"image/webp"}}"#)
                .unwrap()
                .format,
            OutputChoice::Webp
        );
        assert_eq!(
            parse(r#"{"convert":{"type":"*/*"}}"#).unwrap().format,
            OutputChoice::Auto
        );
        assert!(parse(r#"{"resize":{"method":"scale","width":3,"height":4}}"#).is_err());
        assert!(parse(r#"{"resize":{"method":"cover","width":3}}"#).is_err());
        assert!(parse(r#"{"transform":{"background":"teal"}}"#).is_err());
        assert_eq!(
            parse(r#"{"convert":{"type":"image/avif"}}"#)
                .unwrap()
                .format,
            OutputChoice::Avif
        );
        assert!(serde_json::from_str::<Commands>(r#"{"store":{}}"#).is_err());
    }
}
