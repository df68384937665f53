//! `POST /api/uploads`: a batch of images streamed from the compress page into storage and queued
//! as one job.
//!
//! The body is `multipart/form-data`: an optional `options` field (the job's options as JSON)
//! first, then one part per file whose filename is the file's path as dropped (folders kept).
//! Each file is streamed to storage as it arrives, never held whole in memory, and the batch is
//! refused at the first file that breaks a rule: 413 for a file over the plan's size, a batch
//! over its file count or storage; 415 for bytes that are not an image (sniffed, never trusted
//! from the name); 429 when the allowance is spent. The job and all its items are created in one
//! transaction after the last file; anything that fails deletes what was stored, so a refused or
//! broken upload leaves no rows and no objects.

use app::{
    compress::{JobOptions, UploadAnswer},
    error::AppError,
    ssr::{
        accounts,
        db::now,
        job_files,
        jobs::{self, NewItem, NewJob},
        request::ClientIp,
        sessions::AuthSession,
        state::AppState,
        storage::Storage,
        uploads::{clean_name, UploadPolicy},
    },
};
use axum::{
    extract::{
        multipart::{Field, MultipartRejection},
        Multipart, State,
    },
    http::StatusCode,
    Json,
};
use sha2::{Digest, Sha256};
use tower_sessions::Session;

/// Bytes looked at to recognise a format (the engine's sniffer needs at most this many).
const SNIFF_BYTES: usize = 32;

/// Receives a batch and answers 201 with the queued job.
pub async fn upload(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<UploadAnswer>), AppError> {
    let mut multipart = multipart.map_err(not_multipart)?;
    let session = AuthSession::new(session);
    let now = now();
    let user = match session.user_id().await? {
        Some(id) => accounts::find_by_id(&state.db, id).await?,
        None => None,
    };
    let policy = match &user {
        Some(user) => UploadPolicy::for_user(&state, user, now).await?,
        None => {
            let token = session.ensure_visitor_token().await?;
            UploadPolicy::for_visitor(&state, token, &ip.to_string(), now).await?
        }
    };
    let job_id = jobs::new_id();
    let mut batch = Batch::new(&state.storage, &policy, &job_id);
    let mut options = None;
    let received = batch
        .receive(&mut multipart, now, |name, text| match name {
            "options" if options.is_none() => {
                options = Some(parse_options(text)?);
                Ok(())
            }
            "options" => Err(AppError::BadRequest(
                "The options must come once, before the first file.".into(),
            )),
            other => Err(AppError::BadRequest(format!(
                "Unexpected form field {other:?}: send `options` and then the files."
            ))),
        })
        .await;
    let options = match received {
        Ok(()) if batch.items.is_empty() => Err(AppError::BadRequest(
            "No files were sent. Drop images onto the page, or choose them with the file picker."
                .into(),
        )),
        Ok(()) => Ok(options.unwrap_or_default()),
        Err(error) => Err(error),
    };
    let created = match options {
        Ok(options) => {
            let job = NewJob {
                id: job_id.clone(),
                user_id: policy.user_id,
                visitor_ip: policy.user_id.is_none().then(|| ip.to_string()),
                visitor_token: match &policy.owner {
                    job_files::Owner::Visitor(token) => Some(token.clone()),
                    job_files::Owner::User(_) => None,
                },
                source: "web",
                options: serde_json::to_string(&options).map_err(|_| AppError::Internal)?,
                priority: policy.priority,
                expires_at: policy.expires_at,
            };
            policy.create_job(&state.db, &job, &batch.items, now).await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = created {
        batch.discard().await;
        return Err(error);
    }
    tracing::info!(job = %job_id, files = batch.items.len(), bytes = batch.bytes, "upload queued");
    let job = job_files::job_view(&state.db, &policy.owner, &job_id, policy.bulk_zip).await?;
    Ok((StatusCode::CREATED, Json(UploadAnswer { job })))
}

/// Form fields other than files are at most this long.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// A SHA-256 of a multipart request's fields and files in order (names, texts, filenames, bytes),
/// which tells a retried request from a different one under the same idempotency key.
#[derive(Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    /// A text field.
    pub fn text(&mut self, name: &str, text: &[u8]) {
        self.0.update(b"T");
        self.0.update(name.as_bytes());
        self.0.update([0]);
        self.0.update(text);
        self.0.update([0xFF]);
    }

    /// The start of a file part.
    pub fn file(&mut self, filename: &str) {
        self.0.update(b"F");
        self.0.update(filename.as_bytes());
        self.0.update([0]);
    }

    /// Bytes of the current file.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The end of a file part.
    pub fn end_file(&mut self) {
        self.0.update([0xFF]);
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }

    /// Reads and fingerprints a request that will not be used (a replayed idempotent request), up
    /// to `limit` bytes, so that the client can finish sending and read the answer.
    pub async fn of_unused(multipart: &mut Multipart, limit: i64) -> Self {
        let mut fingerprint = Self::default();
        let mut read: i64 = 0;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            let filename = field.file_name().map(str::to_string);
            let name = field.name().unwrap_or_default().to_string();
            let mut text = Vec::new();
            if let Some(filename) = &filename {
                fingerprint.file(filename);
            }
            while let Ok(Some(chunk)) = field.chunk().await {
                read += chunk.len() as i64;
                if read > limit {
                    return fingerprint;
                }
                match filename {
                    Some(_) => fingerprint.bytes(&chunk),
                    None => text.extend_from_slice(&chunk),
                }
            }
            match filename {
                Some(_) => fingerprint.end_file(),
                None => fingerprint.text(&name, &text),
            }
        }
        fingerprint
    }
}

