//! The developer API's routes that exist so far (the Tinify-compatible compression endpoints
//! arrive with the API issue). Every route authenticates with [`ApiCaller`].

use app::{
    error::AppError,
    ssr::{accounts, api_keys::ApiCaller, state::AppState},
};
use axum::{extract::State, Json};
use serde::Serialize;

/// `GET /api/v1/account`: who the key belongs to.
#[derive(Debug, Serialize)]
pub struct AccountBody {
    /// The account's email.
    pub email: String,
    /// Its plan.
    pub plan: String,
}

/// Answers with the key owner's account, or 401.
pub async fn account(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<AccountBody>, AppError> {
    let user = accounts::find_by_id(&state.db, caller.user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Json(AccountBody {
        email: user.email,
        plan: user.plan,
    }))
}
