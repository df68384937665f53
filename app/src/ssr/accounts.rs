//! Accounts: creating users, checking passwords, changing them, deleting accounts, roles.
//!
//! Plain async functions over [`Db`]; the server functions in `crate::auth` and the operator
//! commands in `server` are thin adapters over these.

use std::net::IpAddr;

use super::{
    db::{now, Db},
    password::{self, PasswordHashString},
    security::{self, SecurityEvent, LOGIN_FAILURES, SIGNUPS},
    sessions::delete_user_sessions,
};
use crate::{
    error::AppError,
    on_pool,
    validate::{check_email, check_new_password, normalize_email},
};

/// A user as stored. Not a wire type: it holds the password hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Normalised email (unique).
    pub email: String,
    #[sqlx(try_from = "String")]
    password_hash: PasswordHashString,
    /// `user` or `admin`.
    pub role: String,
    /// `free`, `premium` or `pro`.
    pub plan: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<String> for PasswordHashString {
    fn from(stored: String) -> Self {
        PasswordHashString::from_stored(stored)
    }
}

/// The roles a user can have.
pub const ROLES: [&str; 2] = ["user", "admin"];

const USER_COLUMNS: &str = "id, email, password_hash, role, plan, created_at";

/// The user with this id.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<UserRow>, AppError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as::<_, UserRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)?)
}

/// The user with this (already normalised) email.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, AppError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
    Ok(on_pool!(db, pool => sqlx::query_as::<_, UserRow>(&sql)
        .bind(email)
        .fetch_optional(pool)
        .await)?)
}

/// Creates an account after validating the email and password; the error names the field.
pub async fn create_user(
    db: &Db,
    email: &str,
    password: String,
    role: &str,
) -> Result<UserRow, AppError> {
    let email = normalize_email(email);
    check_email(&email).map_err(|m| AppError::invalid("email", m))?;
    check_new_password(&password, &email).map_err(|m| AppError::invalid("password", m))?;
    if !ROLES.contains(&role) {
        return Err(AppError::BadRequest(format!(
            "{role:?} is not a role: user or admin"
        )));
    }
    let hash = password::hash(password).await?;
    let now = now();
    let sql = format!(
        "INSERT INTO users (email, password_hash, role, created_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"
    );
    let inserted = on_pool!(db, pool => sqlx::query_as::<_, UserRow>(&sql)
        .bind(&email)
        .bind(hash.as_stored())
        .bind(role)
        .bind(now)
        .fetch_one(pool)
        .await);
    match inserted {
        Ok(user) => Ok(user),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::invalid(
            "email",
            "An account with this email already exists. Log in, or reset your password.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Sign-up from the web: the per-IP throttle, then [`create_user`], then the event.
pub async fn sign_up(
    db: &Db,
    ip: IpAddr,
    email: &str,
    password: String,
) -> Result<UserRow, AppError> {
    if let Err(throttled) = security::check(db, SIGNUPS, ip, None).await {
        security::record(db, SecurityEvent::SignupThrottled, ip, None, None).await?;
        return Err(throttled);
    }
    let user = create_user(db, email, password, "user").await?;
    security::record(
        db,
        SecurityEvent::SignedUp,
        ip,
        Some(&user.email),
        Some(user.id),
    )
    .await?;
    Ok(user)
}

/// The message for a wrong email or password: the same for both, so the form does not tell
/// which emails have accounts.
pub const WRONG_CREDENTIALS: &str = "The email or password is incorrect.";

/// Checks a log-in. Five failures for one email from one address lock that pair (429 with the
/// wait); an unknown email costs the same hashing work as a known one.
pub async fn log_in(
    db: &Db,
    ip: IpAddr,
    email: &str,
    password: String,
) -> Result<UserRow, AppError> {
    let email = normalize_email(email);
    if email.is_empty() || password.is_empty() {
        return Err(AppError::invalid(
            "password",
            "Enter your email and password.",
        ));
    }
    if let Err(locked) = security::check(db, LOGIN_FAILURES, ip, Some(&email)).await {
        security::record(db, SecurityEvent::LoginLocked, ip, Some(&email), None).await?;
        return Err(locked);
    }
    let user = find_by_email(db, &email).await?;
    let matches =
        password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(user) if matches => {
            security::record(db, SecurityEvent::LoggedIn, ip, Some(&email), Some(user.id)).await?;
            Ok(user)
        }
        user => {
            let user_id = user.map(|u| u.id);
            security::record(db, SecurityEvent::LoginFailed, ip, Some(&email), user_id).await?;
            Err(AppError::invalid("password", WRONG_CREDENTIALS))
        }
    }
}

/// Sets a new password for `user` and ends all their sessions (the caller keeps its own by
/// cycling its id afterwards).
pub async fn set_password(db: &Db, user: &UserRow, new_password: String) -> Result<(), AppError> {
    check_new_password(&new_password, &user.email)
        .map_err(|m| AppError::invalid("new_password", m))?;
    let hash = password::hash(new_password).await?;
    on_pool!(db, pool => sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
    )
    .bind(hash.as_stored())
    .bind(now())
    .bind(user.id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    delete_user_sessions(db, user.id).await?;
    Ok(())
}

/// A signed-in user's password change: the current password first.
pub async fn change_password(
    db: &Db,
    ip: IpAddr,
    user: &UserRow,
    current: String,
    new_password: String,
) -> Result<(), AppError> {
    if !password::verify(current, Some(user.password_hash.clone())).await? {
        return Err(AppError::invalid(
            "current_password",
            "Your current password is not correct.",
        ));
    }
    set_password(db, user, new_password).await?;
    security::record(
        db,
        SecurityEvent::PasswordChanged,
        ip,
        Some(&user.email),
        Some(user.id),
    )
    .await
}

/// Deletes `user` after checking `password`. `before_delete` runs once the password is right
/// and before anything is deleted (billing uses it to end a live subscription); when it fails,
/// nothing is deleted.
pub async fn delete_account<F, Fut>(
    db: &Db,
    ip: IpAddr,
    user: &UserRow,
    password: String,
    before_delete: F,
) -> Result<(), AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    if !password::verify(password, Some(user.password_hash.clone())).await? {
        return Err(AppError::invalid(
            "password",
            "Your password is not correct.",
        ));
    }
    before_delete().await?;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_keys WHERE user_id = $1",
            "DELETE FROM password_resets WHERE user_id = $1",
            "DELETE FROM usage_counters WHERE user_id = $1",
            "DELETE FROM subscriptions WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(user.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    security::record(
        db,
        SecurityEvent::AccountDeleted,
        ip,
        Some(&user.email),
        Some(user.id),
    )
    .await
}

/// Changes a user's role (operators only, through `server admin set-role`).
pub async fn set_role(db: &Db, email: &str, role: &str) -> Result<UserRow, AppError> {
    if !ROLES.contains(&role) {
        return Err(AppError::BadRequest(format!(
            "{role:?} is not a role: user or admin"
        )));
    }
    let email = normalize_email(email);
    let updated = on_pool!(db, pool => sqlx::query("UPDATE users SET role = $1 WHERE email = $2")
        .bind(role)
        .bind(&email)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Err(AppError::NotFound);
    }
    find_by_email(db, &email).await?.ok_or(AppError::NotFound)
}
