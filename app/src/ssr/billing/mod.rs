//! Stripe billing: customers, Checkout and Customer Portal sessions, the subscription state we
//! keep, the plan it grants, and the webhook events that change it.
//!
//! Subscription state is never taken from an event's payload: every event that concerns a
//! subscription makes us re-read the subscription from Stripe, and a read that started earlier
//! never overwrites one that started later (`subscriptions.state_at`). Events may therefore come
//! twice, late or out of order without an old state winning. Event ids are stored, so a
//! redelivered event is acknowledged and ignored.

mod stripe_calls;
mod webhook;

use std::{fmt, time::Duration};

use stripe::{Client, ClientBuilder, StripeError};

pub use stripe_calls::{cancel_for_deletion, checkout_url, portal_url, set_cancel_at_period_end};
pub use webhook::{handle_webhook, prune_events, WebhookOutcome, WebhookRefusal, HANDLED_EVENTS};

use super::{
    accounts::UserRow,
    db::{now, Db},
    plans::{self, Plan},
    secret::Secret,
    state::AppState,
};
use crate::{error::AppError, on_pool};

/// The Stripe settings; all of them or none (then billing is off and plans are set by hand).
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`: `sk_live_…` or `sk_test_…`.
    pub secret_key: Secret<String>,
    /// `STRIPE_WEBHOOK_SECRET`: `whsec_…`, the signing secret of the webhook endpoint.
    pub webhook_secret: Secret<String>,
    /// `STRIPE_PRICE_PREMIUM`: the recurring price of the Premium plan (`price_…`).
    pub price_premium: String,
    /// `STRIPE_PRICE_PRO`: the recurring price of the Pro plan.
    pub price_pro: String,
    /// `STRIPE_API_BASE`: where the Stripe API is (default `https://api.stripe.com/`; tests
    /// point it at a local fake).
    pub api_base: Option<String>,
}

/// A configured Stripe account: the API client, the webhook secret and the plans' prices.
#[derive(Clone)]
pub struct Billing {
    client: Client,
    webhook_secret: Secret<String>,
    prices: [(&'static str, String); 2],
}

impl fmt::Debug for Billing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Billing")
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

impl Billing {
    /// A client for `config`; fails only on an unusable URL or key.
    pub fn new(config: &StripeConfig) -> Result<Self, String> {
        let mut builder = ClientBuilder::new(config.secret_key.expose().clone())
            .timeout(Duration::from_secs(20))
            .app_info("Slimage", Some(env!("CARGO_PKG_VERSION").into()), None);
        if let Some(base) = &config.api_base {
            let base = if base.ends_with('/') {
                base.clone()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            webhook_secret: config.webhook_secret.clone(),
            prices: [
                ("premium", config.price_premium.clone()),
                ("pro", config.price_pro.clone()),
            ],
        })
    }

    /// The Stripe price that buys `plan`, if it can be bought.
    pub fn price_of(&self, plan: &str) -> Option<&str> {
        self.prices
            .iter()
            .find(|(id, _)| *id == plan)
            .map(|(_, price)| price.as_str())
    }

    /// The plan a Stripe price buys.
    pub fn plan_of_price(&self, price: &str) -> Option<&'static str> {
        self.prices
            .iter()
            .find(|(_, p)| p == price)
            .map(|(id, _)| *id)
    }
}

/// A user's Stripe customer and subscription as last read from Stripe.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionRow {
    /// The user.
    pub user_id: i64,
    /// `cus_…`.
    pub stripe_customer_id: String,
    /// `sub_…`, once the user has subscribed.
    pub stripe_subscription_id: Option<String>,
    /// The plan the subscription's price buys.
    pub plan: Option<String>,
    /// Stripe's status: `active`, `past_due`, `canceled`, …
    pub status: Option<String>,
    /// End of the paid period (Unix seconds).
    pub current_period_end: Option<i64>,
    /// Set to end at the period's end.
    pub cancel_at_period_end: bool,
    /// When an unpaid invoice started the grace period.
    pub payment_failed_at: Option<i64>,
    /// When the last invoice was paid.
    pub last_paid_at: Option<i64>,
}

pub(crate) const SUB_COLUMNS: &str =
    "user_id, stripe_customer_id, stripe_subscription_id, plan, status, \
     current_period_end, cancel_at_period_end, payment_failed_at, last_paid_at";

