//! Slimage's compression engine.
//!
//! [`compress`] takes the bytes of an image and [`CompressOptions`], and returns smaller bytes
//! with a report ([`Compressed`]) or a typed [`EngineError`]. It knows nothing of users, plans,
//! HTTP or databases; it is synchronous, deterministic for the same input and options, and safe
//! to call from many threads at once. The format is always recognised from the bytes.
// Unsafe code is refused everywhere except in `webp`, `avif` and `deflate`, the modules that call
// a codec through its C interface (and `jpeg`'s lossless transcoding function).
#![deny(unsafe_code)]

mod animation;
#[cfg(feature = "avif")]
mod avif;
mod colour;
mod decode;
mod deflate;
mod error;
mod jpeg;
mod metadata;
mod options;
mod png;
mod resize;
mod rgb_png;
mod score;
mod search;
mod sniff;
mod ssim2;
mod webp;

pub use error::EngineError;
pub use metadata::Keep;
pub use options::{CompressOptions, Limits, Mode, OutputFormat, BALANCED_TARGET, SMALL_TARGET};
pub use resize::Resize;
pub use sniff::{sniff_format, ImageFormat};

use decode::Decoded;
use score::Reference;

/// The result of [`compress`].
#[derive(Debug, Clone, PartialEq)]
pub struct Compressed {
    /// The output file.
    pub bytes: Vec<u8>,
    /// The output's format.
    pub format: ImageFormat,
    /// Width of the output in pixels.
    pub width: u32,
    /// Height of the output in pixels.
    pub height: u32,
    /// Size of the input in bytes.
    pub input_bytes: usize,
    /// Size of the output in bytes.
    pub output_bytes: usize,
    /// SSIMULACRA2 score of the output against the input (100 = identical), or `None` for images
    /// too small to measure (under 8 pixels on a side; those are only compressed losslessly).
    pub score: Option<f64>,
    /// Whether the output is the input unchanged, because nothing smaller was found.
    pub kept_original: bool,
}

/// Compresses one image. See the crate documentation.
pub fn compress(input: &[u8], options: &CompressOptions) -> Result<Compressed, EngineError> {
    if input.is_empty() {
        return Err(EngineError::Empty);
    }
    if input.len() > options.limits.max_input_bytes {
        return Err(EngineError::InputTooLarge {
            size: input.len(),
            limit: options.limits.max_input_bytes,
        });
    }
    let format = sniff_format(input).ok_or(EngineError::UnsupportedFormat)?;
    // The decoders and encoders are written to return errors, but a panic in any of them must
    // still reach the caller as an error, never take the process down.
    std::panic::catch_unwind(|| compress_sniffed(input, format, options)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown fault".into());
        Err(EngineError::Malformed {
            format: format.name(),
            reason: format!("decoder fault: {what}"),
        })
    })
}

/// The formats `auto` tries: PNG and WebP always, JPEG when the image is opaque or a background
/// colour to flatten it onto was given (transparency is never dropped silently), AVIF when built
/// in (it is skipped where it cannot hold the image: lossless mode, a colour profile).
fn auto_formats(image: &Decoded, options: &CompressOptions) -> Vec<ImageFormat> {
    let mut formats = vec![ImageFormat::WebP, ImageFormat::Png];
    if !image.has_alpha || options.background.is_some() {
        formats.insert(1, ImageFormat::Jpeg);
    }
    if cfg!(feature = "avif") {
        formats.insert(0, ImageFormat::Avif);
    }
    formats
}

fn output_format(input: ImageFormat, requested: OutputFormat) -> ImageFormat {
    match (requested, input) {
        (OutputFormat::Auto, _) => unreachable!("auto tries several formats"),
        (OutputFormat::Png, _) => ImageFormat::Png,
        (OutputFormat::Jpeg, _) => ImageFormat::Jpeg,
        (OutputFormat::Webp, _) => ImageFormat::WebP,
        (OutputFormat::Avif, _) => ImageFormat::Avif,
        (OutputFormat::Same, ImageFormat::Jpeg) => ImageFormat::Jpeg,
        (OutputFormat::Same, ImageFormat::WebP) => ImageFormat::WebP,
        (OutputFormat::Same, _) => ImageFormat::Png,
    }
}

