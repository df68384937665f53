//! Perceptual quality: SSIMULACRA2 between the original and a candidate (100 = identical,
//! ~90 = visually lossless up close, ~75 = visually lossless at normal viewing).
//!
//! Transparent images are scored as composites over a dark and a light background; the worse
//! score counts, so that a change hidden by one background is caught by the other.

use std::sync::{Mutex, OnceLock, PoisonError};

use crate::{
    decode::flatten,
    ssim2::{CachedReference, Planar, Scratch},
};

/// The backgrounds transparent images are judged on.
const BACKGROUNDS: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];

/// Images narrower or shorter than this cannot be scored (the metric needs 8×8).
pub const MIN_SIDE: u32 = 8;

fn srgb_to_linear(value: u8) -> f32 {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
    })[usize::from(value)]
}

/// RGBA pixels composited over `background`, as planar linear RGB.
fn linear(rgba: &[u8], width: u32, height: u32, background: [u8; 3], alpha: bool) -> Planar {
    let mut planar = Planar::zeroed(width as usize, height as usize);
    linear_into(rgba, background, alpha, &mut planar);
    planar
}

/// `linear` into the planes of `planar` (of the same size), without allocating.
fn linear_into(rgba: &[u8], background: [u8; 3], alpha: bool, planar: &mut Planar) {
    let len = planar.width * planar.height;
    let [r, g, b] = &mut planar.planes;
    for (i, p) in rgba.chunks_exact(4).take(len).enumerate() {
        let rgb = if alpha {
            flatten(p, background)
        } else {
            [p[0], p[1], p[2]]
        };
        r[i] = srgb_to_linear(rgb[0]);
        g[i] = srgb_to_linear(rgb[1]);
        b[i] = srgb_to_linear(rgb[2]);
    }
}

/// Whether the metric can score a `width`×`height` image at all.
pub fn scorable(width: u32, height: u32) -> bool {
    width >= MIN_SIDE && height >= MIN_SIDE
}

/// The original image, prepared once, to score any number of candidates against.
pub struct Reference {
    width: u32,
    height: u32,
    alpha: bool,
    /// One prepared reference per background (about 48 bytes a pixel each).
    frames: Vec<CachedReference>,
    /// The buffers every candidate's scoring reuses, made at the first candidate (a candidate's
    /// linear RGB, and the metric's own), and which background last gave the lower score.
    scratch: Mutex<Option<(Planar, Scratch, usize)>>,
}

impl Reference {
    /// Prepares `rgba` (`width * height * 4` bytes); `alpha` says whether transparency is used.
    pub fn new(rgba: &[u8], width: u32, height: u32, alpha: bool) -> Self {
        let backgrounds = if alpha {
            &BACKGROUNDS[..]
        } else {
            &BACKGROUNDS[..1]
        };
        let frames = if scorable(width, height) {
            backgrounds
                .iter()
                .map(|&bg| CachedReference::new(linear(rgba, width, height, bg, alpha)))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            width,
            height,
            alpha,
            frames,
            scratch: Mutex::new(None),
        }
    }

    /// Whether the metric can score images of this size at all.
    pub fn scorable(&self) -> bool {
        scorable(self.width, self.height)
    }

    /// The score of `candidate` (RGBA, same size), or `None` when the image is too small to score.
    pub fn score(&self, candidate: &[u8]) -> Option<f64> {
        self.score_for(candidate, f64::NEG_INFINITY)
    }

    /// [`Self::score`] when only whether it reaches `target` matters below it: a transparent
    /// image's composite that falls short settles it, and the other is not scored. Below `target`
    /// the answer is the first composite's score (the worse so far scored first), which may be
    /// above the other's; at or above `target` it is the score.
    pub fn score_for(&self, candidate: &[u8], target: f64) -> Option<f64> {
        if !self.scorable() {
            return None;
        }
        let mut kept = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let (distorted, scratch, worse) = kept.get_or_insert_with(|| {
            let (width, height) = (self.width as usize, self.height as usize);
            (
                Planar::zeroed(width, height),
                Scratch::new(width, height),
                0,
            )
        });
        let mut order = [0, 1];
        order.rotate_left(*worse);
        let mut lowest: Option<(f64, usize)> = None;
        for i in order.into_iter().take(self.frames.len()) {
            linear_into(candidate, BACKGROUNDS[i], self.alpha, distorted);
            let score = self.frames[i].score(distorted, scratch);
            if lowest.is_none_or(|(low, _)| score < low) {
                lowest = Some((score, i));
            }
            if score < target {
                break;
            }
        }
        let (score, i) = lowest?;
        *worse = i;
        Some(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Vec<u8> {
        (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                [(x * 255 / width) as u8, (y * 255 / height) as u8, 128, 255]
            })
            .collect()
    }

    #[test]
    fn an_identical_image_scores_100_and_a_damaged_one_less() {
        let original = gradient(64, 48);
        let reference = Reference::new(&original, 64, 48, false);
        let same = reference.score(&original).unwrap();
        assert!(same > 99.9, "{same}");
        let damaged: Vec<u8> = original.iter().map(|&v| v / 32 * 32).collect();
        let score = reference.score(&damaged).unwrap();
        assert!(score < 80.0, "{score}");
    }

    #[test]
    fn a_change_only_visible_over_one_background_is_caught() {
        // Fully transparent black pixels made transparent white: invisible. Made half opaque:
        // visible over the light background only.
        let mut original = gradient(32, 32);
        original.chunks_exact_mut(4).for_each(|p| p[3] = 0);
        let reference = Reference::new(&original, 32, 32, true);
        let mut invisible = original.clone();
        invisible
            .chunks_exact_mut(4)
            .for_each(|p| p[..3].copy_from_slice(&[255, 255, 255]));
        assert!(reference.score(&invisible).unwrap() > 99.9);
        let mut visible = original.clone();
        visible.chunks_exact_mut(4).for_each(|p| p[3] = 128);
        assert!(reference.score(&visible).unwrap() < 50.0);
    }

    #[test]
    fn a_composite_that_falls_short_settles_a_transparent_images_score() {
        // Half opaque and reddened: visible over both backgrounds, more over one.
        let original = gradient(64, 48)
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2], 128])
            .collect::<Vec<u8>>();
        let reference = Reference::new(&original, 64, 48, true);
        let tinted: Vec<u8> = original
            .chunks_exact(4)
            .flat_map(|p| [p[0].saturating_add(40), p[1], p[2], p[3]])
            .collect();
        let both = reference.score(&tinted).unwrap();
        // Above the score, the answer is the score; below it, one composite is enough, and
        // its score is below the target, never below the whole score.
        assert_eq!(reference.score_for(&tinted, both - 1.0).unwrap(), both);
        // Whichever composite comes first (a fresh reference starts with the dark one; this one
        // has learnt which is worse).
        let fresh = Reference::new(&original, 64, 48, true);
        for reference in [&reference, &fresh] {
            let short = reference.score_for(&tinted, both + 1.0).unwrap();
            assert!(
                short < both + 1.0 && short >= both,
                "{short} against {both}"
            );
        }
    }

    #[test]
    fn tiny_images_cannot_be_scored() {
        let pixels = gradient(7, 20);
        assert_eq!(Reference::new(&pixels, 7, 20, false).score(&pixels), None);
    }
}
