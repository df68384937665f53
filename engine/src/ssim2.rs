//! SSIMULACRA2 with the reference prepared once.
//!
//! A port of `compute_frame_ssimulacra2` from the `ssimulacra2` crate 0.5.1 (rust-av,
//! BSD-2-Clause; © the ssimulacra2 authors) that keeps, for every scale, the reference's planar
//! XYB image, its blurred mean and its blurred square. A search scores many candidates against one
//! reference: each candidate then costs three blurs per scale instead of five, and the reference
//! is never converted again. The arithmetic and its order are the crate's, so scores are
//! bit-identical to it (tested below).

use ssimulacra2::{Blur, LinearRgb, Xyb};

const NUM_SCALES: usize = 6;

type Planes = [Vec<f32>; 3];

/// One scale of the prepared reference.
struct ReferenceScale {
    width: usize,
    height: usize,
    xyb: Planes,
    mu: Planes,
    sigma_sq: Planes,
}

/// A reference image prepared for scoring candidates of the same size.
pub struct CachedReference {
    width: usize,
    height: usize,
    scales: Vec<ReferenceScale>,
}

impl CachedReference {
    /// Prepares `image` (at least 8×8).
    pub fn new(image: LinearRgb) -> Self {
        let (width, height) = (image.width(), image.height());
        let mut blur = Blur::new(width, height);
        let mut mul = planes(width * height);
        let mut scales = Vec::with_capacity(NUM_SCALES);
        let mut current = image;
        let (mut w, mut h) = (width, height);
        for scale in 0..NUM_SCALES {
            // As in the crate: the size checked is the previous scale's, so the last scale
            // processed may be smaller than 8 pixels on a side.
            if w < 8 || h < 8 {
                break;
            }
            if scale > 0 {
                current = downscale_by_2(&current);
                (w, h) = (current.width(), current.height());
            }
            truncate(&mut mul, w * h);
            blur.shrink_to(w, h);
            let xyb = to_planar_xyb(&current);
            image_multiply(&xyb, &xyb, &mut mul);
            let sigma_sq = blur.blur(&mul);
            let mu = blur.blur(&xyb);
            scales.push(ReferenceScale {
                width: w,
                height: h,
                xyb,
                mu,
                sigma_sq,
            });
        }
        Self {
            width,
            height,
            scales,
        }
    }

    /// The SSIMULACRA2 score of `distorted` (same size) against the reference.
    pub fn score(&self, distorted: LinearRgb) -> f64 {
        debug_assert_eq!(
            (distorted.width(), distorted.height()),
            (self.width, self.height)
        );
        let mut blur = Blur::new(self.width, self.height);
        let mut mul = planes(self.width * self.height);
        let mut scores = Vec::with_capacity(self.scales.len());
        let mut current = distorted;
        for (scale, reference) in self.scales.iter().enumerate() {
            if scale > 0 {
                current = downscale_by_2(&current);
            }
            let (w, h) = (reference.width, reference.height);
            truncate(&mut mul, w * h);
            blur.shrink_to(w, h);
            let xyb = to_planar_xyb(&current);
            image_multiply(&xyb, &xyb, &mut mul);
            let sigma2_sq = blur.blur(&mul);
            image_multiply(&reference.xyb, &xyb, &mut mul);
            let sigma12 = blur.blur(&mul);
            let mu2 = blur.blur(&xyb);
            scores.push((
                ssim_map(
                    w,
                    h,
                    &reference.mu,
                    &mu2,
                    &reference.sigma_sq,
                    &sigma2_sq,
                    &sigma12,
                ),
                edge_diff_map(w, h, &reference.xyb, &reference.mu, &xyb, &mu2),
            ));
        }
        final_score(&scores)
    }
}

fn planes(len: usize) -> Planes {
    [vec![0.0; len], vec![0.0; len], vec![0.0; len]]
}

fn truncate(planes: &mut Planes, len: usize) {
    for plane in planes {
        plane.truncate(len);
    }
}

/// Linear RGB to the positive planar XYB the metric works on.
fn to_planar_xyb(image: &LinearRgb) -> Planes {
    let mut xyb = Xyb::from(image.clone());
    for pix in xyb.data_mut().iter_mut() {
        pix[2] = (pix[2] - pix[1]) + 0.55;
        pix[0] = (pix[0]).mul_add(14.0, 0.42);
        pix[1] += 0.01;
    }
    let len = xyb.width() * xyb.height();
    let mut out = planes(len);
    for (i, p) in xyb.data().iter().enumerate() {
        out[0][i] = p[0];
        out[1][i] = p[1];
        out[2][i] = p[2];
    }
    out
}

fn image_multiply(img1: &Planes, img2: &Planes, out: &mut Planes) {
    for ((plane1, plane2), out_plane) in img1.iter().zip(img2.iter()).zip(out.iter_mut()) {
        for ((&p1, &p2), o) in plane1.iter().zip(plane2.iter()).zip(out_plane.iter_mut()) {
            *o = p1 * p2;
        }
    }
}

