//! `POST /webhooks/stripe`: Stripe's event deliveries. The raw body is verified against
//! `STRIPE_WEBHOOK_SECRET` and handled by `app::ssr::billing`; see there for the rules.

use app::{
    error::AppError,
    ssr::{
        billing::{self, WebhookOutcome, WebhookRefusal},
        request::client_ip_of,
        security::{self, SecurityEvent},
        state::AppState,
    },
};
use axum::{
    body::Bytes,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// Stripe events are small; anything larger is not one.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Verifies and handles one delivery: 200 when processed, a duplicate or an ignored type;
/// 400 for a bad signature or body; 500 when it must be delivered again.
pub async fn stripe(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(billing) = state.billing.clone() else {
        return AppError::NotFound.into_response();
    };
    let ip = client_ip_of(&parts, state.settings.trust_forwarded_for);
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return AppError::PayloadTooLarge("A Stripe event is at most 512 KiB.".into())
                .into_response()
        }
    };
    let Ok(payload) = std::str::from_utf8(&body) else {
        return AppError::BadRequest("The body is not UTF-8 JSON.".into()).into_response();
    };
    let signature = parts
        .headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match billing::handle_webhook(&state.db, &billing, payload, signature).await {
        Ok(outcome) => {
            let (status, kind) = match &outcome {
                WebhookOutcome::Processed(kind) => ("processed", kind),
                WebhookOutcome::Duplicate(kind) => ("duplicate", kind),
                WebhookOutcome::Ignored(kind) => ("ignored", kind),
            };
            (
                StatusCode::OK,
                Json(json!({ "received": true, "status": status, "type": kind })),
            )
                .into_response()
        }
        Err(WebhookRefusal::Signature(reason)) => {
            tracing::warn!(%ip, reason, "refused a Stripe webhook delivery");
            if let Err(error) = security::record(
                &state.db,
                SecurityEvent::StripeWebhookRefused,
                ip,
                None,
                None,
            )
            .await
            {
                tracing::error!(%error, "could not record the security event");
            }
            AppError::BadRequest(format!("Invalid Stripe signature: {reason}.")).into_response()
        }
        Err(WebhookRefusal::Malformed(reason)) => {
            AppError::BadRequest(format!("Not a Stripe event: {reason}.")).into_response()
        }
        Err(WebhookRefusal::Failed(error)) => {
            tracing::error!(%error, "a Stripe event could not be processed; Stripe will retry");
            error.into_response()
        }
    }
}
