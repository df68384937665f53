//! A job's files for its owner: the job as JSON, each original and result (inline for the
//! compare slider, or as a download under its own name), everything as one streamed ZIP, and
//! deleting the job's files. Whoever does not own the job gets 404, as if it did not exist.

use std::io::{self, Write};

use app::{
    compress::JobView,
    error::AppError,
    ssr::{
        archive,
        db::now,
        job_files::{self, StoredFile, Viewer},
        sessions::AuthSession,
        state::AppState,
        storage::Storage,
    },
};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tower_sessions::Session;

async fn viewer(state: &AppState, session: Session) -> Result<Viewer, AppError> {
    job_files::viewer(state, &AuthSession::new(session))
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /api/jobs/{job}`: the job and its files' progress and results.
pub async fn job(
    State(state): State<AppState>,
    session: Session,
    Path(job_id): Path<String>,
) -> Result<Json<JobView>, AppError> {
    let viewer = viewer(&state, session).await?;
    let view = job_files::job_view(&state.db, &viewer.owner, &job_id, viewer.bulk_zip).await?;
    Ok(Json(view))
}

/// `DELETE /api/jobs/{job}`: deletes the job's files now (the history keeps its sizes).
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(job_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let viewer = viewer(&state, session).await?;
    job_files::delete_job(&state.db, &state.storage, &viewer.owner, &job_id, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?download=1` asks for an attachment instead of an inline image.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    download: Option<String>,
}

/// `GET /api/jobs/{job}/items/{item}/original|result`.
pub async fn file(
    State(state): State<AppState>,
    session: Session,
    Path((job_id, item_id, which)): Path<(String, String, String)>,
    Query(query): Query<FileQuery>,
) -> Result<Response, AppError> {
    let result = match which.as_str() {
        "result" => true,
        "original" => false,
        _ => return Err(AppError::NotFound),
    };
    let viewer = viewer(&state, session).await?;
    let stored =
        job_files::stored_file(&state.db, &viewer.owner, &job_id, &item_id, result).await?;
    let bytes = state.storage.get(&stored.key).await?;
    let media_type = engine::sniff_format(&bytes)
        .map(|f| f.mime_type())
        .unwrap_or("application/octet-stream");
    let disposition = if query.download.is_some() {
        let name = archive::download_name(&stored.name, stored.format.as_deref());
        content_disposition("attachment", &name)
    } else {
        HeaderValue::from_static("inline")
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/jobs/{job}/archive.zip`: every finished result in one ZIP, streamed as it is
/// written (entries stored, not deflated: images are compressed already), folders and names
/// kept, made safe and unique.
pub async fn archive(
    State(state): State<AppState>,
    session: Session,
    Path(job_id): Path<String>,
) -> Result<Response, AppError> {
    let viewer = viewer(&state, session).await?;
    archive_response(&state, &viewer.owner, viewer.bulk_zip, &job_id).await
}

/// `owner`'s job `job_id` as a streamed ZIP (403 without `bulk_zip`, 404 when not theirs).
pub async fn archive_response(
    state: &AppState,
    owner: &job_files::Owner,
    bulk_zip: bool,
    job_id: &str,
) -> Result<Response, AppError> {
    let files = job_files::results(&state.db, owner, job_id).await?;
    if !bulk_zip {
        return Err(AppError::Forbidden(
            "Downloading a whole job as one ZIP is a Premium feature. Download the files one by \
             one, or upgrade."
                .into(),
        ));
    }
    if files.is_empty() {
        return Err(AppError::BadRequest(
            "No file of this job is finished yet; try again when one is.".into(),
        ));
    }
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(4);
    let storage = state.storage.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let failure = sender.clone();
        if let Err(error) = write_zip(&runtime, &storage, &files, sender) {
            tracing::warn!(%error, "a ZIP download stopped");
            // The client sees a truncated body rather than a ZIP that looks complete.
            let _ = failure.blocking_send(Err(error));
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let filename = format!(
        "slimage-{}.zip",
        &job_id.chars().take(8).collect::<String>()
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (
                header::CONTENT_DISPOSITION,
                content_disposition("attachment", &filename),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Writes the ZIP on a blocking thread, one file in memory at a time.
fn write_zip(
    runtime: &tokio::runtime::Handle,
    storage: &Storage,
    files: &[StoredFile],
    sender: mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let names =
        archive::zip_entry_names(files.iter().map(|f| (f.name.as_str(), f.format.as_deref())));
    let mut zip = zip::ZipWriter::new_stream(ChannelWriter {
        sender,
        buffer: Vec::with_capacity(CHUNK),
    });
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for (file, name) in files.iter().zip(names) {
        let bytes = runtime
            .block_on(storage.get(&file.key))
            .map_err(io::Error::other)?;
        zip.start_file(name, options).map_err(io::Error::other)?;
        zip.write_all(&bytes)?;
    }
    let mut writer = zip.finish().map_err(io::Error::other)?.into_inner();
    writer.flush()
}

const CHUNK: usize = 256 * 1024;

/// Sends what the ZIP writer writes to the response body in chunks; fails when the client left.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `attachment; filename="a.png"; filename*=UTF-8''a.png`, with an ASCII fallback.
fn content_disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_survive_quotes_and_unicode() {
        let value = content_disposition("attachment", "Fête \"1\".png");
        assert_eq!(
            value.to_str().unwrap(),
            "attachment; filename=\"F_te _1_.png\"; filename*=UTF-8''F%C3%AAte%20%221%22.png"
        );
    }
}
