//! PNG output: lossless optimisation with oxipng; lossy palette quantisation with imagequant
//! (pngquant's core) searched per image for the smallest palette that keeps the target score,
//! followed by oxipng; and lossy truecolour (prediction errors rounded to a searched step,
//! written with the Average filter). The smaller of the two lossy files wins.

use crate::{
    decode::Decoded,
    rgb_png,
    score::Reference,
    search::{self, Sample},
    EngineError,
};

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
    optimize_with(png, &oxipng_options())
}

/// `optimize` with oxipng's `options`.
fn optimize_with(png: &[u8], options: &oxipng::Options) -> Result<Vec<u8>, EngineError> {
    oxipng::optimize_from_memory(png, options).map_err(|e| EngineError::Encode(e.to_string()))
}

/// Writes RGBA pixels as a PNG, losslessly, then optimises it. The colour profile goes along.
pub fn encode_lossless(image: &Decoded) -> Result<Vec<u8>, EngineError> {
    write_rgba(image, image.rgba.clone(), &oxipng_options())
}

/// `rgba` (`image`'s size) as an optimised PNG with `image`'s colour profile.
fn write_rgba(
    image: &Decoded,
    rgba: Vec<u8>,
    options: &oxipng::Options,
) -> Result<Vec<u8>, EngineError> {
    let mut raw = oxipng::RawImage::new(
        image.width,
        image.height,
        oxipng::ColorType::RGBA,
        oxipng::BitDepth::Eight,
        rgba,
    )
    .map_err(|e| EngineError::Encode(e.to_string()))?;
    if let Some(icc) = &image.icc_profile {
        raw.add_icc_profile(icc);
    }
    raw.create_optimized_png(options)
        .map_err(|e| EngineError::Encode(e.to_string()))
}

/// A quantised image: palette and one index per pixel, and the quality the quantiser reached.
#[derive(Clone)]
struct Quantised {
    palette: Vec<imagequant::RGBA>,
    indices: Vec<u8>,
    reached: Option<u8>,
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
        self.encode_with(width, height, icc, &oxipng_options())
    }

    /// `encode` with oxipng's `options`.
    fn encode_with(
        &self,
        width: u32,
        height: u32,
        icc: Option<&[u8]>,
        options: &oxipng::Options,
    ) -> Result<Vec<u8>, EngineError> {
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
        optimize_with(&out, options)
    }
}

#[cfg(test)]
thread_local! {
    /// The width of every image this thread has quantised, in order (for the tests of the
    /// search's cost: how many quantisations, and of which image).
    static QUANTISED_WIDTHS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn quantise(image: &Decoded, quality: u8) -> Result<Quantised, EngineError> {
    #[cfg(test)]
    QUANTISED_WIDTHS.with(|widths| widths.borrow_mut().push(image.width));
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
    let reached = result.quantization_quality();
    let (palette, indices) = result.remapped(&mut liq_image).map_err(quant_error)?;
    Ok(Quantised {
        palette,
        indices,
        reached,
    })
}

/// The smallest lossy PNG whose score reaches `target`, with that score: a palette or a truecolour
/// PNG with rounded prediction errors, whichever is smaller; `None` when neither reaches it (the
/// caller then keeps the image lossless).
///
/// Both are searched: neither wins by kind of image. On the corpus the palette was smaller on
/// icons, logos, charts and some photos (astronaut 106 kB against 117 kB), the truecolour PNG on
/// other photos and soft artwork (softwaves 173 kB against 274 kB) and on every image no palette
/// can hold at the target (elephants 17.7 MB: 4.9 MB, where the palette search found nothing).
///
/// oxipng's full effort (most of a PNG's time, deflate at level 11) goes only to a file that can
/// win: when both reach the target, both are first written at oxipng's quickest preset, and a
/// kind whose file at full effort is predicted clearly larger than the other's is not written
/// again (see [`kinds_to_write`]).
///
/// A large image is first searched on a [`Sample`] (a quarter of its tiles, fewer beyond
/// [`SAMPLE_PIXELS`]): when one kind's file
/// there is clearly larger than the other's (see [`kinds_worth_searching`]), only the other kind
/// is searched on the whole image (and the loser too if that finds nothing). The truecolour search
/// starts from the step the sample found, and the palette search is led by the sample's scores
/// (see [`palette_for_target_sampled`]).
///
/// With `beat` (the size of a file another format gave), an image whose sample shows its PNG
/// cannot come near that size is not searched whole: the answer is a conversion error (see
/// [`plan_on_sample`]).
pub fn encode_lossy_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
    beat: Option<usize>,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    let mut plan = match Sample::of_at_most(image.width, image.height, SAMPLE_PIXELS) {
        Some(sample) => plan_on_sample(&sample, image, target, beat)?,
        None => Plan::default(),
    };
    let palette_sample = plan.palette_sample.take();
    let search_palette = || match palette_sample {
        Some(sample) => palette_for_target_sampled(image, reference, target, sample),
        None => palette_for_target(image, reference, target),
    };
    let truecolour_sample = plan.truecolour_sample.take();
    let search_truecolour = || {
        let lead = truecolour_sample.as_ref();
        Ok::<_, EngineError>(truecolour_for_target(image, reference, target, lead)?.0)
    };
    let (palette, truecolour) = match (plan.palette, plan.truecolour) {
        (true, false) => match search_palette()? {
            Some(found) => (Some(found), None),
            None => (None, search_truecolour()?),
        },
        (false, true) => match search_truecolour()? {
            Some(found) => (None, Some(found)),
            None => (search_palette()?, None),
        },
        _ => (search_palette()?, search_truecolour()?),
    };
    let (width, height, icc) = (image.width, image.height, image.icc_profile.as_deref());
    let (palette, truecolour) = match (palette, truecolour) {
        (Some(palette), Some(truecolour)) => {
            let quick = file_sizes(image, &palette.0, &truecolour.0, &quick_options())?;
            let (write_palette, write_truecolour) = kinds_to_write(quick, plan.full_effort);
            (
                write_palette.then_some(palette),
                write_truecolour.then_some(truecolour),
            )
        }
        one_or_none => one_or_none,
    };
    let full = oxipng_options();
    let palette = palette
        .map(|(quantised, score, _)| {
            Ok::<_, EngineError>((quantised.encode_with(width, height, icc, &full)?, score))
        })
        .transpose()?;
    let truecolour = truecolour
        .map(|(pixels, score, _)| Ok::<_, EngineError>((encode_truecolour(image, pixels)?, score)))
        .transpose()?;
    Ok(match (palette, truecolour) {
        (Some(p), Some(t)) => Some(if t.0.len() < p.0.len() { t } else { p }),
        (p, t) => p.or(t),
    })
}

/// The most pixels a PNG's sample is made of (about): a quarter of the tiles up to 8 MP, then
/// one tile in 3, 4, … across and down. On `truchet_4096.png` (16.8 MP) the quarter's 4.2 MP took
/// about 40 % of the time, quantised 5 times and scored 8; a ninth gave the same file. A
/// sixteenth of it (1 MP) made its palette look close enough to search whole (4 quantisations
/// of 16.8 MP, nearly twice the time), so the bound stays well above that.
const SAMPLE_PIXELS: u64 = 2_000_000;

/// The passes of libdeflate's near-optimal parser for the truecolour file's final write, where
/// [`rgb_png`] writes it (level 11 runs 4; see [`crate::deflate`] for what 2 cost and save).
const FINAL_PASSES: u32 = 2;

/// Images smaller than this many pixels get level 11's own 4 passes all the same: there the two
/// more cost a few hundredths of a second, and `chelsea.png` (0.14 MP) was 1 % larger with 2. At
/// 0.26–0.37 MP they cost 0.15–0.2 s for 0–0.16 % (`ihc.png`, `motorcycle_left.png`).
const SMALL_IMAGE: u64 = 250_000;

