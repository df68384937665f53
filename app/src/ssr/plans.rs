//! Plans and the limits they set, as stored in the `plans` table (seeded by migration, edited
//! by an operator with `server admin plans set`).

use super::db::Db;
use crate::{error::AppError, on_pool};

/// The plan every account starts on, and falls back to.
pub const FREE: &str = "free";

/// One plan and every limit it sets.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Plan {
    /// `free`, `premium` or `pro`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Order on the pricing page (cheapest first).
    pub position: i64,
    /// Monthly price shown on the pricing page, in US cents (Stripe's price is what is charged).
    pub monthly_price_cents: i64,
    /// Images that may be compressed per calendar month (UTC).
    pub monthly_allowance: i64,
    /// Largest accepted file, in bytes.
    pub max_file_bytes: i64,
    /// Most files in one drop or API batch.
    pub max_files_per_batch: i64,
    /// Whether bulk jobs may be downloaded as one ZIP.
    pub bulk_zip: bool,
    /// How long results are kept, in seconds.
    pub retention_secs: i64,
    /// Bytes of stored sources and results the account may hold at once.
    pub storage_quota_bytes: i64,
    /// API requests per minute per key.
    pub api_requests_per_minute: i64,
    /// Jobs that may run at once.
    pub concurrent_jobs: i64,
    /// Higher is served first by the workers.
    pub queue_priority: i64,
}

const COLUMNS: &str =
    "id, name, position, monthly_price_cents, monthly_allowance, max_file_bytes, \
     max_files_per_batch, bulk_zip, retention_secs, storage_quota_bytes, api_requests_per_minute, \
     concurrent_jobs, queue_priority";

/// The fields an operator may change, with what each holds.
pub const EDITABLE: [(&str, &str); 12] = [
    ("name", "display name"),
    (
        "monthly_price_cents",
        "price shown on the pricing page, US cents",
    ),
    ("monthly_allowance", "images per calendar month"),
    ("max_file_bytes", "largest file, bytes"),
    ("max_files_per_batch", "files per drop or batch"),
    ("bulk_zip", "true or false"),
    ("retention_secs", "seconds results are kept"),
    ("storage_quota_bytes", "bytes stored at once"),
    ("api_requests_per_minute", "API requests per minute"),
    ("concurrent_jobs", "jobs at once"),
    ("queue_priority", "higher is served first"),
    ("position", "order on the pricing page"),
];

/// Every plan, cheapest first.
pub async fn all(db: &Db) -> Result<Vec<Plan>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM plans ORDER BY position, id");
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Plan>(&sql).fetch_all(pool).await)?)
}

/// The plan with this id.
pub async fn get(db: &Db, id: &str) -> Result<Option<Plan>, AppError> {
    let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Plan>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)?)
}

/// The plan with this id, or the Free plan when the id names none (a plan removed by hand).
pub async fn get_or_free(db: &Db, id: &str) -> Result<Plan, AppError> {
    if let Some(plan) = get(db, id).await? {
        return Ok(plan);
    }
    tracing::warn!(plan = id, "unknown plan id; using the Free plan's limits");
    get(db, FREE).await?.ok_or_else(|| {
        tracing::error!("the plans table has no free plan");
        AppError::Internal
    })
}

/// Changes one field of one plan; the value is checked against the field's type.
pub async fn set_field(db: &Db, id: &str, field: &str, value: &str) -> Result<Plan, AppError> {
    if !EDITABLE.iter().any(|(name, _)| *name == field) {
        let names: Vec<&str> = EDITABLE.iter().map(|(name, _)| *name).collect();
        return Err(AppError::BadRequest(format!(
            "{field:?} is not a plan field; one of: {}",
            names.join(", ")
        )));
    }
    if get(db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    // `field` is one of the names above, never caller text, so it can be put into the SQL.
    let sql = format!("UPDATE plans SET {field} = $1 WHERE id = $2");
    match field {
        "name" => {
            let name = value.trim();
            if name.is_empty() || name.chars().count() > 40 {
                return Err(AppError::BadRequest(
                    "a plan name has 1 to 40 characters".into(),
                ));
            }
            on_pool!(db, pool => sqlx::query(&sql).bind(name).bind(id).execute(pool).await.map(|_| ()))?;
        }
        "bulk_zip" => {
            let flag = match value {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => {
                    return Err(AppError::BadRequest(format!(
                        "bulk_zip takes true or false, not {value:?}"
                    )))
                }
            };
            on_pool!(db, pool => sqlx::query(&sql).bind(flag).bind(id).execute(pool).await.map(|_| ()))?;
        }
        _ => {
            let number: i64 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    AppError::BadRequest(format!("{field} takes a whole number ≥ 0, not {value:?}"))
                })?;
            on_pool!(db, pool => sqlx::query(&sql).bind(number).bind(id).execute(pool).await.map(|_| ()))?;
        }
    }
    get(db, id).await?.ok_or(AppError::NotFound)
}

pub use crate::compress::format_bytes;

/// "1 hour", "24 hours", "7 days": how long results are kept.
pub fn format_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs >= 2 * 86_400 && secs % 86_400 == 0 {
        plural(secs / 86_400, "day")
    } else if secs >= 3_600 && secs % 3_600 == 0 {
        plural(secs / 3_600, "hour")
    } else if secs >= 60 && secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(format_bytes(5_000_000), "5 MB");
        assert_eq!(format_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(format_bytes(100_000_000_000), "100 GB");
        assert_eq!(format_bytes(512), "512 bytes");
        assert_eq!(format_duration(3_600), "1 hour");
        assert_eq!(format_duration(86_400), "24 hours");
        assert_eq!(format_duration(604_800), "7 days");
        assert_eq!(format_duration(90), "90 seconds");
    }
}
