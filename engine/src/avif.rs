//! AVIF: lossy output through ravif (rav1e, an AV1 encoder written in Rust), with the quality
//! searched per image like JPEG's and WebP's; the candidates are read back through avif-parse and
//! rav1d, the Rust port of dav1d, to score them. Only the engine's own files are ever decoded: a
//! panic inside rav1d's C-style API cannot unwind and aborts the process, and the fuzz target found
//! a malformed bitstream that makes it panic, so uploaded AVIF files are refused (`decode.rs`). rav1d is called
//! through its dav1d-compatible C-style API, so this module, like `webp`, allows unsafe code; every
//! pointer it hands over lives for the whole call and every picture is released once.
#![allow(unsafe_code)]

use std::{mem::MaybeUninit, ptr::NonNull};

use rav1d::include::dav1d::{
    data::Dav1dData,
    dav1d::{Dav1dContext, Dav1dSettings},
    headers::{
        Dav1dSequenceHeader, DAV1D_MC_BT2020_CL, DAV1D_MC_BT2020_NCL, DAV1D_MC_BT709,
        DAV1D_MC_IDENTITY, DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420,
        DAV1D_PIXEL_LAYOUT_I422, DAV1D_PIXEL_LAYOUT_I444,
    },
    picture::Dav1dPicture,
};
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};

use crate::{decode::Decoded, score::Reference, search, EngineError, Limits};

/// The AV1 encoder's quality range (ravif's scale: 100 is near-lossless).
const LOWEST_QUALITY: u8 = 1;
const HIGHEST_QUALITY: u8 = 100;
/// rav1e's speed presets (1 slow … 10 fast), as ravif tunes them. At the high qualities a search
/// ends at, 10 is 4–9 times faster than 6 but its files are up to 15 % larger (60 % on a tiny
/// one); 8 is barely faster than 6. So the search runs at 10 and the quality it finds is encoded
/// once more at 6, then at the quality predicted to reach the target at 6 (from the search's own
/// probes, shifted by the difference between the two presets' scores). The smallest file that
/// reaches the target is kept: the same bytes as a search at 6 on most photos, 4–9 times sooner.
const SEARCH_SPEED: u8 = 10;
const FINAL_SPEED: u8 = 6;

fn failed(what: impl std::fmt::Display) -> EngineError {
    EngineError::Encode(format!("AVIF: {what}"))
}

/// The image as AVIF output can show it: AVIF files written here carry no ICC profile, so an
/// image with an RGB profile is converted to sRGB (same colours, no profile needed) and one whose
/// profile cannot be converted is refused rather than shown in the wrong colours.
pub fn in_srgb(image: &Decoded) -> Result<std::borrow::Cow<'_, Decoded>, EngineError> {
    if image.icc_profile.is_none() {
        return Ok(std::borrow::Cow::Borrowed(image));
    }
    let mut converted = image.clone();
    if crate::colour::convert_to_srgb(&mut converted)? {
        Ok(std::borrow::Cow::Owned(converted))
    } else {
        Err(EngineError::Conversion(
            "this image has a colour profile that cannot be converted to sRGB, and AVIF output cannot carry it: choose another format"
                .into(),
        ))
    }
}