/// The parser passes for a `width`×`height` truecolour file.
fn final_passes(width: u32, height: u32) -> u32 {
    if u64::from(width) * u64::from(height) < SMALL_IMAGE {
        4
    } else {
        FINAL_PASSES
    }
}

/// The truecolour file (`pixels`, rounded by [`near_lossless`]) at full effort: written directly
/// when oxipng's choice of colour type is known without compressing ([`rgb_png::applies`]), with
/// [`final_passes`]; otherwise by oxipng at level 11, which also picks its colour type.
fn encode_truecolour(image: &Decoded, pixels: Vec<u8>) -> Result<Vec<u8>, EngineError> {
    let icc = image.icc_profile.as_deref();
    if let Some(layout) = rgb_png::applies(&pixels, icc.is_some()) {
        let passes = final_passes(image.width, image.height);
        return rgb_png::write(&pixels, image.width, image.height, layout, icc, passes);
    }
    encode_averaged_with(image, pixels, &oxipng_options())
}

/// How much larger than the other a lossy PNG may be, written quickly, and still be written with
/// oxipng's full effort: level 11 gains a few percent over the quick preset, never this much more
/// on a palette than on a truecolour file.
const QUICK_MARGIN: f64 = 1.15;

/// The same for a truecolour file against a palette: its rounded prediction errors gain far more
/// from level 11's optimal parsing than a palette's indices do. On the corpus PNGs full effort
/// made a truecolour file 0.63–0.92 times its quick size and a palette 0.59–0.95 times, so a
/// truecolour file up to about 1.5 times the palette's when written quickly can still be the
/// smaller (`mate_stripes_dark.png`: 596 680 against 519 231 bytes quickly, 378 441 against
/// 459 364 at full effort).
const TRUECOLOUR_QUICK_MARGIN: f64 = 1.4;

/// How much larger than the other's a kind's file predicted at full effort (below) may be and
/// still be written at full effort. Full effort's gain on the whole image was its gain on the
/// sample within 1.2 % of the quick size on every corpus PNG where both were known (palette,
/// truecolour: `gimp_splash.png` 0.922 and 0.812 on the sample, 0.920 and 0.800 whole;
/// `storm.png` 0.846 and 0.728, 0.834 and 0.725; `ubuntu_mate_cold.png` 0.869 and 0.816, 0.867
/// and 0.810; `mate_stripes_dark.png` 0.908 and 0.650, 0.885 and 0.634).
const PREDICTED_MARGIN: f64 = 1.05;

/// Which kinds' files on the whole image to write at full effort, `(palette, truecolour)`, from
/// their `quick` sizes. With `full_effort` (what it made of each kind's sample file, as a fraction
/// of the quick size) each full size is predicted, and a kind predicted over `PREDICTED_MARGIN`
/// times the other's is not written: `ubuntu_mate_cold.png`'s palette (predicted 1.06 times the
/// truecolour file, 1.07 when written) and `mate_stripes_dark.png`'s (1.22, 1.21), whose full
/// writes took about a second each. Without it, by `QUICK_MARGIN` and `TRUECOLOUR_QUICK_MARGIN`.
fn kinds_to_write(quick: (f64, f64), full_effort: Option<(f64, f64)>) -> (bool, bool) {
    let (palette, truecolour) = quick;
    match full_effort {
        Some((palette_gain, truecolour_gain)) => {
            let (palette, truecolour) = (palette * palette_gain, truecolour * truecolour_gain);
            (
                palette <= truecolour * PREDICTED_MARGIN,
                truecolour <= palette * PREDICTED_MARGIN,
            )
        }
        None => (
            palette <= truecolour * QUICK_MARGIN,
            truecolour <= palette * TRUECOLOUR_QUICK_MARGIN,
        ),
    }
}

/// How much larger than the other kind's a kind's file on the sample, written quickly, must be
/// for that kind not to be searched on the whole image.
const KIND_MARGIN: f64 = 1.3;

/// A truecolour sample file between `KIND_MARGIN` and this many times the palette's, written
/// quickly, is compared again with both written at full effort (for the reason above), and the
/// truecolour kind is then searched whole unless it is over `TRUECOLOUR_FULL_MARGIN` times the
/// palette's. The mosaic's tile borders, where no neighbour predicts a pixel, weigh on the
/// truecolour file: of 10 corpus PNGs measured, the whole image's truecolour file was smaller
/// still relative to its palette on 8, the same on `ui_docs_hidpi.png` and larger only on
/// `spacefun_palette.png`, a palette-coded input.
const TRUECOLOUR_QUICK_BAND: f64 = 1.7;
const TRUECOLOUR_FULL_MARGIN: f64 = 1.15;

/// Sample files of the two kinds within `KIND_MARGIN` of each other written quickly are compared
/// again at full effort too, and the palette is not searched whole unless it is no larger than the
/// truecolour file there. On the whole image the truecolour file came out relatively smaller still
/// on every corpus PNG where both were compared (palette ÷ truecolour at full effort, sample →
/// whole: `gimp_splash.png` 1.10 → 1.26, `storm.png` 1.04 → 1.11, `ubuntu_mate_cold.png` 0.97 →
/// 1.07, `mate_stripes_dark.png` 0.89 → 1.21): the mosaic's tile borders weigh on the truecolour
/// file. So `gimp_splash.png` and `storm.png` no longer quantise the whole image (3 and 2 times)
/// for a palette that loses. Also over it: `softwaves_1920.png` (1.30) and `garden_1280.png`
/// (1.34), whose palettes were searched whole 5 and 2 times to lose or fail.
const PALETTE_FULL_MARGIN: f64 = 1.0;

/// Which kinds to search whole from their sample files' sizes, `(palette, truecolour)`, written
/// quickly; `full` writes both at full effort, asked only when the quick sizes are not decisive.
fn kinds_worth_searching(
    quick: (f64, f64),
    full: impl FnOnce() -> Result<(f64, f64), EngineError>,
) -> Result<(bool, bool), EngineError> {
    let (palette, truecolour) = quick;
    if truecolour > palette * KIND_MARGIN && truecolour <= palette * TRUECOLOUR_QUICK_BAND {
        let (palette, truecolour) = full()?;
        return Ok((true, truecolour <= palette * TRUECOLOUR_FULL_MARGIN));
    }
    if palette <= truecolour * KIND_MARGIN && truecolour <= palette * KIND_MARGIN {
        let (palette, truecolour) = full()?;
        return Ok((palette <= truecolour * PALETTE_FULL_MARGIN, true));
    }
    Ok((
        palette <= truecolour * KIND_MARGIN,
        truecolour <= palette * KIND_MARGIN,
    ))
}

/// The sizes of `image`'s two lossy files, its palette (`quantised`) and its truecolour PNG of
/// `pixels`, both written with oxipng's `options`.
fn file_sizes(
    image: &Decoded,
    quantised: &Quantised,
    pixels: &[u8],
    options: &oxipng::Options,
) -> Result<(f64, f64), EngineError> {
    Ok((
        palette_size(image, quantised, options)?,
        truecolour_size(image, pixels, options)?,
    ))
}

/// The size of `image`'s palette file (`quantised`) written with oxipng's `options`.
fn palette_size(
    image: &Decoded,
    quantised: &Quantised,
    options: &oxipng::Options,
) -> Result<f64, EngineError> {
    let icc = image.icc_profile.as_deref();
    let file = quantised.encode_with(image.width, image.height, icc, options)?;
    Ok(file.len() as f64)
}

/// The size of `image`'s truecolour file of `pixels` written with oxipng's `options`.
fn truecolour_size(
    image: &Decoded,
    pixels: &[u8],
    options: &oxipng::Options,
) -> Result<f64, EngineError> {
    Ok(encode_averaged_with(image, pixels.to_vec(), options)?.len() as f64)
}

