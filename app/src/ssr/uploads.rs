//! The rules an upload must satisfy before any work starts: who is uploading, how many files and
//! how large, the monthly (or, for visitors, daily) allowance, concurrent jobs and the storage
//! quota. The streaming itself is in the server's `/api/uploads` route; it asks [`UploadPolicy`]
//! at each file, so a batch is refused as early as the first file that breaks a rule.

use super::{
    accounts::UserRow,
    billing,
    job_files::{self, Owner},
    plans::Plan,
    state::AppState,
    usage,
};
use crate::{compress::format_bytes, error::AppError};

/// Images a visitor who is not signed in may compress per day, per address.
pub const VISITOR_DAILY_IMAGES: i64 = 10;
/// The largest file a visitor may upload.
pub const VISITOR_MAX_FILE_BYTES: i64 = 5_000_000;
/// How long a visitor's results are kept.
pub const VISITOR_RETENTION_SECS: i64 = 3600;
/// Longest accepted file name, folder path included (characters).
pub const MAX_NAME_CHARS: usize = 512;

/// What one upload may contain, worked out before its first byte is read.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// Whose job it will be.
    pub owner: Owner,
    /// The signed-in account, if any.
    pub user_id: Option<i64>,
    /// The plan's display name ("Free"), or "visitor".
    pub plan_name: String,
    /// Largest file.
    pub max_file_bytes: i64,
    /// Most files in the batch.
    pub max_files: i64,
    /// Images that may still be compressed (this month, or today for visitors).
    pub images_left: i64,
    /// When that allowance comes back (Unix seconds).
    pub allowance_resets_at: i64,
    /// Bytes that may still be stored (originals count now, results later).
    pub storage_left: i64,
    /// The queue priority of the job.
    pub priority: i64,
    /// When the job's files are deleted.
    pub expires_at: i64,
    /// Whether the owner may download the job as one ZIP.
    pub bulk_zip: bool,
    /// Jobs the plan runs at once.
    concurrent_jobs: i64,
    monthly_allowance: i64,
    visitor: bool,
}

impl UploadPolicy {
    /// What a signed-in user may send now on their current plan, refusing nothing (the compress
    /// page shows it; [`UploadPolicy::for_user`] enforces it).
    pub async fn of_user(state: &AppState, user: &UserRow, now: i64) -> Result<Self, AppError> {
        let plan: Plan = billing::plan_state(state, user).await?.plan;
        let used = usage::used(&state.db, user.id, now).await?;
        let pending = job_files::pending_items(&state.db, user.id).await?;
        let stored = job_files::stored_bytes(&state.db, user.id).await?;
        Ok(Self {
            owner: Owner::User(user.id),
            user_id: Some(user.id),
            plan_name: plan.name.clone(),
            max_file_bytes: plan.max_file_bytes,
            max_files: plan.max_files_per_batch,
            images_left: (plan.monthly_allowance - used - pending).max(0),
            allowance_resets_at: usage::resets_at(now),
            storage_left: (plan.storage_quota_bytes - stored).max(0),
            priority: plan.queue_priority,
            expires_at: now + plan.retention_secs,
            bulk_zip: plan.bulk_zip,
            concurrent_jobs: plan.concurrent_jobs,
            monthly_allowance: plan.monthly_allowance,
            visitor: false,
        })
    }

    /// The policy for a signed-in user on their current plan. Refuses at once when the plan's
    /// concurrent jobs are all busy or nothing of the allowance is left.
    pub async fn for_user(state: &AppState, user: &UserRow, now: i64) -> Result<Self, AppError> {
        let policy = Self::of_user(state, user, now).await?;
        let active = job_files::active_jobs(&state.db, user.id).await?;
        if active >= policy.concurrent_jobs {
            return Err(policy.busy_error(active));
        }
        policy.unless_spent(now)
    }

    fn busy_error(&self, active: i64) -> AppError {
        AppError::TooManyRequests {
            message: format!(
                "You have {active} job{} still compressing; the {} plan runs {} at a time. \
                 Wait for one to finish, then drop these files again.",
                if active == 1 { "" } else { "s" },
                self.plan_name,
                self.concurrent_jobs
            ),
            retry_after_secs: 10,
        }
    }

    /// The limits a signed-in user's job is checked against again as it is created (none for a
    /// visitor, whose daily count is by address).
    pub fn admission(&self) -> Option<super::jobs::Admission> {
        self.user_id.map(|user_id| super::jobs::Admission {
            user_id,
            concurrent_jobs: self.concurrent_jobs,
            monthly_allowance: self.monthly_allowance,
        })
    }

