//! WebP output through libwebp 1.6 (the `libwebp-sys` bindings, statically linked): lossy VP8 with
//! the quality searched per image like JPEG's, and lossless VP8L. This is the engine's one module
//! that calls C directly; every pointer it hands to libwebp lives for the whole call.
#![allow(unsafe_code)]

use std::{ffi::c_void, mem::MaybeUninit};

use libwebp_sys as sys;

use crate::{
    decode::{self, Decoded},
    score::Reference,
    search, EngineError, ImageFormat,
};

/// WebP's largest width or height.
pub const MAX_SIDE: u32 = 16_383;
const LOWEST_QUALITY: u8 = 5;
const HIGHEST_QUALITY: u8 = 100;

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    /// Lossy VP8 at this quality (0–100); alpha is kept losslessly.
    Lossy(u8),
    /// Lossless VP8L; every visible pixel is kept (colours under full transparency may change).
    Lossless,
}

/// Owns a `WebPPicture` and the memory libwebp attached to it.
struct Picture(sys::WebPPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised by WebPPictureInitInternal; freeing an initialised
        // picture (allocated or not) is what libwebp expects.
        unsafe { sys::WebPPictureFree(&mut self.0) }
    }
}

/// Owns the output buffer of a `WebPMemoryWriter`.
struct Writer(sys::WebPMemoryWriter);

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: initialised by WebPMemoryWriterInit; Clear frees what WebPMemoryWrite allocated.
        unsafe { sys::WebPMemoryWriterClear(&mut self.0) }
    }
}

fn failed(what: &str) -> EngineError {
    EngineError::Encode(format!("libwebp: {what}"))
}

/// Encodes RGBA pixels (`width × height × 4` bytes).
pub fn encode(
    rgba: &[u8],
    width: u32,
    height: u32,
    setting: Setting,
) -> Result<Vec<u8>, EngineError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(EngineError::Conversion(format!(
            "WebP images are at most {MAX_SIDE} pixels on a side; this one is {width}×{height}: resize it or choose PNG or JPEG"
        )));
    }
    let expected = width as usize * height as usize * 4;
    if rgba.len() != expected {
        return Err(failed("pixel buffer of the wrong size"));
    }
    let abi = sys::WEBP_ENCODER_ABI_VERSION as i32;
    let quality = match setting {
        Setting::Lossy(q) => f32::from(q.min(100)),
        Setting::Lossless => 75.0,
    };
    let mut config = MaybeUninit::<sys::WebPConfig>::uninit();
    // SAFETY: WebPConfigInitInternal fills the whole struct when it returns non-zero.
    let mut config = unsafe {
        if sys::WebPConfigInitInternal(
            config.as_mut_ptr(),
            sys::WebPPreset::WEBP_PRESET_DEFAULT,
            quality,
            abi,
        ) == 0
        {
            return Err(failed("incompatible library version"));
        }
        config.assume_init()
    };
    match setting {
        Setting::Lossy(_) => {
            config.method = 4;
            config.use_sharp_yuv = 1;
            config.alpha_quality = 100;
        }
        Setting::Lossless => {
            // SAFETY: `config` is initialised; level 6 of 0–9 (cwebp -z 6).
            if unsafe { sys::WebPConfigLosslessPreset(&mut config, 6) } == 0 {
                return Err(failed("lossless preset"));
            }
        }
    }
    config.thread_level = 0;
    // SAFETY: `config` is initialised.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err(failed("invalid configuration"));
    }

    let mut raw = MaybeUninit::<sys::WebPPicture>::uninit();
    // SAFETY: WebPPictureInitInternal fills the whole struct when it returns non-zero.
    let mut picture = unsafe {
        if sys::WebPPictureInitInternal(raw.as_mut_ptr(), abi) == 0 {
            return Err(failed("incompatible library version"));
        }
        Picture(raw.assume_init())
    };
    picture.0.use_argb = 1;
    picture.0.width = width as i32;
    picture.0.height = height as i32;
    // SAFETY: `rgba` holds width × height pixels of 4 bytes, stride width × 4; libwebp copies them.
    if unsafe { sys::WebPPictureImportRGBA(&mut picture.0, rgba.as_ptr(), (width * 4) as i32) } == 0
    {
        return Err(failed("out of memory importing the pixels"));
    }

    let mut raw_writer = MaybeUninit::<sys::WebPMemoryWriter>::uninit();
    // SAFETY: WebPMemoryWriterInit initialises every field.
    let mut writer = unsafe {
        sys::WebPMemoryWriterInit(raw_writer.as_mut_ptr());
        Writer(raw_writer.assume_init())
    };
    picture.0.writer = Some(sys::WebPMemoryWrite);
    picture.0.custom_ptr = (&mut writer.0 as *mut sys::WebPMemoryWriter).cast::<c_void>();
    // SAFETY: config and picture are initialised, the picture holds the pixels, and the writer
    // that custom_ptr points at outlives the call.
    let ok = unsafe { sys::WebPEncode(&config, &mut picture.0) };
    if ok == 0 {
        return Err(failed(&format!(
            "encoding error {:?}",
            picture.0.error_code
        )));
    }
    if writer.0.mem.is_null() || writer.0.size == 0 {
        return Err(failed("empty output"));
    }
    // SAFETY: libwebp wrote `size` bytes at `mem`; they are copied before the writer is cleared.
    let bytes = unsafe { std::slice::from_raw_parts(writer.0.mem, writer.0.size) }.to_vec();
    Ok(bytes)
}