/// Which lossy kinds to search on the whole image (at least one), and what the truecolour search
/// on the sample found when it passed.
struct Plan {
    palette: bool,
    truecolour: bool,
    /// What oxipng's full effort made of each kind's sample file, `(palette, truecolour)`, as a
    /// fraction of its quick size, when the kinds were compared at full effort on the sample.
    full_effort: Option<(f64, f64)>,
    truecolour_sample: Option<TruecolourSample>,
    /// The sample and what its palette search learned, to lead the whole image's palette search
    /// (when the palette passed on the sample and is searched whole).
    palette_sample: Option<PaletteSample>,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            palette: true,
            truecolour: true,
            full_effort: None,
            truecolour_sample: None,
            palette_sample: None,
        }
    }
}

/// A sample of an image, prepared for scoring, and the palettes evaluated on it.
struct PaletteSample {
    mosaic: Decoded,
    reference: Reference,
    probes: PaletteProbes,
}

impl PaletteSample {
    fn score(&mut self, target: f64, quality: u8) -> Result<f64, EngineError> {
        self.probes
            .score(&self.mosaic, &self.reference, target, quality)
    }
}

/// The least a lossy PNG's file on the whole image is taken to be, as a fraction of its sample's
/// smallest file written quickly and scaled by the pixels: oxipng's full effort made the corpus
/// files 0.59–0.95 of their quick size, and a mosaic's tile borders (no neighbour predicts their
/// pixels) make its files a little larger for their pixels than the whole image's.
const LEAST_OF_QUICK: f64 = 0.5;

/// Searches both lossy kinds on `sample` of `image` and compares their files (see
/// [`kinds_worth_searching`]). When neither passes on the sample, both are searched whole (the
/// whole image decides).
///
/// `beat` is the size of a file in another format already found (`auto`): a PNG whose sample says
/// it cannot come near it (see [`LEAST_OF_QUICK`]) is not searched further, and the answer is a
/// conversion error, which `auto` takes as "not this format". A photo's PNG is 4–7 times its
/// AVIF; without this, `auto` spent most of the PNG search's seconds on a file it never kept.
fn plan_on_sample(
    sample: &Sample,
    image: &Decoded,
    target: f64,
    beat: Option<usize>,
) -> Result<Plan, EngineError> {
    let mosaic = mosaic_of(sample, image);
    let reference = Reference::new(&mosaic.rgba, mosaic.width, mosaic.height, mosaic.has_alpha);
    let mut probes = PaletteProbes::default();
    let palette = search_palette(&mosaic, &reference, target, &mut probes)?;
    let (truecolour, scores) = truecolour_for_target(&mosaic, &reference, target, None)?;
    let truecolour_sample = truecolour
        .as_ref()
        .map(|&(_, _, answer)| TruecolourSample { answer, scores });
    // The passing kinds' sample files written quickly, once: for the bound and for comparing the
    // kinds (which needs both).
    let (quick_palette, quick_truecolour) =
        if beat.is_some() || (palette.is_some() && truecolour.is_some()) {
            let quick = quick_options();
            (
                palette
                    .as_ref()
                    .map(|(quantised, ..)| palette_size(&mosaic, quantised, &quick))
                    .transpose()?,
                truecolour
                    .as_ref()
                    .map(|(pixels, ..)| truecolour_size(&mosaic, pixels, &quick))
                    .transpose()?,
            )
        } else {
            (None, None)
        };
    if let Some(beat) = beat {
        let smallest = quick_palette
            .into_iter()
            .chain(quick_truecolour)
            .reduce(f64::min);
        if let Some(smallest) = smallest {
            let pixels = |w: u32, h: u32| f64::from(w) * f64::from(h);
            let least = smallest * pixels(image.width, image.height)
                / pixels(mosaic.width, mosaic.height)
                * LEAST_OF_QUICK;
            if least > beat as f64 {
                return Err(EngineError::Conversion(format!(
                    "a PNG of this image would be about {} bytes or more, larger than the {beat}-byte file another format gives",
                    least as u64
                )));
            }
        }
    }
    let (Some((quantised, ..)), Some((pixels, ..)), Some(quick_palette), Some(quick_truecolour)) = (
        palette.as_ref(),
        truecolour.as_ref(),
        quick_palette,
        quick_truecolour,
    ) else {
        // A kind that fails on the sample is not searched whole unless the other fails too
        // (then the whole image decides).
        let passed = palette.is_some();
        return Ok(Plan {
            palette: passed || truecolour.is_none(),
            truecolour: truecolour.is_some() || !passed,
            full_effort: None,
            truecolour_sample,
            palette_sample: passed.then_some(PaletteSample {
                mosaic,
                reference,
                probes,
            }),
        });
    };
    let mut full_sizes = None;
    let (search_palette, search_truecolour) =
        kinds_worth_searching((quick_palette, quick_truecolour), || {
            // Both at full effort as they would be written (the truecolour file directly).
            let truecolour = encode_truecolour(&mosaic, pixels.clone())?.len() as f64;
            let palette = palette_size(&mosaic, quantised, &oxipng_options())?;
            full_sizes = Some((palette, truecolour));
            Ok((palette, truecolour))
        })?;
    Ok(Plan {
        palette: search_palette,
        truecolour: search_truecolour,
        full_effort: full_sizes
            .map(|(palette, truecolour)| (palette / quick_palette, truecolour / quick_truecolour)),
        truecolour_sample,
        palette_sample: search_palette.then_some(PaletteSample {
            mosaic,
            reference,
            probes,
        }),
    })
}

/// `sample`'s tiles of `image` as an image of their own.
fn mosaic_of(sample: &Sample, image: &Decoded) -> Decoded {
    Decoded {
        rgba: sample.extract(&image.rgba, image.width, 4),
        width: sample.width(),
        height: sample.height(),
        has_alpha: image.has_alpha,
        icc_profile: None,
        exif: None,
        reoriented: false,
    }
}

/// oxipng's quickest preset, for comparing files rather than keeping them.
fn quick_options() -> oxipng::Options {
    let mut quick = oxipng::Options::from_preset(0);
    quick.strip = oxipng::StripChunks::Safe;
    quick
}

/// The lowest-quality palette whose score reaches `target`, with that score and the quality;
/// `None` when even the best palette falls short.
fn palette_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
) -> Result<Option<(Quantised, f64, u8)>, EngineError> {
    search_palette(image, reference, target, &mut PaletteProbes::default())
}

/// [`palette_for_target`] evaluating with `probes` (which keep what they learn).
fn search_palette(
    image: &Decoded,
    reference: &Reference,
    target: f64,
    probes: &mut PaletteProbes,
) -> Result<Option<(Quantised, f64, u8)>, EngineError> {
    // The quantiser's own quality is a mean-square-error measure; a perceptual floor of 75 tends
    // to need about as much, so the search starts near the target. (Not from a sample's answer:
    // the score is not monotonic in the quality, and another start can end at a larger palette.)
    let guess = (target as u8).clamp(20, 100);
    let found = search::lowest_passing(
        PALETTE_QUALITIES.0,
        PALETTE_QUALITIES.1,
        guess,
        target,
        |quality| probes.probe(image, reference, target, quality),
    )?;
    Ok(passing_palette(found))
}

/// imagequant's qualities the palette search tries.
const PALETTE_QUALITIES: (u8, u8) = (20, 100);

/// The palette of a search's answer: only a quantised palette can pass (an answer without one,
/// from [`PaletteProbes`]' shortcut for a saturated quantiser, always fails).
fn passing_palette(found: Option<(Option<(Quantised, u8)>, f64)>) -> Option<(Quantised, f64, u8)> {
    found.and_then(|(candidate, score)| {
        candidate.map(|(quantised, quality)| (quantised, score, quality))
    })
}

