//! Finding the lowest encoder setting whose output still reaches the target score.
//!
//! Every evaluation encodes, decodes and scores the whole image, so the search spends as few as it
//! can: it starts from a guess, then interpolates between the closest failing and passing settings
//! (falling back to bisection when interpolation stalls). For a score that grows with the setting,
//! the answer is exactly the lowest passing setting, usually after three to five evaluations.
//!
//! For a large image even that is too many: [`lowest_passing_sampled`] runs the same search on a
//! [`Sample`] (a quarter of its tiles) and evaluates the whole image only where the sample points,
//! usually once.

use crate::EngineError;

/// A setting whose outcome is known.
#[derive(Clone, Copy)]
struct Probe {
    setting: u8,
    score: f64,
}

/// The lowest setting in `low..=high` whose score reaches `target`, starting at `guess`, assuming
/// the score grows with the setting. `evaluate` returns the score and the candidate. Returns the
/// passing candidate with its score, or `None` when even `high` falls short.
pub fn lowest_passing<T>(
    low: u8,
    high: u8,
    guess: u8,
    target: f64,
    evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
) -> Result<Option<(T, f64)>, EngineError> {
    lowest_passing_at_slope(low, high, guess, target, ASSUMED_SLOPE, evaluate)
}

/// How many score points a setting is assumed to be worth until two settings have been scored
/// (an encoder's quality: about half a point).
const ASSUMED_SLOPE: f64 = 0.5;

/// [`lowest_passing`] assuming `slope` score points a setting until it has a pass and a failure
/// to interpolate between. The answer does not depend on it for a score that grows with the
/// setting; the number of evaluations does.
pub fn lowest_passing_at_slope<T>(
    low: u8,
    high: u8,
    guess: u8,
    target: f64,
    slope: f64,
    evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
) -> Result<Option<(T, f64)>, EngineError> {
    search(low, high, guess, target, slope, None, evaluate)
}

/// A sample's scores by setting, which lead [`lowest_passing_led`].
pub type SampleScores = std::collections::BTreeMap<u8, f64>;

/// [`lowest_passing_at_slope`] led by a sample's search: `guess` is the sample's answer (the whole
/// image scores a little lower than its sample, so the answer is the guess or above it) and
/// `sample` the scores that search measured. The whole image's score at a setting the sample
/// scored, less the sample's, shifts the sample's other scores into a prediction (from the
/// nearest setting evaluated whole, as [`lowest_passing_sampled`] steps):
///
/// - When the guess passes, the next setting is the one just below it, which settles the search
///   when the guess was right, instead of one `slope` puts further down. On the corpus PNGs the
///   truecolour kind's whole image passed at its sample's step 6 times in 10, and the next
///   coarser step failed every time; going `slope`'s way first had tried a step 2–4 coarser
///   that failed by 5–20 points, a third whole-image evaluation on each.
/// - When only failures are known, the next setting is the first above them whose shifted sample
///   score passes, or where the sample scored nothing on the way, the one `slope` points at.
/// - A setting below `high` whose shifted sample score falls short of `target` is taken to fail
///   without evaluating it. On the 10 corpus PNGs searched so, the shifted sample was within
///   1.4 points of the whole image's score, and every setting it said fails did: 14 whole
///   evaluations instead of 25, the same answers. Every setting that passes, the answer
///   included, is evaluated whole.
pub fn lowest_passing_led<T>(
    low: u8,
    high: u8,
    guess: u8,
    target: f64,
    slope: f64,
    sample: &SampleScores,
    evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
) -> Result<Option<(T, f64)>, EngineError> {
    search(low, high, guess, target, slope, Some(sample), evaluate)
}