    /// The error for a job of `count` files that [`super::jobs::create_job_with`] found over a
    /// limit (another request of the same user took what was left).
    pub fn over_limit_error(&self, over: super::jobs::OverLimit, count: i64, now: i64) -> AppError {
        match over {
            super::jobs::OverLimit::ConcurrentJobs => self.busy_error(self.concurrent_jobs),
            super::jobs::OverLimit::Allowance => Self {
                images_left: 0,
                ..self.clone()
            }
            .allowance_error(count, now),
        }
    }

    /// Creates `job` with `items`, the owner's limits checked again inside the creating
    /// transaction: the limit's error when another request of the owner took what was left.
    pub async fn create_job(
        &self,
        db: &super::db::Db,
        job: &super::jobs::NewJob,
        items: &[super::jobs::NewItem],
        now: i64,
    ) -> Result<(), AppError> {
        let extras = super::jobs::JobExtras {
            admission: self.admission(),
            ..Default::default()
        };
        match super::jobs::create_job_with(db, job, items, &extras, now).await? {
            super::jobs::Created::New => Ok(()),
            super::jobs::Created::OverLimit(over) => {
                Err(self.over_limit_error(over, items.len() as i64, now))
            }
            super::jobs::Created::Existing { .. } => Err(AppError::Internal),
        }
    }

    /// What a visitor who is not signed in, known by `token`, may send from address `ip`,
    /// refusing nothing.
    pub async fn of_visitor(
        state: &AppState,
        token: String,
        ip: &str,
        now: i64,
    ) -> Result<Self, AppError> {
        let today = now - now.rem_euclid(86_400);
        let used = job_files::visitor_images_since(&state.db, ip, today).await?;
        Ok(Self {
            owner: Owner::Visitor(token),
            user_id: None,
            plan_name: "visitor".into(),
            max_file_bytes: VISITOR_MAX_FILE_BYTES,
            max_files: VISITOR_DAILY_IMAGES,
            images_left: (VISITOR_DAILY_IMAGES - used).max(0),
            allowance_resets_at: today + 86_400,
            storage_left: VISITOR_DAILY_IMAGES * VISITOR_MAX_FILE_BYTES * 2,
            priority: -1,
            expires_at: now + VISITOR_RETENTION_SECS,
            bulk_zip: false,
            // Visitors are bounded by their daily images, not by jobs at once.
            concurrent_jobs: i64::MAX,
            monthly_allowance: VISITOR_DAILY_IMAGES,
            visitor: true,
        })
    }

    /// The policy for a visitor; refuses at once when today's images are spent.
    pub async fn for_visitor(
        state: &AppState,
        token: String,
        ip: &str,
        now: i64,
    ) -> Result<Self, AppError> {
        Self::of_visitor(state, token, ip, now)
            .await?
            .unless_spent(now)
    }

    fn unless_spent(self, now: i64) -> Result<Self, AppError> {
        if self.images_left == 0 {
            return Err(self.allowance_error(1, now));
        }
        Ok(self)
    }

    /// What the compress page is told about this policy.
    pub fn limits(&self) -> crate::compress::CompressLimits {
        crate::compress::CompressLimits {
            visitor: self.visitor,
            plan_name: self.plan_name.clone(),
            max_file_bytes: self.max_file_bytes,
            max_files: self.max_files,
            images_left: self.images_left,
            bulk_zip: self.bulk_zip,
        }
    }

    /// Checks file number `count` (1-based) of the batch, named `name`, against the file count
    /// and the allowance.
    pub fn admit_file(&self, count: i64, name: &str, now: i64) -> Result<(), AppError> {
        if count > self.max_files {
            return Err(AppError::PayloadTooLarge(if self.visitor {
                format!(
                    "Without an account you can compress {} images at a time; \u{201c}{name}\u{201d} \
                     is one too many. Sign up for free to send more.",
                    self.max_files
                )
            } else {
                format!(
                    "This batch has more than {} files, the most the {} plan takes in one drop \
                     (\u{201c}{name}\u{201d} is one too many). Send the rest in another drop, or upgrade.",
                    self.max_files, self.plan_name
                )
            }));
        }
        if count > self.images_left {
            return Err(self.allowance_error(count, now));
        }
        Ok(())
    }

    /// Checks the size `bytes` read so far of the file `name`.
    pub fn admit_bytes(&self, name: &str, bytes: i64, batch_bytes: i64) -> Result<(), AppError> {
        if bytes > self.max_file_bytes {
            return Err(AppError::PayloadTooLarge(if self.visitor {
                format!(
                    "\u{201c}{name}\u{201d} is larger than {}, the largest file you can compress \
                     without an account. Sign up for free for larger files.",
                    format_bytes(self.max_file_bytes)
                )
            } else {
                format!(
                    "\u{201c}{name}\u{201d} is larger than {}, the largest file the {} plan accepts. \
                     Upgrade for larger files.",
                    format_bytes(self.max_file_bytes),
                    self.plan_name
                )
            }));
        }
        if batch_bytes > self.storage_left {
            return Err(AppError::PayloadTooLarge(format!(
                "Your stored files would go over the {} plan's storage. Delete older jobs from your \
                 history (or wait for them to expire), or upgrade.",
                self.plan_name
            )));
        }
        Ok(())
    }