/// Encodes RGBA pixels (`width × height × 4` bytes) at `quality` (1–100) and rav1e `speed`; the
/// alpha channel is left out when every pixel is opaque.
fn encode_with(
    rgba: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, EngineError> {
    use rgb::FromSlice;
    let (w, h) = (width as usize, height as usize);
    if rgba.len() != w * h * 4 || w == 0 || h == 0 {
        return Err(failed("pixel buffer of the wrong size"));
    }
    let quality = f32::from(quality.clamp(LOWEST_QUALITY, HIGHEST_QUALITY));
    ravif::Encoder::new()
        .with_quality(quality)
        .with_alpha_quality(quality)
        .with_speed(speed)
        .with_bit_depth(ravif::BitDepth::Ten)
        .encode_rgba(ravif::Img::new(rgba.as_rgba(), w, h))
        .map(|encoded| encoded.avif_file)
        .map_err(failed)
}

/// [`encode_with`] at the final (slower, smaller) speed.
pub fn encode(rgba: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, EngineError> {
    encode_with(rgba, width, height, quality, FINAL_SPEED)
}

/// An AVIF at `quality`, with its score when measurable.
pub fn encode_at(
    image: &Decoded,
    reference: &Reference,
    quality: u8,
) -> Result<(Vec<u8>, Option<f64>), EngineError> {
    let avif = encode(&image.rgba, image.width, image.height, quality)?;
    let score = reference.score(&reread_rgba(&avif)?);
    Ok((avif, score))
}

/// The smallest AVIF whose score reaches `target`, with its score; `None` when even the highest
/// quality falls short.
pub fn encode_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    // ravif's scale sits about ten points above SSIMULACRA2's on photographs.
    let guess = (target as u8)
        .saturating_add(10)
        .clamp(LOWEST_QUALITY, HIGHEST_QUALITY);
    let score = |avif: &[u8]| -> Result<f64, EngineError> {
        Ok(reference.score(&reread_rgba(avif)?).unwrap_or(0.0))
    };
    let (rgba, width, height) = (&image.rgba, image.width, image.height);
    let mut probes = Vec::new();
    let found = search::lowest_passing(LOWEST_QUALITY, HIGHEST_QUALITY, guess, target, |q| {
        let avif = encode_with(rgba, width, height, q, SEARCH_SPEED)?;
        let fast_score = score(&avif)?;
        probes.push((q, fast_score));
        Ok((fast_score, (avif, q)))
    })?;
    let Some(((fast, quality), fast_score)) = found else {
        return Ok(None);
    };
    let mut best = (fast, fast_score);
    let mut try_slow = |q: u8| -> Result<f64, EngineError> {
        let slow = encode_with(rgba, width, height, q, FINAL_SPEED)?;
        let slow_score = score(&slow)?;
        if slow_score >= target && slow.len() < best.0.len() {
            best = (slow, slow_score);
        }
        Ok(slow_score)
    };
    // Where the slower preset scores differently at the same quality (usually higher; on some
    // photos a little lower, in a much smaller file), the quality that reaches the target at that
    // preset is predicted from the fast probes shifted by the difference, and tried once.
    let gain = try_slow(quality)? - fast_score;
    if let Some(other) = lowest_reaching(&mut probes, target - gain).filter(|&q| q != quality) {
        try_slow(other)?;
    }
    Ok(Some(best))
}

/// The lowest setting predicted to score `wanted`, interpolated between the probes (setting,
/// score) on either side of it, or extrapolated below the lowest probe along the two lowest.
fn lowest_reaching(probes: &mut [(u8, f64)], wanted: f64) -> Option<u8> {
    probes.sort_by_key(|&(setting, _)| setting);
    let interpolate = |(q0, s0): (u8, f64), (q1, s1): (u8, f64)| -> Option<u8> {
        let slope = (s1 - s0) / f64::from(q1.checked_sub(q0).filter(|&d| d > 0)?);
        (slope > 0.0).then(|| {
            let q = f64::from(q0) + (wanted - s0) / slope;
            q.ceil().clamp(f64::from(LOWEST_QUALITY), f64::from(q1)) as u8
        })
    };
    // The highest probe still short of `wanted` and the one above it bracket the answer.
    match probes.iter().rposition(|&(_, s)| s < wanted) {
        Some(below) => probes
            .get(below + 1)
            .and_then(|&above| interpolate(probes[below], above)),
        None => match probes {
            [lowest, next, ..] => interpolate(*lowest, *next),
            _ => None,
        },
    }
}

/// `avif` (a file this module wrote) with the EXIF block `exif` added: the AV1 payloads are
/// taken out and wrapped again, so the pixels are exactly the searched candidate's.
pub fn with_exif(avif: &[u8], exif: &[u8]) -> Result<Vec<u8>, EngineError> {
    let parsed = avif_parse::read_avif(&mut &avif[..]).map_err(failed)?;
    let meta = parsed.primary_item_metadata().map_err(failed)?;
    let mut wrapper = avif_serialize::Aviffy::new();
    wrapper
        .matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_exif(exif.to_vec());
    Ok(wrapper.to_vec(
        &parsed.primary_item,
        parsed.alpha_item.as_deref(),
        meta.max_frame_width.get(),
        meta.max_frame_height.get(),
        meta.bit_depth,
    ))
}

/// A file this module wrote, decoded back to RGBA to score it.
pub fn reread_rgba(avif: &[u8]) -> Result<Vec<u8>, EngineError> {
    decode(avif, &Limits::default())
        .map(|image| image.rgba)
        .map_err(|e| failed(format!("re-reading our own file: {e}")))
}

fn malformed(reason: impl std::fmt::Display) -> EngineError {
    EngineError::Malformed {
        format: "AVIF",
        reason: reason.to_string(),
    }
}

/// Decodes an AVIF file (still image; 8–12 bit; any chroma layout; alpha, premultiplied or not)
/// to 8-bit RGBA, refusing anything beyond `limits` before its pixels are decoded.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, EngineError> {
    if has_icc_profile(bytes) {
        return Err(EngineError::UnsupportedFeature {
            format: "AVIF",
            reason: "AVIF with an embedded ICC colour profile is not supported yet".into(),
        });
    }
    let parsed = avif_parse::read_avif(&mut &bytes[..]).map_err(|e| match e {
        avif_parse::Error::Unsupported(what) => EngineError::UnsupportedFeature {
            format: "AVIF",
            reason: what.into(),
        },
        other => malformed(other),
    })?;
    let meta = parsed.primary_item_metadata().map_err(malformed)?;
    let (width, height) = (meta.max_frame_width.get(), meta.max_frame_height.get());
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_dimension
        || height > limits.max_dimension
    {
        return Err(EngineError::ImageTooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_dimension: limits.max_dimension,
        });
    }
    let pixel_limit = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut decoder = Decoder::new(pixel_limit)?;
    let colour = decoder.decode(&parsed.primary_item)?;
    let (width, height) = (colour.width, colour.height);
    let mut rgba = colour.to_rgba()?;
    drop(colour);
    let mut has_alpha = false;
    if let Some(alpha_item) = parsed.alpha_item.as_deref() {
        let alpha = decoder.decode(alpha_item)?;
        if (alpha.width, alpha.height) != (width, height) {
            return Err(malformed("its alpha plane is not the size of the image"));
        }
        let plane = alpha.plane(0)?;
        for y in 0..height as usize {
            for x in 0..width as usize {
                let a = plane.full_range(x, y, alpha.limited_range());
                let pixel = &mut rgba[(y * width as usize + x) * 4..][..4];
                pixel[3] = to_u8(a);
                if parsed.premultiplied_alpha {
                    for c in &mut pixel[..3] {
                        *c = if a > 0.0 {
                            to_u8((f32::from(*c) / 255.0 / a).min(1.0))
                        } else {
                            0
                        };
                    }
                }
                has_alpha |= pixel[3] != 255;
            }
        }
    }
    Ok(Decoded {
        rgba,
        width,
        height,
        has_alpha,
        icc_profile: None,
        exif: None,
        reoriented: false,
    })
}

