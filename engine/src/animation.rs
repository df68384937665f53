//! Recognising animated images, which the engine does not compress: writing only the first frame
//! would silently lose the animation, so they are refused with a clear error instead.
//!
//! Both checks walk the container's block structure without decoding any pixels.

use crate::{sniff::ImageFormat, EngineError};

/// `Err(UnsupportedFeature)` for an animated GIF or PNG (APNG); `Ok` for anything else.
pub fn refuse_animation(bytes: &[u8], format: ImageFormat) -> Result<(), EngineError> {
    let animated = match format {
        ImageFormat::Gif => gif_frames(bytes) > 1,
        ImageFormat::Png => png_is_animated(bytes),
        _ => false,
    };
    if animated {
        return Err(EngineError::UnsupportedFeature {
            format: format.name(),
            reason: "animated images are not supported yet (only the first frame would survive); \
                     export a still image, or keep the animation as it is"
                .into(),
        });
    }
    Ok(())
}

/// APNG: an `acTL` chunk before the first `IDAT`.
fn png_is_animated(bytes: &[u8]) -> bool {
    let mut at = 8; // signature
    while at + 8 <= bytes.len() {
        let length = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let kind = &bytes[at + 4..at + 8];
        match kind {
            b"acTL" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => {}
        }
        at = match at
            .checked_add(12)
            .and_then(|a| a.checked_add(length as usize))
        {
            Some(next) => next,
            None => return false,
        };
    }
    false
}

/// How many image descriptors a GIF has (counting stops at 2); a damaged file counts what it
/// could walk, and the decoder reports the damage.
fn gif_frames(bytes: &[u8]) -> usize {
    // Header (6) + logical screen descriptor (7), then the global colour table if flagged.
    if bytes.len() < 13 {
        return 0;
    }
    let mut at = 13;
    if bytes[10] & 0x80 != 0 {
        at += 3 << ((bytes[10] & 0x07) + 1);
    }
    let skip_sub_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let size = *bytes.get(at)? as usize;
            at += 1;
            if size == 0 {
                return Some(at);
            }
            at += size;
        }
    };
    let mut frames = 0;
    while let Some(&introducer) = bytes.get(at) {
        match introducer {
            // Extension: label, then sub-blocks.
            0x21 => match skip_sub_blocks(at + 2) {
                Some(next) => at = next,
                None => break,
            },
            // Image descriptor (10 bytes), local colour table, LZW minimum code size, sub-blocks.
            0x2C => {
                frames += 1;
                if frames > 1 {
                    break;
                }
                let Some(&flags) = bytes.get(at + 9) else {
                    break;
                };
                let mut next = at + 10;
                if flags & 0x80 != 0 {
                    next += 3 << ((flags & 0x07) + 1);
                }
                match skip_sub_blocks(next + 1) {
                    Some(after) => at = after,
                    None => break,
                }
            }
            _ => break, // 0x3B trailer, or damage
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gif(frames: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for i in 0..frames {
            let frame = image::RgbaImage::from_fn(8, 8, |x, y| {
                image::Rgba([(x * 30) as u8, (y * 30) as u8, i as u8 * 90, 255])
            });
            encoder.encode_frame(image::Frame::new(frame)).unwrap();
        }
        drop(encoder);
        bytes
    }

    #[test]
    fn a_gif_with_two_frames_is_refused_and_a_still_one_is_not() {
        assert_eq!(gif_frames(&gif(1)), 1);
        assert_eq!(gif_frames(&gif(3)), 2);
        assert!(refuse_animation(&gif(1), ImageFormat::Gif).is_ok());
        let error = refuse_animation(&gif(2), ImageFormat::Gif).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("animated images are not supported"),
            "{error}"
        );
    }

    #[test]
    fn an_actl_chunk_before_the_image_data_marks_an_apng() {
        let mut still = Vec::new();
        image::RgbaImage::new(4, 4)
            .write_to(
                &mut std::io::Cursor::new(&mut still),
                image::ImageFormat::Png,
            )
            .unwrap();
        assert!(!png_is_animated(&still));
        // Insert an acTL chunk right after IHDR (8 + 25 bytes).
        let mut apng = still[..33].to_vec();
        apng.extend_from_slice(&[0, 0, 0, 8]);
        apng.extend_from_slice(b"acTL");
        apng.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        apng.extend_from_slice(&still[33..]);
        assert!(png_is_animated(&apng));
        assert!(refuse_animation(&apng, ImageFormat::Png).is_err());
        // Truncated or hostile lengths end the walk without panicking.
        assert!(!png_is_animated(&[
            0x89, b'P', b'N', b'G', 13, 10, 26, 10, 255, 255, 255, 255, b'x'
        ]));
        assert_eq!(gif_frames(b"GIF89a\x01\x00\x01\x00\xff"), 0);
    }
}