/// The search of [`lowest_passing_at_slope`]; with a `sample`, that of [`lowest_passing_led`].
fn search<T>(
    low: u8,
    high: u8,
    guess: u8,
    target: f64,
    slope: f64,
    sample: Option<&SampleScores>,
    mut evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
) -> Result<Option<(T, f64)>, EngineError> {
    // The whole score less the sample's, at each setting evaluated whole that the sample scored.
    let mut offsets: Vec<(u8, f64)> = Vec::new();
    let mut best: Option<(T, f64)> = None;
    let mut fail: Option<Probe> = None; // highest setting known to fail
    let mut pass: Option<Probe> = None; // lowest setting known to pass
    let first = guess.clamp(low, high);
    let mut next = first;
    let mut same_side = 0u8;
    let mut last_side_pass = None;
    loop {
        let predicted = sample
            .and_then(|sample| shifted(sample, &offsets, next))
            .filter(|&score| score < target && next < high);
        let (score, candidate) = match predicted {
            Some(score) => (score, None),
            None => {
                let (score, candidate) = evaluate(next)?;
                if let Some(&sampled) = sample.and_then(|sample| sample.get(&next)) {
                    offsets.push((next, score - sampled));
                }
                (score, Some(candidate))
            }
        };
        let passed = score >= target;
        if passed {
            pass = Some(Probe {
                setting: next,
                score,
            });
            best = candidate.map(|candidate| (candidate, score));
        } else {
            fail = Some(Probe {
                setting: next,
                score,
            });
        }
        same_side = if last_side_pass == Some(passed) {
            same_side + 1
        } else {
            0
        };
        last_side_pass = Some(passed);

        let lo = fail.map_or(low, |f| f.setting.saturating_add(1)); // lowest setting still possible
        let hi = pass.map_or(high, |p| p.setting); // a passing setting, or the top
        match (fail, pass) {
            (Some(f), _) if f.setting >= high => return Ok(None),
            (_, Some(p)) if p.setting <= lo => return Ok(best),
            _ => {}
        }
        // Only `hi` untested remains when nothing passed yet and lo == hi.
        next = match (fail, pass) {
            (Some(f), Some(p)) if same_side < 2 => interpolate(f, p, target).clamp(lo, hi - 1),
            (Some(_), Some(_)) => lo + (hi - 1 - lo) / 2,
            // Only failures so far, led by a sample that says a higher setting passes (before
            // any it did not score): that setting.
            (Some(f), None)
                if let Some(passing) = sample.and_then(|sample| {
                    first_shifted_pass(sample, &offsets, f.setting + 1..=high, target)
                }) =>
            {
                passing
            }
            // One side known so far: assume `slope` score points per setting, and aim one
            // setting past the estimate so that the next probe brackets the answer.
            (Some(f), None) => {
                let step = ((target - f.score) / slope + 1.0).ceil().clamp(1.0, 255.0) as u8;
                f.setting.saturating_add(step).clamp(lo, high)
            }
            // Only the first setting evaluated, and it passed: led by a sample, the setting just
            // below it.
            (None, Some(p)) if sample.is_some() && p.setting == first => p.setting - 1,
            (None, Some(p)) => {
                let step = ((p.score - target) / slope + 1.0).ceil().clamp(1.0, 255.0) as u8;
                p.setting.saturating_sub(step).clamp(low, hi - 1)
            }
            (None, None) => unreachable!("one probe has been made"),
        };
    }
}

/// The first of `settings` whose [`shifted`] sample score reaches `target`, walking up through
/// those the sample scored; `None` at the first it did not.
fn first_shifted_pass(
    sample: &SampleScores,
    offsets: &[(u8, f64)],
    settings: std::ops::RangeInclusive<u8>,
    target: f64,
) -> Option<u8> {
    for setting in settings {
        if shifted(sample, offsets, setting)? >= target {
            return Some(setting);
        }
    }
    None
}

/// `sample`'s score at `setting` shifted by the whole image's difference to it at the nearest
/// setting evaluated whole (`offsets`); `None` when the sample did not score it or nothing has
/// been evaluated whole where it did.
fn shifted(sample: &SampleScores, offsets: &[(u8, f64)], setting: u8) -> Option<f64> {
    let score = sample.get(&setting)?;
    let (_, offset) = offsets
        .iter()
        .min_by_key(|(evaluated, _)| evaluated.abs_diff(setting))?;
    Some(score + offset)
}

