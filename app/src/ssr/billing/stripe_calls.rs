//! The calls that change a customer at Stripe (customer, Checkout, Portal, cancellation) and the
//! re-read of a subscription that every webhook and every change ends with.

use stripe_billing::{
    billing_portal_session::CreateBillingPortalSession,
    subscription::{CancelSubscription, RetrieveSubscription, UpdateSubscription},
};
use stripe_checkout::{
    checkout_session::{CreateCheckoutSession, CreateCheckoutSessionLineItems},
    CheckoutSessionMode,
};
use stripe_core::customer::CreateCustomer;
use stripe_shared::Subscription;

use super::{
    billing_of, now_millis, plan_state, stripe_failed, subscription_of, Billing, SubscriptionRow,
    SUB_COLUMNS,
};
use crate::{
    error::AppError,
    on_pool,
    ssr::{
        accounts::UserRow,
        db::{now, Db},
        plans,
        state::AppState,
    },
};

/// The user's Stripe customer id, creating the customer on first use.
async fn ensure_customer(state: &AppState, user: &UserRow) -> Result<String, AppError> {
    if let Some(row) = subscription_of(&state.db, user.id).await? {
        return Ok(row.stripe_customer_id);
    }
    let billing = billing_of(state)?;
    let customer = CreateCustomer::new()
        .email(user.email.clone())
        .metadata([("slimage_user_id".to_string(), user.id.to_string())])
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("create customer", e))?;
    let customer_id = customer.id.to_string();
    link_customer(&state.db, user.id, &customer_id).await?;
    // A concurrent request may have linked another customer first: use whichever is stored.
    Ok(subscription_of(&state.db, user.id)
        .await?
        .map(|row| row.stripe_customer_id)
        .unwrap_or(customer_id))
}

pub(super) async fn link_customer(
    db: &Db,
    user_id: i64,
    customer_id: &str,
) -> Result<(), AppError> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO subscriptions (user_id, stripe_customer_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(customer_id)
    .bind(now())
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A Stripe Checkout page where `user` subscribes to `plan_id`; the caller redirects to it.
pub async fn checkout_url(
    state: &AppState,
    user: &UserRow,
    plan_id: &str,
) -> Result<String, AppError> {
    let billing = billing_of(state)?;
    let plan = plans::get(&state.db, plan_id)
        .await?
        .ok_or_else(|| AppError::BadRequest(format!("{plan_id:?} is not a plan.")))?;
    let price = billing
        .price_of(&plan.id)
        .ok_or_else(|| AppError::BadRequest(format!("The {} plan cannot be bought.", plan.name)))?;
    let current = plan_state(state, user).await?;
    if current.has_live_subscription() {
        return Err(AppError::BadRequest(
            "You already have a subscription: use Manage billing to switch plans.".into(),
        ));
    }
    let customer = ensure_customer(state, user).await?;
    let base = state.settings.public_url.as_str().trim_end_matches('/');
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer)
        .client_reference_id(user.id.to_string())
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some(price.to_string()),
            quantity: Some(1),
            ..Default::default()
        }])
        .success_url(format!(
            "{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}"
        ))
        .cancel_url(format!("{base}/pricing?notice=checkout-cancelled"))
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("create checkout session", e))?;
    tracing::info!(event = "checkout_started", user_id = user.id, plan = %plan.id, session = %session.id);
    session.url.ok_or_else(|| {
        tracing::error!("Stripe returned a checkout session without a URL");
        AppError::Unavailable
    })
}

/// A Stripe Customer Portal page for `user` (cards, invoices, plan changes, cancellation).
pub async fn portal_url(state: &AppState, user: &UserRow) -> Result<String, AppError> {
    let billing = billing_of(state)?;
    let Some(row) = subscription_of(&state.db, user.id).await? else {
        return Err(AppError::BadRequest(
            "There is no billing account yet: choose a plan first.".into(),
        ));
    };
    let base = state.settings.public_url.as_str().trim_end_matches('/');
    let session = CreateBillingPortalSession::new()
        .customer(row.stripe_customer_id)
        .return_url(format!("{base}/account"))
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("create portal session", e))?;
    Ok(session.url)
}

