//! JPEG output through mozjpeg: progressive, trellis quantisation, optimised Huffman tables,
//! with the quality searched per image for the smallest file that keeps the target score.

use crate::{
    decode::{self, Decoded},
    score::Reference,
    search::{self, Sample, Sampled},
    EngineError, ImageFormat,
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

/// RGB pixels as fully opaque RGBA, the form the metric's reference takes.
pub fn opaque_rgba(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
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

/// `rgb` (`width`×`height`) encoded at `quality`, decoded again and scored against `reference`
/// (`None` when too small to score).
fn encode_scored(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    icc: Option<&[u8]>,
    reference: &Reference,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    let jpeg = encode(rgb, width, height, quality, icc)?;
    let score = reference.score(&decode::reread_rgba(&jpeg, ImageFormat::Jpeg)?);
    Ok((jpeg, score))
}

/// The smallest JPEG whose score reaches `target`, with its score; `None` when even the highest
/// quality falls short.
///
/// Large images are searched on a sample (`Sample`) first, a quarter of the pixels, and only the
/// qualities the sample points at are encoded and scored whole; the file returned has always been
/// scored whole.
pub fn encode_for_target(
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    target: f64,
    icc: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    match Sample::of(image.width, image.height) {
        Some(sample) => search_on_sample(&sample, image, rgb, reference, target, icc),
        None => search_whole(image, rgb, reference, target, icc),
    }
}

/// mozjpeg's quality lands a little above the SSIMULACRA2 floor it needs on most photos.
fn first_guess(target: f64) -> u8 {
    (target as u8)
        .saturating_add(5)
        .clamp(LOWEST_QUALITY, HIGHEST_QUALITY)
}

/// The search over the whole image: every probe encodes, decodes and scores all of it.
fn search_whole(
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    target: f64,
    icc: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    search::lowest_passing(
        LOWEST_QUALITY,
        HIGHEST_QUALITY,
        first_guess(target),
        target,
        |quality| {
            let (jpeg, score) =
                encode_scored(rgb, image.width, image.height, quality, icc, reference)?;
            Ok((score.unwrap_or(0.0), jpeg))
        },
    )
}

/// Searches a sample of the image, then verifies on the whole image (`search::lowest_passing_sampled`).
fn search_on_sample(
    sample: &Sample,
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    target: f64,
    icc: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    let (width, height) = (sample.width(), sample.height());
    let mosaic = sample.extract(rgb, image.width, 3);
    let sample_reference = Reference::new(&opaque_rgba(&mosaic), width, height, false);
    let sampled = search::lowest_passing_sampled(
        LOWEST_QUALITY,
        HIGHEST_QUALITY,
        first_guess(target),
        target,
        |quality| {
            let (_, score) =
                encode_scored(&mosaic, width, height, quality, None, &sample_reference)?;
            Ok(score.unwrap_or(0.0))
        },
        |quality| {
            let (jpeg, score) =
                encode_scored(rgb, image.width, image.height, quality, icc, reference)?;
            Ok((jpeg, score.unwrap_or(0.0)))
        },
    )?;
    match sampled {
        Sampled::Passed(jpeg, score) => Ok(Some((jpeg, score))),
        Sampled::WholeFailed => Ok(None),
        // Even the highest quality fails on the sample: the whole image decides.
        Sampled::SampleFailed => search_whole(image, rgb, reference, target, icc),
    }
}

/// A JPEG at a fixed quality, with its score when measurable.
pub fn encode_at(
    image: &Decoded,
    rgb: &[u8],
    reference: &Reference,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    encode_scored(rgb, image.width, image.height, quality, icc, reference)
}

/// Re-encodes a JPEG without decoding it to pixels: its DCT coefficients are copied unchanged
/// (every pixel decodes exactly as before) and only the entropy coding is redone, progressive
/// with optimised Huffman tables and mozjpeg's scan optimisation. Every marker is dropped but the
/// ICC profile `icc`, which is written again (EXIF the caller keeps is added afterwards).
#[allow(unsafe_code)] // libjpeg's transcoding API has no safe wrapper
pub fn transcode(jpeg: &[u8], icc: Option<&[u8]>) -> Result<Vec<u8>, EngineError> {
    use mozjpeg_sys as ffi;
    use std::os::raw::{c_uint, c_ulong};

    let failed = |what: &str| EngineError::Malformed {
        format: "JPEG",
        reason: format!("lossless re-encoding failed: {what}"),
    };
    let size = c_ulong::try_from(jpeg.len()).map_err(|_| failed("too large"))?;
    // libjpeg reports fatal errors through `error_exit`, which unwinds here (the crate's
    // `unwinding` feature builds it for that); the structures are destroyed on every path.
    extern "C-unwind" fn error_exit(_: &mut ffi::jpeg_common_struct) {
        std::panic::resume_unwind(Box::new("libjpeg error"));
    }
    extern "C-unwind" fn silence(_: &mut ffi::jpeg_common_struct, _: std::os::raw::c_int) {}
    // SAFETY: the structures are zeroed then initialised by libjpeg's create functions before
    // use, the error managers outlive them, the input slice outlives the decompressor, and the
    // output buffer libjpeg allocates is copied and freed once.
    unsafe {
        let mut src_err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
        let mut dst_err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
        for err in [&mut src_err, &mut dst_err] {
            ffi::jpeg_std_error(err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(silence);
        }
        let mut src: Box<ffi::jpeg_decompress_struct> = Box::new(std::mem::zeroed());
        let mut dst: Box<ffi::jpeg_compress_struct> = Box::new(std::mem::zeroed());
        src.common.err = &mut *src_err;
        dst.common.err = &mut *dst_err;
        let mut out_ptr: *mut u8 = std::ptr::null_mut();
        let mut out_len: c_ulong = 0;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ffi::jpeg_create_decompress(&mut *src);
            ffi::jpeg_create_compress(&mut *dst);
            ffi::jpeg_mem_src(&mut src, jpeg.as_ptr(), size);
            ffi::jpeg_read_header(&mut src, 1);
            let coefficients = ffi::jpeg_read_coefficients(&mut src);
            if coefficients.is_null() {
                return false;
            }
            ffi::jpeg_copy_critical_parameters(&src, &mut dst);
            dst.optimize_coding = 1;
            ffi::jpeg_c_set_bool_param(&mut dst, ffi::J_BOOLEAN_PARAM::JBOOLEAN_OPTIMIZE_SCANS, 1);
            ffi::jpeg_simple_progression(&mut dst);
            ffi::jpeg_mem_dest(&mut dst, &mut out_ptr, &mut out_len);
            ffi::jpeg_write_coefficients(&mut dst, coefficients);
            for chunk in icc_markers(icc.unwrap_or_default()) {
                ffi::jpeg_write_marker(&mut dst, ICC_MARKER, chunk.as_ptr(), chunk.len() as c_uint);
            }
            ffi::jpeg_finish_compress(&mut dst);
            ffi::jpeg_finish_decompress(&mut src);
            true
        }));
        ffi::jpeg_destroy_compress(&mut dst);
        ffi::jpeg_destroy_decompress(&mut src);
        match run {
            // Only a finished compression hands the buffer over: after an error mid-way the
            // pointer may name one libjpeg already replaced (a few kilobytes leak then).
            Ok(true) if !out_ptr.is_null() => {
                let bytes = std::slice::from_raw_parts(out_ptr, out_len as usize).to_vec();
                libc_free(out_ptr.cast());
                Ok(bytes)
            }
            Ok(_) => Err(failed("no coefficients")),
            Err(_) => Err(failed("the file is damaged")),
        }
    }
}