fn downscale_by_2(in_data: &LinearRgb) -> LinearRgb {
    const SCALE: usize = 2;
    let in_w = in_data.width();
    let in_h = in_data.height();
    let out_w = in_w.div_ceil(SCALE);
    let out_h = in_h.div_ceil(SCALE);
    let mut out_data = vec![[0.0f32; 3]; out_w * out_h];
    let normalize = 1f32 / (SCALE * SCALE) as f32;
    let in_data = &in_data.data();
    for oy in 0..out_h {
        for ox in 0..out_w {
            for c in 0..3 {
                let mut sum = 0f32;
                for iy in 0..SCALE {
                    for ix in 0..SCALE {
                        let x = (ox * SCALE + ix).min(in_w - 1);
                        let y = (oy * SCALE + iy).min(in_h - 1);
                        sum += in_data[y * in_w + x][c];
                    }
                }
                out_data[oy * out_w + ox][c] = sum * normalize;
            }
        }
    }
    LinearRgb::new(out_data, out_w, out_h).expect("resolution and data size match")
}

fn ssim_map(
    width: usize,
    height: usize,
    m1: &Planes,
    m2: &Planes,
    s11: &Planes,
    s22: &Planes,
    s12: &Planes,
) -> [f64; 6] {
    const C2: f32 = 0.0009f32;
    let one_per_pixels = 1.0f64 / (width * height) as f64;
    let mut plane_averages = [0f64; 6];
    for c in 0..3 {
        let mut sum1 = [0.0f64; 2];
        let rows = m1[c].chunks_exact(width).zip(
            m2[c].chunks_exact(width).zip(
                s11[c]
                    .chunks_exact(width)
                    .zip(s22[c].chunks_exact(width).zip(s12[c].chunks_exact(width))),
            ),
        );
        for (row_m1, (row_m2, (row_s11, (row_s22, row_s12)))) in rows {
            for x in 0..width {
                let mu1 = row_m1[x];
                let mu2 = row_m2[x];
                let mu11 = mu1 * mu1;
                let mu22 = mu2 * mu2;
                let mu12 = mu1 * mu2;
                let mu_diff = mu1 - mu2;
                let num_m = mu_diff.mul_add(-mu_diff, 1.0f32);
                let num_s = 2f32.mul_add(row_s12[x] - mu12, C2);
                let denom_s = (row_s11[x] - mu11) + (row_s22[x] - mu22) + C2;
                let d = (1.0f64 - f64::from((num_m * num_s) / denom_s)).max(0.0);
                sum1[0] += d;
                sum1[1] += d.powi(4);
            }
        }
        plane_averages[c * 2] = one_per_pixels * sum1[0];
        plane_averages[c * 2 + 1] = (one_per_pixels * sum1[1]).sqrt().sqrt();
    }
    plane_averages
}

fn edge_diff_map(
    width: usize,
    height: usize,
    img1: &Planes,
    mu1: &Planes,
    img2: &Planes,
    mu2: &Planes,
) -> [f64; 12] {
    let one_per_pixels = 1.0f64 / (width * height) as f64;
    let mut plane_averages = [0f64; 12];
    for c in 0..3 {
        let mut sum1 = [0.0f64; 4];
        let rows = img1[c].chunks_exact(width).zip(
            img2[c]
                .chunks_exact(width)
                .zip(mu1[c].chunks_exact(width).zip(mu2[c].chunks_exact(width))),
        );
        for (row1, (row2, (rowm1, rowm2))) in rows {
            for x in 0..width {
                let d1: f64 = (1.0 + f64::from((row2[x] - rowm2[x]).abs()))
                    / (1.0 + f64::from((row1[x] - rowm1[x]).abs()))
                    - 1.0;
                let artifact = d1.max(0.0);
                sum1[0] += artifact;
                sum1[1] += artifact.powi(4);
                let detail_lost = (-d1).max(0.0);
                sum1[2] += detail_lost;
                sum1[3] += detail_lost.powi(4);
            }
        }
        plane_averages[c * 4] = one_per_pixels * sum1[0];
        plane_averages[c * 4 + 1] = (one_per_pixels * sum1[1]).sqrt().sqrt();
        plane_averages[c * 4 + 2] = one_per_pixels * sum1[2];
        plane_averages[c * 4 + 3] = (one_per_pixels * sum1[3]).sqrt().sqrt();
    }
    plane_averages
}

