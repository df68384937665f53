//! Stripe's webhook deliveries: signature and tolerance checked by `stripe_webhook`, event ids
//! claimed so a redelivery does nothing, subscription state re-read from Stripe, invoice outcomes
//! ordered by their events' creation times.

use serde_json::Value;
use stripe_webhook::{Webhook, WebhookError};

use super::{
    stripe_calls::{link_customer, sync_subscription},
    Billing,
};
use crate::{
    error::AppError,
    on_pool,
    ssr::db::{now, Db},
};

/// What became of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A handled event type, processed now.
    Processed(String),
    /// An event id seen before: acknowledged, nothing done.
    Duplicate(String),
    /// An event type this service does not act on: acknowledged, nothing done.
    Ignored(String),
}

/// Why a webhook delivery was refused.
#[derive(Debug)]
pub enum WebhookRefusal {
    /// Missing, malformed, wrong or stale signature (400, and a security event).
    Signature(String),
    /// The body is not a Stripe event (400).
    Malformed(String),
    /// Processing failed on our side or at Stripe (500: Stripe will deliver it again).
    Failed(AppError),
}

/// The event types that change a user's billing.
pub const HANDLED_EVENTS: [&str; 6] = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
];

/// Verifies and handles one webhook delivery: `payload` is the raw body, `signature` the
/// `Stripe-Signature` header.
pub async fn handle_webhook(
    db: &Db,
    billing: &Billing,
    payload: &str,
    signature: Option<&str>,
) -> Result<WebhookOutcome, WebhookRefusal> {
    let signature =
        signature.ok_or_else(|| WebhookRefusal::Signature("no Stripe-Signature header".into()))?;
    // The library checks the signature and the 300-second tolerance before it parses; a payload
    // it cannot parse into its own types (an event shape newer than it) is still authentic.
    match Webhook::construct_event(payload, signature, billing.webhook_secret.expose()) {
        Ok(_) | Err(WebhookError::BadParse(_)) => {}
        Err(WebhookError::BadTimestamp(t)) => {
            return Err(WebhookRefusal::Signature(format!(
                "signature timestamp {t} is more than 300 s from now"
            )))
        }
        Err(WebhookError::BadKey) => {
            tracing::error!("STRIPE_WEBHOOK_SECRET cannot be used as an HMAC key");
            return Err(WebhookRefusal::Failed(AppError::Internal));
        }
        Err(other) => return Err(WebhookRefusal::Signature(other.to_string())),
    }
    let event: Value = serde_json::from_str(payload)
        .map_err(|e| WebhookRefusal::Malformed(format!("not JSON: {e}")))?;
    let (Some(id), Some(kind), Some(created)) = (
        event["id"].as_str(),
        event["type"].as_str(),
        event["created"].as_i64(),
    ) else {
        return Err(WebhookRefusal::Malformed(
            "an event needs id, type and created".into(),
        ));
    };
    if !HANDLED_EVENTS.contains(&kind) {
        tracing::info!(
            event_id = id,
            event_type = kind,
            "Stripe event type not handled; ignored"
        );
        return Ok(WebhookOutcome::Ignored(kind.to_string()));
    }
    // Claim the event id first: of two concurrent deliveries, one processes and one is a duplicate.
    let claimed = on_pool!(db, pool => sqlx::query(
        "INSERT INTO stripe_events (id, type, created, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(created)
    .bind(now())
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| WebhookRefusal::Failed(e.into()))?;
    if claimed == 0 {
        tracing::info!(
            event_id = id,
            event_type = kind,
            "Stripe event delivered again; ignored"
        );
        return Ok(WebhookOutcome::Duplicate(kind.to_string()));
    }
    match process_event(db, billing, kind, created, &event["data"]["object"]).await {
        Ok(()) => {
            tracing::info!(event_id = id, event_type = kind, "Stripe event processed");
            Ok(WebhookOutcome::Processed(kind.to_string()))
        }
        Err(error) => {
            // Un-claim, so Stripe's next delivery is processed.
            let _ = on_pool!(db, pool => sqlx::query("DELETE FROM stripe_events WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|_| ()));
            Err(WebhookRefusal::Failed(error))
        }
    }
}

/// The id of an expandable field: a plain id string or an object with an `id`.
fn id_of(value: &Value) -> Option<&str> {
    value.as_str().or_else(|| value["id"].as_str())
}

async fn process_event(
    db: &Db,
    billing: &Billing,
    kind: &str,
    created: i64,
    object: &Value,
) -> Result<(), AppError> {
    match kind {
        "checkout.session.completed" => {
            let user_id = object["client_reference_id"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok());
            let customer = id_of(&object["customer"]);
            if let (Some(user_id), Some(customer)) = (user_id, customer) {
                if crate::ssr::accounts::find_by_id(db, user_id)
                    .await?
                    .is_some()
                {
                    link_customer(db, user_id, customer).await?;
                }
            }
            if let Some(sub_id) = id_of(&object["subscription"]) {
                sync_subscription(db, billing, sub_id).await?;
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            if let Some(sub_id) = object["id"].as_str() {
                sync_subscription(db, billing, sub_id).await?;
            }
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let sub_id = id_of(&object["parent"]["subscription_details"]["subscription"])
                .or_else(|| id_of(&object["subscription"]));
            let Some(customer) = id_of(&object["customer"]) else {
                return Ok(());
            };
            if let Some(sub_id) = sub_id {
                sync_subscription(db, billing, sub_id).await?;
            }
            let sql = if kind == "invoice.paid" {
                // A payment clears a failure recorded before it (not one recorded after it).
                "UPDATE subscriptions SET last_paid_at = $1, \
                   payment_failed_at = CASE WHEN payment_failed_at <= $1 THEN NULL ELSE payment_failed_at END \
                 WHERE stripe_customer_id = $2 AND (last_paid_at IS NULL OR last_paid_at < $1)"
            } else {
                // The first failure since the last payment starts the grace period.
                "UPDATE subscriptions SET payment_failed_at = $1 \
                 WHERE stripe_customer_id = $2 AND payment_failed_at IS NULL \
                   AND (last_paid_at IS NULL OR last_paid_at < $1)"
            };
            let changed = on_pool!(db, pool => sqlx::query(sql)
                .bind(created)
                .bind(customer)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
            if changed == 1 {
                tracing::info!(event = kind, customer, "invoice state recorded");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Forgets processed event ids older than `days` (Stripe stops redelivering after 3 days).
pub async fn prune_events(db: &Db, days: i64) -> Result<u64, AppError> {
    let cutoff = now() - days * 86_400;
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM stripe_events WHERE received_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?,
    )
}