/// The palette search's evaluations of one image: quantise at a quality and score the palette.
///
/// Two ways to know a quality's outcome without quantising again:
/// - A quantisation that falls short of its quality (imagequant reports the quality it reached)
///   is what every quality above the one it reached gives too: the quantiser compares its target
///   only with errors that all stayed above it, so a higher target changes nothing.
///   `ubuntu_mate_cold.png` reaches 92 whatever is asked above it; after 100 the search asked for
///   99, 98, 97, 96 and 95 (five of its eleven quantisations).
/// - Two failing qualities that score exactly alike: the quantiser has run out of its 256
///   colours, and nothing higher passes.
#[derive(Default)]
struct PaletteProbes {
    unreached: Option<(u8, f64, Quantised)>,
    failing: Vec<(u8, f64)>,
    saturated: Option<(u8, f64)>,
    /// Every quality evaluated, with its score.
    scores: std::collections::BTreeMap<u8, f64>,
}

impl PaletteProbes {
    /// The score of `image` quantised at `quality`, and the palette unless the quantiser is known
    /// to be saturated there.
    fn probe(
        &mut self,
        image: &Decoded,
        reference: &Reference,
        target: f64,
        quality: u8,
    ) -> Result<(f64, Option<(Quantised, u8)>), EngineError> {
        // Saturation is inferred from two failing qualities alike, which also happens at the low
        // end (`chart_bar.png`'s sample: 20 and 21 give the same palette, 22 and up pass); a
        // quality known to pass above where it was inferred disproves it.
        let believed = self.saturated.filter(|&(from, _)| {
            quality >= from && !self.scores.range(from..).any(|(_, &score)| score >= target)
        });
        if let Some((_, score)) = believed {
            return Ok((score, None));
        }
        self.evaluate(image, reference, target, quality)
    }

    /// [`Self::probe`] without the saturation shortcut.
    fn evaluate(
        &mut self,
        image: &Decoded,
        reference: &Reference,
        target: f64,
        quality: u8,
    ) -> Result<(f64, Option<(Quantised, u8)>), EngineError> {
        if let Some((_, score, quantised)) = self
            .unreached
            .as_ref()
            .filter(|(from, ..)| quality >= *from)
        {
            return Ok((*score, Some((quantised.clone(), quality))));
        }
        let quantised = quantise(image, quality)?;
        let score = reference
            .score_for(&quantised.to_rgba(), target)
            .unwrap_or(0.0);
        self.scores.insert(quality, score);
        if score < target {
            if let Some(&(other, _)) = self.failing.iter().find(|&&(_, s)| s == score) {
                self.saturated = Some((quality.min(other), score));
            }
            self.failing.push((quality, score));
        }
        if let Some(reached) = quantised.reached.filter(|&reached| reached < quality) {
            if self
                .unreached
                .as_ref()
                .is_none_or(|(from, ..)| reached + 1 < *from)
            {
                self.unreached = Some((reached + 1, score, quantised.clone()));
            }
        }
        Ok((score, Some((quantised, quality))))
    }

    /// The score at `quality`: the one measured when there is one, else [`Self::probe`]'s.
    fn score(
        &mut self,
        image: &Decoded,
        reference: &Reference,
        target: f64,
        quality: u8,
    ) -> Result<f64, EngineError> {
        if let Some(&score) = self.scores.get(&quality) {
            return Ok(score);
        }
        Ok(self.probe(image, reference, target, quality)?.0)
    }
}

/// Where the qualities scored (`scores`) put the lowest that reaches `aim`, as a search's
/// `(low, high, guess)`: from just above the highest scored below the lowest scored to reach
/// it, up to that one (the guess). `None` when no scored quality reaches `aim`, or when one
/// above the lowest to reach it falls short (the scores are not monotonic here, and the
/// bounds would hide where a search from scratch can go).
///
/// The plan's search aimed at the target; the led search aims a margin higher. Started from
/// scratch it quantised the sample 2–4 times more on `gimp_splash.png`, `garden_1280.png`,
/// `softwaves_1920.png` and `ubuntu_mate_cold.png`, to land where these bounds already said.
/// On `chart_donut_transparent.png` (55 scores 83.2, 56 75.8) the bounds would have led to a
/// file 2.5 % larger.
fn bracket(scores: &std::collections::BTreeMap<u8, f64>, aim: f64) -> Option<(u8, u8, u8)> {
    let (&pass, _) = scores.iter().find(|&(_, &score)| score >= aim)?;
    if scores.range(pass..).any(|(_, &score)| score < aim) {
        return None;
    }
    let low = scores
        .range(..pass)
        .next_back()
        .map_or(PALETTE_QUALITIES.0, |(&fail, _)| fail + 1);
    Some((low, pass, pass))
}

/// [`palette_for_target`] led by the sample's scores: the whole image is quantised first at the
/// lowest quality whose sample passes with [`search::SAMPLE_MARGIN`] to spare. When it passes
/// there, the whole image is searched below that quality, from just under it (one failing
/// quantisation settles it where the sample was right); when it fails, above it, from a guess at
/// the score still missing. When no quality passes on the sample with the margin, the whole image
/// is searched as without a sample. Every answer has been scored whole.
///
/// On the 27 corpus PNGs this gave the same files byte for byte with about a tenth less processor
/// time (`ui_docs_hidpi.png` was quantised whole 6 times, `spacefun_palette.png` 8). Searching
/// only above or below the first whole quantisation from there matters: stepping down only while
/// the shifted sample still passed (as the JPEG search does) left `emerald_logo.png` and
/// `chart_donut_transparent.png` 2.5–3.6 % larger, their scores not monotonic in the quality.
fn palette_for_target_sampled(
    image: &Decoded,
    reference: &Reference,
    target: f64,
    mut sample: PaletteSample,
) -> Result<Option<(Quantised, f64, u8)>, EngineError> {
    let (low, high) = PALETTE_QUALITIES;
    let aim = target + search::SAMPLE_MARGIN;
    let (first_low, first_high, guess) =
        bracket(&sample.probes.scores, aim).unwrap_or((low, high, (target as u8).clamp(low, high)));
    // The sample itself (about 13 bytes a pixel of the whole image, prepared for scoring) is
    // dropped before the whole image is quantised, so the peak memory stays the search's without it.
    let first = search::lowest_passing(first_low, first_high, guess, aim, |quality| {
        Ok((sample.score(target, quality)?, quality))
    })?;
    drop(sample);
    let Some((quality, _)) = first else {
        return palette_for_target(image, reference, target);
    };
    let mut whole = PaletteProbes::default();
    let (score, candidate) = whole.probe(image, reference, target, quality)?;
    if score < target {
        if quality >= high {
            return Ok(None);
        }
        // As `search::lowest_passing` goes on from a failing setting alone: about half a score
        // point a quality, aiming one past the estimate.
        let step = ((target - score) * 2.0 + 1.0).ceil().clamp(1.0, 100.0) as u8;
        let found = search::lowest_passing(
            quality + 1,
            high,
            quality.saturating_add(step),
            target,
            |q| whole.probe(image, reference, target, q),
        )?;
        return Ok(passing_palette(found));
    }
    // Below it the whole image is searched too, from just under it: where the sample was right,
    // one failing quantisation settles it; where the score barely moves with the quality (a
    // point over a dozen qualities), the search still goes down to the lowest that passes.
    if quality > low {
        let below = search::lowest_passing(low, quality - 1, quality - 1, target, |q| {
            whole.probe(image, reference, target, q)
        })?;
        if let Some(found) = passing_palette(below) {
            return Ok(Some(found));
        }
    }
    Ok(passing_palette(Some((candidate, score))))
}

/// Score points a step is assumed to be worth before the truecolour search has bracketed its
/// answer. An encoder's half a point (the search's default) sent it from step 8 (score 89.5) to
/// step 38 (29.6) on `elephants_3840.png`'s sample; on the corpus photos one step near the
/// target moved the score by 1.5–7 points.
const TRUECOLOUR_SLOPE: f64 = 2.0;