/// Where a user's plan comes from, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No subscription in force: the plan set on the account (Free unless an operator set one).
    Assigned,
    /// A paid subscription that renews at the period's end.
    Active {
        /// Next renewal (Unix seconds), when known.
        renews_at: Option<i64>,
    },
    /// A subscription that ends at the period's end (cancelled, or deleted mid-period).
    Ending {
        /// When the plan falls back to the account's own plan.
        ends_at: i64,
    },
    /// A payment failed: the plan stays until the grace period ends.
    PaymentFailed {
        /// When the plan falls back to the account's own plan unless paid.
        grace_until: i64,
    },
}

/// The plan a user has now and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanState {
    /// The plan whose limits apply.
    pub plan: Plan,
    /// Where it comes from.
    pub standing: Standing,
    /// The Stripe side, when the user has been a customer.
    pub subscription: Option<SubscriptionRow>,
}

impl PlanState {
    /// Whether a subscription is in force (so Checkout would create a second one).
    pub fn has_live_subscription(&self) -> bool {
        self.subscription.as_ref().is_some_and(|s| {
            s.stripe_subscription_id.is_some()
                && matches!(
                    s.status.as_deref(),
                    Some("active" | "trialing" | "past_due" | "unpaid" | "incomplete" | "paused")
                )
        })
    }
}

/// The plan `account_plan` (the account's own) and `sub` grant at `now`, with `grace_secs` of
/// grace after a failed payment. Pure, so every rule is unit-tested.
pub fn resolve(
    account_plan: &str,
    sub: Option<&SubscriptionRow>,
    now: i64,
    grace_secs: i64,
) -> (String, Standing) {
    let assigned = (account_plan.to_string(), Standing::Assigned);
    let Some(sub) = sub else { return assigned };
    let (Some(_), Some(plan), Some(status)) = (
        sub.stripe_subscription_id.as_deref(),
        sub.plan.as_deref(),
        sub.status.as_deref(),
    ) else {
        return assigned;
    };
    let plan = plan.to_string();
    let period_end = sub.current_period_end.unwrap_or(0);
    match status {
        "active" | "trialing" | "past_due" | "unpaid" => {
            if let Some(failed_at) = sub.payment_failed_at {
                let grace_until = failed_at + grace_secs;
                return if now < grace_until {
                    (plan, Standing::PaymentFailed { grace_until })
                } else {
                    assigned
                };
            }
            if status == "unpaid" {
                // Stripe gave up collecting without us seeing the failure: no grace left.
                return assigned;
            }
            if sub.cancel_at_period_end {
                if now < period_end {
                    (
                        plan,
                        Standing::Ending {
                            ends_at: period_end,
                        },
                    )
                } else {
                    assigned
                }
            } else {
                (
                    plan,
                    Standing::Active {
                        renews_at: sub.current_period_end,
                    },
                )
            }
        }
        // Deleted: what was paid for lasts until the period's end.
        "canceled" if now < period_end => (
            plan,
            Standing::Ending {
                ends_at: period_end,
            },
        ),
        _ => assigned,
    }
}

/// The user's subscription row, if they have been a Stripe customer.
pub async fn subscription_of(db: &Db, user_id: i64) -> Result<Option<SubscriptionRow>, AppError> {
    let sql = format!("SELECT {SUB_COLUMNS} FROM subscriptions WHERE user_id = $1");
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
        .bind(user_id)
        .fetch_optional(pool)
        .await)?,
    )
}

/// The plan whose limits apply to `user` now.
pub async fn plan_state(state: &AppState, user: &UserRow) -> Result<PlanState, AppError> {
    let subscription = subscription_of(&state.db, user.id).await?;
    let (plan_id, standing) = resolve(
        &user.plan,
        subscription.as_ref(),
        now(),
        state.settings.billing_grace_secs,
    );
    Ok(PlanState {
        plan: plans::get_or_free(&state.db, &plan_id).await?,
        standing,
        subscription,
    })
}