    fn allowance_error(&self, count: i64, now: i64) -> AppError {
        let left = self.images_left;
        let reset = usage::format_reset(self.allowance_resets_at, now);
        let message = match (self.visitor, left) {
            (true, 0) => format!(
                "You have compressed {VISITOR_DAILY_IMAGES} images today without an account, the \
                 most there is. Sign up for free to compress 500 a month."
            ),
            (true, _) => format!(
                "Without an account you have {} of {VISITOR_DAILY_IMAGES} left today and this batch \
                 has more. Send at most {left}, or sign up for free.",
                images(left)
            ),
            (false, 0) => format!(
                "You have used this month's images of the {} plan (files still compressing count). \
                 The allowance resets {reset}; upgrade for more.",
                self.plan_name
            ),
            (false, _) => format!(
                "The {} plan has {} left this month and this batch has at least {count}. \
                 Send at most {left}, or upgrade; the allowance resets {reset}.",
                self.plan_name,
                images(left)
            ),
        };
        AppError::TooManyRequests {
            message,
            retry_after_secs: u64::try_from(self.allowance_resets_at - now).unwrap_or(0),
        }
    }
}

/// "1 image", "3 images".
fn images(n: i64) -> String {
    format!("{n} image{}", if n == 1 { "" } else { "s" })
}

/// A dropped file's name made safe to keep and show: folders kept, separators normalised to `/`,
/// no empty, `.` or `..` segments, no control characters, no drive letters; `None` when nothing
/// of it is left or it is too long.
pub fn clean_name(raw: &str) -> Option<String> {
    let segments: Vec<String> = raw
        .split(['/', '\\'])
        .map(|segment| {
            segment
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .trim_end_matches('.')
                .to_string()
        })
        .filter(|segment| !segment.is_empty() && segment != "." && segment != "..")
        .map(|segment| segment.replace(':', "_"))
        .collect();
    let name = segments.join("/");
    (!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS).then_some(name)
}

/// Queues one file already in memory (the API's `/shrink`) as a job of its own, after the same
/// checks as an upload: allowance, size, an image by its bytes. Returns the job and item ids.
pub async fn queue_single(
    state: &super::state::AppState,
    policy: &UploadPolicy,
    name: &str,
    bytes: Vec<u8>,
    options: &crate::compress::JobOptions,
    is_image: bool,
    now: i64,
) -> Result<(String, String), AppError> {
    policy.admit_file(1, name, now)?;
    policy.admit_bytes(name, bytes.len() as i64, bytes.len() as i64)?;
    if !is_image {
        return Err(AppError::UnsupportedMediaType(
            "The file is not an image Slimage can read (PNG, JPEG, WebP, GIF, BMP or TIFF, \
             recognised by its contents)."
                .into(),
        ));
    }
    let job_id = super::jobs::new_id();
    let item_id = super::jobs::new_id();
    let key = super::jobs::input_key(&policy.owner.key_prefix(), &job_id, &item_id);
    let input_bytes = bytes.len() as i64;
    state.storage.put(&key, bytes).await?;
    let job = super::jobs::NewJob {
        id: job_id.clone(),
        user_id: policy.user_id,
        visitor_ip: None,
        visitor_token: None,
        source: "api",
        options: serde_json::to_string(options).map_err(|_| AppError::Internal)?,
        priority: policy.priority,
        expires_at: policy.expires_at,
    };
    let item = super::jobs::NewItem {
        id: item_id.clone(),
        name: name.to_string(),
        input_key: key.clone(),
        input_bytes,
    };
    if let Err(error) = policy.create_job(&state.db, &job, &[item], now).await {
        let _ = state.storage.delete(&key).await;
        return Err(error);
    }
    Ok((job_id, item_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_folders_and_lose_anything_that_escapes() {
        assert_eq!(
            clean_name("photos/2024/a.png").as_deref(),
            Some("photos/2024/a.png")
        );
        assert_eq!(
            clean_name("../../etc/passwd").as_deref(),
            Some("etc/passwd")
        );
        assert_eq!(
            clean_name("C:\\Users\\ada\\b.jpg").as_deref(),
            Some("C_/Users/ada/b.jpg")
        );
        assert_eq!(
            clean_name("/abs//./x\u{0}y.png").as_deref(),
            Some("abs/xy.png")
        );
        assert_eq!(clean_name("...").as_deref(), None);
        assert_eq!(clean_name("").as_deref(), None);
        assert_eq!(clean_name(&"a".repeat(MAX_NAME_CHARS + 1)), None);
    }
}
