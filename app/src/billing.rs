//! Plans, usage and billing server functions and their wire types: the pricing table, the
//! account page's plan and usage card, Checkout, the Customer Portal and cancellation.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One plan as the pricing page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    /// `free`, `premium`, `pro`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// "$9", or "$0".
    pub price: String,
    /// Images per month.
    pub monthly_allowance: i64,
    /// "5 MB".
    pub max_file: String,
    /// Files per drop.
    pub max_files_per_batch: i64,
    /// Bulk jobs with ZIP download.
    pub bulk_zip: bool,
    /// "1 hour".
    pub retention: String,
    /// "500 MB".
    pub storage: String,
    /// API requests per minute.
    pub api_requests_per_minute: i64,
    /// Jobs at once.
    pub concurrent_jobs: i64,
    /// Served before lower plans.
    pub priority_queue: bool,
    /// Whether it can be bought through Checkout (has a Stripe price and billing is on).
    pub purchasable: bool,
}

/// The pricing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingData {
    /// Cheapest first.
    pub plans: Vec<PlanView>,
    /// The visitor's plan id when signed in.
    pub current_plan: Option<String>,
    /// Whether Stripe is configured.
    pub billing_configured: bool,
    /// The visitor pays for a subscription already (plan changes go through the portal).
    pub has_subscription: bool,
}

/// The plan, its standing and this month's usage, for the account and success pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSummary {
    /// The plan whose limits apply now.
    pub plan: PlanView,
    /// `assigned`, `active`, `ending` or `payment_failed`.
    pub standing: String,
    /// One sentence about renewal, end or grace, e.g. "Renews on 26 Dec 2026.".
    pub standing_text: String,
    /// Images compressed this month.
    pub used: i64,
    /// The plan's allowance.
    pub allowance: i64,
    /// "1 Dec 2026".
    pub resets_on: String,
    /// "in 5 days".
    pub resets_in: String,
    /// Whether Stripe is configured.
    pub billing_configured: bool,
    /// The user is a Stripe customer (Manage billing works).
    pub can_manage: bool,
    /// A live subscription that is not yet set to end.
    pub can_cancel: bool,
    /// A subscription set to end that can be resumed.
    pub can_resume: bool,
    /// A subscription is in force (active, ending, or in grace).
    pub subscribed: bool,
}

#[cfg(feature = "ssr")]
mod server {
    pub use crate::ssr::{
        accounts::UserRow,
        billing::{self, PlanState, Standing},
        db::now,
        plans::{self, format_bytes, format_duration, Plan},
        request::{current_user, require_user, respond_with},
        state::{app_state, AppState},
        usage,
    };

    pub fn plan_view(plan: &Plan, state: &AppState) -> super::PlanView {
        let dollars = plan.monthly_price_cents / 100;
        let cents = plan.monthly_price_cents % 100;
        super::PlanView {
            id: plan.id.clone(),
            name: plan.name.clone(),
            price: if cents == 0 {
                format!("${dollars}")
            } else {
                format!("${dollars}.{cents:02}")
            },
            monthly_allowance: plan.monthly_allowance,
            max_file: format_bytes(plan.max_file_bytes),
            max_files_per_batch: plan.max_files_per_batch,
            bulk_zip: plan.bulk_zip,
            retention: format_duration(plan.retention_secs),
            storage: format_bytes(plan.storage_quota_bytes),
            api_requests_per_minute: plan.api_requests_per_minute,
            concurrent_jobs: plan.concurrent_jobs,
            priority_queue: plan.queue_priority > 0,
            purchasable: state
                .billing
                .as_ref()
                .is_some_and(|b| b.price_of(&plan.id).is_some()),
        }
    }

    pub fn date(unix: i64) -> String {
        crate::auth::format_date(unix)
    }

