//! `make bench`: the engine against the reference tools on `../shared/corpus`, in one run.
//!
//! For every image: the engine (balanced mode, or `--format auto` when asked), pngquant at fixed
//! quality ranges + oxipng -o2 on PNG, and mozjpeg at fixed qualities on JPEG. Each reference
//! output falls back to the original when not smaller, as the engine does. Every output is scored
//! here, by this file's own SSIMULACRA2 pass (decode the file, composite transparency over a dark
//! and a light background, keep the worse), the same way for every tool.
//!
//! Environment: `SLIMAGE_CORPUS` (default `../shared/corpus`), `SLIMAGE_BENCH_ONLY` (a substring
//! of file names to restrict the run).

use std::{collections::BTreeMap, process::Command, time::Instant};

use engine::{compress, CompressOptions, OutputFormat};

#[path = "../tests/common/mod.rs"]
mod common;
use common::corpus_dir;
use ssimulacra2::{compute_frame_ssimulacra2, LinearRgb};

const PNGQUANT_RANGES: [(u8, u8); 5] = [(40, 60), (50, 70), (65, 80), (75, 90), (85, 100)];
const MOZJPEG_QUALITIES: [u8; 6] = [60, 70, 75, 80, 85, 90];

struct Entry {
    file: String,
    category: String,
    megapixels: f64,
    input: Vec<u8>,
}

/// One tool's result on one image.
#[derive(Clone)]
struct Outcome {
    input_bytes: usize,
    output_bytes: usize,
    score: f64,
    seconds: Seconds,
    megapixels: f64,
}

fn load_corpus() -> Vec<Entry> {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).expect("manifest.csv");
    let only = std::env::var("SLIMAGE_BENCH_ONLY").unwrap_or_default();
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let (file, category, megapixels) = (fields[1], fields[2], fields[8]);
            file.contains(&only).then(|| Entry {
                file: file.to_string(),
                category: category.to_string(),
                megapixels: megapixels.parse().unwrap_or(0.0),
                input: std::fs::read(dir.join(file)).expect("corpus file"),
            })
        })
        .collect()
}

fn srgb_to_linear(v: u8) -> f32 {
    let c = f32::from(v) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn composite(rgba: &image::RgbaImage, background: u8) -> LinearRgb {
    let data = rgba
        .pixels()
        .map(|p| {
            let a = f32::from(p[3]) / 255.0;
            std::array::from_fn(|c| {
                let v = f32::from(p[c]) * a + f32::from(background) * (1.0 - a);
                srgb_to_linear(v.round() as u8)
            })
        })
        .collect();
    LinearRgb::new(data, rgba.width() as usize, rgba.height() as usize).unwrap()
}

/// A file's pixels. AVIF is decoded by libavif's `avifdec` (dav1d), not by the engine's own
/// decoder, so that the file is checked by an independent reader too.
fn pixels(file: &[u8]) -> image::RgbaImage {
    match engine::sniff_format(file) {
        Some(engine::ImageFormat::Avif) => common::avifdec_rgba(file),
        _ => image::load_from_memory(file).unwrap().into_rgba8(),
    }
}

/// SSIMULACRA2 of `output` against `original`, both as files; worse of dark and light backgrounds.
fn score(original: &[u8], output: &[u8]) -> f64 {
    let a = pixels(original);
    let b = pixels(output);
    [0u8, 255]
        .iter()
        .map(|&bg| compute_frame_ssimulacra2(composite(&a, bg), composite(&b, bg)).unwrap_or(0.0))
        .fold(f64::INFINITY, f64::min)
}

fn outcome(entry: &Entry, output: Vec<u8>, seconds: Seconds) -> Outcome {
    // Every tool gets the same fallback: nothing smaller means the original.
    let output = if output.len() < entry.input.len() {
        output
    } else {
        entry.input.clone()
    };
    let score = if output == entry.input {
        100.0
    } else {
        score(&entry.input, &output)
    };
    Outcome {
        input_bytes: entry.input.len(),
        output_bytes: output.len(),
        score,
        seconds,
        megapixels: entry.megapixels,
    }
}

fn oxipng(png: &[u8]) -> Vec<u8> {
    let mut options = oxipng::Options::from_preset(2);
    options.strip = oxipng::StripChunks::Safe;
    oxipng::optimize_from_memory(png, &options).unwrap_or_else(|_| png.to_vec())
}

fn pngquant(input: &[u8], (min, max): (u8, u8)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.png");
    std::fs::write(&path, input).unwrap();
    let status = Command::new("pngquant")
        .args(["--force", "--skip-if-larger", "--strip", "--speed", "4"])
        .arg(format!("--quality={min}-{max}"))
        .arg("--output")
        .arg(dir.path().join("out.png"))
        .arg(&path)
        .status()
        .expect("pngquant is installed (make bench installs it)");
    // Exit 98/99: not smaller, or quality unreachable: pngquant keeps the original.
    let quantised = if status.success() {
        std::fs::read(dir.path().join("out.png")).unwrap()
    } else {
        input.to_vec()
    };
    oxipng(&quantised)
}

fn mozjpeg(input: &[u8], quality: u8) -> Vec<u8> {
    let rgb = image::load_from_memory(input).unwrap().into_rgb8();
    let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    compress.set_size(rgb.width() as usize, rgb.height() as usize);
    compress.set_quality(f32::from(quality));
    compress.set_progressive_mode();
    compress.set_optimize_coding(true);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(rgb.as_raw()).unwrap();
    started.finish().unwrap()
}

/// Processor time used so far by this process (all its threads: oxipng and imagequant run on
/// several) and by its finished children (pngquant), user and system, in seconds.
fn cpu_seconds() -> f64 {
    let used = |who| {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(who, &mut usage) }, 0);
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    };
    used(libc::RUSAGE_SELF) + used(libc::RUSAGE_CHILDREN)
}