/// The setting where the line through `fail` and `pass` reaches `target`, rounded up.
fn interpolate(fail: Probe, pass: Probe, target: f64) -> u8 {
    let span = pass.score - fail.score;
    if span <= f64::EPSILON {
        return pass.setting;
    }
    let fraction = ((target - fail.score) / span).clamp(0.0, 1.0);
    let setting = f64::from(fail.setting) + fraction * f64::from(pass.setting - fail.setting);
    setting.ceil() as u8
}

/// How much higher than the target the sample should score at the first quality tried whole: on
/// the corpus photos the whole image scored 0.8–2.3 points below its sample at the same quality,
/// so aiming at the target itself cost a second whole encoding nearly every time.
pub const SAMPLE_MARGIN: f64 = 1.0;

/// Side of the square tiles a sample is made of (a multiple of JPEG's 16-pixel MCU, so that a
/// tile's blocks are the same blocks in the sample as in the whole image).
pub const TILE: u32 = 128;
/// Fewer tiles than this would not represent an image: it is searched whole.
const MIN_SAMPLE_TILES: u32 = 12;

/// A quarter of an image's tiles, spread over all of it (every other tile of every other row,
/// shifted by one tile from one sampled row to the next), placed side by side in a mosaic; or,
/// for [`Sample::of_at_most`], one tile in 3, 4, … of every third, fourth, … row.
pub struct Sample {
    /// Tiles per mosaic row and mosaic rows.
    pub columns: u32,
    pub rows: u32,
    /// One tile in `stride` is taken across and one tile row in `stride` down (2: a quarter).
    stride: u32,
}

impl Sample {
    pub fn of(width: u32, height: u32) -> Option<Self> {
        Self::with_stride(width, height, 2)
    }

    /// A sample of about `pixels` pixels or fewer: a quarter of the tiles, or of a larger image
    /// one tile in 3, 4, … across and down (a ninth, a sixteenth, …), but never fewer than
    /// `MIN_SAMPLE_TILES`.
    pub fn of_at_most(width: u32, height: u32, pixels: u64) -> Option<Self> {
        let whole = u64::from(width) * u64::from(height);
        let mut stride: u32 = 2;
        while whole / u64::from(stride).pow(2) > pixels {
            stride += 1;
        }
        Self::with_stride(width, height, stride).or_else(|| Self::of(width, height))
    }

    fn with_stride(width: u32, height: u32, stride: u32) -> Option<Self> {
        let (columns, rows) = ((width / TILE) / stride, (height / TILE).div_ceil(stride));
        (columns * rows >= MIN_SAMPLE_TILES).then_some(Self {
            columns,
            rows,
            stride,
        })
    }

    pub fn width(&self) -> u32 {
        self.columns * TILE
    }

    pub fn height(&self) -> u32 {
        self.rows * TILE
    }

    /// The mosaic of `pixels` (`channels` bytes a pixel, `width` pixels a row).
    pub fn extract(&self, pixels: &[u8], width: u32, channels: usize) -> Vec<u8> {
        let tile_bytes = TILE as usize * channels;
        let mut mosaic =
            Vec::with_capacity(self.width() as usize * self.height() as usize * channels);
        for row in 0..self.rows {
            let y0 = row * self.stride * TILE;
            for y in y0..y0 + TILE {
                let line = &pixels[y as usize * width as usize * channels..];
                for column in 0..self.columns {
                    let x0 = (column * self.stride + row % self.stride) * TILE;
                    mosaic.extend_from_slice(&line[x0 as usize * channels..][..tile_bytes]);
                }
            }
        }
        mosaic
    }
}

/// What a search on a sample found on the whole image.
pub enum Sampled<T> {
    /// The lowest passing whole image found, with its score.
    Passed(T, f64),
    /// Even the highest setting falls short on the sample.
    SampleFailed,
    /// The whole image fell short at every setting the sample pointed to.
    WholeFailed,
}

