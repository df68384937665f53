//! Wire types of compression jobs, shared by the compress page, the API and the workers.

use serde::{Deserialize, Serialize};

/// How hard to compress (the engine's modes a person chooses from).
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
    /// The smallest that keeps the quality.
    Auto,
}

/// A job's options, stored with the job as JSON. Unknown fields are refused, missing ones take
/// their defaults.
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
    pub background: Option<[u8; 3]>,
}