/// An encoded candidate with its measured score.
struct Candidate {
    bytes: Vec<u8>,
    score: Option<f64>,
}

fn compress_sniffed(
    input: &[u8],
    format: ImageFormat,
    options: &CompressOptions,
) -> Result<Compressed, EngineError> {
    animation::refuse_animation(input, format)?;
    let mut image = decode::decode(input, format, &options.limits)?;
    let decoded_size = (image.width, image.height);
    let converted = options.to_srgb && colour::convert_to_srgb(&mut image)?;
    if let Some(resize) = options.resize {
        image = resize::apply(image, resize)?;
    }
    let new_pixels = (image.width, image.height) != decoded_size || converted;
    // A resized or converted image is a new picture: the input bytes can neither be optimised in
    // place nor given back, and the quality is measured against the new pixels.
    let source = (!new_pixels).then_some(input);
    let auto = options.format == OutputFormat::Auto;
    let formats = if auto {
        auto_formats(&image, options)
    } else {
        vec![output_format(format, options.format)]
    };
    // Every format gets its own search for the target; `auto` keeps the smallest result.
    let mut chosen: Option<(ImageFormat, Option<Candidate>)> = None;
    let size = |c: &Option<Candidate>| c.as_ref().map_or(usize::MAX, |c| c.bytes.len());
    for out_format in formats {
        // PNG comes last: what the others gave bounds its search.
        let beat = chosen
            .as_ref()
            .map(|(_, best)| size(best))
            .filter(|&best| best < usize::MAX);
        let candidate = match out_format {
            ImageFormat::Png => compress_png(source, format, &image, options.mode, beat),
            ImageFormat::Jpeg => compress_jpeg(source, format, &image, options),
            ImageFormat::WebP => compress_webp(&image, options.mode),
            ImageFormat::Avif => compress_avif(&image, options.mode),
            other => unreachable!("no output is chosen as {other:?}"),
        };
        let candidate = match candidate {
            // `auto` skips a format that cannot hold the image as asked (lossless JPEG).
            Err(EngineError::Conversion(_)) if auto => continue,
            other => other?,
        };
        if chosen
            .as_ref()
            .is_none_or(|(_, best)| size(&candidate) < size(best))
        {
            chosen = Some((out_format, candidate));
        }
    }
    let (out_format, candidate) = chosen.ok_or_else(|| {
        EngineError::Conversion("no output format can hold this image as asked".into())
    })?;
    let (width, height) = (image.width, image.height);
    let report = |bytes: Vec<u8>, format, score, kept_original| Compressed {
        output_bytes: bytes.len(),
        bytes,
        format,
        width,
        height,
        input_bytes: input.len(),
        score,
        kept_original,
    };
    // Never larger: unless the caller asked for a format by name, a result that does not beat the
    // input gives the input back unchanged.
    let explicit_conversion =
        !matches!(options.format, OutputFormat::Same | OutputFormat::Auto) && out_format != format;
    let kept_exif = image
        .exif
        .as_deref()
        .and_then(|raw| metadata::filtered_exif(raw, options.keep));
    // Kept metadata is part of the output, so it counts when comparing with the input.
    let candidate = match (candidate, &kept_exif) {
        (Some(c), Some(exif)) => Some(Candidate {
            bytes: metadata::embed(out_format, c.bytes, exif)?,
            score: c.score,
        }),
        (candidate, _) => candidate,
    };
    Ok(match candidate {
        Some(c) if c.bytes.len() < input.len() || explicit_conversion || new_pixels => {
            report(c.bytes, out_format, c.score, false)
        }
        _ => report(input.to_vec(), format, Some(100.0), true),
    })
}

/// PNG output; `None` when only the original will do (lossless mode on a PNG that cannot shrink).
/// `source` is the input file when its pixels are the image's (not resized), `format` its format;
/// `beat` the size of the smallest file `auto` has from another format, which a lossy PNG must be
/// able to come near to be searched in full.
fn compress_png(
    source: Option<&[u8]>,
    format: ImageFormat,
    image: &Decoded,
    mode: Mode,
    beat: Option<usize>,
) -> Result<Option<Candidate>, EngineError> {
    lossy_or_lossless(
        image,
        mode,
        || match source {
            Some(input) if format == ImageFormat::Png => png::optimize(input),
            _ => png::encode_lossless(image),
        },
        |reference, quality| png::encode_lossy_at(image, reference, quality),
        |reference, target| png::encode_lossy_for_target(image, reference, target, beat),
    )
    .map(Some)
}