/// Whether the file has a `colr` property holding an ICC profile (`prof` or `rICC`), which the
/// parser does not hand over: such a file is refused rather than shown in the wrong colours. Only
/// the boxes before the image data (`mdat`) are searched, so pixel data cannot look like one.
fn has_icc_profile(bytes: &[u8]) -> bool {
    let metadata = bytes
        .windows(4)
        .position(|w| w == b"mdat")
        .map_or(bytes, |at| &bytes[..at]);
    metadata
        .windows(8)
        .any(|w| &w[..4] == b"colr" && matches!(&w[4..], b"prof" | b"rICC"))
}

fn to_u8(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A rav1d decoder context, closed on drop.
struct Decoder(Option<Dav1dContext>);

impl Decoder {
    fn new(frame_size_limit: u32) -> Result<Self, EngineError> {
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: dav1d_default_settings writes the whole struct.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::from(&mut settings).cast());
            settings.assume_init()
        };
        // One thread: the engine runs one image per core. A still image needs no frame delay.
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        settings.apply_grain = 1;
        settings.frame_size_limit = frame_size_limit;
        let mut context = None;
        // SAFETY: both pointers are to live locals for the call.
        let result = unsafe {
            dav1d_open(
                Some(NonNull::from(&mut context)),
                Some(NonNull::from(&mut settings)),
            )
        };
        if result.0 != 0 || context.is_none() {
            return Err(failed(format!(
                "cannot start the decoder (error {})",
                result.0
            )));
        }
        Ok(Self(context))
    }

    /// Decodes one AV1 item (a single temporal unit); for a layered item, the last layer.
    fn decode(&mut self, item: &[u8]) -> Result<Picture, EngineError> {
        let context = self.0;
        let mut data = Dav1dData::default();
        // SAFETY: `data` is a live local; the buffer dav1d_data_create returns holds
        // `item.len()` bytes and is filled before it is sent. Every picture taken from the
        // decoder is wrapped in `Picture`, which releases it once.
        unsafe {
            let buffer = dav1d_data_create(Some(NonNull::from(&mut data)), item.len());
            if buffer.is_null() {
                return Err(malformed("an empty or oversized AV1 item"));
            }
            std::ptr::copy_nonoverlapping(item.as_ptr(), buffer, item.len());
            let mut last: Option<Picture> = None;
            let sent = loop {
                let result = dav1d_send_data(context, Some(NonNull::from(&mut data)));
                if result.0 == 0 {
                    break Ok(());
                }
                // The decoder holds a picture (a layered item): take it and send the rest.
                let mut pending = Picture::default();
                if dav1d_get_picture(context, Some(NonNull::from(&mut pending.raw))).0 != 0 {
                    break Err(malformed(format!(
                        "the AV1 data does not decode (error {})",
                        result.0
                    )));
                }
                last = Some(pending);
            };
            dav1d_data_unref(Some(NonNull::from(&mut data)));
            sent?;
            loop {
                let mut picture = Picture::default();
                let result = dav1d_get_picture(context, Some(NonNull::from(&mut picture.raw)));
                if result.0 != 0 {
                    break;
                }
                last = Some(picture);
            }
            let mut picture = last.ok_or_else(|| malformed("the AV1 data holds no picture"))?;
            let (w, h) = (picture.raw.p.w, picture.raw.p.h);
            if w <= 0 || h <= 0 || !matches!(picture.raw.p.bpc, 8 | 10 | 12) {
                return Err(malformed("a picture of no size or an unknown bit depth"));
            }
            (picture.width, picture.height) = (w as u32, h as u32);
            Ok(picture)
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from dav1d_open and is closed once.
        unsafe { dav1d_close(Some(NonNull::from(&mut self.0))) }
    }
}

