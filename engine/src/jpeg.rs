//! JPEG output through mozjpeg: progressive, trellis quantisation, optimised Huffman tables,
//! with the quality searched per image for the smallest file that keeps the target score.

use crate::{
    decode::{self, Decoded},
    score::Reference,
    search, EngineError, ImageFormat,
};

/// The qualities the search moves between; below 30 JPEG artefacts dominate any image.
const LOWEST_QUALITY: u8 = 30;
const HIGHEST_QUALITY: u8 = 95;

/// RGB pixels (alpha composited over `background` when the image uses transparency).
pub fn rgb_pixels(image: &Decoded, background: [u8; 3]) -> Vec<u8> {
    image
        .rgba
        .chunks_exact(4)
        .flat_map(|p| decode::flatten(p, background))
        .collect()
}

/// Encodes RGB pixels at `quality` (1–100).
pub fn encode(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, EngineError> {
    let encode_error = |e: std::io::Error| EngineError::Encode(format!("mozjpeg: {e}"));
    let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    compress.set_size(width as usize, height as usize);
    compress.set_quality(f32::from(quality.clamp(1, 100)));
    compress.set_progressive_mode();
    compress.set_optimize_coding(true);
    compress.set_optimize_scans(true);
    let mut started = compress.start_compress(Vec::new()).map_err(encode_error)?;
    if let Some(icc) = icc {
        started.write_icc_profile(icc);
    }
    started.write_scanlines(rgb).map_err(encode_error)?;
    started.finish().map_err(encode_error)
}

/// The smallest JPEG whose score reaches `target`, with its score; `None` when even the highest
/// quality falls short.
pub fn encode_for_target(
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    target: f64,
    icc: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    // mozjpeg's quality lands a little above the SSIMULACRA2 floor it needs on most photos.
    let guess = (target as u8)
        .saturating_add(5)
        .clamp(LOWEST_QUALITY, HIGHEST_QUALITY);
    search::lowest_passing(LOWEST_QUALITY, HIGHEST_QUALITY, guess, target, |quality| {
        let jpeg = encode(rgb, image.width, image.height, quality, icc)?;
        let score = reference
            .score(&decode::reread_rgba(&jpeg, ImageFormat::Jpeg)?)
            .unwrap_or(0.0);
        Ok((score, jpeg))
    })
}

/// A JPEG at a fixed quality, with its score when measurable.
pub fn encode_at(
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    let jpeg = encode(rgb, image.width, image.height, quality, icc)?;
    let score = reference.score(&decode::reread_rgba(&jpeg, ImageFormat::Jpeg)?);
    Ok((jpeg, score))
}