/// Owns a `WebPMux` (null when creation failed; deleting null is a no-op in libwebp).
struct Mux(*mut sys::WebPMux);

impl Drop for Mux {
    fn drop(&mut self) {
        // SAFETY: created by WebPMuxNew and deleted once, here.
        unsafe { sys::WebPMuxDelete(self.0) }
    }
}

/// `webp` with the colour profile `icc` embedded (an extended-format file with an `ICCP` chunk),
/// so that a non-sRGB image is shown in its own colours.
pub fn with_icc(webp: &[u8], icc: &[u8]) -> Result<Vec<u8>, EngineError> {
    with_chunk(webp, c"ICCP", icc)
}

/// `webp` with the EXIF block `exif` embedded (an `EXIF` chunk).
pub fn with_exif(webp: &[u8], exif: &[u8]) -> Result<Vec<u8>, EngineError> {
    with_chunk(webp, c"EXIF", exif)
}

/// `webp` (a file this module wrote, possibly with chunks already) with chunk `fourcc` set.
fn with_chunk(webp: &[u8], fourcc: &std::ffi::CStr, data: &[u8]) -> Result<Vec<u8>, EngineError> {
    let file = sys::WebPData {
        bytes: webp.as_ptr(),
        size: webp.len(),
    };
    // SAFETY: `file` points at `webp` for the call; copy_data = 1 makes the mux own a copy.
    let mux =
        Mux(unsafe { sys::WebPMuxCreateInternal(&file, 1, sys::WEBP_MUX_ABI_VERSION as i32) });
    if mux.0.is_null() {
        return Err(failed("re-reading our own file"));
    }
    let chunk = sys::WebPData {
        bytes: data.as_ptr(),
        size: data.len(),
    };
    let mut assembled = sys::WebPData::default();
    // SAFETY: `mux` is live; `chunk` is copied (copy_data = 1) before the call returns;
    // `assembled` receives a buffer libwebp allocated, freed by WebPDataClear below.
    unsafe {
        if sys::WebPMuxSetChunk(mux.0, fourcc.as_ptr(), &chunk, 1) != sys::WebPMuxError::WEBP_MUX_OK
        {
            return Err(failed("adding a metadata chunk"));
        }
        if sys::WebPMuxAssemble(mux.0, &mut assembled) != sys::WebPMuxError::WEBP_MUX_OK {
            sys::WebPDataClear(&mut assembled);
            return Err(failed("assembling the file"));
        }
        let bytes = std::slice::from_raw_parts(assembled.bytes, assembled.size).to_vec();
        sys::WebPDataClear(&mut assembled);
        Ok(bytes)
    }
}

