//! Decoding any supported input into 8-bit RGBA pixels, within the caller's limits.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use crate::{sniff::ImageFormat, EngineError, Limits};

/// A decoded image: 8-bit RGBA pixels, row by row, with EXIF orientation applied.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether any pixel is less than fully opaque.
    pub has_alpha: bool,
    /// The embedded ICC colour profile, if any.
    pub icc_profile: Option<Vec<u8>>,
}

/// Decodes `bytes` (already sniffed as `format`) refusing anything beyond `limits` before the
/// pixels are allocated.
pub fn decode(bytes: &[u8], format: ImageFormat, limits: &Limits) -> Result<Decoded, EngineError> {
    let image_format = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::WebP => image::ImageFormat::WebP,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        ImageFormat::Avif => {
            return Err(EngineError::UnsupportedFeature {
                format: "AVIF",
                reason: "AVIF input is not supported yet".into(),
            })
        }
    };
    let malformed = |e: ImageError| match e {
        ImageError::Limits(_) => None,
        ImageError::Unsupported(u) => Some(EngineError::UnsupportedFeature {
            format: format.name(),
            reason: u.to_string(),
        }),
        other => Some(EngineError::Malformed {
            format: format.name(),
            reason: other.to_string(),
        }),
    };

    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_dimension);
    decode_limits.max_image_height = Some(limits.max_dimension);
    // RGBA8 of the largest allowed image, plus room for the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4 * 3));
    reader.limits(decode_limits);

    let too_large = |width: u32, height: u32| EngineError::ImageTooLarge {
        width,
        height,
        max_pixels: limits.max_pixels,
        max_dimension: limits.max_dimension,
    };
    let mut decoder = reader.into_decoder().map_err(|e| {
        malformed(e)
            .unwrap_or_else(|| too_large(limits.max_dimension + 1, limits.max_dimension + 1))
    })?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(EngineError::Malformed {
            format: format.name(),
            reason: "the image has no pixels".into(),
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_dimension
        || height > limits.max_dimension
    {
        return Err(too_large(width, height));
    }
    let icc_profile = decoder.icc_profile().ok().flatten();
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| malformed(e).unwrap_or_else(|| too_large(width, height)))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let has_alpha_channel = image.color().has_alpha();
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let rgba = rgba.into_raw();
    let has_alpha = has_alpha_channel && rgba.chunks_exact(4).any(|p| p[3] != 255);
    Ok(Decoded {
        rgba,
        width,
        height,
        has_alpha,
        icc_profile,
    })
}

/// One RGBA pixel composited over an opaque `background`, in sRGB space as a browser shows it.
pub fn flatten(pixel: &[u8], background: [u8; 3]) -> [u8; 3] {
    let a = u32::from(pixel[3]);
    std::array::from_fn(|c| {
        ((u32::from(pixel[c]) * a + u32::from(background[c]) * (255 - a) + 127) / 255) as u8
    })
}
