//! API keys: named, shown once, stored as a SHA-256 with a short visible prefix, revocable.
//! [`ApiCaller`] authenticates a request by key, the way Tinify's clients send it
//! (`Authorization: Basic base64("api:KEY")`) or as `Authorization: Bearer KEY`.

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};

use super::{
    db::{now, Db},
    state::AppState,
    tokens::{random_alphanumeric, sha256_hex},
};
use crate::{error::AppError, on_pool};

/// Characters in a key (Tinify's keys are 32 letters and digits too).
pub const KEY_CHARS: usize = 32;
/// Characters of the key shown in lists so a user can tell keys apart.
pub const PREFIX_CHARS: usize = 6;
/// Keys a user may hold at once.
pub const MAX_KEYS_PER_USER: i64 = 20;

/// An API key as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApiKeyInfo {
    /// The key's id, used to revoke it.
    pub id: i64,
    /// The name the user gave it.
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last authenticated request, if any.
    pub last_used_at: Option<i64>,
}

/// Creates a key for `user_id`; returns its listing and the secret, which is never shown again.
pub async fn create(db: &Db, user_id: i64, name: &str) -> Result<(ApiKeyInfo, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::invalid(
            "name",
            "Name the key (1 to 60 characters), e.g. “build server”.",
        ));
    }
    let (count,): (i64,) = on_pool!(db, pool => sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await)?;
    if count >= MAX_KEYS_PER_USER {
        return Err(AppError::invalid(
            "name",
            format!("You have {MAX_KEYS_PER_USER} keys already; revoke one first."),
        ));
    }
    let key = random_alphanumeric(KEY_CHARS);
    let info = on_pool!(db, pool => sqlx::query_as::<_, ApiKeyInfo>(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, prefix, created_at, last_used_at",
    )
    .bind(user_id)
    .bind(name)
    .bind(&key[..PREFIX_CHARS])
    .bind(sha256_hex(&key))
    .bind(now())
    .fetch_one(pool)
    .await)?;
    Ok((info, key))
}

/// The user's keys, newest first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<ApiKeyInfo>, AppError> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ApiKeyInfo>(
        "SELECT id, name, prefix, created_at, last_used_at FROM api_keys WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)?)
}

/// Revokes one of the user's keys; another user's key is "not found".
pub async fn revoke(db: &Db, user_id: i64, key_id: i64) -> Result<(), AppError> {
    let deleted = on_pool!(db, pool => sqlx::query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2")
        .bind(key_id)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The user and key a valid secret belongs to; records the use.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<ApiCaller>, AppError> {
    let row: Option<(i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2 RETURNING id, user_id",
    )
    .bind(now())
    .bind(sha256_hex(key))
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(|(key_id, user_id)| ApiCaller { user_id, key_id }))
}

/// The key in an `Authorization` header: Basic with any user name (Tinify sends `api`) and the
/// key as password, or Bearer.
pub fn key_from_authorization(header: &str) -> Option<String> {
    let (scheme, value) = header.trim().split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!value.is_empty()).then(|| value.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(value).ok()?).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_string());
    }
    None
}

/// A request authenticated by API key. Extracting it answers 401 when the key is missing,
/// malformed, unknown or revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCaller {
    /// The key's owner.
    pub user_id: i64,
    /// The key used.
    pub key_id: i64,
}

impl ApiCaller {
    /// The key's owner (401 when the account is gone since the key was checked).
    pub async fn user(&self, db: &Db) -> Result<super::accounts::UserRow, AppError> {
        super::accounts::find_by_id(db, self.user_id)
            .await?
            .ok_or(AppError::Unauthorized)
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Already authenticated by the server's rate-limit layer: not a second lookup.
        if let Some(caller) = parts.extensions.get::<ApiCaller>() {
            return Ok(*caller);
        }
        let key = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(key_from_authorization)
            .ok_or(AppError::Unauthorized)?;
        authenticate(&state.db, &key)
            .await?
            .ok_or(AppError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_basic_and_bearer_headers() {
        let basic = format!("Basic {}", STANDARD.encode("api:abc123"));
        assert_eq!(key_from_authorization(&basic).as_deref(), Some("abc123"));
        assert_eq!(
            key_from_authorization("Bearer abc123").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            key_from_authorization("bearer  abc123 ").as_deref(),
            Some("abc123")
        );
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic !!!",
            "Digest abc",
            &format!("Basic {}", STANDARD.encode("api:")),
        ] {
            assert_eq!(key_from_authorization(bad), None, "{bad}");
        }
    }
}