/// A WebP at `setting`, with its score when measurable (lossless scores 100).
pub fn encode_at(
    image: &Decoded,
    reference: &Reference,
    setting: Setting,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    let webp = encode(&image.rgba, image.width, image.height, setting)?;
    let score = match setting {
        Setting::Lossless => Some(100.0),
        Setting::Lossy(_) => reference.score(&decode::reread_rgba(&webp, ImageFormat::WebP)?),
    };
    Ok((webp, score))
}

/// The smallest lossy WebP whose score reaches `target`, with its score; `None` when even the
/// highest quality falls short.
pub fn encode_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    // libwebp's quality scale sits a little above mozjpeg's for the same SSIMULACRA2.
    let guess = (target as u8)
        .saturating_add(8)
        .clamp(LOWEST_QUALITY, HIGHEST_QUALITY);
    search::lowest_passing(LOWEST_QUALITY, HIGHEST_QUALITY, guess, target, |quality| {
        let webp = encode(
            &image.rgba,
            image.width,
            image.height,
            Setting::Lossy(quality),
        )?;
        let score = reference
            .score(&decode::reread_rgba(&webp, ImageFormat::WebP)?)
            .unwrap_or(0.0);
        Ok((score, webp))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        (0..height)
            .flat_map(|y| {
                (0..width).flat_map(move |x| {
                    let a = if alpha {
                        ((x * 255) / width.max(1)) as u8
                    } else {
                        255
                    };
                    [
                        (x * 7 % 256) as u8,
                        (y * 5 % 256) as u8,
                        ((x + y) % 256) as u8,
                        a,
                    ]
                })
            })
            .collect()
    }

    #[test]
    fn lossless_webp_round_trips_every_visible_pixel() {
        let rgba = gradient(64, 48, true);
        let webp = encode(&rgba, 64, 48, Setting::Lossless).unwrap();
        assert_eq!(&webp[..4], b"RIFF");
        assert_eq!(&webp[8..12], b"WEBP");
        let back = decode::reread_rgba(&webp, ImageFormat::WebP).unwrap();
        for (a, b) in rgba.chunks_exact(4).zip(back.chunks_exact(4)) {
            assert_eq!(a[3], b[3], "alpha changed");
            if a[3] > 0 {
                assert_eq!(a, b, "a visible pixel changed");
            }
        }
    }

    #[test]
    fn lower_quality_makes_smaller_files_deterministically() {
        let rgba = gradient(96, 96, false);
        let high = encode(&rgba, 96, 96, Setting::Lossy(90)).unwrap();
        let low = encode(&rgba, 96, 96, Setting::Lossy(20)).unwrap();
        assert!(low.len() < high.len(), "{} !< {}", low.len(), high.len());
        assert_eq!(low, encode(&rgba, 96, 96, Setting::Lossy(20)).unwrap());
    }

    #[test]
    fn a_colour_profile_is_embedded_and_the_pixels_unchanged() {
        use image::ImageDecoder;
        let rgba = gradient(40, 30, true);
        let plain = encode(&rgba, 40, 30, Setting::Lossless).unwrap();
        let profile: Vec<u8> = (0..=255u8).cycle().take(600).collect();
        let tagged = with_icc(&plain, &profile).unwrap();
        // A second chunk keeps the first.
        let tagged = with_exif(&tagged, b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0").unwrap();
        let decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&tagged)).unwrap();
        let mut decoder = decoder;
        assert_eq!(
            decoder.icc_profile().unwrap().as_deref(),
            Some(&profile[..])
        );
        assert_eq!(
            decode::reread_rgba(&tagged, ImageFormat::WebP).unwrap(),
            decode::reread_rgba(&plain, ImageFormat::WebP).unwrap()
        );
    }

    #[test]
    fn oversized_and_inconsistent_inputs_are_errors_not_crashes() {
        assert!(matches!(
            encode(&[0; 4], MAX_SIDE + 1, 1, Setting::Lossless),
            Err(EngineError::Conversion(_))
        ));
        assert!(matches!(
            encode(&[0; 7], 2, 1, Setting::Lossy(50)),
            Err(EngineError::Encode(_))
        ));
    }
}
