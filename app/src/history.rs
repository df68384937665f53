//! Server functions over a person's jobs: one job's live state (the job page polls it), the
//! account's history page by page, and deleting a job's files.

use leptos::prelude::*;

use crate::{
    compress::{CompressLimits, HistoryPage, JobView},
    error::AppError,
};

#[cfg(feature = "ssr")]
mod server {
    use crate::error::AppError;
    pub use crate::ssr::{
        db::now,
        job_files::{self, Viewer},
        request::{auth_session, client_ip, current_user, require_user, respond_with},
        state::{app_state, AppState},
        uploads::UploadPolicy,
    };

    /// The session's viewer; a session without jobs of its own sees none (404).
    pub async fn viewer(state: &AppState) -> Result<Viewer, AppError> {
        job_files::viewer(state, &auth_session()?)
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// Job `id` with its files' progress and results, for its owner (anyone else: not found).
#[server(endpoint = "job")]
pub async fn get_job(id: String) -> Result<JobView, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let viewer = viewer(&state).await?;
        job_files::job_view(&state.db, &viewer.owner, &id, viewer.bulk_zip).await
    }
    .await
    .map_err(respond_with)
}

/// Page `page` (1-based) of the signed-in user's jobs, newest first.
#[server(endpoint = "job_history")]
pub async fn job_history(page: i64) -> Result<HistoryPage, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        job_files::history(&state.db, user.id, page).await
    }
    .await
    .map_err(respond_with)
}

/// Deletes job `id`'s files now; the history keeps the job with its sizes.
#[server(endpoint = "delete_job")]
pub async fn delete_job(id: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let viewer = viewer(&state).await?;
        job_files::delete_job(&state.db, &state.storage, &viewer.owner, &id, now()).await
    }
    .await
    .map_err(respond_with)
}

/// What the compress page may send for whoever is looking at it.
#[server(endpoint = "compress_limits")]
pub async fn get_compress_limits() -> Result<CompressLimits, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let now = now();
        let policy = match current_user(&state).await? {
            Some(user) => UploadPolicy::of_user(&state, &user, now).await?,
            None => {
                let token = auth_session()?.visitor_token().await?.unwrap_or_default();
                let ip = client_ip(&state)?.to_string();
                UploadPolicy::of_visitor(&state, token, &ip, now).await?
            }
        };
        Ok(policy.limits())
    }
    .await
    .map_err(respond_with)
}
