//! Job-finished callbacks: when every file of a job with a `callback_url` is done or failed, the
//! job (as `GET /api/v1/jobs/{id}` shows it) is POSTed there, signed with the owner's callback
//! secret (shown on the account page):
//!
//! `Slimage-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!
//! Each delivery re-checks the URL against the SSRF guard ([`crate::source_url`]) and connects to
//! the address it checked, without redirects, 5 s to connect and 20 s in all. A 2xx answer
//! delivers it; anything else is retried after 10 s, 30 s, 90 s, … up to 8 attempts (about three
//! hours). Every process polls once a second; a claim is a lease, so one process delivers each.

use std::time::Duration;

use app::{
    error::AppError,
    ssr::{
        api_jobs::{self, Delivery, DueCallback},
        db::now,
        state::AppState,
    },
};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use url::Url;
use utoipa::ToSchema;

use crate::api_jobs::{api_job, ApiJob};

/// How often each process looks for callbacks to deliver.
pub const POLL: Duration = Duration::from_secs(1);
/// The signature header.
pub const SIGNATURE_HEADER: &str = "slimage-signature";

/// The body POSTed to a callback URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackBody {
    /// Always `job.finished`.
    pub event: &'static str,
    /// The job as `GET /api/v1/jobs/{id}` shows it.
    pub job: ApiJob,
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Delivers due callbacks forever (the server aborts it at shutdown).
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        loop {
            match deliver_due(&state, now()).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "could not deliver callbacks; retrying shortly");
                    break;
                }
            }
        }
    }
}

/// Claims and delivers one callback due at `now`; `false` when none is due.
pub async fn deliver_due(state: &AppState, now: i64) -> Result<bool, AppError> {
    let Some(due) = api_jobs::claim_due_callback(&state.db, now).await? else {
        return Ok(false);
    };
    let delivery = deliver(state, &due, now).await;
    match &delivery {
        Delivery::Delivered { status } => {
            tracing::info!(job = %due.job_id, attempt = due.attempts, status, "callback delivered");
        }
        Delivery::Failed { error, .. } => {
            tracing::info!(job = %due.job_id, attempt = due.attempts, %error, "callback not delivered");
        }
    }
    api_jobs::record_delivery(&state.db, &due.job_id, due.attempts, &delivery, now).await?;
    Ok(true)
}

async fn deliver(state: &AppState, due: &DueCallback, now: i64) -> Delivery {
    let failed = |error: String| Delivery::Failed {
        status: None,
        error,
    };
    let body = match callback_body(state, due).await {
        Ok(body) => body,
        Err(error) => return failed(format!("the job could not be read: {error}")),
    };
    let secret = match api_jobs::callback_secret(&state.db, due.user_id, now).await {
        Ok(secret) => secret,
        Err(error) => return failed(format!("the signing secret could not be read: {error}")),
    };
    let Ok(url) = Url::parse(&due.url) else {
        return failed("the URL is not valid".into());
    };
    let client =
        match crate::source_url::pinned_client(&url, &state.settings.outbound_allowed).await {
            Ok(client) => client,
            Err(error) => return failed(error.to_string()),
        };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "Slimage-Callbacks/1")
        .header(SIGNATURE_HEADER, signature(&secret, now, &body))
        .header("slimage-delivery-attempt", due.attempts.to_string())
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Delivery::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => Delivery::Failed {
            status: Some(response.status().as_u16()),
            error: format!("the receiver answered {}", response.status()),
        },
        Err(error) if error.is_timeout() => failed("the receiver did not answer in time".into()),
        Err(_) => failed("the receiver could not be reached".into()),
    }
}

async fn callback_body(state: &AppState, due: &DueCallback) -> Result<Vec<u8>, AppError> {
    let user = app::ssr::accounts::find_by_id(&state.db, due.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let bulk_zip = app::ssr::billing::plan_state(state, &user)
        .await?
        .plan
        .bulk_zip;
    let job = api_job(state, due.user_id, &due.job_id, bulk_zip).await?;
    serde_json::to_vec(&CallbackBody {
        event: "job.finished",
        job,
    })
    .map_err(|_| AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Python: hmac.new(b"whsec_test", b"1700000000.{}", "sha256").hexdigest()
        assert_eq!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_ne!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            signature("whsec_other", 1_700_000_000, b"{}")
        );
    }
}