/// The files of one upload (the compress page's or the batch API's) as they arrive.
pub struct Batch<'a> {
    storage: &'a Storage,
    policy: &'a UploadPolicy,
    job_id: &'a str,
    /// The files stored so far.
    pub items: Vec<NewItem>,
    /// Their bytes.
    pub bytes: i64,
    /// The request so far.
    pub fingerprint: Fingerprint,
}

impl<'a> Batch<'a> {
    /// An empty batch for job `job_id` under `policy`.
    pub fn new(storage: &'a Storage, policy: &'a UploadPolicy, job_id: &'a str) -> Self {
        Self {
            storage,
            policy,
            job_id,
            items: Vec::new(),
            bytes: 0,
            fingerprint: Fingerprint::default(),
        }
    }

    /// Reads every part: text fields (which must come before the first file) go to `field` by
    /// name as they arrive, files are stored into `items`.
    pub async fn receive(
        &mut self,
        multipart: &mut Multipart,
        now: i64,
        mut field_text: impl FnMut(&str, &str) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        while let Some(field) = within(multipart.next_field()).await? {
            if field.file_name().is_none() {
                let name = field.name().unwrap_or_default().to_string();
                if !self.items.is_empty() {
                    return Err(AppError::BadRequest(format!(
                        "The form field {name:?} came after a file: send fields first, then the files."
                    )));
                }
                let text = read_text(field).await?;
                self.fingerprint.text(&name, text.as_bytes());
                field_text(&name, &text)?;
                continue;
            }
            let raw_name = field.file_name().unwrap_or_default().to_string();
            let name = clean_name(&raw_name).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "A file has no usable name ({:?}); rename it and try again.",
                    raw_name.chars().take(80).collect::<String>()
                ))
            })?;
            let count = self.items.len() as i64 + 1;
            self.policy.admit_file(count, &name, now)?;
            self.fingerprint.file(&raw_name);
            self.store_file(field, name).await?;
            self.fingerprint.end_file();
        }
        Ok(())
    }

    /// Streams one file to storage, checking its format on its first bytes and its size as it
    /// grows.
    async fn store_file(&mut self, mut field: Field<'_>, name: String) -> Result<(), AppError> {
        let item_id = jobs::new_id();
        let key = jobs::input_key(&self.policy.owner.key_prefix(), self.job_id, &item_id);
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        let mut writer = None;
        let mut size: i64 = 0;
        let outcome: Result<(), AppError> = async {
            while let Some(chunk) = within(field.chunk()).await? {
                size += chunk.len() as i64;
                self.policy.admit_bytes(&name, size, self.bytes + size)?;
                self.fingerprint.bytes(&chunk);
                match writer.as_mut() {
                    Some(writer) => write(writer, &chunk).await?,
                    None => {
                        head.extend_from_slice(&chunk);
                        if head.len() >= SNIFF_BYTES {
                            let mut opened = self.open(&key, &name, &head).await?;
                            write(&mut opened, &head).await?;
                            writer = Some(opened);
                        }
                    }
                }
            }
            if writer.is_none() {
                // A file shorter than the sniffing window.
                let mut opened = self.open(&key, &name, &head).await?;
                write(&mut opened, &head).await?;
                writer = Some(opened);
            }
            Ok(())
        }
        .await;
        match (outcome, writer) {
            (Ok(()), Some(writer)) => {
                writer.finish().await.map_err(AppError::from)?;
                self.bytes += size;
                self.items.push(NewItem {
                    id: item_id,
                    name,
                    input_key: key,
                    input_bytes: size,
                });
                Ok(())
            }
            (Err(error), Some(writer)) => {
                writer.abort().await;
                Err(error)
            }
            (Err(error), None) => Err(error),
            (Ok(()), None) => Err(AppError::Internal),
        }
    }

    /// Opens the object for a file whose first bytes are `head`, once they show an image.
    async fn open(
        &self,
        key: &str,
        name: &str,
        head: &[u8],
    ) -> Result<app::ssr::storage::ObjectWriter, AppError> {
        if head.is_empty() {
            return Err(AppError::UnsupportedMediaType(format!(
                "\u{201c}{name}\u{201d} is empty; nothing was uploaded."
            )));
        }
        if engine::sniff_format(head).is_none() {
            return Err(AppError::UnsupportedMediaType(format!(
                "\u{201c}{name}\u{201d} is not an image Slimage can read (PNG, JPEG, WebP, GIF, BMP \
                 or TIFF, recognised by its contents); nothing was uploaded."
            )));
        }
        self.storage.writer(key).await.map_err(AppError::from)
    }

    /// Deletes every file stored so far (the upload was refused or failed).
    pub async fn discard(&self) {
        for item in &self.items {
            if let Err(error) = self.storage.delete(&item.input_key).await {
                tracing::warn!(key = %item.input_key, %error, "could not delete an abandoned upload; the clean-up will");
            }
        }
    }
}

