//! Wire types of compression jobs, shared by the compress page, the API and the workers.

use serde::{Deserialize, Serialize};

/// How hard to compress (the engine's modes a person chooses from).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressMode {
    /// Every pixel kept.
    Lossless,
    /// Visually lossless (the default).
    #[default]
    Balanced,
    /// Smaller, still high quality.
    Small,
}

/// Which format to write.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputChoice {
    /// The input's format.
    #[default]
    Same,
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
    /// AVIF (lossy modes only).
    Avif,
    /// The smallest that keeps the quality.
    Auto,
}

/// How an API resize fits the box (Tinify's methods).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMethod {
    /// Scale to the one side given.
    Scale,
    /// Fit inside the box.
    Fit,
    /// Cover the box, cropping around the centre.
    Cover,
    /// A thumbnail of exactly the box.
    Thumb,
}

/// An API resize: a method and the box (one side for `scale`, both for the others).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeSpec {
    /// How to fit.
    pub method: ResizeMethod,
    /// Box width.
    pub width: Option<u32>,
    /// Box height.
    pub height: Option<u32>,
}

/// A job's options, stored with the job as JSON. Unknown fields are refused, missing ones take
/// their defaults.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobOptions {
    /// How hard to compress.
    pub mode: CompressMode,
    /// Which format to write.
    pub format: OutputChoice,
    /// Fit inside this width (never enlarging), when set.
    pub max_width: Option<u32>,
    /// Fit inside this height (never enlarging), when set.
    pub max_height: Option<u32>,
    /// Keep copyright and creation date (the colour profile is always kept).
    pub keep_metadata: bool,
    /// Background to flatten transparency onto when the format has none, `[r, g, b]`.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<u8>>))]
    pub background: Option<[u8; 3]>,
    /// An API resize; when set it replaces `max_width`/`max_height`.
    pub resize: Option<ResizeSpec>,
    /// Keep copyright and artist (the API's `preserve`; `keep_metadata` keeps it too).
    pub keep_copyright: bool,
    /// Keep the creation dates (the API's `preserve`; `keep_metadata` keeps them too).
    pub keep_creation: bool,
    /// Keep the GPS location (only ever when asked for by name).
    pub keep_location: bool,
}

/// Where a file of a job stands.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// Waiting for a worker (or for a retry).
    Queued,
    /// Being compressed.
    Running,
    /// Finished: a result is ready.
    Done,
    /// Could not be compressed; `error` says why.
    Failed,
}

/// One file of a job, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// The item's id (unguessable).
    pub id: String,
    /// The file's name with its folder path, as it was dropped.
    pub name: String,
    /// Where it stands.
    pub status: ItemStatus,
    /// The uploaded size.
    pub input_bytes: i64,
    /// The result's size, when done.
    pub output_bytes: Option<i64>,
    /// The result's format (`png`, `jpeg`, `webp`), when done.
    pub format: Option<String>,
    /// The result's width, when done.
    pub width: Option<i64>,
    /// The result's height, when done.
    pub height: Option<i64>,
    /// The measured quality (SSIMULACRA2; 100 = identical), when one was measured.
    pub score: Option<f64>,
    /// The original came back unchanged (nothing smaller kept the quality).
    pub kept_original: bool,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl ItemView {
    /// The saving in percent of the input (0 when the original was kept), when done.
    pub fn saving_percent(&self) -> Option<f64> {
        let output = self.output_bytes?;
        (self.input_bytes > 0).then(|| 100.0 * (1.0 - output as f64 / self.input_bytes as f64))
    }

    /// Whether nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(self.status, ItemStatus::Done | ItemStatus::Failed)
    }
}

/// A job and its files, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The job's id (unguessable).
    pub id: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When its files are deleted (Unix seconds).
    pub expires_at: i64,
    /// Its files are gone (retention passed or deleted); sizes remain for the history.
    pub files_deleted: bool,
    /// The owner's plan lets them download everything as one ZIP.
    pub bulk_zip: bool,
    /// "in 59 minutes", "in 7 days": when the files are deleted, as of this answer.
    pub expires_text: String,
    /// The options it was compressed with.
    pub options: JobOptions,
    /// Its files, in the order they were dropped.
    pub items: Vec<ItemView>,
}

impl JobView {
    /// Every file is done or failed.
    pub fn is_finished(&self) -> bool {
        self.items.iter().all(ItemView::is_finished)
    }

    /// Total input and output bytes of the files that are done.
    pub fn done_totals(&self) -> (i64, i64) {
        self.items
            .iter()
            .filter_map(|i| Some((i.input_bytes, i.output_bytes?)))
            .fold((0, 0), |(a, b), (i, o)| (a + i, b + o))
    }

    /// The URL of an item's result (`download`: as an attachment) or original.
    pub fn file_url(&self, item: &ItemView, which: FileKind) -> String {
        file_url(&self.id, &item.id, which)
    }
}

