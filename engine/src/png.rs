//! PNG output: lossless optimisation with oxipng, and lossy palette quantisation with
//! imagequant (pngquant's core) searched per image for the smallest palette that keeps the
//! target score, followed by oxipng.

use crate::{decode::Decoded, score::Reference, search, EngineError};

/// oxipng's effort: preset 2 is oxipng's default, the speed/size balance the benchmark measures.
const OXIPNG_PRESET: u8 = 2;

fn oxipng_options() -> oxipng::Options {
    let mut options = oxipng::Options::from_preset(OXIPNG_PRESET);
    // Drop metadata, keep what changes how the image looks (colour profile, gamma, sRGB).
    options.strip = oxipng::StripChunks::Safe;
    options
}

/// Losslessly recompresses a PNG file.
pub fn optimize(png: &[u8]) -> Result<Vec<u8>, EngineError> {
    oxipng::optimize_from_memory(png, &oxipng_options())
        .map_err(|e| EngineError::Encode(e.to_string()))
}

/// Writes RGBA pixels as a PNG, losslessly, then optimises it. The colour profile goes along.
pub fn encode_lossless(image: &Decoded) -> Result<Vec<u8>, EngineError> {
    let mut raw = oxipng::RawImage::new(
        image.width,
        image.height,
        oxipng::ColorType::RGBA,
        oxipng::BitDepth::Eight,
        image.rgba.clone(),
    )
    .map_err(|e| EngineError::Encode(e.to_string()))?;
    if let Some(icc) = &image.icc_profile {
        raw.add_icc_profile(icc);
    }
    raw.create_optimized_png(&oxipng_options())
        .map_err(|e| EngineError::Encode(e.to_string()))
}

/// A quantised image: palette and one index per pixel.
struct Quantised {
    palette: Vec<imagequant::RGBA>,
    indices: Vec<u8>,
}

impl Quantised {
    fn to_rgba(&self) -> Vec<u8> {
        self.indices
            .iter()
            .flat_map(|&i| {
                let c = self.palette[usize::from(i)];
                [c.r, c.g, c.b, c.a]
            })
            .collect()
    }

    /// The palette PNG, optimised, carrying `icc` (the source's colour profile: the palette's
    /// values are in that space, so dropping it would shift every colour of a non-sRGB image).
    fn encode(&self, width: u32, height: u32, icc: Option<&[u8]>) -> Result<Vec<u8>, EngineError> {
        let encode_error = |e: png::EncodingError| EngineError::Encode(e.to_string());
        let mut out = Vec::new();
        let mut info = png::Info::with_size(width, height);
        info.icc_profile = icc.map(std::borrow::Cow::Borrowed);
        let mut encoder = png::Encoder::with_info(&mut out, info).map_err(encode_error)?;
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(
            self.palette
                .iter()
                .flat_map(|c| [c.r, c.g, c.b])
                .collect::<Vec<_>>(),
        );
        if self.palette.iter().any(|c| c.a != 255) {
            encoder.set_trns(self.palette.iter().map(|c| c.a).collect::<Vec<_>>());
        }
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(encode_error)?;
        writer
            .write_image_data(&self.indices)
            .map_err(encode_error)?;
        writer.finish().map_err(encode_error)?;
        optimize(&out)
    }
}

fn quantise(image: &Decoded, quality: u8) -> Result<Quantised, EngineError> {
    let quant_error = |e: imagequant::Error| EngineError::Encode(format!("quantiser: {e}"));
    let mut attributes = imagequant::new();
    attributes.set_speed(4).map_err(quant_error)?;
    attributes.set_quality(0, quality).map_err(quant_error)?;
    let pixels: Vec<imagequant::RGBA> = image
        .rgba
        .chunks_exact(4)
        .map(|p| imagequant::RGBA::new(p[0], p[1], p[2], p[3]))
        .collect();
    let mut liq_image = attributes
        .new_image(pixels, image.width as usize, image.height as usize, 0.0)
        .map_err(quant_error)?;
    let mut result = attributes.quantize(&mut liq_image).map_err(quant_error)?;
    result.set_dithering_level(1.0).map_err(quant_error)?;
    let (palette, indices) = result.remapped(&mut liq_image).map_err(quant_error)?;
    Ok(Quantised { palette, indices })
}

/// The smallest palette PNG whose score reaches `target`, with that score; `None` when even the
/// best palette falls short (the caller then keeps the image lossless).
pub fn encode_lossy_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    // The quantiser's own quality is a mean-square-error measure; a perceptual floor of 75 tends
    // to need about as much, so the search starts near the target.
    let guess = (target as u8).clamp(20, 100);
    let found = search::lowest_passing(20, 100, guess, target, |quality| {
        let quantised = quantise(image, quality)?;
        Ok((
            reference.score(&quantised.to_rgba()).unwrap_or(0.0),
            quantised,
        ))
    })?;
    found
        .map(|(quantised, score)| {
            Ok((
                quantised.encode(image.width, image.height, image.icc_profile.as_deref())?,
                score,
            ))
        })
        .transpose()
}

/// A palette PNG at a fixed quantiser quality (1–100), with its score when measurable.
pub fn encode_lossy_at(
    image: &Decoded,
    reference: &Reference,
    quality: u8,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    let quantised = quantise(image, quality.clamp(1, 100))?;
    let score = reference.score(&quantised.to_rgba());
    Ok((
        quantised.encode(image.width, image.height, image.icc_profile.as_deref())?,
        score,
    ))
}