/// Like [`lowest_passing`], but the search runs on a sample (`sample_score`, cheap) and only the
/// settings it points to are evaluated whole (`whole`). The first setting tried whole is the
/// sample's lowest that passes with `SAMPLE_MARGIN` to spare. From the difference between the whole
/// image's score and the sample's there, it then moves one setting at a time: down while the sample
/// (shifted by the difference) says the next setting still passes, or up to the first setting it
/// says passes when the whole image fell short. It returns the lowest whole image that passed; every
/// score it returns is a whole image's.
pub fn lowest_passing_sampled<T>(
    low: u8,
    high: u8,
    guess: u8,
    target: f64,
    mut sample_score: impl FnMut(u8) -> Result<f64, EngineError>,
    mut whole: impl FnMut(u8) -> Result<(T, f64), EngineError>,
) -> Result<Sampled<T>, EngineError> {
    let mut scores = std::collections::BTreeMap::new();
    let mut sample = |setting: u8| -> Result<f64, EngineError> {
        if let Some(&score) = scores.get(&setting) {
            return Ok(score);
        }
        let score = sample_score(setting)?;
        scores.insert(setting, score);
        Ok(score)
    };
    let aim = target + SAMPLE_MARGIN;
    let Some((mut setting, _)) = lowest_passing(low, high, guess, aim, |setting| {
        Ok((sample(setting)?, setting))
    })?
    else {
        return Ok(Sampled::SampleFailed);
    };
    let (candidate, score) = whole(setting)?;
    let offset = score - sample(setting)?;
    if score >= target {
        let mut best = (candidate, score);
        while setting > low && sample(setting - 1)? + offset >= target {
            let (candidate, score) = whole(setting - 1)?;
            if score < target {
                break;
            }
            setting -= 1;
            best = (candidate, score);
        }
        return Ok(Sampled::Passed(best.0, best.1));
    }
    while setting < high {
        setting += 1;
        if sample(setting)? + offset < target && setting < high {
            continue;
        }
        let (candidate, score) = whole(setting)?;
        if score >= target {
            return Ok(Sampled::Passed(candidate, score));
        }
    }
    Ok(Sampled::WholeFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        low: u8,
        high: u8,
        guess: u8,
        target: f64,
        score: impl Fn(u8) -> f64,
    ) -> (Option<u8>, usize) {
        let mut calls = 0;
        let found = lowest_passing(low, high, guess, target, |q| {
            calls += 1;
            Ok((score(q), q))
        })
        .unwrap();
        (found.map(|(q, _)| q), calls)
    }

    fn exhaustive(low: u8, high: u8, target: f64, score: impl Fn(u8) -> f64) -> Option<u8> {
        (low..=high).find(|&q| score(q) >= target)
    }

    #[test]
    fn finds_exactly_the_lowest_passing_setting_of_any_monotonic_score() {
        // Linear, concave, convex and stepped score curves, with many targets and guesses.
        let curves: [fn(u8) -> f64; 4] = [
            |q| f64::from(q),
            |q| 100.0 * (f64::from(q) / 100.0).sqrt(),
            |q| 100.0 * (f64::from(q) / 100.0).powi(3),
            |q| f64::from(q / 10 * 10),
        ];
        let mut worst = 0;
        for curve in curves {
            for target in [5.0, 33.3, 64.9, 75.0, 80.0, 99.0] {
                for guess in [20, 50, 75, 95] {
                    let expected = exhaustive(20, 100, target, curve);
                    let (found, calls) = run(20, 100, guess, target, curve);
                    assert_eq!(found, expected, "target {target} guess {guess}");
                    worst = worst.max(calls);
                    let steep =
                        lowest_passing_at_slope(20, 100, guess, target, 3.0, |q| Ok((curve(q), q)));
                    assert_eq!(
                        steep.unwrap().map(|(q, _)| q),
                        expected,
                        "assuming 3 a setting"
                    );
                    // Led by a sample that scored nothing, the same curve, or the curve a point
                    // higher or lower everywhere: the shifted sample is then exact.
                    for shift in [None, Some(0.0), Some(1.0), Some(-1.0)] {
                        let sample: SampleScores = shift.map_or_else(SampleScores::new, |shift| {
                            (20..=100).map(|q| (q, curve(q) + shift)).collect()
                        });
                        let led = lowest_passing_led(20, 100, guess, target, 3.0, &sample, |q| {
                            Ok((curve(q), q))
                        });
                        assert_eq!(led.unwrap().map(|(q, _)| q), expected, "led, {shift:?}");
                    }
                }
            }
        }
        assert!(worst <= 12, "worst case {worst} evaluations");
    }

    #[test]
    fn a_near_linear_score_takes_few_evaluations() {
        let (found, calls) = run(30, 95, 80, 75.0, |q| 40.0 + f64::from(q) * 0.5);
        assert_eq!(found, Some(70));
        assert!(calls <= 4, "{calls} evaluations");
    }

    #[test]
    fn a_slope_like_the_scores_finds_the_same_setting_in_fewer_evaluations() {
        // The truecolour search's scores on `elephants_3840.png`'s sample, by rounding step
        // (setting = 50 - step), joined by straight lines: a few points a step near the target,
        // more further out.
        const MEASURED: [(f64, f64); 8] = [
            (8.0, 89.46),
            (15.0, 79.21),
            (16.0, 78.65),
            (17.0, 75.66),
            (18.0, 75.38),
            (19.0, 71.97),
            (28.0, 54.48),
            (38.0, 29.63),
        ];
        let score = |setting: u8| {
            let step = 50.0 - f64::from(setting);
            let (a, b) = MEASURED
                .windows(2)
                .map(|pair| (pair[0], pair[1]))
                .find(|(_, b)| step <= b.0)
                .unwrap_or((MEASURED[6], MEASURED[7]));
            a.1 + (b.1 - a.1) * (step - a.0) / (b.0 - a.0)
        };
        let search = |slope: f64| {
            let mut calls = 0;
            let found = lowest_passing_at_slope(2, 48, 42, 75.0, slope, |setting| {
                calls += 1;
                Ok((score(setting), setting))
            })
            .unwrap();
            (found.map(|(setting, _)| setting), calls)
        };
        let expected = exhaustive(2, 48, 75.0, score);
        assert_eq!(expected, Some(32), "step 18");
        let (half_a_point, slow) = search(0.5);
        let (two_points, fast) = search(2.0);
        assert_eq!((half_a_point, two_points), (expected, expected));
        assert!(fast < slow, "{fast} evaluations against {slow}");
    }

    /// `storm.png`'s whole image by rounding step (setting = 50 - step): the sample's step 8
    /// passes, and the next coarser one fails by nearly 3 points.
    fn storm(setting: u8) -> f64 {
        match 50 - setting {
            ..=8 => 78.96,
            9 => 72.21,
            10 => 68.0,
            11 => 64.53,
            _ => 50.0,
        }
    }

    /// The steps a search of [`storm`] from step 8 tries, and its answer: led by `sample`, or
    /// by the slope alone.
    fn storm_search(sample: Option<&SampleScores>) -> (Option<u8>, Vec<u8>) {
        let mut tried = Vec::new();
        let mut evaluate = |setting: u8| {
            tried.push(50 - setting);
            Ok((storm(setting), setting))
        };
        let found = match sample {
            Some(sample) => lowest_passing_led(2, 48, 42, 75.0, 2.0, sample, &mut evaluate),
            None => lowest_passing_at_slope(2, 48, 42, 75.0, 2.0, &mut evaluate),
        };
        (found.unwrap().map(|(setting, _)| 50 - setting), tried)
    }

    #[test]
    fn a_guess_that_is_the_answer_takes_two_evaluations_led_by_a_sample() {
        assert_eq!(storm_search(None), (Some(8), vec![8, 11, 9]));
        // A sample that scored nothing near: the step just coarser is evaluated.
        assert_eq!(
            storm_search(Some(&SampleScores::new())),
            (Some(8), vec![8, 9])
        );
        // A guess that fails is left as the slope leads: 2 settings further for 0.7 points.
        let short = |setting: u8| f64::from(setting) * 2.0 + 10.3;
        let mut tried = Vec::new();
        let found = lowest_passing_led(2, 48, 32, 75.0, 2.0, &SampleScores::new(), |setting| {
            tried.push(setting);
            Ok((short(setting), setting))
        });
        assert_eq!(found.unwrap().map(|(setting, _)| setting), Some(33));
        assert_eq!(tried, [32, 34, 33]);
    }

    #[test]
    fn a_setting_the_shifted_sample_says_fails_is_not_evaluated() {
        // `storm.png`'s sample: step 8 scored 79.69 and step 9 72.63. The whole image scores 0.73
        // lower at step 8, so step 9 would score about 71.9: one whole evaluation.
        let sample: SampleScores = [(50 - 8, 79.69), (50 - 9, 72.63), (50 - 12, 62.87)].into();
        assert_eq!(storm_search(Some(&sample)), (Some(8), vec![8]));
        // A sample that says step 9 passes there is evaluated whole, and it fails.
        let generous: SampleScores = [(50 - 8, 79.69), (50 - 9, 76.0)].into();
        assert_eq!(storm_search(Some(&generous)), (Some(8), vec![8, 9]));
    }

    #[test]
    fn a_failing_guess_goes_where_the_shifted_sample_passes() {
        // `garden_1280.png`: its sample passed at step 10 (76.28), 9 (77.36) and 8 (82.41); the
        // whole image scores 3.3 lower at step 10, so step 9 fails too, and step 8 passes.
        let whole = |setting: u8| match 50 - setting {
            ..=7 => 80.87,
            8 => 80.51,
            9 => 73.53,
            10 => 72.96,
            _ => 60.0,
        };
        let sample: SampleScores = [(42, 82.41), (41, 77.36), (40, 76.28), (39, 70.82)].into();
        let mut tried = Vec::new();
        let found = lowest_passing_led(2, 48, 40, 75.0, 2.0, &sample, |setting| {
            tried.push(50 - setting);
            Ok((whole(setting), setting))
        });
        assert_eq!(found.unwrap().map(|(setting, _)| 50 - setting), Some(8));
        assert_eq!(
            tried,
            [10, 8],
            "the slope alone went to step 7, then 9, then 8"
        );
        // The finest setting is always evaluated, whatever the sample says.
        let mut tried = Vec::new();
        let pessimistic: SampleScores = (2..=48).map(|setting| (setting, 10.0)).collect();
        let found = lowest_passing_led(2, 48, 47, 75.0, 2.0, &pessimistic, |setting| {
            tried.push(setting);
            Ok((if setting == 48 { 90.0 } else { 70.0 }, setting))
        });
        assert_eq!(found.unwrap().map(|(setting, _)| setting), Some(48));
        assert_eq!(tried, [47, 48]);
    }

    #[test]
    fn reports_none_when_even_the_highest_setting_fails() {
        let (found, _) = run(0, 100, 50, 75.0, |q| f64::from(q) / 2.0);
        assert_eq!(found, None);
    }

    #[test]
    fn the_lowest_setting_is_returned_when_everything_passes() {
        let (found, _) = run(30, 95, 80, 10.0, f64::from);
        assert_eq!(found, Some(30));
    }
    #[test]
    fn a_sample_is_a_quarter_of_the_tiles_taken_from_all_over_the_image() {
        assert!(
            Sample::of(511, 2000).is_none(),
            "too few tiles to stand for the image"
        );
        let (width, height) = (1300, 900); // 10 × 7 whole tiles
        let sample = Sample::of(width, height).unwrap();
        assert_eq!((sample.columns, sample.rows), (5, 4));
        // Each pixel holds the index of its tile.
        let pixels: Vec<u8> = (0..width * height)
            .map(|i| ((i / width / TILE) * 10 + (i % width) / TILE) as u8)
            .collect();
        let mosaic = sample.extract(&pixels, width, 1);
        assert_eq!(mosaic.len(), (sample.width() * sample.height()) as usize);
        let tile_at =
            |column: u32, row: u32| mosaic[(row * TILE * sample.width() + column * TILE) as usize];
        // Rows 0, 2, 4, 6 of the image; even tiles in one sampled row, odd ones in the next.
        assert_eq!((tile_at(0, 0), tile_at(1, 0), tile_at(4, 0)), (0, 2, 8));
        assert_eq!((tile_at(0, 1), tile_at(4, 1)), (21, 29));
        assert_eq!((tile_at(0, 3), tile_at(4, 3)), (61, 69));
        // A tile is copied whole: its last pixel is still from the same tile.
        let last = mosaic[((2 * TILE - 1) * sample.width() + 5 * TILE - 1) as usize];
        assert_eq!(last, 29);
    }

    #[test]
    fn a_large_images_sample_takes_fewer_tiles_still_from_all_over_it() {
        // 30 × 20 whole tiles (9.8 MP): a quarter would be 2.5 MP.
        let (width, height) = (30 * TILE, 20 * TILE);
        let quarter = Sample::of_at_most(width, height, 3_000_000).unwrap();
        assert_eq!((quarter.columns, quarter.rows), (15, 10));
        let ninth = Sample::of_at_most(width, height, 2_000_000).unwrap();
        assert_eq!((ninth.columns, ninth.rows), (10, 7));
        assert!(u64::from(ninth.width() * ninth.height()) <= 2_000_000);
        // Each pixel holds its tile's column, and its tile row in the next byte.
        let pixels: Vec<u8> = (0..width * height)
            .flat_map(|i| [((i % width) / TILE) as u8, (i / width / TILE) as u8])
            .collect();
        let mosaic = ninth.extract(&pixels, width, 2);
        let tile_at = |column: u32, row: u32| {
            let i = 2 * (row * TILE * ninth.width() + column * TILE) as usize;
            (mosaic[i], mosaic[i + 1])
        };
        // Every third tile row; every third tile, shifted by one from one sampled row to the
        // next, out to the right and bottom edges.
        assert_eq!(
            (tile_at(0, 0), tile_at(1, 0), tile_at(9, 0)),
            ((0, 0), (3, 0), (27, 0))
        );
        assert_eq!((tile_at(0, 1), tile_at(9, 1)), ((1, 3), (28, 3)));
        assert_eq!((tile_at(0, 2), tile_at(9, 2)), ((2, 6), (29, 6)));
        assert_eq!(tile_at(0, 6), (0, 18));
        // Never fewer tiles than stand for the image: a small budget keeps a quarter.
        let small = Sample::of_at_most(10 * TILE, 6 * TILE, 1_000).unwrap();
        assert_eq!((small.columns, small.rows), (5, 3));
    }

    fn sampled(
        target: f64,
        sample: impl Fn(u8) -> f64,
        whole: impl Fn(u8) -> f64,
    ) -> (Option<u8>, Vec<u8>) {
        let mut tried = Vec::new();
        let found = lowest_passing_sampled(
            30,
            95,
            80,
            target,
            |q| Ok(sample(q)),
            |q| {
                tried.push(q);
                Ok((q, whole(q)))
            },
        )
        .unwrap();
        let found = match found {
            Sampled::Passed(q, score) => {
                assert_eq!(score, whole(q));
                Some(q)
            }
            Sampled::SampleFailed | Sampled::WholeFailed => None,
        };
        (found, tried)
    }

    #[test]
    fn a_whole_image_scoring_below_its_sample_is_stepped_up_to_the_first_passing_setting() {
        // The whole scores 1.5 below the sample: the sample passes 76 (75 + margin) at 76,
        // the whole fails there, and the shifted sample points straight at 77.
        let (found, tried) = sampled(75.0, f64::from, |q| f64::from(q) - 1.5);
        assert_eq!(found, Some(77));
        assert_eq!(tried, [76, 77]);
    }

    #[test]
    fn a_whole_image_scoring_above_its_sample_is_stepped_down_to_the_lowest_passing_setting() {
        let (found, tried) = sampled(75.0, f64::from, |q| f64::from(q) + 2.0);
        assert_eq!(found, Some(73));
        assert_eq!(tried, [76, 75, 74, 73]);
    }

    #[test]
    fn one_whole_evaluation_when_the_sample_is_right_within_its_margin() {
        let (found, tried) = sampled(75.0, f64::from, |q| f64::from(q) - 0.5);
        assert_eq!(found, Some(76));
        assert_eq!(tried, [76]);
    }

    #[test]
    fn nothing_is_evaluated_whole_when_the_sample_never_passes() {
        let (found, tried) = sampled(75.0, |q| f64::from(q) / 2.0, f64::from);
        assert_eq!(found, None);
        assert!(tried.is_empty());
    }
}
