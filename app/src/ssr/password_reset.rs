//! Password reset by emailed link: a random single-use token, stored as its SHA-256, valid for
//! one hour. The answer to a request is the same whether or not the email has an account.

use std::net::IpAddr;

use super::{
    accounts::{self, UserRow},
    db::{now, Db},
    mail::Mailer,
    security::{self, SecurityEvent, RESET_REQUESTS},
    tokens::{random_token, sha256_hex},
};
use crate::{error::AppError, on_pool, validate::normalize_email};

/// How long a reset link works.
pub const TOKEN_LIFETIME_SECS: i64 = 60 * 60;

/// Emails a reset link to `email` when it has an account (throttled per address).
pub async fn request(
    db: &Db,
    mailer: &Mailer,
    public_url: &url::Url,
    ip: IpAddr,
    email: &str,
) -> Result<(), AppError> {
    let email = normalize_email(email);
    if let Err(throttled) = security::check(db, RESET_REQUESTS, ip, None).await {
        security::record(
            db,
            SecurityEvent::PasswordResetThrottled,
            ip,
            Some(&email),
            None,
        )
        .await?;
        return Err(throttled);
    }
    let user = accounts::find_by_email(db, &email).await?;
    let user_id = user.as_ref().map(|u| u.id);
    security::record(
        db,
        SecurityEvent::PasswordResetRequested,
        ip,
        Some(&email),
        user_id,
    )
    .await?;
    let Some(user) = user else {
        return Ok(());
    };
    let token = random_token();
    let created = now();
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(&token))
    .bind(user.id)
    .bind(created)
    .bind(created + TOKEN_LIFETIME_SECS)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    let mut link = public_url.join("/reset-password").map_err(|error| {
        tracing::error!(%error, "PUBLIC_URL cannot carry a path");
        AppError::Internal
    })?;
    link.query_pairs_mut().append_pair("token", &token);
    let body = format!(
        "Someone, hopefully you, asked to reset the password of your Slimage account ({email}).\n\n\
         Choose a new password here (the link works once, for one hour):\n\n{link}\n\n\
         If you did not ask for this, ignore this email: your password stays as it is.\n"
    );
    mailer
        .send(&email, "Reset your Slimage password", body)
        .await
}

/// Sets a new password with a reset token: single use, within the hour. Every session of the
/// user ends and every other outstanding link stops working. Returns the user.
pub async fn reset(
    db: &Db,
    ip: IpAddr,
    token: &str,
    new_password: String,
) -> Result<UserRow, AppError> {
    let expired = || {
        AppError::invalid(
            "token",
            "This reset link has expired or was already used. Ask for a new one.",
        )
    };
    let token_hash = sha256_hex(token.trim());
    let row: Option<(i64, i64, Option<i64>)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
    )
    .bind(&token_hash)
    .fetch_optional(pool)
    .await)?;
    let Some((user_id, expires_at, None)) = row else {
        return Err(expired());
    };
    if expires_at < now() {
        return Err(expired());
    }
    let user = accounts::find_by_id(db, user_id)
        .await?
        .ok_or_else(expired)?;
    // Validate before spending the token, so a too-short password can be corrected.
    crate::validate::check_new_password(&new_password, &user.email)
        .map_err(|m| AppError::invalid("new_password", m))?;
    let claimed = on_pool!(db, pool => sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(&token_hash)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    if claimed != 1 {
        return Err(expired());
    }
    accounts::set_password(db, &user, new_password).await?;
    on_pool!(db, pool => sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(user.id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    security::record(
        db,
        SecurityEvent::PasswordReset,
        ip,
        Some(&user.email),
        Some(user.id),
    )
    .await?;
    Ok(user)
}

/// Deletes links that expired more than a day ago.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    on_pool!(db, pool => sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
        .bind(now() - 86_400)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
}