/// A decoded picture, released on drop.
#[derive(Default)]
struct Picture {
    raw: Dav1dPicture,
    width: u32,
    height: u32,
}

/// One plane of a picture, borrowed.
struct Plane<'a> {
    samples: Samples<'a>,
    stride: usize,
    /// Log2 of the horizontal and vertical subsampling.
    shift: (u32, u32),
    /// The largest sample value (255, 1023 or 4095).
    max: f32,
}

enum Samples<'a> {
    Eight(&'a [u8]),
    Wide(&'a [u16]),
}

impl Plane<'_> {
    fn sample(&self, x: usize, y: usize) -> f32 {
        let at = (y >> self.shift.1) * self.stride + (x >> self.shift.0);
        match self.samples {
            Samples::Eight(s) => f32::from(s[at]),
            Samples::Wide(s) => f32::from(s[at]),
        }
    }

    /// The sample at image position (`x`, `y`) as 0–1 for a luma or alpha plane.
    fn full_range(&self, x: usize, y: usize, limited: bool) -> f32 {
        let value = self.sample(x, y);
        if limited {
            let unit = (self.max + 1.0) / 256.0;
            (value - 16.0 * unit) / (219.0 * unit)
        } else {
            value / self.max
        }
    }

    /// The chroma sample at image position (`x`, `y`) as −0.5–0.5.
    fn chroma(&self, x: usize, y: usize, limited: bool) -> f32 {
        let value = self.sample(x, y);
        let unit = (self.max + 1.0) / 256.0;
        if limited {
            (value - 128.0 * unit) / (224.0 * unit)
        } else {
            (value - 128.0 * unit) / self.max
        }
    }
}