/// WebP output: lossless VP8L in lossless mode (and when no lossy quality reaches the target),
/// otherwise lossy VP8 at the searched or given quality.
fn compress_webp(image: &Decoded, mode: Mode) -> Result<Option<Candidate>, EngineError> {
    let candidate = lossy_or_lossless(
        image,
        mode,
        || {
            webp::encode(
                &image.rgba,
                image.width,
                image.height,
                webp::Setting::Lossless,
            )
        },
        |reference, quality| webp::encode_at(image, reference, webp::Setting::Lossy(quality)),
        |reference, target| webp::encode_for_target(image, reference, target),
    )?;
    // The colour profile goes into the chosen file only: the search compares bitstreams.
    Ok(Some(match image.icc_profile.as_deref() {
        Some(icc) => Candidate {
            bytes: webp::with_icc(&candidate.bytes, icc)?,
            score: candidate.score,
        },
        None => candidate,
    }))
}

/// AVIF output: lossy only, at the searched or given quality. No setting reaching the target is a
/// conversion error (AVIF has no lossless mode here), so `auto` moves on to the other formats.
#[cfg(feature = "avif")]
fn compress_avif(image: &Decoded, mode: Mode) -> Result<Option<Candidate>, EngineError> {
    let image = &*avif::in_srgb(image)?;
    let no_lossless = || {
        EngineError::Conversion(
            "AVIF output is lossy only: choose PNG or WebP for lossless, or a lossy mode".into(),
        )
    };
    let too_small = || {
        EngineError::Conversion(format!(
            "the image is smaller than {0}×{0} pixels, too small to measure an AVIF's quality: choose PNG or WebP",
            score::MIN_SIDE
        ))
    };
    let target = match mode {
        Mode::Lossless => return Err(no_lossless()),
        _ if !score::scorable(image.width, image.height) => return Err(too_small()),
        Mode::Quality(_) => None,
        searching => searching.target_score(),
    };
    let reference = Reference::new(&image.rgba, image.width, image.height, image.has_alpha);
    match (mode, target) {
        (Mode::Quality(quality), _) => {
            let (bytes, score) = avif::encode_at(image, &reference, quality)?;
            Ok(Some(Candidate { bytes, score }))
        }
        (_, Some(target)) => match avif::encode_for_target(image, &reference, target)? {
            Some((bytes, score)) => Ok(Some(Candidate {
                bytes,
                score: Some(score),
            })),
            None => Err(EngineError::Conversion(format!(
                "no AVIF quality reaches a score of {target}: choose PNG or WebP"
            ))),
        },
        (_, None) => unreachable!("every mode but lossless and quality has a target"),
    }
}

#[cfg(not(feature = "avif"))]
fn compress_avif(_: &Decoded, _: Mode) -> Result<Option<Candidate>, EngineError> {
    Err(EngineError::Conversion(
        "this build of Slimage has no AVIF support: choose PNG, JPEG or WebP".into(),
    ))
}

/// What PNG and WebP share: lossless output in lossless mode and for images too small to score
/// (no reference is prepared then); a fixed `quality`; or the searched `target`, falling back to
/// lossless when no lossy setting reaches it.
fn lossy_or_lossless(
    image: &Decoded,
    mode: Mode,
    lossless: impl Fn() -> Result<Vec<u8>, EngineError>,
    at_quality: impl Fn(&Reference, u8) -> Result<(Vec<u8>, Option<f64>), EngineError>,
    for_target: impl Fn(&Reference, f64) -> Result<Option<(Vec<u8>, f64)>, EngineError>,
) -> Result<Candidate, EngineError> {
    let lossless = || -> Result<Candidate, EngineError> {
        Ok(Candidate {
            bytes: lossless()?,
            score: Some(100.0),
        })
    };
    let target = match mode {
        Mode::Lossless => return lossless(),
        _ if !score::scorable(image.width, image.height) => return lossless(),
        Mode::Quality(_) => None,
        searching => searching.target_score(),
    };
    let reference = Reference::new(&image.rgba, image.width, image.height, image.has_alpha);
    match (mode, target) {
        (Mode::Quality(quality), _) => {
            let (bytes, score) = at_quality(&reference, quality)?;
            Ok(Candidate { bytes, score })
        }
        (_, Some(target)) => match for_target(&reference, target)? {
            Some((bytes, score)) => Ok(Candidate {
                bytes,
                score: Some(score),
            }),
            None => lossless(),
        },
        (_, None) => unreachable!("every mode but lossless and quality has a target"),
    }
}

