//! SSIMULACRA2 with the reference prepared once, computed on planar images.
//!
//! A port of `compute_frame_ssimulacra2` from the `ssimulacra2` crate 0.5.1 (rust-av,
//! BSD-2-Clause; © the ssimulacra2 authors) and of the XYB conversion of `yuvxyb` 0.4 (rust-av,
//! MIT) that:
//! - keeps, for every scale, the reference's XYB planes, their blurred mean and blurred square,
//!   so that each candidate costs three blurs per scale instead of five;
//! - works on planes (`[Vec<f32>; 3]`) from the start, without the crate's pixel arrays and the
//!   copies between them;
//! - runs the recursive Gaussian's row pass on 8 rows at once (a strip of rows interleaved so that
//!   one AVX2 register holds one pixel of each) and its column pass over whole rows, so that both
//!   passes are vectorised instead of one long dependency chain per row;
//! - computes the per-pixel SSIM and edge terms a row at a time (vectorised) before summing them
//!   in the crate's order, and reuses every buffer.
//!
//! The arithmetic and its order are the crate's, so scores are bit-identical to it (tested below).

#[cfg(test)]
use ssimulacra2::LinearRgb;

const NUM_SCALES: usize = 6;

type Planes = [Vec<f32>; 3];

/// A planar linear-RGB image.
pub struct Planar {
    pub width: usize,
    pub height: usize,
    pub planes: Planes,
}

impl Planar {
    /// A black `width`×`height` image, to be filled in.
    pub fn zeroed(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            planes: planes(width * height),
        }
    }

    #[cfg(test)]
    fn from_linear_rgb(image: &LinearRgb) -> Self {
        let mut planar = Self::zeroed(image.width(), image.height());
        for (i, p) in image.data().iter().enumerate() {
            for (plane, &value) in planar.planes.iter_mut().zip(p) {
                plane[i] = value;
            }
        }
        planar
    }
}

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

/// The sizes of the scales the metric looks at: as in the crate, the size checked is the previous
/// scale's, so the last scale processed may be smaller than 8 pixels on a side.
fn scale_sizes(width: usize, height: usize) -> Vec<(usize, usize)> {
    let mut sizes = Vec::with_capacity(NUM_SCALES);
    let (mut w, mut h) = (width, height);
    for scale in 0..NUM_SCALES {
        if w < 8 || h < 8 {
            break;
        }
        if scale > 0 {
            (w, h) = (w.div_ceil(2), h.div_ceil(2));
        }
        sizes.push((w, h));
    }
    sizes
}

/// Buffers reused across scales and candidates (all sized for the full-resolution scale, about
/// 32 bytes a pixel): keeping them from one candidate to the next saves the page faults.
pub struct Scratch {
    xyb: Planes,
    product: Vec<f32>,
    mu2: Vec<f32>,
    sigma2_sq: Vec<f32>,
    sigma12: Vec<f32>,
    row: Vec<f64>,
    row2: Vec<f64>,
    blur: BlurBuffers,
}

/// What a blur needs besides its input and output.
struct BlurBuffers {
    passed: Vec<f32>,
    strip: Vec<f32>,
    strip_out: Vec<f32>,
    state: Vec<f32>,
}

impl BlurBuffers {
    fn new(width: usize, height: usize) -> Self {
        Self {
            passed: vec![0.0; width * height],
            strip: vec![0.0; LANES * width],
            strip_out: vec![0.0; LANES * width],
            state: vec![0.0; 6 * CHUNK],
        }
    }
}

impl Scratch {
    pub fn new(width: usize, height: usize) -> Self {
        let len = width * height;
        Self {
            xyb: planes(len),
            product: vec![0.0; len],
            mu2: vec![0.0; len],
            sigma2_sq: vec![0.0; len],
            sigma12: vec![0.0; len],
            row: vec![0.0; width],
            row2: vec![0.0; width],
            blur: BlurBuffers::new(width, height),
        }
    }
}

