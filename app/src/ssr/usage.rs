//! Monthly usage: images compressed per user and calendar month (UTC), counted atomically by the
//! database, and the allowance check made before a batch starts.

use time::{Date, Month, OffsetDateTime};

use super::{db::Db, plans::Plan};
use crate::{error::AppError, on_pool};

/// `2026-11`: the usage month a Unix time falls in (UTC).
pub fn month_of(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

/// The Unix time at which the month containing `unix` ends and the allowance resets
/// (00:00 UTC on the 1st of the next month).
pub fn resets_at(unix: i64) -> i64 {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (year, month) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        other => (t.year(), other.next()),
    };
    Date::from_calendar_date(year, month, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(unix)
}

/// The one statement that counts usage: `$1` user, `$2` month (`month_of`), `$3` images. Atomic
/// on both backends; also run inside the queue's transaction when an item finishes.
pub const RECORD_SQL: &str =
    "INSERT INTO usage_counters (user_id, month, images) VALUES ($1, $2, $3) \
     ON CONFLICT (user_id, month) DO UPDATE SET images = usage_counters.images + excluded.images";

/// Counts `images` compressed images for `user_id` in the month of `finished_at`, in one atomic
/// statement (concurrent calls all land; none is lost or doubled).
pub async fn record(db: &Db, user_id: i64, images: i64, finished_at: i64) -> Result<(), AppError> {
    let month = month_of(finished_at);
    on_pool!(db, pool => sqlx::query(RECORD_SQL)
    .bind(user_id)
    .bind(&month)
    .bind(images)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Images counted for `user_id` in the month containing `at`.
pub async fn used(db: &Db, user_id: i64, at: i64) -> Result<i64, AppError> {
    let month = month_of(at);
    Ok(on_pool!(db, pool => sqlx::query_scalar(USED_SQL)
    .bind(user_id)
    .bind(&month)
    .fetch_one(pool)
    .await)?)
}

/// Images `$1` compressed in month `$2` (`month_of`), 0 before the first; also run inside the
/// transaction that creates a job.
pub const USED_SQL: &str = "SELECT CAST(COALESCE(MAX(images), 0) AS BIGINT) FROM usage_counters \
     WHERE user_id = $1 AND month = $2";

/// A user's usage this month against their plan's allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Images compressed this month.
    pub used: i64,
    /// The plan's monthly allowance.
    pub allowance: i64,
    /// When the count goes back to zero (Unix seconds).
    pub resets_at: i64,
}

impl Usage {
    /// Images that may still be compressed this month.
    pub fn remaining(&self) -> i64 {
        (self.allowance - self.used).max(0)
    }
}

/// `user_id`'s usage this month under `plan`.
pub async fn usage(db: &Db, user_id: i64, plan: &Plan, now: i64) -> Result<Usage, AppError> {
    Ok(Usage {
        used: used(db, user_id, now).await?,
        allowance: plan.monthly_allowance,
        resets_at: resets_at(now),
    })
}

/// Refuses a batch of `images` that would take `user_id` past the plan's monthly allowance, with
/// a message that says how many remain and when the allowance resets.
pub async fn check_batch(
    db: &Db,
    user_id: i64,
    plan: &Plan,
    images: i64,
    now: i64,
) -> Result<Usage, AppError> {
    let usage = usage(db, user_id, plan, now).await?;
    let remaining = usage.remaining();
    if images <= remaining {
        return Ok(usage);
    }
    let reset = format_reset(usage.resets_at, now);
    let message = if remaining == 0 {
        format!(
            "You have used all {} images of your {} plan this month. The allowance resets {reset}; \
             upgrade for more.",
            usage.allowance, plan.name
        )
    } else {
        format!(
            "This batch has {images} images but your {} plan has {remaining} of {} left this month. \
             Send at most {remaining}, or upgrade; the allowance resets {reset}.",
            plan.name, usage.allowance
        )
    };
    Err(AppError::TooManyRequests {
        message,
        retry_after_secs: u64::try_from(usage.resets_at - now).unwrap_or(0),
    })
}

/// "on 1 Dec 2026 (in 5 days)".
pub fn format_reset(resets_at: i64, now: i64) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:short] [year]");
    let date = OffsetDateTime::from_unix_timestamp(resets_at)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default();
    format!("on {date} UTC ({})", in_days(resets_at - now))
}

/// "in 5 days", "tomorrow", "within a day".
pub fn in_days(secs: i64) -> String {
    let days = (secs + 86_399) / 86_400;
    match days {
        ..=0 => "now".into(),
        1 if secs < 86_400 => "within a day".into(),
        1 => "tomorrow".into(),
        n => format!("in {n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_resets_follow_the_utc_calendar() {
        // 2026-11-30 23:59:59 UTC and one second later.
        let last = 1_796_083_199;
        assert_eq!(month_of(last), "2026-11");
        assert_eq!(month_of(last + 1), "2026-12");
        assert_eq!(resets_at(last), last + 1);
        // December rolls into January of the next year.
        let dec = 1_796_083_200 + 86_400 * 10;
        assert_eq!(month_of(dec), "2026-12");
        assert_eq!(month_of(resets_at(dec)), "2027-01");
    }

    #[test]
    fn reset_wording() {
        assert_eq!(in_days(3_600), "within a day");
        assert_eq!(in_days(86_400 * 5), "in 5 days");
        assert_eq!(in_days(86_400 * 4 + 10), "in 5 days");
    }
}
