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
    /// The input's EXIF block, if any (only the fields the caller keeps are ever written).
    pub exif: Option<Vec<u8>>,
    /// The pixels were turned or mirrored to apply an EXIF orientation: the file's own pixel
    /// data is not the picture as shown.
    pub reoriented: bool,
}

impl Decoded {
    /// New pixels for the same picture (resized, cropped, padded): the colour profile and the
    /// metadata go along.
    pub fn with_pixels(&self, rgba: Vec<u8>, width: u32, height: u32, has_alpha: bool) -> Self {
        Self {
            rgba,
            width,
            height,
            has_alpha,
            icc_profile: self.icc_profile.clone(),
            exif: self.exif.clone(),
            reoriented: self.reoriented,
        }
    }
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
        // rav1d aborts the process on some malformed bitstreams (a panic inside its C-style API
        // cannot unwind; found by the fuzz target), so it only ever reads the engine's own rav1e
        // output, never an uploaded file.
        ImageFormat::Avif => {
            return Err(EngineError::UnsupportedFeature {
                format: "AVIF",
                reason: "AVIF input is not supported yet (AVIF output is)".into(),
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

    if format == ImageFormat::Png {
        check_png_palette(bytes)?;
    }
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
    let exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| malformed(e).unwrap_or_else(|| too_large(width, height)))?;
    let reoriented = orientation.is_some_and(|o| o != image::metadata::Orientation::NoTransforms);
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
        exif,
        reoriented,
    })
}

/// Refuses a palette PNG whose `PLTE` is not a whole number of colours (1–256) or whose `tRNS`
/// has more entries than the palette: png 0.18.1 indexes out of bounds on those (found by the fuzz
/// target) and they are invalid by the PNG specification anyway. Chunks are read up to the first
/// `IDAT`; a file cut short before it is left to the decoder to report.
fn check_png_palette(bytes: &[u8]) -> Result<(), EngineError> {
    let bad = |reason: String| EngineError::Malformed {
        format: "PNG",
        reason,
    };
    let mut at = 8; // after the signature
    let mut colour_type = None;
    let mut palette_entries = None;
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        let Some(body) = bytes.get(at + 8..(at + 8).saturating_add(length)) else {
            return Ok(());
        };
        match kind {
            b"IHDR" if body.len() >= 10 => colour_type = Some(body[9]),
            b"PLTE" => {
                if length == 0 || !length.is_multiple_of(3) || length > 256 * 3 {
                    return Err(bad(format!(
                        "its palette (PLTE) has {length} bytes, not 1 to 256 colours of 3 bytes"
                    )));
                }
                palette_entries = Some(length / 3);
            }
            b"tRNS" if colour_type == Some(3) => {
                if let Some(entries) = palette_entries.filter(|&entries| length > entries) {
                    return Err(bad(format!(
                        "its transparency (tRNS) has {length} entries for a palette of {entries}"
                    )));
                }
            }
            b"IDAT" => return Ok(()),
            _ => {}
        }
        at = at.saturating_add(12).saturating_add(length);
    }
    Ok(())
}

/// A file the engine just wrote, decoded back to RGBA to score it.
pub fn reread_rgba(bytes: &[u8], format: ImageFormat) -> Result<Vec<u8>, EngineError> {
    #[cfg(feature = "avif")]
    if format == ImageFormat::Avif {
        return crate::avif::reread_rgba(bytes);
    }
    let image_format = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::WebP => image::ImageFormat::WebP,
        _ => image::ImageFormat::Png,
    };
    image::load_from_memory_with_format(bytes, image_format)
        .map(|image| image.into_rgba8().into_raw())
        .map_err(|e| EngineError::Encode(format!("re-reading our {}: {e}", format.name())))
}

/// One RGBA pixel composited over an opaque `background`, in sRGB space as a browser shows it.
pub fn flatten(pixel: &[u8], background: [u8; 3]) -> [u8; 3] {
    let a = u32::from(pixel[3]);
    std::array::from_fn(|c| {
        ((u32::from(pixel[c]) * a + u32::from(background[c]) * (255 - a) + 127) / 255) as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG's chunk stream up to IDAT (CRCs zeroed: the check does not read them).
    fn palette_png(plte: usize, trns: Option<usize>) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], body: Vec<u8>| {
            out.extend((body.len() as u32).to_be_bytes());
            out.extend(kind);
            out.extend(body);
            out.extend([0; 4]);
        };
        chunk(b"IHDR", vec![0, 0, 0, 4, 0, 0, 0, 4, 8, 3, 0, 0, 0]);
        chunk(b"PLTE", vec![7; plte]);
        if let Some(n) = trns {
            chunk(b"tRNS", vec![0; n]);
        }
        chunk(b"IDAT", vec![0; 4]);
        out
    }

    #[test]
    fn palettes_that_are_not_whole_colours_or_with_too_many_alphas_are_refused() {
        assert!(check_png_palette(&palette_png(6, Some(2))).is_ok());
        assert!(check_png_palette(&palette_png(768, None)).is_ok());
        for (plte, trns, says) in [
            (49, None, "49 bytes"),
            (0, None, "0 bytes"),
            (771, None, "771 bytes"),
            (6, Some(3), "3 entries for a palette of 2"),
        ] {
            match check_png_palette(&palette_png(plte, trns)) {
                Err(EngineError::Malformed { reason, .. }) => {
                    assert!(reason.contains(says), "{reason}")
                }
                other => panic!("{plte}/{trns:?}: {other:?}"),
            }
        }
        // Truncated or chunk-less files are left for the decoder to report.
        assert!(check_png_palette(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIH").is_ok());
    }
}