/// The steps the truecolour search tries: 2 (errors of at most one level) up to 48.
const NEAR_LOSSLESS_STEPS: std::ops::RangeInclusive<u8> = 2..=48;

/// Writes `rgba` (already rounded by [`near_lossless`]) with the Average filter on every row: any
/// other filter would undo the rounding's gain. oxipng still picks the colour type and deflates.
#[cfg(test)]
fn encode_averaged(image: &Decoded, rgba: Vec<u8>) -> Result<Vec<u8>, EngineError> {
    encode_averaged_with(image, rgba, &oxipng_options())
}

/// `encode_averaged` with `options` (their filters replaced by Average).
fn encode_averaged_with(
    image: &Decoded,
    rgba: Vec<u8>,
    options: &oxipng::Options,
) -> Result<Vec<u8>, EngineError> {
    let mut options = options.clone();
    options.filters = [oxipng::FilterStrategy::Basic(oxipng::RowFilter::Average)]
        .into_iter()
        .collect();
    write_rgba(image, rgba, &options)
}

/// The lossy truecolour PNG with the coarsest step whose score reaches `target`; `None` when
/// even the finest step falls short.
#[cfg(test)]
fn encode_truecolour_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
) -> Result<Option<(Vec<u8>, f64)>, EngineError> {
    truecolour_for_target(image, reference, target, None)?
        .0
        .map(|(pixels, score, _)| Ok((encode_truecolour(image, pixels)?, score)))
        .transpose()
}

/// What the truecolour search found on a sample: the setting it answered, and every score it
/// measured by setting.
struct TruecolourSample {
    answer: u8,
    scores: search::SampleScores,
}

/// The pixels of the lossy truecolour PNG with the coarsest step whose score reaches `target`,
/// with that score and the search's setting (the step counted down), and every score measured by
/// setting. Led by a sample's search (`lead`), it starts at the sample's answer and takes the
/// settings the sample's scores say fail as failing (see `search::lowest_passing_led`).
fn truecolour_for_target(
    image: &Decoded,
    reference: &Reference,
    target: f64,
    lead: Option<&TruecolourSample>,
) -> Result<TruecolourFound, EngineError> {
    // The search raises a setting to raise the score: the setting is the step counted down.
    let (finest, coarsest) = (*NEAR_LOSSLESS_STEPS.start(), *NEAR_LOSSLESS_STEPS.end());
    let step_of = |setting: u8| finest + coarsest - setting;
    let mut scores = search::SampleScores::new();
    let evaluate = |setting| {
        let pixels = near_lossless(&image.rgba, image.width, step_of(setting));
        let score = reference.score_for(&pixels, target).unwrap_or(0.0);
        scores.insert(setting, score);
        Ok((score, (pixels, setting)))
    };
    let found = match lead {
        Some(sample) => search::lowest_passing_led(
            finest,
            coarsest,
            sample.answer,
            target,
            TRUECOLOUR_SLOPE,
            &sample.scores,
            evaluate,
        ),
        None => search::lowest_passing_at_slope(
            finest,
            coarsest,
            step_of(8),
            target,
            TRUECOLOUR_SLOPE,
            evaluate,
        ),
    }?;
    Ok((
        found.map(|((pixels, setting), score)| (pixels, score, setting)),
        scores,
    ))
}

/// A truecolour search's answer (pixels, score, setting), and every score it measured.
type TruecolourFound = (Option<(Vec<u8>, f64, u8)>, search::SampleScores);

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

/// Lossy truecolour PNG ("near-lossless"): every sample is predicted the way PNG's Average filter
/// predicts it from the already *reconstructed* neighbours, and the prediction's error is rounded
/// to a multiple of `step`. The file is then written with the Average filter on every row, so its
/// filtered bytes are those rounded errors: few distinct values, which deflate packs far better
/// than a photo's noise, while no opaque sample moves more than `step / 2`. Where a
/// palette cannot hold an image (photos, soft transparency) this keeps it a PNG at the target.
///
/// Partial opacity is rounded the same way (a translucent wallpaper's picture is all in its
/// opacity); fully transparent and fully opaque pixels stay so exactly. A colour's visible error is
/// scaled by its opacity, so partly transparent pixels get a proportionally coarser step, and fully
/// transparent ones take the prediction itself (their colour is never seen).
fn near_lossless(rgba: &[u8], width: u32, step: u8) -> Vec<u8> {
    let stride = width as usize * 4;
    let mut out = vec![0u8; rgba.len()];
    for (y, row) in rgba.chunks_exact(stride).enumerate() {
        for x in 0..width as usize {
            let i = y * stride + x * 4;
            // Partial opacity is rounded like a colour (fully transparent and opaque pixels keep
            // theirs): an opacity off by `d` moves the pixel seen over any background by at most
            // `d` levels, the same bound as an opaque colour's.
            let alpha = match row[x * 4 + 3] {
                a @ (0 | 255) => a,
                a => round_to_step(a, predict(&out, i + 3, x, stride), u32::from(step)),
            };
            out[i + 3] = alpha;
            // The step for this pixel's colour: `step` when opaque, up to 255 as it fades out.
            let pixel_step = match alpha {
                0 => 0,
                255 => u32::from(step),
                a => (u32::from(step) * 255 / u32::from(a)).min(255),
            };
            for c in 0..3 {
                let predicted = predict(&out, i + c, x, stride);
                out[i + c] = if pixel_step == 0 {
                    predicted
                } else {
                    round_to_step(row[x * 4 + c], predicted, pixel_step)
                };
            }
        }
    }
    out
}

/// PNG's Average prediction of sample `i` (of the pixel in column `x`) of an RGBA image `stride`
/// bytes a row (`out`, written so far): the mean of the same sample to the left and above, 0 beyond
/// the edges. Average beat Paeth by 1.25–2.2× on the corpus photos that need the truecolour kind.
pub fn predict(out: &[u8], i: usize, x: usize, stride: usize) -> u8 {
    let left = if x > 0 { out[i - 4] } else { 0 };
    let up = if i >= stride { out[i - stride] } else { 0 };
    ((u16::from(left) + u16::from(up)) / 2) as u8
}