impl CachedReference {
    /// Prepares `image` (at least 8×8).
    pub fn new(image: Planar) -> Self {
        let (width, height) = (image.width, image.height);
        let mut buffers = BlurBuffers::new(width, height);
        let mut product = vec![0.0; width * height];
        let mut current = image;
        let mut scales = Vec::with_capacity(NUM_SCALES);
        for (scale, (w, h)) in scale_sizes(width, height).into_iter().enumerate() {
            if scale > 0 {
                current = downscale_by_2(&current);
            }
            let len = w * h;
            let mut xyb = planes(len);
            to_planar_xyb(&current, &mut xyb);
            let mut mu = planes(len);
            let mut sigma_sq = planes(len);
            for c in 0..3 {
                blur(&xyb[c], w, h, &mut mu[c], &mut buffers);
                multiply(&xyb[c], &xyb[c], &mut product[..len]);
                blur(&product[..len], w, h, &mut sigma_sq[c], &mut buffers);
            }
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

    /// The SSIMULACRA2 score of `distorted` (same size) against the reference, computed in
    /// `scratch` (made by `Scratch::new` for this size).
    pub fn score(&self, distorted: &Planar, scratch: &mut Scratch) -> f64 {
        debug_assert_eq!(
            (distorted.width, distorted.height),
            (self.width, self.height)
        );
        let Scratch {
            xyb,
            product,
            mu2,
            sigma2_sq,
            sigma12,
            row,
            row2,
            blur: buffers,
        } = scratch;
        let mut scores = Vec::with_capacity(self.scales.len());
        let mut downscaled: Option<Planar> = None;
        for (scale, reference) in self.scales.iter().enumerate() {
            if scale > 0 {
                downscaled = Some(downscale_by_2(downscaled.as_ref().unwrap_or(distorted)));
            }
            let current = downscaled.as_ref().unwrap_or(distorted);
            let (w, h) = (reference.width, reference.height);
            let len = w * h;
            for plane in xyb.iter_mut() {
                plane.resize(len, 0.0);
            }
            to_planar_xyb(current, xyb);
            let (mut ssim, mut edges) = ([0f64; 6], [0f64; 12]);
            for c in 0..3 {
                let (mu2, sigma2_sq, sigma12) =
                    (&mut mu2[..len], &mut sigma2_sq[..len], &mut sigma12[..len]);
                multiply(&xyb[c], &xyb[c], &mut product[..len]);
                blur(&product[..len], w, h, sigma2_sq, buffers);
                multiply(&reference.xyb[c], &xyb[c], &mut product[..len]);
                blur(&product[..len], w, h, sigma12, buffers);
                blur(&xyb[c], w, h, mu2, buffers);
                let s = ssim_terms(
                    w,
                    &reference.mu[c],
                    mu2,
                    &reference.sigma_sq[c],
                    sigma2_sq,
                    sigma12,
                    row,
                );
                ssim[c * 2..c * 2 + 2].copy_from_slice(&norms(len, s));
                let e = edge_terms(
                    w,
                    &reference.xyb[c],
                    &reference.mu[c],
                    &xyb[c],
                    mu2,
                    row,
                    row2,
                );
                edges[c * 4..c * 4 + 2].copy_from_slice(&norms(len, [e[0], e[1]]));
                edges[c * 4 + 2..c * 4 + 4].copy_from_slice(&norms(len, [e[2], e[3]]));
            }
            scores.push((ssim, edges));
        }
        final_score(&scores)
    }
}

/// A plane's mean and 4-norm from the sum of its terms and of their fourth powers.
fn norms(len: usize, sums: [f64; 2]) -> [f64; 2] {
    let one_per_pixels = 1.0f64 / len as f64;
    [
        one_per_pixels * sums[0],
        (one_per_pixels * sums[1]).sqrt().sqrt(),
    ]
}

fn planes(len: usize) -> Planes {
    [vec![0.0; len], vec![0.0; len], vec![0.0; len]]
}

fn multiply(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x * y;
    }
}

// The XYB conversion of `yuvxyb` (its `fastmath` cube root, which the crate uses).
const OPSIN: [f32; 9] = [
    0.30,
    1.0 - 0.078 - 0.30,
    0.078,
    0.23,
    1.0 - 0.078 - 0.23,
    0.078,
    0.243_422_69,
    0.204_767_45,
    1.0 - 0.243_422_69 - 0.204_767_45,
];
const OPSIN_BIAS: f32 = 0.003_793_073_4;

/// FreeBSD's `cbrtf` as `yuvxyb-math` ports it (© 1993 Sun Microsystems; freely distributable).
#[inline(always)]
#[allow(clippy::unreadable_literal)]
fn cbrtf_fast(x: f32) -> f32 {
    const B1: u32 = 709_958_130;
    let mut ui: u32 = x.to_bits();
    let hx: u32 = (ui & 0x7FFF_FFFF) / 3 + B1;
    ui &= 0x8000_0000;
    ui |= hx;
    let mut t = f64::from(f32::from_bits(ui));
    let x = f64::from(x);
    let mut r = t * t * t;
    t = t * (x + x + r) / (x + r + r);
    r = t * t * t;
    t = t * (x + x + r) / (x + r + r);
    t as f32
}

/// Linear RGB to the positive XYB planes the metric works on (`out` planes hold `current`'s
/// pixel count).
fn to_planar_xyb(current: &Planar, out: &mut Planes) {
    let absorb = -cbrtf_fast(OPSIN_BIAS);
    let [r, g, b] = &current.planes;
    let [ox, oy, ob] = out;
    let len = ox.len();
    let (r, g, b, oy, ob) = (
        &r[..len],
        &g[..len],
        &b[..len],
        &mut oy[..len],
        &mut ob[..len],
    );
    for i in 0..len {
        let (r, g, b) = (r[i], g[i], b[i]);
        let mix = |row: usize| {
            let m = OPSIN[row * 3].mul_add(
                r,
                OPSIN[row * 3 + 1].mul_add(g, OPSIN[row * 3 + 2].mul_add(b, OPSIN_BIAS)),
            );
            cbrtf_fast(m.max(0.0)) + absorb
        };
        let (m0, m1, m2) = (mix(0), mix(1), mix(2));
        let x = 0.5 * (m0 - m1);
        let y = 0.5 * (m0 + m1);
        ob[i] = (m2 - y) + 0.55;
        ox[i] = x.mul_add(14.0, 0.42);
        oy[i] = y + 0.01;
    }
}

fn downscale_by_2(image: &Planar) -> Planar {
    let (in_w, in_h) = (image.width, image.height);
    let (out_w, out_h) = (in_w.div_ceil(2), in_h.div_ceil(2));
    let mut planes = planes(out_w * out_h);
    for (input, output) in image.planes.iter().zip(planes.iter_mut()) {
        for oy in 0..out_h {
            let top = &input[oy * 2 * in_w..][..in_w];
            let bottom = &input[(oy * 2 + 1).min(in_h - 1) * in_w..][..in_w];
            let row = &mut output[oy * out_w..][..out_w];
            for (ox, out) in row.iter_mut().enumerate() {
                let (x0, x1) = (ox * 2, (ox * 2 + 1).min(in_w - 1));
                // The crate's order: (0,0), (0,1), (1,0), (1,1), starting from zero.
                let sum = 0f32 + top[x0] + top[x1] + bottom[x0] + bottom[x1];
                *out = sum * 0.25;
            }
        }
    }
    Planar {
        width: out_w,
        height: out_h,
        planes,
    }
}

// The recursive Gaussian (Charalampidis 2016, sigma 1.5) with the constants the crate's build
// script derives.
const RADIUS: isize = 5;
const MUL_IN: [f32; 3] = [0.055_295_236, -0.058_836_687, 0.012_955_819];
const VERT_MUL_PREV: [f32; 3] = [
    -1.902_113_1,
    -1.175_570_5,
    -0.000_000_000_000_000_122_464_69,
];
const MUL_PREV: [f32; 3] = [1.902_113_1, 1.175_570_5, 0.000_000_000_000_000_122_464_69];
/// Columns processed together by a pass (their filter state stays in the L1 cache).
const CHUNK: usize = 4096;

/// Rows processed together by the row pass (one AVX2 register of `f32`).
const LANES: usize = 8;

/// Blurs `plane` (`width`×`height`) into `out` exactly as the crate does: its row pass, then its
/// column pass.
fn blur(plane: &[f32], width: usize, height: usize, out: &mut [f32], buffers: &mut BlurBuffers) {
    let len = width * height;
    row_pass(
        plane,
        &mut buffers.passed[..len],
        width,
        height,
        &mut buffers.strip,
        &mut buffers.strip_out,
    );
    column_pass(
        &buffers.passed[..len],
        &mut out[..len],
        width,
        height,
        &mut buffers.state,
    );
}

/// The crate's row pass, run on `LANES` rows at once: a strip of rows is interleaved (pixel `x`
/// of the strip's rows side by side), filtered along `x` with one lane per row, and written back.
fn row_pass(
    input: &[f32],
    output: &mut [f32],
    width: usize,
    height: usize,
    strip: &mut [f32],
    strip_out: &mut [f32],
) {
    let strip = &mut strip[..LANES * width];
    let strip_out = &mut strip_out[..LANES * width];
    for y0 in (0..height).step_by(LANES) {
        let rows = LANES.min(height - y0);
        if rows < LANES {
            strip.fill(0.0);
        }
        for lane in 0..rows {
            let row = &input[(y0 + lane) * width..][..width];
            for (x, &v) in row.iter().enumerate() {
                strip[x * LANES + lane] = v;
            }
        }
        let mut prev = [[0f32; LANES]; 3];
        let mut prev2 = [[0f32; LANES]; 3];
        let zeros = [0f32; LANES];
        let lanes_at = |x: isize| -> &[f32] {
            if x >= 0 && (x as usize) < width {
                &strip[x as usize * LANES..][..LANES]
            } else {
                &zeros
            }
        };
        for n in (1 - RADIUS)..width as isize {
            let (left, right) = (lanes_at(n - RADIUS - 1), lanes_at(n + RADIUS - 1));
            let mut total = [0f32; LANES];
            for i in 0..LANES {
                let sum = left[i] + right[i];
                let mut outs = [0f32; 3];
                for k in 0..3 {
                    let out = MUL_PREV[k]
                        .mul_add(prev[k][i], (-1f32).mul_add(prev2[k][i], sum * MUL_IN[k]));
                    prev2[k][i] = prev[k][i];
                    prev[k][i] = out;
                    outs[k] = out;
                }
                total[i] = outs[0] + outs[1] + outs[2];
            }
            if n >= 0 {
                strip_out[n as usize * LANES..][..LANES].copy_from_slice(&total);
            }
        }
        for lane in 0..rows {
            let row = &mut output[(y0 + lane) * width..][..width];
            for (x, v) in row.iter_mut().enumerate() {
                *v = strip_out[x * LANES + lane];
            }
        }
    }
}

/// The crate's column pass, down `CHUNK` columns at a time.
fn column_pass(input: &[f32], output: &mut [f32], width: usize, height: usize, state: &mut [f32]) {
    let zeros = [0f32; CHUNK];
    let mut discard = [0f32; CHUNK];
    let height = height as isize;
    for x0 in (0..width).step_by(CHUNK) {
        let n = CHUNK.min(width - x0);
        state.fill(0.0);
        let (prev, prev2) = state.split_at_mut(3 * CHUNK);
        let (p1, rest) = prev.split_at_mut(CHUNK);
        let (p3, p5) = rest.split_at_mut(CHUNK);
        let (q1, rest) = prev2.split_at_mut(CHUNK);
        let (q3, q5) = rest.split_at_mut(CHUNK);
        let (p1, p3, p5, q1, q3, q5) = (
            &mut p1[..n],
            &mut p3[..n],
            &mut p5[..n],
            &mut q1[..n],
            &mut q3[..n],
            &mut q5[..n],
        );
        for y in (1 - RADIUS)..height {
            let (top, bottom) = (y - RADIUS - 1, y + RADIUS - 1);
            let top = if top >= 0 {
                &input[top as usize * width + x0..][..n]
            } else {
                &zeros[..n]
            };
            let bottom = if bottom < height {
                &input[bottom as usize * width + x0..][..n]
            } else {
                &zeros[..n]
            };
            let out = if y >= 0 {
                &mut output[y as usize * width + x0..][..n]
            } else {
                &mut discard[..n]
            };
            for i in 0..n {
                let sum = top[i] + bottom[i];
                let o1 = sum.mul_add(MUL_IN[0], -p1[i].mul_add(VERT_MUL_PREV[0], q1[i]));
                let o3 = sum.mul_add(MUL_IN[1], -p3[i].mul_add(VERT_MUL_PREV[1], q3[i]));
                let o5 = sum.mul_add(MUL_IN[2], -p5[i].mul_add(VERT_MUL_PREV[2], q5[i]));
                q1[i] = p1[i];
                q3[i] = p3[i];
                q5[i] = p5[i];
                p1[i] = o1;
                p3[i] = o3;
                p5[i] = o5;
                out[i] = o1 + o3 + o5;
            }
        }
    }
}

/// One plane's SSIM terms: the sums of `d` and `d⁴` over its pixels, in the crate's order.
fn ssim_terms(
    width: usize,
    m1: &[f32],
    m2: &[f32],
    s11: &[f32],
    s22: &[f32],
    s12: &[f32],
    terms: &mut [f64],
) -> [f64; 2] {
    const C2: f32 = 0.0009f32;
    let terms = &mut terms[..width];
    let mut sums = [0.0f64; 2];
    let rows = m1
        .chunks_exact(width)
        .zip(m2.chunks_exact(width))
        .zip(s11.chunks_exact(width))
        .zip(s22.chunks_exact(width))
        .zip(s12.chunks_exact(width));
    for ((((row_m1, row_m2), row_s11), row_s22), row_s12) in rows {
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
            terms[x] = (1.0f64 - f64::from((num_m * num_s) / denom_s)).max(0.0);
        }
        for &d in terms.iter() {
            sums[0] += d;
            sums[1] += d.powi(4);
        }
    }
    sums
}