/// APP2, where ICC profiles live in a JPEG.
const ICC_MARKER: i32 = 0xE2;
/// Profile bytes per APP2 marker (65 535 less the length, signature and sequence bytes).
const ICC_CHUNK: usize = 65_519;

/// The APP2 payloads (`ICC_PROFILE\0`, sequence number, count, data) that carry `icc`.
fn icc_markers(icc: &[u8]) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = icc.chunks(ICC_CHUNK).collect();
    let count = u8::try_from(chunks.len()).unwrap_or(0);
    if count == 0 {
        return Vec::new();
    }
    chunks
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let mut marker = b"ICC_PROFILE\0".to_vec();
            marker.push(i as u8 + 1);
            marker.push(count);
            marker.extend_from_slice(data);
            marker
        })
        .collect()
}

#[allow(unsafe_code)]
extern "C" {
    #[link_name = "free"]
    fn libc_free(pointer: *mut std::ffi::c_void);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn corpus_photo(name: &str) -> (Decoded, Vec<u8>) {
        // Found where the integration tests find it (tests/common::corpus_dir).
        let dir = [
            std::env::var_os("SLIMAGE_CORPUS").map(std::path::PathBuf::from),
            Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")),
            Some(std::path::PathBuf::from("/work/shared/corpus")),
        ]
        .into_iter()
        .flatten()
        .find(|dir| dir.join("manifest.csv").is_file())
        .expect("the shared corpus (set SLIMAGE_CORPUS)");
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let image = decode::decode(&bytes, ImageFormat::Jpeg, &Limits::default()).unwrap();
        let rgb = rgb_pixels(&image, [0, 0, 0]);
        (image, rgb)
    }

    #[test]
    fn the_sampled_search_finds_what_the_whole_search_finds_and_scores_it_whole() {
        for name in ["jpg95_raindrops.jpg", "jpg95_twowings.jpg"] {
            let (image, rgb) = corpus_photo(name);
            assert!(
                Sample::of(image.width, image.height).is_some(),
                "{name} is sampled"
            );
            let reference = Reference::new(&opaque_rgba(&rgb), image.width, image.height, false);
            let (sampled, score) = encode_for_target(&image, &rgb, &reference, 75.0, None)
                .unwrap()
                .unwrap();
            let (whole, whole_score) = search_whole(&image, &rgb, &reference, 75.0, None)
                .unwrap()
                .unwrap();
            // The score reported is the whole image's.
            let rescored = reference
                .score(&decode::reread_rgba(&sampled, ImageFormat::Jpeg).unwrap())
                .unwrap();
            assert_eq!(score, rescored, "{name}");
            assert!(score >= 75.0, "{name}: {score}");
            assert!(
                sampled.len() as f64 <= whole.len() as f64 * 1.03,
                "{name}: sampled {} bytes ({score}) against {} ({whole_score})",
                sampled.len(),
                whole.len()
            );
        }
    }
}