/// `f`'s output, its processor seconds (what "per core" counts: a tool that runs on both cores
/// is charged for both) and its wall-clock seconds.
fn timed(f: impl FnOnce() -> Vec<u8>) -> (Vec<u8>, Seconds) {
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    let seconds = Seconds {
        cpu: cpu_seconds() - cpu,
        wall: started.elapsed().as_secs_f64(),
    };
    (out, seconds)
}

#[derive(Clone, Copy)]
struct Seconds {
    cpu: f64,
    wall: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

struct Summary {
    total_ratio: f64,
    median_ratio: f64,
    median_score: f64,
    min_score: f64,
    /// Megapixels per processor second: per core.
    mp_per_core_second: f64,
    /// Megapixels per wall-clock second, on however many cores the tool used.
    mp_per_second: f64,
}

fn summarise(outcomes: &[Outcome]) -> Summary {
    let input: usize = outcomes.iter().map(|o| o.input_bytes).sum();
    let output: usize = outcomes.iter().map(|o| o.output_bytes).sum();
    // Speed over images of 0.25 MP or more, as the issue asks.
    let big: Vec<&Outcome> = outcomes.iter().filter(|o| o.megapixels >= 0.25).collect();
    let megapixels: f64 = big.iter().map(|o| o.megapixels).sum();
    let cpu: f64 = big.iter().map(|o| o.seconds.cpu).sum();
    let wall: f64 = big.iter().map(|o| o.seconds.wall).sum();
    Summary {
        total_ratio: output as f64 / input as f64,
        median_ratio: median(
            outcomes
                .iter()
                .map(|o| o.output_bytes as f64 / o.input_bytes as f64)
                .collect(),
        ),
        median_score: median(outcomes.iter().map(|o| o.score).collect()),
        min_score: outcomes
            .iter()
            .map(|o| o.score)
            .fold(f64::INFINITY, f64::min),
        mp_per_core_second: megapixels / cpu,
        mp_per_second: megapixels / wall,
    }
}

/// One reference result on stderr, under the engine's line for the same image.
fn log_reference(entry: &Entry, tool: &str, outcome: &Outcome) {
    eprintln!(
        "{:32}   {tool:24} -> {:>9} score {:6.2}",
        entry.file, outcome.output_bytes, outcome.score
    );
}

fn main() {
    let auto = std::env::args().any(|a| a == "--format=auto" || a == "auto");
    let options = CompressOptions {
        format: if auto {
            OutputFormat::Auto
        } else {
            OutputFormat::Same
        },
        ..CompressOptions::default()
    };
    let engine_tool = if auto {
        "slimage balanced auto"
    } else {
        "slimage balanced"
    };
    let corpus = load_corpus();
    // category -> tool -> outcomes
    let mut results: BTreeMap<String, BTreeMap<String, Vec<Outcome>>> = BTreeMap::new();
    for entry in &corpus {
        let is_jpeg = entry.category == "photo-JPEG";
        let mut add = |tool: String, outcome: Outcome| {
            results
                .entry(entry.category.clone())
                .or_default()
                .entry(tool)
                .or_default()
                .push(outcome);
        };
        let (out, seconds) = timed(|| compress(&entry.input, &options).unwrap().bytes);
        let engine = outcome(entry, out, seconds);
        eprintln!(
            "{:32} engine {:>9} -> {:>9} score {:6.2} {:6.2}s cpu {:6.2}s wall",
            entry.file,
            engine.input_bytes,
            engine.output_bytes,
            engine.score,
            engine.seconds.cpu,
            engine.seconds.wall
        );
        add(engine_tool.into(), engine);
        if is_jpeg {
            for q in MOZJPEG_QUALITIES {
                let (out, seconds) = timed(|| mozjpeg(&entry.input, q));
                let reference = outcome(entry, out, seconds);
                log_reference(entry, &format!("mozjpeg q{q}"), &reference);
                add(format!("mozjpeg q{q}"), reference);
            }
        } else {
            for range in PNGQUANT_RANGES {
                let (out, seconds) = timed(|| pngquant(&entry.input, range));
                let tool = format!("pngquant {}-{} + oxipng", range.0, range.1);
                let reference = outcome(entry, out, seconds);
                log_reference(entry, &tool, &reference);
                add(tool, reference);
            }
        }
    }

    println!("| category | tool | total size | median size | median score | min score | MP/s per core (≥0.25 MP) | MP/s wall |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (category, tools) in &results {
        let engine = summarise(&tools[engine_tool]);
        for (tool, outcomes) in tools {
            let s = summarise(outcomes);
            println!(
                "| {category} | {tool} | {:.3}× | {:.3}× | {:.1} | {:.1} | {:.2} | {:.2} |",
                s.total_ratio,
                s.median_ratio,
                s.median_score,
                s.min_score,
                s.mp_per_core_second,
                s.mp_per_second
            );
        }
        // The comparisons the engine issue's "done when" names.
        let references: Vec<(&String, Summary)> = tools
            .iter()
            .filter(|(tool, _)| !tool.starts_with("slimage"))
            .map(|(tool, outcomes)| (tool, summarise(outcomes)))
            .collect();
        let guarantee = references
            .iter()
            .filter(|(_, s)| s.min_score >= engine.min_score)
            .min_by(|a, b| a.1.total_ratio.total_cmp(&b.1.total_ratio));
        match guarantee {
            Some((tool, s)) => println!(
                "| {category} | engine ÷ lowest setting with min score ≥ engine's ({tool}) | {:.3}× | | | | | |",
                engine.total_ratio / s.total_ratio
            ),
            None => println!("| {category} | no fixed setting reaches the engine's minimum score | | | | | | |"),
        }
        if let Some((tool, s)) = references.iter().min_by(|a, b| {
            (a.1.median_score - engine.median_score)
                .abs()
                .total_cmp(&(b.1.median_score - engine.median_score).abs())
        }) {
            println!(
                "| {category} | engine ÷ setting with the closest median score ({tool}) | {:.3}× | | | | | |",
                engine.total_ratio / s.total_ratio
            );
        }
    }
}