/// Which file of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The uploaded original, shown inline (compare slider).
    Original,
    /// The result, shown inline.
    Result,
    /// The result, as a download under the original's name.
    Download,
}

/// The URL of one file of an item.
pub fn file_url(job: &str, item: &str, which: FileKind) -> String {
    match which {
        FileKind::Original => format!("/api/jobs/{job}/items/{item}/original"),
        FileKind::Result => format!("/api/jobs/{job}/items/{item}/result"),
        FileKind::Download => format!("/api/jobs/{job}/items/{item}/result?download=1"),
    }
}

/// The URL of a job's ZIP of results.
pub fn archive_url(job: &str) -> String {
    format!("/api/jobs/{job}/archive.zip")
}

/// What `POST /api/uploads` answers: the job created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadAnswer {
    /// The job, its items queued.
    pub job: JobView,
}

/// One job in the account's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job's id.
    pub id: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When its files are deleted (Unix seconds).
    pub expires_at: i64,
    /// Files in it.
    pub files: i64,
    /// Files done.
    pub done: i64,
    /// Files failed.
    pub failed: i64,
    /// Input bytes of the files done.
    pub input_bytes: i64,
    /// Output bytes of the files done.
    pub output_bytes: i64,
    /// Its files are gone.
    pub files_deleted: bool,
    /// "26 Nov 2026, 14:03 UTC".
    pub created_text: String,
    /// "in 59 minutes", or "deleted".
    pub expires_text: String,
}

impl JobSummary {
    /// "Finished", "2 failed", "Compressing", "Files deleted".
    pub fn status_text(&self) -> String {
        if self.done + self.failed < self.files {
            "Compressing".into()
        } else if self.failed > 0 {
            format!("{} failed", self.failed)
        } else {
            "Finished".into()
        }
    }

    /// The saving in percent over the files done.
    pub fn saving_percent(&self) -> Option<f64> {
        (self.input_bytes > 0)
            .then(|| 100.0 * (1.0 - self.output_bytes as f64 / self.input_bytes as f64))
    }
}

/// One page of the account's jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The jobs on this page.
    pub jobs: Vec<JobSummary>,
    /// This page's number (1-based).
    pub page: i64,
    /// How many pages there are (at least 1).
    pub pages: i64,
}

/// What the compress page may send, for the person looking at it (the server checks again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressLimits {
    /// Not signed in: the visitor's trial limits apply.
    pub visitor: bool,
    /// The plan's name ("Free"), or "visitor".
    pub plan_name: String,
    /// Largest file.
    pub max_file_bytes: i64,
    /// Most files per drop.
    pub max_files: i64,
    /// Images left this month (today for visitors).
    pub images_left: i64,
    /// Whether a job can be downloaded as one ZIP.
    pub bulk_zip: bool,
}

/// "in 59 minutes", "in 5 hours", "in 6 days"; "now" when `secs` has passed.
pub fn format_remaining(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("in {n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        ..=0 => "now".into(),
        1..=5_399 => plural((secs + 59) / 60, "minute"),
        5_400..=172_799 => plural((secs + 1_799) / 3_600, "hour"),
        _ => plural((secs + 43_199) / 86_400, "day"),
    }
}

/// Jobs per history page.
pub const HISTORY_PAGE_SIZE: i64 = 20;

/// "5 MB", "25 MB", "1.5 GB": sizes as a pricing page shows them (decimal units).
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let value = bytes as f64;
    for (unit, size) in UNITS {
        if value >= size {
            let scaled = value / size;
            return if (scaled - scaled.round()).abs() < 0.05 {
                format!("{} {unit}", scaled.round())
            } else {
                format!("{scaled:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(input: i64, output: Option<i64>, status: ItemStatus) -> ItemView {
        ItemView {
            id: "i".into(),
            name: "a.png".into(),
            status,
            input_bytes: input,
            output_bytes: output,
            format: None,
            width: None,
            height: None,
            score: None,
            kept_original: false,
            error: None,
        }
    }

    #[test]
    fn savings_and_totals_count_only_finished_files() {
        let done = item(1000, Some(250), ItemStatus::Done);
        assert_eq!(done.saving_percent(), Some(75.0));
        let job = JobView {
            id: "j".into(),
            created_at: 0,
            expires_at: 0,
            files_deleted: false,
            bulk_zip: true,
            expires_text: String::new(),
            options: JobOptions::default(),
            items: vec![done, item(500, None, ItemStatus::Running)],
        };
        assert_eq!(job.done_totals(), (1000, 250));
        assert!(!job.is_finished());
    }

    #[test]
    fn time_left_reads_naturally() {
        assert_eq!(format_remaining(-5), "now");
        assert_eq!(format_remaining(3_540), "in 59 minutes");
        assert_eq!(format_remaining(60), "in 1 minute");
        assert_eq!(format_remaining(86_400), "in 24 hours");
        assert_eq!(format_remaining(7 * 86_400), "in 7 days");
    }
}