async fn write(writer: &mut app::ssr::storage::ObjectWriter, bytes: &[u8]) -> Result<(), AppError> {
    writer.write(bytes).await.map_err(AppError::from)
}

/// A text field, refused when longer than [`MAX_FIELD_BYTES`].
async fn read_text(mut field: Field<'_>) -> Result<String, AppError> {
    let name = field.name().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = within(field.chunk()).await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(AppError::BadRequest(format!(
                "The form field {name:?} is longer than {MAX_FIELD_BYTES} bytes."
            )));
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| AppError::BadRequest(format!("The form field {name:?} is not UTF-8 text.")))
}

/// The job options of an `options` field, checked.
pub fn parse_options(text: &str) -> Result<JobOptions, AppError> {
    let options: JobOptions = serde_json::from_str(text)
        .map_err(|e| AppError::BadRequest(format!("The options are not valid: {e}.")))?;
    for side in [options.max_width, options.max_height]
        .into_iter()
        .flatten()
    {
        if !(1..=20_000).contains(&side) {
            return Err(AppError::BadRequest(
                "A maximum width or height is a whole number of pixels from 1 to 20000.".into(),
            ));
        }
    }
    Ok(options)
}

/// A body that is not `multipart/form-data` at all, as a JSON error like every other.
pub fn not_multipart(rejection: MultipartRejection) -> AppError {
    AppError::BadRequest(format!(
        "The body must be multipart/form-data: {}.",
        rejection.body_text()
    ))
}

/// How long an upload may send nothing before it is given up (a client that trickles or stalls
/// would otherwise hold its connection and its stored files forever).
pub const STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// `read`, unless the client sends nothing for [`STALL`].
async fn within<T>(
    read: impl std::future::Future<Output = Result<T, axum::extract::multipart::MultipartError>>,
) -> Result<T, AppError> {
    match tokio::time::timeout(STALL, read).await {
        Ok(read) => read.map_err(interrupted),
        Err(_) => Err(stalled()),
    }
}

/// The 408 of an upload that sent nothing for [`STALL`].
pub fn stalled() -> AppError {
    AppError::RequestTimeout(format!(
        "The upload stalled: nothing arrived for {} seconds, so it was stopped and nothing was \
         kept. Try again.",
        STALL.as_secs()
    ))
}

fn interrupted(error: axum::extract::multipart::MultipartError) -> AppError {
    tracing::info!(%error, "an upload's body could not be read");
    AppError::BadRequest(format!(
        "The upload was interrupted or is not valid multipart/form-data ({}); nothing was kept.",
        error.body_text()
    ))
}
