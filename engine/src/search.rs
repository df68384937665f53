//! Finding the lowest encoder setting whose output still reaches the target score.
//!
//! Every evaluation encodes, decodes and scores the whole image, so the search spends as few as it
//! can: it starts from a guess, then interpolates between the closest failing and passing settings
//! (falling back to bisection when interpolation stalls). For a score that grows with the setting,
//! the answer is exactly the lowest passing setting, usually after three to five evaluations.

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
    mut evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
) -> Result<Option<(T, f64)>, EngineError> {
    let mut best: Option<(T, f64)> = None;
    let mut fail: Option<Probe> = None; // highest setting known to fail
    let mut pass: Option<Probe> = None; // lowest setting known to pass
    let mut next = guess.clamp(low, high);
    let mut same_side = 0u8;
    let mut last_side_pass = None;
    loop {
        let (score, candidate) = evaluate(next)?;
        let passed = score >= target;
        if passed {
            pass = Some(Probe {
                setting: next,
                score,
            });
            best = Some((candidate, score));
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
            // One side known so far: assume about half a score point per setting, and aim one
            // setting past the estimate so that the next probe brackets the answer.
            (Some(f), None) => {
                let step = ((target - f.score) * 2.0 + 1.0).ceil().clamp(1.0, 255.0) as u8;
                f.setting.saturating_add(step).clamp(lo, high)
            }
            (None, Some(p)) => {
                let step = ((p.score - target) * 2.0 + 1.0).ceil().clamp(1.0, 255.0) as u8;
                p.setting.saturating_sub(step).clamp(low, hi - 1)
            }
            (None, None) => unreachable!("one probe has been made"),
        };
    }
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
    fn reports_none_when_even_the_highest_setting_fails() {
        let (found, _) = run(0, 100, 50, 75.0, |q| f64::from(q) / 2.0);
        assert_eq!(found, None);
    }

    #[test]
    fn the_lowest_setting_is_returned_when_everything_passes() {
        let (found, _) = run(30, 95, 80, 10.0, f64::from);
        assert_eq!(found, Some(30));
    }
}