/// Sets the plan an account has without a subscription (`server admin set-plan`).
pub async fn set_account_plan(db: &Db, email: &str, plan: &str) -> Result<UserRow, AppError> {
    if plans::get(db, plan).await?.is_none() {
        let ids: Vec<String> = plans::all(db).await?.into_iter().map(|p| p.id).collect();
        return Err(AppError::BadRequest(format!(
            "{plan:?} is not a plan; one of: {}",
            ids.join(", ")
        )));
    }
    let email = crate::validate::normalize_email(email);
    let changed = on_pool!(db, pool => sqlx::query("UPDATE users SET plan = $1 WHERE email = $2")
        .bind(plan)
        .bind(&email)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Err(AppError::NotFound);
    }
    crate::ssr::accounts::find_by_email(db, &email)
        .await?
        .ok_or(AppError::NotFound)
}

pub(crate) fn billing_of(state: &AppState) -> Result<&Billing, AppError> {
    state
        .billing
        .as_deref()
        .ok_or_else(|| AppError::Forbidden("Billing is not configured on this server.".into()))
}

pub(crate) fn stripe_failed(what: &str, error: StripeError) -> AppError {
    tracing::error!(%error, "Stripe call failed: {what}");
    AppError::Unavailable
}

/// The current time in Unix milliseconds (`subscriptions.state_at`).
pub(crate) fn now_millis() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::plans::FREE;

    const DAY: i64 = 86_400;

    fn sub(status: &str) -> SubscriptionRow {
        SubscriptionRow {
            user_id: 1,
            stripe_customer_id: "cus_1".into(),
            stripe_subscription_id: Some("sub_1".into()),
            plan: Some("premium".into()),
            status: Some(status.into()),
            current_period_end: Some(100 * DAY),
            cancel_at_period_end: false,
            payment_failed_at: None,
            last_paid_at: None,
        }
    }

    #[test]
    fn no_subscription_means_the_accounts_own_plan() {
        assert_eq!(
            resolve(FREE, None, 0, 7 * DAY),
            (FREE.into(), Standing::Assigned)
        );
        assert_eq!(resolve("pro", None, 0, 7 * DAY).0, "pro");
        let mut customer_only = sub("active");
        customer_only.stripe_subscription_id = None;
        assert_eq!(resolve(FREE, Some(&customer_only), 0, 7 * DAY).0, FREE);
    }

    #[test]
    fn active_subscription_grants_its_plan_and_renews() {
        let s = sub("active");
        assert_eq!(
            resolve(FREE, Some(&s), 50 * DAY, 7 * DAY),
            (
                "premium".into(),
                Standing::Active {
                    renews_at: Some(100 * DAY)
                }
            )
        );
    }

    #[test]
    fn cancelled_at_period_end_lasts_until_then() {
        let mut s = sub("active");
        s.cancel_at_period_end = true;
        assert_eq!(
            resolve(FREE, Some(&s), 50 * DAY, 7 * DAY),
            ("premium".into(), Standing::Ending { ends_at: 100 * DAY })
        );
        assert_eq!(resolve(FREE, Some(&s), 100 * DAY, 7 * DAY).0, FREE);
    }

    #[test]
    fn deleted_subscription_falls_back_at_period_end() {
        let s = sub("canceled");
        assert_eq!(resolve(FREE, Some(&s), 99 * DAY, 7 * DAY).0, "premium");
        assert_eq!(
            resolve(FREE, Some(&s), 100 * DAY, 7 * DAY),
            (FREE.into(), Standing::Assigned)
        );
    }

    #[test]
    fn payment_failure_keeps_the_plan_for_the_grace_period_only() {
        let mut s = sub("past_due");
        s.payment_failed_at = Some(10 * DAY);
        assert_eq!(
            resolve(FREE, Some(&s), 16 * DAY, 7 * DAY),
            (
                "premium".into(),
                Standing::PaymentFailed {
                    grace_until: 17 * DAY
                }
            )
        );
        assert_eq!(resolve(FREE, Some(&s), 17 * DAY, 7 * DAY).0, FREE);
        // An operator-assigned plan is what remains after grace.
        assert_eq!(resolve("pro", Some(&s), 17 * DAY, 7 * DAY).0, "pro");
    }

    #[test]
    fn incomplete_and_unknown_states_grant_nothing() {
        for status in [
            "incomplete",
            "incomplete_expired",
            "paused",
            "unpaid",
            "whatever",
        ] {
            assert_eq!(
                resolve(FREE, Some(&sub(status)), 0, 7 * DAY).0,
                FREE,
                "{status}"
            );
        }
    }
}