/// The crate's weighting of the 108 sub-scores into one number (weights from its `Msssim`).
fn final_score(scales: &[([f64; 6], [f64; 12])]) -> f64 {
    #[rustfmt::skip]
    const WEIGHT: [f64; 108] = [
        0.0, 0.000_737_660_670_740_658_6, 0.0, 0.0, 0.000_779_348_168_286_730_9, 0.0, 0.0,
        0.000_437_115_573_010_737_9, 0.0, 1.104_172_642_665_734_6, 0.000_662_848_341_292_71,
        0.000_152_316_327_837_187_52, 0.0, 0.001_640_643_745_659_975_4, 0.0,
        1.842_245_552_053_929_8, 11.441_172_603_757_666, 0.0, 0.000_798_910_943_601_516_3,
        0.000_176_816_438_078_653, 0.0, 1.878_759_497_954_638_7, 10.949_069_906_051_42, 0.0,
        0.000_728_934_699_150_807_2, 0.967_793_708_062_683_3, 0.0, 0.000_140_034_242_854_358_84,
        0.998_176_697_785_496_7, 0.000_319_497_559_344_350_53, 0.000_455_099_211_379_206_3, 0.0,
        0.0, 0.001_364_876_616_324_339_8, 0.0, 0.0, 0.0, 0.0, 0.0, 7.466_890_328_078_848, 0.0,
        17.445_833_984_131_262, 0.000_623_560_163_404_146_6, 0.0, 0.0, 6.683_678_146_179_332,
        0.000_377_244_079_796_112_96, 1.027_889_937_768_264, 225.205_153_008_492_74, 0.0, 0.0,
        19.213_238_186_143_016, 0.001_140_152_458_661_836_1, 0.001_237_755_635_509_985,
        176.393_175_984_506_94, 0.0, 0.0, 24.433_009_998_704_76, 0.285_208_026_121_177_57,
        0.000_448_543_692_383_340_8, 0.0, 0.0, 0.0, 34.779_063_444_837_72,
        44.835_625_328_877_896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.000_868_055_657_329_169_8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.000_531_319_187_435_874_7, 0.0,
        0.000_165_338_141_613_791_12, 0.0, 0.0, 0.0, 0.0, 0.0, 0.000_417_917_180_325_133_6,
        0.001_729_082_823_472_283_3, 0.0, 0.002_082_700_584_663_643_7, 0.0, 0.0,
        8.826_982_764_996_862, 23.192_433_439_989_26, 0.0, 95.108_049_881_108_6,
        0.986_397_803_440_068_2, 0.983_438_279_246_535_3, 0.001_228_640_504_827_849_3,
        171.266_725_589_730_7, 0.980_785_887_243_537_9, 0.0, 0.0, 0.0,
        0.000_513_006_458_899_067_9, 0.0, 0.000_108_540_578_584_115_37,
    ];
    let mut ssim = 0.0f64;
    let mut i = 0usize;
    for c in 0..3 {
        for (avg_ssim, avg_edgediff) in scales {
            for n in 0..2 {
                ssim = WEIGHT[i].mul_add(avg_ssim[c * 2 + n].abs(), ssim);
                i += 1;
                ssim = WEIGHT[i].mul_add(avg_edgediff[c * 4 + n].abs(), ssim);
                i += 1;
                ssim = WEIGHT[i].mul_add(avg_edgediff[c * 4 + n + 2].abs(), ssim);
                i += 1;
            }
        }
    }
    ssim *= 0.956_238_261_683_484_4_f64;
    ssim = (6.248_496_625_763_138e-5 * ssim * ssim).mul_add(
        ssim,
        2.326_765_642_916_932f64.mul_add(ssim, -0.020_884_521_182_843_837 * ssim * ssim),
    );
    if ssim > 0.0f64 {
        ssim.powf(0.627_633_646_783_138_7)
            .mul_add(-10.0f64, 100.0f64)
    } else {
        100.0f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: usize, height: usize, seed: u32) -> LinearRgb {
        let data = (0..width * height)
            .map(|i| {
                let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed);
                let f = |shift: u32| ((v >> shift) & 0xFF) as f32 / 255.0;
                let (x, y) = ((i % width) as f32, (i / width) as f32);
                [
                    (x / width as f32 * 0.8 + f(0) * 0.2).min(1.0),
                    (y / height as f32 * 0.7 + f(8) * 0.3).min(1.0),
                    f(16) * 0.5,
                ]
            })
            .collect();
        LinearRgb::new(data, width, height).unwrap()
    }

    #[test]
    fn scores_are_bit_identical_to_the_crates() {
        for (w, h) in [(8, 8), (37, 23), (200, 131), (300, 17)] {
            let reference = frame(w, h, 1);
            let cached = CachedReference::new(reference.clone());
            for seed in [1, 2, 99] {
                let distorted = frame(w, h, seed);
                let expected =
                    ssimulacra2::compute_frame_ssimulacra2(reference.clone(), distorted.clone())
                        .unwrap();
                assert_eq!(
                    cached.score(distorted).to_bits(),
                    expected.to_bits(),
                    "{w}×{h} seed {seed}"
                );
            }
        }
    }
}