/// Cancels (`cancel = true`) or resumes the user's subscription at the end of the period.
pub async fn set_cancel_at_period_end(
    state: &AppState,
    user: &UserRow,
    cancel: bool,
) -> Result<(), AppError> {
    let billing = billing_of(state)?;
    let current = plan_state(state, user).await?;
    let sub_id = current
        .subscription
        .as_ref()
        .filter(|_| current.has_live_subscription())
        .and_then(|s| s.stripe_subscription_id.clone())
        .ok_or_else(|| AppError::BadRequest("You have no subscription to change.".into()))?;
    let started = now_millis();
    let sub = UpdateSubscription::new(sub_id.as_str())
        .cancel_at_period_end(cancel)
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("update subscription", e))?;
    apply_subscription(&state.db, billing, &sub, started).await?;
    tracing::info!(
        event = if cancel {
            "subscription_cancel_requested"
        } else {
            "subscription_resumed"
        },
        user_id = user.id
    );
    Ok(())
}

/// Ends the user's subscription now (the account is being deleted). Nothing to do without one.
pub async fn cancel_for_deletion(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let Some(row) = subscription_of(&state.db, user_id).await? else {
        return Ok(());
    };
    let live = matches!(
        row.status.as_deref(),
        Some("active" | "trialing" | "past_due" | "unpaid" | "incomplete" | "paused")
    );
    let (true, Some(sub_id)) = (live, row.stripe_subscription_id) else {
        return Ok(());
    };
    let Some(billing) = state.billing.as_deref() else {
        tracing::error!(user_id, subscription = %sub_id, "account deleted with a live subscription while billing is not configured; cancel it in Stripe");
        return Ok(());
    };
    CancelSubscription::new(sub_id.as_str())
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("cancel subscription", e))?;
    tracing::info!(event = "subscription_cancelled_for_deletion", user_id, subscription = %sub_id);
    Ok(())
}

/// Stores `sub` as read from Stripe by a read that started at `read_started_ms`, unless a
/// later read is already stored. Returns whether it was stored.
async fn apply_subscription(
    db: &Db,
    billing: &Billing,
    sub: &Subscription,
    read_started_ms: i64,
) -> Result<bool, AppError> {
    let customer = sub.customer.id().to_string();
    let sub_id = sub.id.to_string();
    let plan = sub
        .items
        .data
        .iter()
        .find_map(|item| billing.plan_of_price(item.price.id.as_str()));
    if plan.is_none() {
        tracing::warn!(subscription = %sub_id, "subscription has no price of a known plan (check STRIPE_PRICE_PREMIUM / STRIPE_PRICE_PRO)");
    }
    let period_end = sub.items.data.iter().map(|i| i.current_period_end).max();
    let status = sub.status.as_str().to_string();
    let terminal = matches!(status.as_str(), "canceled" | "incomplete_expired");

    // A finished subscription must not overwrite the state of a newer one of the same customer.
    let stored: Option<SubscriptionRow> = {
        let sql = format!("SELECT {SUB_COLUMNS} FROM subscriptions WHERE stripe_customer_id = $1");
        on_pool!(db, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
            .bind(&customer)
            .fetch_optional(pool)
            .await)?
    };
    let Some(stored) = stored else {
        tracing::warn!(customer = %customer, subscription = %sub_id, "subscription of a customer no account is linked to; ignored");
        return Ok(false);
    };
    if terminal
        && stored
            .stripe_subscription_id
            .as_deref()
            .is_some_and(|s| s != sub_id)
        && !matches!(
            stored.status.as_deref(),
            Some("canceled" | "incomplete_expired") | None
        )
    {
        tracing::info!(subscription = %sub_id, "ended subscription ignored: the customer has a newer one");
        return Ok(false);
    }
    let changed = on_pool!(db, pool => sqlx::query(
        "UPDATE subscriptions SET stripe_subscription_id = $1, plan = $2, status = $3, \
         current_period_end = $4, cancel_at_period_end = $5, state_at = $6, updated_at = $7 \
         WHERE stripe_customer_id = $8 AND state_at <= $6",
    )
    .bind(&sub_id)
    .bind(plan)
    .bind(&status)
    .bind(period_end)
    .bind(sub.cancel_at_period_end || sub.cancel_at.is_some())
    .bind(read_started_ms)
    .bind(now())
    .bind(&customer)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 1 {
        tracing::info!(
            event = "subscription_synced",
            user_id = stored.user_id,
            subscription = %sub_id,
            status = %status,
            plan = plan.unwrap_or("-"),
            cancel_at_period_end = sub.cancel_at_period_end,
        );
    }
    Ok(changed == 1)
}

/// Re-reads subscription `sub_id` from Stripe and stores it.
pub(super) async fn sync_subscription(
    db: &Db,
    billing: &Billing,
    sub_id: &str,
) -> Result<(), AppError> {
    let started = now_millis();
    let sub = RetrieveSubscription::new(sub_id)
        .send(&billing.client)
        .await
        .map_err(|e| stripe_failed("retrieve subscription", e))?;
    apply_subscription(db, billing, &sub, started).await?;
    Ok(())
}