/// `value` moved to `predicted` plus the nearest multiple of `step` to their difference (half
/// rounded away from zero), kept within 0–255.
fn round_to_step(value: u8, predicted: u8, step: u32) -> u8 {
    let (s, predicted) = (step as i32, i32::from(predicted));
    let error = i32::from(value) - predicted;
    let rounded = (error.abs() + s / 2) / s * s * error.signum();
    (predicted + rounded).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like image: smooth gradients under fine noise, with a feathered alpha edge when
    /// `alpha` (the noise is deterministic).
    fn photo(width: u32, height: u32, alpha: bool) -> Decoded {
        let mut seed = 0x2545_f491_u32;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 24) as i32 - 12
        };
        let rgba = (0..width * height)
            .flat_map(|i| {
                let (x, y) = ((i % width) as i32, (i / width) as i32);
                let base = [
                    x * 200 / width as i32,
                    y * 180 / height as i32,
                    (x + y) % 97 + 80,
                ];
                let a = if alpha {
                    (x * 255 / width as i32 * 2).min(255) as u8
                } else {
                    255
                };
                let [r, g, b] = base.map(|v| (v + 30 + noise()).clamp(0, 255) as u8);
                [r, g, b, a]
            })
            .collect();
        Decoded {
            rgba,
            width,
            height,
            has_alpha: alpha,
            icc_profile: None,
            exif: None,
            reoriented: false,
        }
    }

    fn decode_png(png: &[u8]) -> Vec<u8> {
        let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap();
        image.to_rgba8().into_raw()
    }

    /// `pixel` composited over black and over white, in 8-bit levels.
    fn over_black_and_white(pixel: &[u8]) -> [f64; 6] {
        let a = f64::from(pixel[3]) / 255.0;
        std::array::from_fn(|i| {
            f64::from(pixel[i % 3]) * a + if i < 3 { 0.0 } else { 255.0 * (1.0 - a) }
        })
    }

    #[test]
    fn rounding_keeps_every_visible_sample_within_half_a_step_and_full_transparency_exact() {
        let image = photo(96, 64, true);
        for step in [2u8, 5, 12] {
            let rounded = near_lossless(&image.rgba, image.width, step);
            let half = f64::from(step / 2);
            for (original, new) in image.rgba.chunks_exact(4).zip(rounded.chunks_exact(4)) {
                match original[3] {
                    0 | 255 => assert_eq!(original[3], new[3], "kept exactly"),
                    a => {
                        let error = (i32::from(a) - i32::from(new[3])).abs();
                        assert!(
                            error <= i32::from(step / 2),
                            "step {step}: alpha off by {error}"
                        );
                    }
                }
                if original[3] == 255 {
                    for c in 0..3 {
                        let error = (i32::from(original[c]) - i32::from(new[c])).abs();
                        assert!(error <= i32::from(step / 2), "step {step}: error {error}");
                    }
                }
                // What is seen over either background moves by at most half a step for the
                // opacity and half a step for the colour (plus a level of rounding).
                let (seen, now) = (over_black_and_white(original), over_black_and_white(new));
                for (before, after) in seen.iter().zip(now) {
                    assert!((before - after).abs() <= 2.0 * half + 1.0, "step {step}");
                }
            }
        }
    }

    #[test]
    fn a_picture_held_in_partial_opacity_is_rounded_too() {
        // Smooth colours; the picture is a noisy gradient of opacity (a translucent wallpaper).
        // Exact opacity would leave its noise to deflate.
        let mut image = photo(160, 120, false);
        let mut seed = 0x9e37_79b9_u32;
        for (i, p) in image.rgba.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i as u32 % 160, i as u32 / 160);
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = seed % 32;
            p.copy_from_slice(&[x as u8, (y * 2) as u8, 120, (40 + x / 2 + noise) as u8]);
        }
        image.has_alpha = true;
        let reference = Reference::new(&image.rgba, image.width, image.height, true);
        let (png, score) = encode_truecolour_for_target(&image, &reference, 75.0)
            .unwrap()
            .expect("a step reaches 75");
        assert_eq!(reference.score(&decode_png(&png)).unwrap(), score);
        let lossless = encode_lossless(&image).unwrap();
        // Without rounding the opacity, the file is larger than lossless (22.5 kB against 19.4).
        assert!(
            png.len() * 4 < lossless.len() * 3,
            "{} bytes against {} lossless",
            png.len(),
            lossless.len()
        );
    }

    #[test]
    fn the_truecolour_png_holds_exactly_the_rounded_pixels_and_is_smaller_than_lossless() {
        let image = photo(160, 120, false);
        let lossless = encode_lossless(&image).unwrap();
        let rounded = near_lossless(&image.rgba, image.width, 8);
        let png = encode_averaged(&image, rounded.clone()).unwrap();
        assert_eq!(decode_png(&png), rounded);
        assert!(
            png.len() * 10 < lossless.len() * 8,
            "{} bytes against {} lossless",
            png.len(),
            lossless.len()
        );
    }

    #[test]
    fn the_truecolour_search_meets_the_target_with_full_transparency_intact() {
        let image = photo(128, 96, true);
        let reference = Reference::new(&image.rgba, image.width, image.height, true);
        let (png, score) = encode_truecolour_for_target(&image, &reference, 80.0)
            .unwrap()
            .expect("a step reaches 80");
        assert!(score >= 80.0, "{score}");
        let decoded = decode_png(&png);
        assert_eq!(reference.score(&decoded).unwrap(), score);
        for (original, new) in image.rgba.chunks_exact(4).zip(decoded.chunks_exact(4)) {
            if matches!(original[3], 0 | 255) {
                assert_eq!(original[3], new[3]);
            }
        }
        assert!(png.len() < encode_lossless(&image).unwrap().len());
    }

    /// A photo with light noise: at 65 a palette reaches the target too, but rounded prediction
    /// errors hold it in far fewer bytes.
    fn quiet_photo(width: u32, height: u32) -> Decoded {
        let mut image = photo(width, height, false);
        let mut seed = 0x2545_f491_u32;
        for (i, p) in image.rgba.chunks_exact_mut(4).enumerate() {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 6) as i32 - 3;
            let (x, y) = ((i as u32 % width) as i32, (i as u32 / width) as i32);
            let base = [
                x * 200 / width as i32,
                y * 180 / height as i32,
                (x + y) % 97 + 80,
            ];
            let [r, g, b] = base.map(|v| (v + 30 + noise).clamp(0, 255) as u8);
            p.copy_from_slice(&[r, g, b, 255]);
        }
        image
    }

    /// Flat colour blocks with a few shades: what a palette holds best.
    fn graphic(width: u32, height: u32) -> Decoded {
        let mut image = photo(width, height, false);
        for (i, p) in image.rgba.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let shade = ((x / 24 + y / 16) % 5) as u8 * 50;
            p.copy_from_slice(&[shade, 255 - shade, shade / 2, 255]);
        }
        image
    }

    #[test]
    fn the_smaller_of_the_palette_and_the_truecolour_png_is_kept_at_full_effort() {
        // The photos end up truecolour, the graphics a palette. Either way the file returned is
        // the smaller of the two written with oxipng's full effort, though the loser, far larger
        // written quickly, never was.
        const TARGET: f64 = 65.0;
        // The large images are first searched on a sample, which skips the loser's whole search.
        for (image, truecolour_wins) in [
            (quiet_photo(256, 192), true),
            (graphic(256, 192), false),
            (quiet_photo(1024, 768), true),
            (graphic(1024, 768), false),
        ] {
            let reference = Reference::new(&image.rgba, image.width, image.height, false);
            let (png, score) = encode_lossy_for_target(&image, &reference, TARGET, None)
                .unwrap()
                .unwrap();
            // Each kind searched on the whole image and written with full effort, when it
            // reaches the target at all.
            let palette = palette_for_target(&image, &reference, TARGET).unwrap().map(
                |(quantised, score, _)| {
                    let png = quantised.encode(image.width, image.height, None).unwrap();
                    (png, score)
                },
            );
            let truecolour = encode_truecolour_for_target(&image, &reference, TARGET).unwrap();
            let (smaller, smaller_score) = match (&palette, &truecolour) {
                (Some(p), Some(t)) => {
                    assert_eq!(t.0.len() < p.0.len(), truecolour_wins);
                    if truecolour_wins {
                        t
                    } else {
                        p
                    }
                }
                (p, t) => {
                    let only = p
                        .as_ref()
                        .or(t.as_ref())
                        .expect("one kind reaches the target");
                    assert_eq!(t.is_some(), truecolour_wins);
                    only
                }
            };
            assert_eq!((&png, score), (smaller, *smaller_score));
            assert_eq!(reference.score(&decode_png(&png)).unwrap(), score);
        }
    }

    #[test]
    fn a_truecolour_sample_file_close_to_the_palettes_is_compared_again_at_full_effort() {
        // Sample file sizes of corpus PNGs, (palette, truecolour): written quickly, then at full
        // effort where asked.
        let decide = |quick: (f64, f64), full: Option<(f64, f64)>| {
            let mut asked = false;
            let worth = kinds_worth_searching(quick, || {
                asked = true;
                Ok(full.expect("full effort asked only when the quick sizes are close"))
            })
            .unwrap();
            assert_eq!(asked, full.is_some(), "full effort asked for {quick:?}");
            worth
        };
        // mate_stripes_dark.png: quickly 1.57 times the palette's, at full effort 1.13; on the
        // whole image the truecolour file wins (378 441 against 459 364 bytes).
        let stripes = decide((102_470.0, 161_099.0), Some((93_071.0, 104_791.0)));
        assert_eq!(stripes, (true, true));
        // emerald_logo.png: 1.40 times at full effort too; the palette wins whole.
        let emerald = decide((72_775.0, 103_907.0), Some((58_869.0, 82_544.0)));
        assert_eq!(emerald, (true, false));
        // Clear cases are decided from the quick sizes alone.
        assert_eq!(decide((38_484.0, 120_533.0), None), (true, false)); // ui_docs_hidpi.png
        assert_eq!(decide((1_083_915.0, 665_840.0), None), (false, true)); // truchet_4096.png

        // Files within `KIND_MARGIN` quickly are compared at full effort, and the palette is
        // searched whole only when it is no larger there. softwaves_1920.png: 1.17 quickly, 1.30
        // at full effort (the truecolour file wins whole).
        let softwaves = decide((68_969.0, 58_898.0), Some((56_220.0, 43_370.0)));
        assert_eq!(softwaves, (false, true));
        // gimp_splash.png and storm.png: the palette is the smaller quickly, the larger at full
        // effort (1.10 and 1.04 times), and whole it loses by 1.26 and 1.11.
        let gimp = decide((211_966.0, 219_840.0), Some((195_415.0, 178_431.0)));
        assert_eq!(gimp, (false, true));
        let storm = decide((143_554.0, 159_763.0), Some((121_434.0, 116_323.0)));
        assert_eq!(storm, (false, true));
        // ubuntu_mate_cold.png: 0.97 at full effort, so both are searched whole.
        let ubuntu = decide((155_621.0, 171_346.0), Some((135_300.0, 139_782.0)));
        assert_eq!(ubuntu, (true, true));
    }

    #[test]
    fn a_kind_whose_predicted_full_effort_file_is_clearly_larger_is_not_written_at_full_effort() {
        // ubuntu_mate_cold.png whole, (palette, truecolour): alike written quickly; with what full
        // effort made of its sample's files the palette is predicted 1.06 times the truecolour
        // file (it is 1.07: 582 064 against 545 118 bytes), so only the truecolour file is written.
        let ubuntu_sample = (135_300.0 / 155_621.0, 139_782.0 / 171_346.0);
        let ubuntu = kinds_to_write((671_304.0, 672_809.0), Some(ubuntu_sample));
        assert_eq!(ubuntu, (false, true));
        // mate_stripes_dark.png: the truecolour file 1.15 times the palette's quickly, 0.82 times
        // at full effort (378 441 against 459 364 bytes), as its sample predicts.
        let stripes_sample = (93_071.0 / 102_470.0, 104_791.0 / 161_099.0);
        let stripes = kinds_to_write((519_231.0, 596_680.0), Some(stripes_sample));
        assert_eq!(stripes, (false, true));
        // The other way round: the palette's file predicted clearly smaller.
        assert_eq!(
            kinds_to_write((100_000.0, 100_000.0), Some((0.8, 0.9))),
            (true, false)
        );
        // Predicted within 5 % of each other: both are written, and the smaller kept.
        assert_eq!(
            kinds_to_write((100_000.0, 100_000.0), Some((0.9, 0.88))),
            (true, true)
        );
        // Without a sample's comparison the quick sizes decide, with room for the truecolour
        // file's larger gain: gimp_splash.png whole, written quickly.
        assert_eq!(kinds_to_write((974_281.0, 889_538.0), None), (true, true));
        assert_eq!(kinds_to_write((100_000.0, 150_000.0), None), (true, false));
        assert_eq!(kinds_to_write((120_000.0, 100_000.0), None), (false, true));
    }

    #[test]
    fn qualities_above_the_one_the_quantiser_reached_are_answered_without_quantising_again() {
        // Noise in every pixel: 256 colours reach only a modest quality, and every quality above
        // it gives the same palette.
        let image = photo(256, 192, false);
        let reference = Reference::new(&image.rgba, image.width, image.height, false);
        let best = quantise(&image, 100).unwrap();
        let reached = best
            .reached
            .expect("the quantiser reports the quality it reached");
        assert!(
            reached < 90,
            "noise is out of a palette's reach (reached {reached})"
        );
        for quality in [reached + 1, (reached + 100) / 2, 99] {
            let above = quantise(&image, quality).unwrap();
            assert!(
                above.indices == best.indices && above.palette == best.palette,
                "quality {quality} gives the palette of 100 (reached {reached})"
            );
        }
        let best_score = reference.score(&best.to_rgba()).unwrap();
        let count = |target: f64| {
            QUANTISED_WIDTHS.with(|widths| widths.borrow_mut().clear());
            let found = palette_for_target(&image, &reference, target).unwrap();
            (found, QUANTISED_WIDTHS.with(|widths| widths.borrow().len()))
        };
        // Aiming just above the best score, the search climbs to 100 without quantising again.
        let (found, quantisations) = count(best_score + 0.5);
        assert!(found.is_none());
        assert!(quantisations <= 2, "{quantisations} quantisations");
        // Just below it, the search still finds a palette.
        let (found, _) = count(best_score - 0.5);
        let (_, score, _) = found.expect("a palette reaches the best score");
        assert!(score >= best_score - 0.5);
    }

    #[test]
    fn a_png_that_cannot_come_near_another_formats_file_is_not_searched_whole() {
        // Large enough for a sample (12 tiles of 128 pixels).
        let image = photo(1024, 768, false);
        assert!(Sample::of(image.width, image.height).is_some());
        let reference = Reference::new(&image.rgba, image.width, image.height, false);
        let search = |beat| encode_lossy_for_target(&image, &reference, 75.0, beat);
        let (png, _) = search(None).unwrap().expect("a lossy PNG reaches 75");
        // A file of another format as small as the PNG itself leaves the PNG in the running: the
        // same file comes out.
        let (bounded, _) = search(Some(png.len())).unwrap().unwrap();
        assert_eq!(bounded, png);
        // One a quarter of its size does not: the sample already shows the PNG cannot win.
        match search(Some(png.len() / 4)) {
            Err(EngineError::Conversion(reason)) => assert!(reason.contains("PNG"), "{reason}"),
            other => panic!(
                "expected a conversion error, got {:?}",
                other.map(|f| f.map(|f| f.1))
            ),
        }
    }

    #[test]
    fn a_palette_search_led_by_the_sample_finds_the_same_palette_quantising_less() {
        // Large enough for a sample (12 tiles of 128 pixels).
        let sample = Sample::of(1024, 768).unwrap();
        let searched = |image: &Decoded, target: f64| {
            let reference = Reference::new(&image.rgba, image.width, image.height, false);
            let whole_quantisations = |search: &mut dyn FnMut() -> Option<(Quantised, f64, u8)>| {
                QUANTISED_WIDTHS.with(|widths| widths.borrow_mut().clear());
                let found = search().map(|(_, score, quality)| (quality, score));
                let whole = QUANTISED_WIDTHS.with(|widths| {
                    widths
                        .borrow()
                        .iter()
                        .filter(|&&w| w == image.width)
                        .count()
                });
                (found, whole)
            };
            let unled =
                whole_quantisations(&mut || palette_for_target(image, &reference, target).unwrap());
            // The sample as the plan leaves it when it searches the palette whole.
            let mosaic = mosaic_of(&sample, image);
            let mosaic_reference = Reference::new(&mosaic.rgba, mosaic.width, mosaic.height, false);
            let mut probes = PaletteProbes::default();
            let passed = search_palette(&mosaic, &mosaic_reference, target, &mut probes).unwrap();
            assert!(passed.is_some(), "the palette passed on the sample");
            let mut palette_sample = Some(PaletteSample {
                mosaic,
                reference: mosaic_reference,
                probes,
            });
            let led = whole_quantisations(&mut || {
                let sample = palette_sample.take().unwrap();
                palette_for_target_sampled(image, &reference, target, sample).unwrap()
            });
            (unled, led)
        };
        // Flat shades: the sample shows at once that the lowest quality passes, where the search
        // from the target's quality walks down to it on the whole image.
        let ((unled, unled_count), (led, led_count)) = searched(&graphic(1024, 768), 90.0);
        assert!(unled.is_some());
        assert_eq!(led, unled);
        assert!(
            led_count < unled_count,
            "{led_count} whole quantisations led by the sample, {unled_count} without"
        );
        // A photo whose score barely moves with the quality (50.8 at 31, 52.4 at 46): led by the
        // sample the search starts higher and still ends at the same, lowest passing quality.
        let ((unled, _), (led, _)) = searched(&quiet_photo(1024, 768), 50.0);
        let (quality, _) = unled.expect("a palette reaches 50");
        assert!(quality > 20 && quality < 100, "quality {quality}");
        assert_eq!(led, unled);
    }

    #[test]
    fn a_saturated_quantiser_inferred_below_a_passing_quality_is_not_believed_above_it() {
        let image = photo(256, 192, false);
        let reference = Reference::new(&image.rgba, image.width, image.height, false);
        let target = 75.0;
        // As `chart_bar.png`'s sample: 20 and 21 give the same failing palette, 22 passes.
        let probes = |scores: &[(u8, f64)]| PaletteProbes {
            saturated: Some((20, 10.0)),
            failing: vec![(20, 10.0), (21, 10.0)],
            scores: scores.iter().copied().collect(),
            ..PaletteProbes::default()
        };
        let score_at_43 = |mut probes: PaletteProbes| {
            QUANTISED_WIDTHS.with(|widths| widths.borrow_mut().clear());
            let score = probes.score(&image, &reference, target, 43).unwrap();
            (score, QUANTISED_WIDTHS.with(|widths| widths.borrow().len()))
        };
        let (score, quantisations) = score_at_43(probes(&[(20, 10.0), (21, 10.0), (22, 90.0)]));
        assert_eq!(quantisations, 1);
        assert_ne!(score, 10.0);
        // With nothing known to pass above, the shortcut answers without quantising.
        assert_eq!(score_at_43(probes(&[(20, 10.0), (21, 10.0)])), (10.0, 0));
    }

    #[test]
    fn a_truecolour_file_written_directly_is_oxipngs_but_for_the_parser_passes() {
        // An sRGB profile as libpng knows it (its MD5 identifier; rendering intent 1), another
        // (any other bytes), and one so repetitive that oxipng cannot read it back (see
        // `rgb_png::profile_chunk`).
        let mut seed = 0x9e37_79b9_u32;
        let mut srgb: Vec<u8> = (0..3144)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed % 7) as u8
            })
            .collect();
        srgb[67] = 1;
        srgb[84..100]
            .copy_from_slice(b"\x34\x56\x2a\xbf\x99\x4c\xcd\x06\x6d\x2c\x57\x21\xd0\xd6\x8c\x5d");
        let other: Vec<u8> = srgb.iter().rev().copied().collect();
        let mut repetitive = vec![7u8; 3144];
        repetitive[84..100].copy_from_slice(&srgb[84..100]);
        let grey = |image: Decoded| Decoded {
            rgba: image
                .rgba
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[0], p[0], p[3]])
                .collect(),
            ..image
        };
        for (image, icc, layout) in [
            (photo(320, 200, false), None, rgb_png::RGB),
            (photo(320, 200, true), None, rgb_png::RGBA),
            (grey(photo(320, 200, true)), None, rgb_png::GREY_ALPHA),
            (photo(320, 200, false), Some(&srgb), rgb_png::RGB),
            (photo(320, 200, true), Some(&other), rgb_png::RGBA),
            (photo(320, 200, false), Some(&repetitive), rgb_png::RGB),
        ] {
            let image = Decoded {
                icc_profile: icc.cloned(),
                ..image
            };
            let pixels = near_lossless(&image.rgba, image.width, 6);
            assert_eq!(rgb_png::applies(&pixels, icc.is_some()), Some(layout));
            let oxipng = encode_averaged(&image, pixels.clone()).unwrap();
            let at_4 =
                rgb_png::write(&pixels, 320, 200, layout, icc.map(Vec::as_slice), 4).unwrap();
            assert_eq!(at_4, oxipng, "{layout:?}, profile {:?}", icc.map(Vec::len));
            // An image this small gets all 4 passes; a larger one 2, which cost 0–1.7 % here
            // (at most 0.32 % on the corpus' files).
            assert_eq!(encode_truecolour(&image, pixels.clone()).unwrap(), oxipng);
            let fewer = rgb_png::write(&pixels, 320, 200, layout, icc.map(Vec::as_slice), 2);
            let fewer = fewer.unwrap();
            assert_eq!(decode_png(&fewer), pixels);
            assert!(fewer.len() as f64 <= oxipng.len() as f64 * 1.02);
        }
        assert_eq!((final_passes(320, 200), final_passes(1280, 800)), (4, 2));
        let image = photo(320, 200, false);
        let pixels = near_lossless(&image.rgba, image.width, 6);
        let with = |icc: &[u8]| {
            let image = Decoded {
                icc_profile: Some(icc.to_vec()),
                ..photo(320, 200, false)
            };
            encode_truecolour(&image, pixels.clone()).unwrap()
        };
        let has = |png: &[u8], kind: &[u8]| png.windows(4).any(|w| w == kind);
        assert!(has(&with(&srgb), b"sRGB") && !has(&with(&srgb), b"iCCP"));
        assert!(has(&with(&other), b"iCCP") && has(&with(&repetitive), b"iCCP"));
        // Where oxipng would pick another colour type, or drop a profile, it writes the file.
        let grey_alpha = near_lossless(&grey(photo(320, 200, true)).rgba, 320, 6);
        let few_colours: Vec<u8> = pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0] & 0xf0, 9, 9, 255])
            .collect();
        let few_opacities: Vec<u8> = pixels
            .chunks_exact(4)
            .flat_map(|p| [p[0] & 0xf0, 9, 9, p[0] & 0x80])
            .collect();
        assert_eq!(rgb_png::applies(&grey_alpha, true), None);
        for other in [few_colours, few_opacities] {
            assert_eq!(rgb_png::applies(&other, false), None);
        }
    }

    #[test]
    fn the_led_search_starts_between_the_samples_scores_unless_they_dip() {
        let scores = |pairs: &[(u8, f64)]| pairs.iter().copied().collect();
        // `gimp_splash.png`'s sample after the plan's search (aimed at 75); the led one aims at 76.
        let gimp = scores(&[(75, 71.68), (79, 74.51), (80, 75.35), (83, 77.34)]);
        assert_eq!(bracket(&gimp, 76.0), Some((81, 83, 83)));
        // `ubuntu_mate_cold.png`'s: 91 passes, 90 does not, so nothing is left to search.
        let ubuntu = scores(&[
            (75, 59.15),
            (84, 67.33),
            (89, 72.84),
            (90, 75.52),
            (91, 76.6),
        ]);
        assert_eq!(bracket(&ubuntu, 76.0), Some((91, 91, 91)));
        // Nothing scored below the first pass: from the lowest quality.
        assert_eq!(bracket(&scores(&[(75, 80.0)]), 76.0), Some((20, 75, 75)));
        // `chart_donut_transparent.png`'s: 56 falls short above a passing 55.
        let donut = scores(&[
            (50, 73.11),
            (54, 66.84),
            (55, 83.19),
            (56, 75.83),
            (58, 83.86),
        ]);
        assert_eq!(bracket(&donut, 76.0), None);
        assert_eq!(bracket(&scores(&[(75, 70.0), (100, 74.0)]), 76.0), None);
    }
}
