//! Finding the lowest encoder setting whose output still reaches the target score.

use crate::EngineError;

/// Binary search over `low..=high` for the lowest setting whose score reaches `target`,
/// assuming the score grows with the setting. `evaluate` returns the score and the candidate.
/// Returns the passing candidate with its score, or `None` when even `high` falls short.
pub fn lowest_passing<T>(
    low: u8,
    high: u8,
    mut evaluate: impl FnMut(u8) -> Result<(f64, T), EngineError>,
    target: f64,
) -> Result<Option<(T, f64)>, EngineError> {
    let (top_score, top) = evaluate(high)?;
    if top_score < target {
        return Ok(None);
    }
    let mut best = (top, top_score);
    let (mut lo, mut hi) = (low, high);
    // Invariant: `hi` passes; every setting below `lo` is untested or failed.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (score, candidate) = evaluate(mid)?;
        if score >= target {
            best = (candidate, score);
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some(best))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_lowest_passing_setting_of_a_monotonic_score() {
        let mut calls = 0;
        let found = lowest_passing(
            0,
            100,
            |q| {
                calls += 1;
                Ok((f64::from(q), q))
            },
            63.0,
        )
        .unwrap();
        assert_eq!(found, Some((63, 63.0)));
        assert!(calls <= 9, "{calls} evaluations");
    }

    #[test]
    fn reports_none_when_even_the_highest_setting_fails() {
        let found = lowest_passing(0, 100, |q| Ok((f64::from(q) / 2.0, q)), 75.0).unwrap();
        assert_eq!(found, None);
    }
}
