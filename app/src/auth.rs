//! The account server functions and their wire types, shared by the pages and the server.
//!
//! Each function is thin: state and caller from the request, one call into `crate::ssr`, a
//! redirect or a wire type back. Errors get their HTTP status through `respond_with`; a plain
//! HTML form post (no JavaScript) is redirected back to its page with the error in the URL,
//! where the page's `ServerAction` finds it and shows it next to the field.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The signed-in user as pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The (normalised) email address.
    pub email: String,
    /// `free`, `premium` or `pro`.
    pub plan: String,
    /// `user` or `admin`.
    pub role: String,
    /// The sign-up date, e.g. `26 Nov 2026`.
    pub member_since: String,
}

/// An API key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    /// Id to revoke it with.
    pub id: i64,
    /// The user's name for it.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// Creation date.
    pub created: String,
    /// Date of last use, if ever used.
    pub last_used: Option<String>,
}

/// The user's API keys, and a just-created key's secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeys {
    /// Newest first.
    pub keys: Vec<ApiKeyView>,
    /// The secret of the key created just before, if any.
    pub new_secret: Option<String>,
    /// The secret that signs job callbacks (`Slimage-Signature`).
    pub callback_secret: String,
}

/// Everything the account page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPageData {
    /// The account.
    pub account: Account,
    /// Its API keys.
    pub keys: ApiKeys,
    /// Plan, standing and this month's usage.
    pub billing: crate::billing::BillingSummary,
}

#[cfg(feature = "ssr")]
pub(crate) use server::format_date;

#[cfg(feature = "ssr")]
mod server {
    pub use crate::ssr::{
        accounts, api_keys, password_reset,
        request::{auth_session, client_ip, current_user, require_user, respond_with},
        state::app_state,
    };

    /// `26 Nov 2026`.
    pub fn format_date(unix: i64) -> String {
        let format =
            time::macros::format_description!("[day padding:none] [month repr:short] [year]");
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default()
    }

    pub fn to_account(user: &accounts::UserRow) -> super::Account {
        super::Account {
            email: user.email.clone(),
            plan: user.plan.clone(),
            role: user.role.clone(),
            member_since: format_date(user.created_at),
        }
    }
}

/// Creates an account and signs it in, then goes to the account page.
#[server(endpoint = "signup")]
pub async fn sign_up(email: String, password: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let ip = client_ip(&state)?;
        let user = accounts::sign_up(&state.db, ip, &email, password).await?;
        auth_session()?.log_in(user.id).await?;
        leptos_axum::redirect("/account");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Signs in, then goes to the account page.
#[server(endpoint = "login")]
pub async fn log_in(email: String, password: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let ip = client_ip(&state)?;
        let user = accounts::log_in(&state.db, ip, &email, password).await?;
        auth_session()?.log_in(user.id).await?;
        leptos_axum::redirect("/account");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Signs out (the session is deleted on the server), then goes home.
#[server(endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    use server::*;
    async {
        auth_session()?.log_out().await?;
        leptos_axum::redirect("/");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// The signed-in user, or `None`.
#[server(endpoint = "account")]
pub async fn current_account() -> Result<Option<Account>, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        Ok(current_user(&state).await?.as_ref().map(to_account))
    }
    .await
    .map_err(respond_with)
}

/// Changes the password; every other session of the user ends, this one gets a new id.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        let ip = client_ip(&state)?;
        accounts::change_password(&state.db, ip, &user, current_password, new_password).await?;
        let session = auth_session()?;
        session.cycle().await?;
        leptos_axum::redirect("/account?notice=password-changed");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Deletes the signed-in account after checking its password.
#[server(endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        let ip = client_ip(&state)?;
        accounts::delete_account(&state.db, ip, &user, password, || {
            crate::ssr::billing::cancel_for_deletion(&state, user.id)
        })
        .await?;
        auth_session()?.log_out().await?;
        leptos_axum::redirect("/?notice=account-deleted");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Emails a reset link if the address has an account; the answer is the same either way.
#[server(endpoint = "forgot_password")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let ip = client_ip(&state)?;
        password_reset::request(
            &state.db,
            &state.mailer,
            &state.settings.public_url,
            ip,
            &email,
        )
        .await?;
        leptos_axum::redirect("/forgot-password?sent=1");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Sets a new password with an emailed token, signs in, goes to the account page.
#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, new_password: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let ip = client_ip(&state)?;
        let user = password_reset::reset(&state.db, ip, &token, new_password).await?;
        auth_session()?.log_in(user.id).await?;
        leptos_axum::redirect("/account?notice=password-reset");
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// Creates a named API key; its secret comes back once, through [`list_api_keys`].
#[server(endpoint = "create_api_key")]
pub async fn create_api_key(name: String) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        let (_, secret) = api_keys::create(&state.db, user.id, &name).await?;
        auth_session()?.set_new_api_key(secret).await?;
        Ok(())
    }
    .await
    .map_err(respond_with)
}

/// The account page's data in one call, or `None` when nobody is signed in.
#[server(endpoint = "account_overview")]
pub async fn account_overview() -> Result<Option<AccountPageData>, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let Some(user) = current_user(&state).await? else {
            return Ok(None);
        };
        let keys = keys_of(&state, user.id).await?;
        let billing = crate::billing::billing_summary_of(&state, &user).await?;
        let mut account = to_account(&user);
        account.plan = billing.plan.id.clone();
        Ok(Some(AccountPageData {
            account,
            keys,
            billing,
        }))
    }
    .await
    .map_err(respond_with)
}

#[cfg(feature = "ssr")]
async fn keys_of(state: &crate::ssr::state::AppState, user_id: i64) -> Result<ApiKeys, AppError> {
    use server::*;
    let keys = api_keys::list(&state.db, user_id)
        .await?
        .into_iter()
        .map(|k| ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created: format_date(k.created_at),
            last_used: k.last_used_at.map(format_date),
        })
        .collect();
    let new_secret = auth_session()?.take_new_api_key().await?;
    let callback_secret =
        crate::ssr::api_jobs::callback_secret(&state.db, user_id, crate::ssr::db::now()).await?;
    Ok(ApiKeys {
        keys,
        new_secret,
        callback_secret,
    })
}

/// Replaces the signed-in user's callback signing secret; callbacks are signed with the new one
/// from now on.
#[server(endpoint = "roll_callback_secret")]
pub async fn roll_callback_secret() -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        crate::ssr::api_jobs::roll_callback_secret(&state.db, user.id, crate::ssr::db::now())
            .await
            .map(|_| ())
    }
    .await
    .map_err(respond_with)
}

/// The signed-in user's API keys, plus the secret of a key created just before (once).
#[server(endpoint = "api_keys")]
pub async fn list_api_keys() -> Result<ApiKeys, AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        keys_of(&state, user.id).await
    }
    .await
    .map_err(respond_with)
}

/// Revokes one of the signed-in user's keys: requests with it get 401 from now on.
#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    use server::*;
    async {
        let state = app_state()?;
        let user = require_user(&state).await?;
        api_keys::revoke(&state.db, user.id, id).await
    }
    .await
    .map_err(respond_with)
}