impl Picture {
    fn sequence_header(&self) -> Option<&Dav1dSequenceHeader> {
        // SAFETY: the header lives as long as the picture that references it.
        self.raw.seq_hdr.map(|header| unsafe { header.as_ref() })
    }

    fn limited_range(&self) -> bool {
        self.sequence_header().is_some_and(|h| h.color_range == 0)
    }

    fn plane(&self, index: usize) -> Result<Plane<'_>, EngineError> {
        let layout = self.raw.p.layout;
        let shift = match (index, layout) {
            (0, _) | (_, DAV1D_PIXEL_LAYOUT_I444) => (0, 0),
            (_, DAV1D_PIXEL_LAYOUT_I420) => (1, 1),
            (_, DAV1D_PIXEL_LAYOUT_I422) => (1, 0),
            _ => return Err(malformed("an unknown chroma layout")),
        };
        let data = self.raw.data[index].ok_or_else(|| malformed("a missing plane"))?;
        let wide = self.raw.p.bpc > 8;
        let bytes_per_sample = if wide { 2 } else { 1 };
        let stride_bytes = self.raw.stride[usize::from(index > 0)];
        let rows = ((self.height as usize) + (1 << shift.1) - 1) >> shift.1;
        let columns = ((self.width as usize) + (1 << shift.0) - 1) >> shift.0;
        if stride_bytes <= 0 || !(stride_bytes as usize).is_multiple_of(bytes_per_sample) {
            return Err(malformed("a plane with an unusable stride"));
        }
        let stride = stride_bytes as usize / bytes_per_sample;
        if stride < columns {
            return Err(malformed("a plane with an unusable stride"));
        }
        let len = stride * (rows - 1) + columns;
        // SAFETY: rav1d allocates every plane as `rows` rows of `stride` samples of the picture's
        // bit depth; the slice covers no more than that and lives no longer than the picture.
        let samples = unsafe {
            if wide {
                Samples::Wide(std::slice::from_raw_parts(data.as_ptr().cast::<u16>(), len))
            } else {
                Samples::Eight(std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), len))
            }
        };
        Ok(Plane {
            samples,
            stride,
            shift,
            max: ((1u32 << self.raw.p.bpc) - 1) as f32,
        })
    }

    /// The picture as 8-bit RGBA (opaque), converted with the matrix its sequence header names
    /// (BT.601 when it names none we know, as libavif does).
    fn to_rgba(&self) -> Result<Vec<u8>, EngineError> {
        let (w, h) = (self.width as usize, self.height as usize);
        let limited = self.limited_range();
        let mut rgba = Vec::new();
        rgba.try_reserve_exact(w * h * 4)
            .map_err(|_| EngineError::Encode("out of memory for the decoded AVIF".into()))?;
        let luma = self.plane(0)?;
        if self.raw.p.layout == DAV1D_PIXEL_LAYOUT_I400 {
            for y in 0..h {
                for x in 0..w {
                    let v = to_u8(luma.full_range(x, y, limited));
                    rgba.extend_from_slice(&[v, v, v, 255]);
                }
            }
            return Ok(rgba);
        }
        let (u, v) = (self.plane(1)?, self.plane(2)?);
        let matrix = self.sequence_header().map(|h| h.mtrx);
        if matrix == Some(DAV1D_MC_IDENTITY) {
            // GBR stored as Y=G, U=B, V=R.
            for y in 0..h {
                for x in 0..w {
                    let g = to_u8(luma.full_range(x, y, limited));
                    let b = to_u8(u.full_range(x, y, limited));
                    let r = to_u8(v.full_range(x, y, limited));
                    rgba.extend_from_slice(&[r, g, b, 255]);
                }
            }
            return Ok(rgba);
        }
        let (kr, kb) = match matrix {
            Some(DAV1D_MC_BT709) => (0.2126, 0.0722),
            Some(DAV1D_MC_BT2020_NCL | DAV1D_MC_BT2020_CL) => (0.2627, 0.0593),
            _ => (0.299, 0.114),
        };
        let kg = 1.0 - kr - kb;
        for y in 0..h {
            for x in 0..w {
                let l = luma.full_range(x, y, limited);
                let cb = u.chroma(x, y, limited);
                let cr = v.chroma(x, y, limited);
                let r = l + (2.0 - 2.0 * kr) * cr;
                let b = l + (2.0 - 2.0 * kb) * cb;
                let g = (l - kr * r - kb * b) / kg;
                rgba.extend_from_slice(&[to_u8(r), to_u8(g), to_u8(b), 255]);
            }
        }
        Ok(rgba)
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: a default picture holds nothing; a filled one is released once, here.
        unsafe { dav1d_picture_unref(Some(NonNull::from(&mut self.raw))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo_like(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        (0..height)
            .flat_map(|y| {
                (0..width).flat_map(move |x| {
                    let a = if alpha {
                        ((x * 255) / width) as u8
                    } else {
                        255
                    };
                    [
                        (64.0 + 60.0 * ((x as f32) / 9.0).sin()) as u8,
                        (128.0 + 50.0 * ((y as f32) / 7.0).cos()) as u8,
                        ((x + 2 * y) % 200) as u8,
                        a,
                    ]
                })
            })
            .collect()
    }

    fn max_difference(a: &[u8], b: &[u8], channels: std::ops::Range<usize>) -> u8 {
        a.chunks_exact(4)
            .zip(b.chunks_exact(4))
            .flat_map(|(p, q)| channels.clone().map(move |c| p[c].abs_diff(q[c])))
            .max()
            .unwrap()
    }

    #[test]
    fn a_high_quality_avif_decodes_close_to_its_pixels_with_alpha() {
        let rgba = photo_like(64, 48, true);
        let avif = encode(&rgba, 64, 48, 100).unwrap();
        assert_eq!(&avif[4..12], b"ftypavif");
        let back = decode(&avif, &Limits::default()).unwrap();
        assert_eq!((back.width, back.height), (64, 48));
        assert!(back.has_alpha);
        assert!(
            max_difference(&rgba, &back.rgba, 3..4) <= 2,
            "alpha drifted"
        );
        // Colour under high opacity: close to the original.
        let opaque: Vec<(&[u8], &[u8])> = rgba
            .chunks_exact(4)
            .zip(back.rgba.chunks_exact(4))
            .filter(|(p, _)| p[3] > 200)
            .collect();
        let worst = opaque
            .iter()
            .flat_map(|(p, q)| (0..3).map(move |c| p[c].abs_diff(q[c])))
            .max()
            .unwrap();
        assert!(worst <= 8, "colour off by {worst}");
    }

    #[test]
    fn lower_quality_is_smaller_deterministic_and_opaque_images_carry_no_alpha() {
        let rgba = photo_like(96, 80, false);
        let high = encode(&rgba, 96, 80, 90).unwrap();
        let low = encode(&rgba, 96, 80, 40).unwrap();
        assert!(low.len() < high.len(), "{} !< {}", low.len(), high.len());
        assert_eq!(low, encode(&rgba, 96, 80, 40).unwrap());
        let parsed = avif_parse::read_avif(&mut &high[..]).unwrap();
        assert!(parsed.alpha_item.is_none());
        assert!(!decode(&high, &Limits::default()).unwrap().has_alpha);
    }

    #[test]
    fn the_search_meets_its_target_and_the_file_scores_what_it_reported() {
        let rgba = photo_like(120, 90, false);
        let image = Decoded {
            rgba: rgba.clone(),
            width: 120,
            height: 90,
            has_alpha: false,
            icc_profile: None,
            exif: None,
            reoriented: false,
        };
        let reference = Reference::new(&rgba, 120, 90, false);
        let (avif, score) = encode_for_target(&image, &reference, 80.0)
            .unwrap()
            .unwrap();
        assert!(score >= 80.0, "{score}");
        let again = reference.score(&reread_rgba(&avif).unwrap()).unwrap();
        assert_eq!(again, score);
    }

    #[test]
    fn exif_is_added_without_touching_the_pixels() {
        let rgba = photo_like(40, 30, true);
        let plain = encode(&rgba, 40, 30, 70).unwrap();
        let exif = b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0";
        let tagged = with_exif(&plain, exif).unwrap();
        assert!(tagged.windows(exif.len()).any(|w| w == exif));
        assert_eq!(reread_rgba(&tagged).unwrap(), reread_rgba(&plain).unwrap());
    }

    #[test]
    fn the_lowest_setting_reaching_a_score_is_interpolated_from_the_probes() {
        // Bracketed: 50 → 60, 60 → 70; 65 is wanted.
        assert_eq!(
            lowest_reaching(&mut [(60, 70.0), (50, 60.0)], 65.0),
            Some(55)
        );
        // Below every probe: extrapolated along the two lowest.
        assert_eq!(
            lowest_reaching(&mut [(80, 80.0), (90, 90.0)], 75.0),
            Some(75)
        );
        // Above every probe: nothing to predict.
        assert_eq!(lowest_reaching(&mut [(80, 70.0), (90, 72.0)], 75.0), None);
        assert_eq!(lowest_reaching(&mut [(80, 80.0)], 75.0), None);
    }

    #[test]
    fn an_embedded_icc_profile_is_refused_and_pixel_data_never_mistaken_for_one() {
        let avif = encode(&photo_like(16, 16, false), 16, 16, 60).unwrap();
        let at = avif.windows(4).position(|w| w == b"mdat").unwrap();
        let mut with_profile = avif.clone();
        with_profile[at - 12..at - 4].copy_from_slice(b"colrprof");
        assert!(has_icc_profile(&with_profile));
        assert!(matches!(
            decode(&with_profile, &Limits::default()),
            Err(EngineError::UnsupportedFeature { .. })
        ));
        let mut in_pixels = avif.clone();
        in_pixels.extend_from_slice(b"colrprof");
        assert!(!has_icc_profile(&in_pixels));
        assert!(!has_icc_profile(&avif));
    }

    #[test]
    fn broken_truncated_and_oversized_avifs_are_errors_not_crashes() {
        let avif = encode(&photo_like(64, 64, true), 64, 64, 60).unwrap();
        for cut in [12, 40, avif.len() / 2, avif.len() - 10] {
            assert!(
                decode(&avif[..cut], &Limits::default()).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = avif.clone();
        let middle = flipped.len() * 3 / 4;
        for b in &mut flipped[middle..middle + 40] {
            *b ^= 0x5A;
        }
        let _ = decode(&flipped, &Limits::default()); // any result but a crash
        let small = Limits {
            max_pixels: 1000,
            ..Limits::default()
        };
        assert!(matches!(
            decode(&avif, &small),
            Err(EngineError::ImageTooLarge {
                width: 64,
                height: 64,
                ..
            })
        ));
    }
}