/// One plane's edge terms: the sums of artefacts, their fourth powers, lost detail and its
/// fourth powers, in the crate's order.
fn edge_terms(
    width: usize,
    img1: &[f32],
    mu1: &[f32],
    img2: &[f32],
    mu2: &[f32],
    artifacts: &mut [f64],
    details_lost: &mut [f64],
) -> [f64; 4] {
    let (artifacts, details_lost) = (&mut artifacts[..width], &mut details_lost[..width]);
    let mut sums = [0.0f64; 4];
    let rows = img1
        .chunks_exact(width)
        .zip(img2.chunks_exact(width))
        .zip(mu1.chunks_exact(width))
        .zip(mu2.chunks_exact(width));
    for (((row1, row2), rowm1), rowm2) in rows {
        for x in 0..width {
            let d1: f64 = (1.0 + f64::from((row2[x] - rowm2[x]).abs()))
                / (1.0 + f64::from((row1[x] - rowm1[x]).abs()))
                - 1.0;
            artifacts[x] = d1.max(0.0);
            details_lost[x] = (-d1).max(0.0);
        }
        for (&artifact, &detail_lost) in artifacts.iter().zip(details_lost.iter()) {
            sums[0] += artifact;
            sums[1] += artifact.powi(4);
            sums[2] += detail_lost;
            sums[3] += detail_lost.powi(4);
        }
    }
    sums
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
        for (w, h) in [
            (8, 8),
            (9, 8),
            (37, 23),
            (200, 131),
            (300, 17),
            (17, 300),
            (530, 261),
        ] {
            let reference = frame(w, h, 1);
            let cached = CachedReference::new(Planar::from_linear_rgb(&reference));
            let mut scratch = Scratch::new(w, h);
            for seed in [1, 2, 99] {
                let distorted = frame(w, h, seed);
                let expected =
                    ssimulacra2::compute_frame_ssimulacra2(reference.clone(), distorted.clone())
                        .unwrap();
                assert_eq!(
                    cached
                        .score(&Planar::from_linear_rgb(&distorted), &mut scratch)
                        .to_bits(),
                    expected.to_bits(),
                    "{w}×{h} seed {seed}"
                );
            }
        }
    }
}