    pub async fn summary(
        state: &AppState,
        user: &UserRow,
    ) -> Result<super::BillingSummary, crate::error::AppError> {
        let plan_state: PlanState = billing::plan_state(state, user).await?;
        let now = now();
        let usage = usage::usage(&state.db, user.id, &plan_state.plan, now).await?;
        let (standing, standing_text) = match plan_state.standing {
            Standing::Assigned if plan_state.plan.id == plans::FREE => {
                ("assigned", "The free plan: no card needed.".to_string())
            }
            Standing::Assigned => ("assigned", "Assigned by an administrator.".to_string()),
            Standing::Active { renews_at: Some(at) } => {
                ("active", format!("Renews on {}.", date(at)))
            }
            Standing::Active { renews_at: None } => ("active", "Renews monthly.".to_string()),
            Standing::Ending { ends_at } => (
                "ending",
                format!(
                    "Cancelled: your {} plan lasts until {}, then you are on Free.",
                    plan_state.plan.name,
                    date(ends_at)
                ),
            ),
            Standing::PaymentFailed { grace_until } => (
                "payment_failed",
                format!(
                    "Your last payment failed. Update your card by {}, or your plan falls back to Free.",
                    date(grace_until)
                ),
            ),
        };
        let live = plan_state.has_live_subscription();
        let ending = matches!(plan_state.standing, Standing::Ending { .. });
        let configured = state.billing.is_some();
        Ok(super::BillingSummary {
            plan: plan_view(&plan_state.plan, state),
            standing: standing.into(),
            standing_text,
            used: usage.used,
            allowance: usage.allowance,
            resets_on: date(usage.resets_at),
            resets_in: usage::in_days(usage.resets_at - now),
            billing_configured: configured,
            can_manage: configured && plan_state.subscription.is_some(),
            can_cancel: configured && live && !ending,
            can_resume: configured && live && ending,
            subscribed: !matches!(plan_state.standing, Standing::Assigned),
        })
    }
}

#[cfg(feature = "ssr")]
pub(crate) use server::summary as billing_summary_of;

/// The plans, with the visitor's own marked.
#[server(endpoint = "pricing")]
pub async fn pricing() -> Result<PricingData, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let all = plans::all(&state.db).await?;
        let (current_plan, has_subscription) = match current_user(&state).await? {
            Some(user) => {
                let plan_state = billing::plan_state(&state, &user).await?;
                (
                    Some(plan_state.plan.id.clone()),
                    plan_state.has_live_subscription(),
                )
            }
            None => (None, false),
        };
        Ok(PricingData {
            plans: all.iter().map(|p| plan_view(p, &state)).collect(),
            current_plan,
            billing_configured: state.billing.is_some(),
            has_subscription,
        })
    }
    .await
    .map_err(respond_with)
}

/// The signed-in user's plan, standing and usage (`None` for visitors).
#[server(endpoint = "billing_summary")]
pub async fn get_billing_summary() -> Result<Option<BillingSummary>, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        match current_user(&state).await? {
            Some(user) => Ok(Some(summary(&state, &user).await?)),
            None => Ok(None),
        }
    }
    .await
    .map_err(respond_with)
}

/// Sends the browser to Stripe Checkout to subscribe to `plan`.
#[server(endpoint = "checkout")]
pub async fn start_checkout(plan: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let Some(user) = current_user(&state).await? else {
            leptos_axum::redirect("/signup");
            return Ok(());
        };
        let url = billing::checkout_url(&state, &user, &plan).await?;
        leptos_axum::redirect(&url);
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Sends the browser to the Stripe Customer Portal.
#[server(endpoint = "billing_portal")]
pub async fn open_billing_portal() -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        let url = billing::portal_url(&state, &user).await?;
        leptos_axum::redirect(&url);
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Cancels the subscription at the end of the paid period.
#[server(endpoint = "cancel_subscription")]
pub async fn cancel_subscription() -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        billing::set_cancel_at_period_end(&state, &user, true).await?;
        leptos_axum::redirect("/account?notice=subscription-cancelled");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Undoes a cancellation before the period ends.
#[server(endpoint = "resume_subscription")]
pub async fn resume_subscription() -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        billing::set_cancel_at_period_end(&state, &user, false).await?;
        leptos_axum::redirect("/account?notice=subscription-resumed");
        Ok(())
    }
    .await
    .map_err(respond_with)
}
