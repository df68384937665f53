//! What a caller can ask of the engine.

/// How hard to compress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Only lossless optimisation: every pixel stays as it was.
    Lossless,
    /// The default: the smallest output whose measured score stays at or above
    /// [`BALANCED_TARGET`] (visually lossless).
    Balanced,
    /// Smaller files at a lower, still high, quality: score at least [`SMALL_TARGET`].
    Small,
    /// The smallest output whose score is at least this SSIMULACRA2 value (0–100).
    Target(f64),
    /// A fixed encoder quality (1–100), with no search.
    Quality(u8),
}

/// The SSIMULACRA2 score [`Mode::Balanced`] keeps every output at or above.
pub const BALANCED_TARGET: f64 = 75.0;
/// The SSIMULACRA2 score [`Mode::Small`] keeps every output at or above.
pub const SMALL_TARGET: f64 = 65.0;

impl Mode {
    /// The score the search must reach, when this mode searches.
    pub fn target_score(self) -> Option<f64> {
        match self {
            Self::Balanced => Some(BALANCED_TARGET),
            Self::Small => Some(SMALL_TARGET),
            Self::Target(score) => Some(score.clamp(0.0, 100.0)),
            Self::Lossless | Self::Quality(_) => None,
        }
    }
}

/// The format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The input's format; GIF, BMP and TIFF inputs become PNG.
    Same,
    /// PNG.
    Png,
    /// JPEG (an image with transparency needs a background colour).
    Jpeg,
    /// WebP (lossy, or lossless in lossless mode; transparency kept).
    Webp,
    /// AVIF (lossy only; transparency kept; needs the `avif` feature, on by default).
    Avif,
    /// The smallest of PNG, JPEG, WebP and AVIF that meets the mode's target (JPEG only for
    /// opaque images or with a background colour; AVIF only in lossy modes, for images without a
    /// colour profile).
    Auto,
}

/// Limits that protect the process from hostile or absurd inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_input_bytes: usize,
    /// Largest image accepted, in pixels (width × height).
    pub max_pixels: u64,
    /// Largest width or height accepted, in pixels.
    pub max_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 200 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_dimension: 40_000,
        }
    }
}

/// Everything [`crate::compress`] needs to know besides the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressOptions {
    /// How hard to compress.
    pub mode: Mode,
    /// Which format to write.
    pub format: OutputFormat,
    /// Colour to flatten transparency onto when the output format has none (JPEG).
    pub background: Option<[u8; 3]>,
    /// Resize before compressing (never enlarges).
    pub resize: Option<crate::Resize>,
    /// Metadata to carry over (nothing by default; the colour profile is handled by `to_srgb`).
    pub keep: crate::Keep,
    /// Convert an image with an RGB colour profile to sRGB and drop the profile, instead of
    /// keeping the profile (the default). Other profiles are always kept.
    pub to_srgb: bool,
    /// Input limits.
    pub limits: Limits,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Balanced,
            format: OutputFormat::Same,
            background: None,
            resize: None,
            keep: crate::Keep::NONE,
            to_srgb: false,
            limits: Limits::default(),
        }
    }
}
