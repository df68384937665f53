//! Why the engine could not compress an input.

/// A typed reason; each message is fit to show to the person who sent the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The input has no bytes.
    #[error("the file is empty")]
    Empty,
    /// The input is larger than the limit.
    #[error("the file is {size} bytes; the limit is {limit} bytes")]
    InputTooLarge {
        /// Bytes received.
        size: usize,
        /// Bytes allowed.
        limit: usize,
    },
    /// The image has more pixels, or a longer side, than allowed.
    #[error(
        "the image is {width}×{height} pixels ({}); the limit is {} and {max_dimension} pixels a side",
        megapixels(u64::from(*width) * u64::from(*height)),
        megapixels(*max_pixels)
    )]
    ImageTooLarge {
        /// Width of the image.
        width: u32,
        /// Height of the image.
        height: u32,
        /// Pixel limit.
        max_pixels: u64,
        /// Side limit.
        max_dimension: u32,
    },
    /// The bytes are not an image format the engine reads.
    #[error("not a supported image: expected PNG, JPEG, WebP, GIF, BMP or TIFF")]
    UnsupportedFormat,
    /// The format is recognised, but this variant of it is not supported.
    #[error("unsupported {format} image: {reason}")]
    UnsupportedFeature {
        /// The format.
        format: &'static str,
        /// What is not supported.
        reason: String,
    },
    /// The bytes claim a format but cannot be decoded (damaged or truncated).
    #[error("the {format} file is damaged or truncated: {reason}")]
    Malformed {
        /// The format the bytes claim.
        format: &'static str,
        /// What the decoder found.
        reason: String,
    },
    /// The requested conversion would lose information the caller did not agree to lose.
    #[error("{0}")]
    Conversion(String),
    /// An encoder failed; this is a fault of the engine, not of the input.
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// `pixels` in megapixels as people write them: "100 megapixels", "1.2 megapixels".
fn megapixels(pixels: u64) -> String {
    match pixels {
        1_000_000 => "1 megapixel".into(),
        p if p % 1_000_000 == 0 => format!("{} megapixels", p / 1_000_000),
        p => format!("{:.1} megapixels", p as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_limit_reads_in_megapixels() {
        let error = EngineError::ImageTooLarge {
            width: 12_000,
            height: 9_000,
            max_pixels: 100_000_000,
            max_dimension: 40_000,
        };
        assert_eq!(
            error.to_string(),
            "the image is 12000×9000 pixels (108 megapixels); the limit is 100 megapixels and \
             40000 pixels a side"
        );
        assert_eq!(megapixels(1_000_000), "1 megapixel");
        assert_eq!(megapixels(1_200_000), "1.2 megapixels");
        assert_eq!(megapixels(340_000), "0.3 megapixels");
    }
}
