//! `GET /healthz` (the process answers) and `GET /readyz` (its database and storage answer too).

use std::{future::Future, time::Duration};

use app::ssr::state::AppState;
use axum::{extract::State, http::StatusCode, Json};
use serde::Serialize;

/// How long a dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The body of both health answers.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unavailable` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// `ok` or `unavailable` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<&'static str>,
}

/// Liveness: answers 200 whenever the process can answer at all.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        database: None,
        storage: None,
    })
}

/// Readiness: 200 when the database and storage both answer in time, else 503 naming which not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (database, storage) = tokio::join!(
        check("database", state.db.ping()),
        check("storage", state.storage.ping())
    );
    let ready = database && storage;
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = Health {
        status: if ready { "ready" } else { "unavailable" },
        database: Some(word(database)),
        storage: Some(word(storage)),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn check<E: std::fmt::Display>(
    what: &'static str,
    probe: impl Future<Output = Result<(), E>>,
) -> bool {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(dependency = what, error = %error, "readiness check failed");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = what, "readiness check timed out");
            false
        }
    }
}
