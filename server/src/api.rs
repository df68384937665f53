//! `GET /api/v1/account`: whose key this is and how much of the month's allowance is left.

use app::{
    error::AppError,
    ssr::{api_keys::ApiCaller, billing, db::now, state::AppState, usage},
};
use axum::{extract::State, Json};
use serde::Serialize;

/// `GET /api/v1/account`: who the key belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountBody {
    /// The account's email.
    pub email: String,
    /// The plan whose limits apply now.
    pub plan: String,
    /// This month's compressions against the plan's allowance.
    pub usage: UsageBody,
}

/// Images compressed this calendar month (UTC).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageBody {
    /// Counted so far.
    pub used: i64,
    /// The plan's monthly allowance.
    pub allowance: i64,
    /// What is left.
    pub remaining: i64,
    /// When the count resets (Unix seconds, 00:00 UTC on the 1st).
    pub resets_at: i64,
}

/// Answers with the key owner's account, or 401.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    summary = "The key's account and usage",
    tag = "Account",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The key's account, plan and this month's usage.", body = AccountBody),
        (status = 401, description = "No valid API key.", body = app::ssr::http_error::ErrorBody),
        (status = 429, description = "The rate limit is exhausted.", body = app::ssr::http_error::ErrorBody),
    )
)]
pub async fn account(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<AccountBody>, AppError> {
    let user = caller.user(&state.db).await?;
    let plan = billing::plan_state(&state, &user).await?.plan;
    let used = usage::usage(&state.db, user.id, &plan, now()).await?;
    Ok(Json(AccountBody {
        email: user.email,
        plan: plan.id,
        usage: UsageBody {
            used: used.used,
            allowance: used.allowance,
            remaining: used.remaining(),
            resets_at: used.resets_at,
        },
    }))
}