/// JPEG output; `None` when only the original will do.
fn compress_jpeg(
    source: Option<&[u8]>,
    format: ImageFormat,
    image: &Decoded,
    options: &CompressOptions,
) -> Result<Option<Candidate>, EngineError> {
    let background = match (image.has_alpha, options.background) {
        (false, _) => [0, 0, 0],
        (true, Some(background)) => background,
        (true, None) => {
            return Err(EngineError::Conversion(
                "the image is transparent and JPEG is not: choose a background colour to flatten it onto, or another format"
                    .into(),
            ))
        }
    };
    // A JPEG shown as it is stored (not resized, converted or turned by its EXIF orientation)
    // can be re-encoded losslessly: same coefficients, better entropy coding.
    let transcoded = || -> Result<Option<Candidate>, EngineError> {
        match source {
            Some(jpeg) if format == ImageFormat::Jpeg && !image.reoriented => Ok(Some(Candidate {
                bytes: jpeg::transcode(jpeg, image.icc_profile.as_deref())?,
                score: Some(100.0),
            })),
            _ => Ok(None),
        }
    };
    let mode = match options.mode {
        // Lossless mode re-encodes a JPEG's coefficients (or keeps it, when it is stored turned);
        // a resized one (new pixels either way) is written at a quality that loses nothing visible.
        Mode::Lossless if format == ImageFormat::Jpeg && source.is_some() => return transcoded(),
        Mode::Lossless if format == ImageFormat::Jpeg => Mode::Quality(95),
        Mode::Lossless => {
            return Err(EngineError::Conversion(
                "JPEG cannot hold an image losslessly: choose PNG, or a lossy mode".into(),
            ))
        }
        mode => mode,
    };
    let rgb = jpeg::rgb_pixels(image, background);
    // The reference is the image as the caller agreed to see it: flattened, fully opaque.
    let reference = Reference::new(&jpeg::opaque_rgba(&rgb), image.width, image.height, false);
    let icc = image.icc_profile.as_deref();
    let at_quality = |quality| -> Result<Candidate, EngineError> {
        let (bytes, score) = jpeg::encode_at(image, &rgb, &reference, quality, icc)?;
        Ok(Candidate { bytes, score })
    };
    match mode {
        Mode::Lossless => unreachable!("handled above"),
        Mode::Quality(quality) => at_quality(quality).map(Some),
        _ if !reference.scorable() => at_quality(95).map(Some),
        mode => {
            let target = mode.target_score().expect("searching modes have a target");
            let searched = jpeg::encode_for_target(image, &rgb, &reference, target, icc)?.map(
                |(bytes, score)| Candidate {
                    bytes,
                    score: Some(score),
                },
            );
            // The lossless re-encoding wins only where the search saved little (an input already
            // at a low quality) or nothing; only then is it worth its time.
            let saved_little =
                |c: &Candidate| c.bytes.len() * 100 > source.map_or(0, <[u8]>::len) * 85;
            let lossless = match &searched {
                Some(c) if !saved_little(c) => None,
                _ => transcoded()?,
            };
            match (searched, lossless) {
                (Some(lossy), Some(lossless)) if lossless.bytes.len() <= lossy.bytes.len() => {
                    Ok(Some(lossless))
                }
                (Some(lossy), _) => Ok(Some(lossy)),
                (None, Some(lossless)) => Ok(Some(lossless)),
                // A JPEG no quality can match stays as it was; other inputs get the best JPEG.
                (None, None) if format == ImageFormat::Jpeg && source.is_some() => Ok(None),
                (None, None) => at_quality(100).map(Some),
            }
        }
    }
}
