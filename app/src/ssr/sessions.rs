//! Browser sessions: a tower-sessions store over our [`Db`], and [`AuthSession`], the one typed
//! way the rest of the code reads or changes who is signed in.
//!
//! The store is ours rather than `tower-sessions-sqlx-store` because it must answer "every
//! session of user N" (a password change ends the others; deleting an account ends them all):
//! each row carries the signed-in user's id next to the record. Rows are keyed by the SHA-256 of
//! the session id, so the database never holds a usable cookie value.

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::{
    cookie::SameSite,
    session::{Id, Record},
    session_store::{self, SessionStore},
    Expiry, Session, SessionManagerLayer,
};

use super::{db::Db, tokens::sha256_hex};
use crate::{error::AppError, on_pool};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "slimage_session";
/// A session ends after this long without a request.
pub const INACTIVITY_DAYS: i64 = 14;
const USER_ID_KEY: &str = "user_id";
const NEW_API_KEY: &str = "new_api_key";
const VISITOR_TOKEN_KEY: &str = "visitor_token";

/// Session records in the `sessions` table.
#[derive(Debug, Clone)]
pub struct SqlSessionStore {
    db: Db,
}

impl SqlSessionStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Deletes every expired record; returns how many went.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let now = super::db::now();
        on_pool!(&self.db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
    }
}

fn backend(error: sqlx::Error) -> session_store::Error {
    // The message names the failing operation, never the session id.
    session_store::Error::Backend(format!("session store: {error}"))
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id collides essentially never; retry anyway rather than overwrite.
        loop {
            let inserted = insert(&self.db, record).await.map_err(backend)?;
            if inserted {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a session loaded earlier in the request, and never brings back one that was deleted
    /// meanwhile: every request saves its session at the end (each renews the 14 days), so an
    /// upsert here let a request still running when the user logged out (or when a password
    /// change ended the other devices) sign that browser back in. In Chromium, a log-out clicked
    /// while the account page was still loading left the header showing "Log out".
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        update(&self.db, record).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> = on_pool!(&self.db, pool => sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at >= $2",
        )
        .bind(sha256_hex(&id.to_string()))
        .bind(super::db::now())
        .fetch_optional(pool)
        .await)
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_pool!(&self.db, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(sha256_hex(&id.to_string()))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(backend)
        .map(drop)
    }
}

/// Writes a new `record`; an existing id is left alone and `false` returned.
async fn insert(db: &Db, record: &Record) -> Result<bool, sqlx::Error> {
    write(
        db,
        record,
        "INSERT INTO sessions (id_hash, user_id, data, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id_hash) DO NOTHING",
    )
    .await
}

/// Rewrites `record` where its row still exists; a deleted session stays deleted.
async fn update(db: &Db, record: &Record) -> Result<(), sqlx::Error> {
    write(
        db,
        record,
        "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id_hash = $1",
    )
    .await
    .map(drop)
}

/// Runs `sql` with `record`'s id hash, user id, data and expiry as `$1`–`$4`; whether a row was
/// written.
async fn write(db: &Db, record: &Record, sql: &str) -> Result<bool, sqlx::Error> {
    let data = serde_json::to_string(&record.data).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let user_id = record.data.get(USER_ID_KEY).and_then(|v| v.as_i64());
    let result = on_pool!(db, pool => sqlx::query(sql)
        .bind(sha256_hex(&record.id.to_string()))
        .bind(user_id)
        .bind(&data)
        .bind(record.expiry_date.unix_timestamp())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(result == 1)
}

/// Ends every session of `user_id` (all devices).
pub async fn delete_user_sessions(db: &Db, user_id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    .map(drop)
}

/// The session layer: HttpOnly, SameSite=Lax (Strict would lose the session on the way back
/// from Stripe Checkout), Secure when the site is served over https, 14 days of inactivity.
pub fn layer(db: Db, secure: bool) -> SessionManagerLayer<SqlSessionStore> {
    SessionManagerLayer::new(SqlSessionStore::new(db))
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(INACTIVITY_DAYS)))
}

/// Who a browser session belongs to; the only code that reads or writes session keys.
#[derive(Clone, Debug)]
pub struct AuthSession(Session);

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Unavailable
}

impl AuthSession {
    /// Wraps the request's session.
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    /// The signed-in user's id, if any.
    pub async fn user_id(&self) -> Result<Option<i64>, AppError> {
        self.0.get::<i64>(USER_ID_KEY).await.map_err(session_error)
    }

    /// Signs `user_id` in: a new session id (no fixation), then the user.
    pub async fn log_in(&self, user_id: i64) -> Result<(), AppError> {
        self.0.cycle_id().await.map_err(session_error)?;
        self.0
            .insert(USER_ID_KEY, user_id)
            .await
            .map_err(session_error)
    }

    /// Keeps the user signed in under a new session id (after a password change).
    pub async fn cycle(&self) -> Result<(), AppError> {
        self.0.cycle_id().await.map_err(session_error)
    }

    /// Holds a just-created API key's secret until the key list shows it (once). It rides in
    /// the session so that a form posted without JavaScript can show it after its redirect.
    pub async fn set_new_api_key(&self, secret: String) -> Result<(), AppError> {
        self.0
            .insert(NEW_API_KEY, secret)
            .await
            .map_err(session_error)
    }

    /// The secret left by [`AuthSession::set_new_api_key`], removed as it is read.
    pub async fn take_new_api_key(&self) -> Result<Option<String>, AppError> {
        self.0
            .remove::<String>(NEW_API_KEY)
            .await
            .map_err(session_error)
    }

    /// The token that makes a visitor's (not signed-in) jobs theirs, if they have started one.
    pub async fn visitor_token(&self) -> Result<Option<String>, AppError> {
        self.0
            .get::<String>(VISITOR_TOKEN_KEY)
            .await
            .map_err(session_error)
    }

    /// The visitor's token, created on first use.
    pub async fn ensure_visitor_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.visitor_token().await? {
            return Ok(token);
        }
        let token = super::tokens::random_alphanumeric(32);
        self.0
            .insert(VISITOR_TOKEN_KEY, &token)
            .await
            .map_err(session_error)?;
        Ok(token)
    }

    /// Signs out: the record is deleted server-side and the cookie cleared.
    pub async fn log_out(&self) -> Result<(), AppError> {
        self.0.flush().await.map_err(session_error)
    }
}
