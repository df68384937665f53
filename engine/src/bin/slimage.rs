//! `slimage`: the engine on the command line.
//!
//! ```text
//! slimage [--mode lossless|balanced|small|quality=N|target=S] [--format same|png|jpeg|webp|avif|auto]
//!         [--background RRGGBB] [--resize scale=W|scale=xH|fit=WxH|cover=WxH|thumb=WxH]
//!         [--keep copyright,date,location,icc] [--srgb]
//!         -o OUTDIR FILE...
//! ```
//! Writes each output under OUTDIR with the input's file name (new extension when the format
//! changes) and prints one JSON line per file. Files that fail get one line on stderr and a
//! non-zero exit status; the others are still written.
#![forbid(unsafe_code)]

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use engine::{compress, CompressOptions, Compressed, ImageFormat, Mode, OutputFormat, Resize};

const USAGE: &str = "usage: slimage [--mode lossless|balanced|small|quality=N|target=S] \
[--format same|png|jpeg|webp|avif|auto] [--background RRGGBB] \
[--resize scale=W|scale=xH|fit=WxH|cover=WxH|thumb=WxH] [--keep copyright,date,location,icc] [--srgb] \
-o OUTDIR FILE...";

struct Args {
    options: CompressOptions,
    out_dir: PathBuf,
    files: Vec<PathBuf>,
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    let number = |v: &str| v.parse::<f64>().map_err(|_| format!("not a number: {v}"));
    match value {
        "lossless" => Ok(Mode::Lossless),
        "balanced" => Ok(Mode::Balanced),
        "small" => Ok(Mode::Small),
        _ => match value.split_once('=') {
            Some(("quality", q)) => match q.parse::<u8>() {
                Ok(q @ 1..=100) => Ok(Mode::Quality(q)),
                _ => Err(format!("quality must be 1–100, not {q}")),
            },
            Some(("target", s)) => match number(s)? {
                s if (0.0..=100.0).contains(&s) => Ok(Mode::Target(s)),
                s => Err(format!("target must be 0–100, not {s}")),
            },
            _ => Err(format!("unknown mode {value:?}")),
        },
    }
}

fn parse_resize(value: &str) -> Result<Resize, String> {
    let size = |v: &str| -> Result<u32, String> {
        match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{v:?} is not a size in pixels")),
        }
    };
    let pair = |v: &str| -> Result<(u32, u32), String> {
        let (w, h) = v
            .split_once('x')
            .ok_or(format!("{v:?} is not WIDTHxHEIGHT"))?;
        Ok((size(w)?, size(h)?))
    };
    match value.split_once('=') {
        Some(("scale", v)) => match v.strip_prefix('x') {
            Some(h) => Ok(Resize::ScaleHeight(size(h)?)),
            None => Ok(Resize::ScaleWidth(size(v)?)),
        },
        Some(("fit", v)) => pair(v).map(|(width, height)| Resize::Fit { width, height }),
        Some(("cover", v)) => pair(v).map(|(width, height)| Resize::Cover { width, height }),
        Some(("thumb", v)) => pair(v).map(|(width, height)| Resize::Thumb { width, height }),
        _ => Err(format!("unknown resize {value:?}")),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut options = CompressOptions::default();
    let mut out_dir = None;
    let mut files = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--mode" => options.mode = parse_mode(&value("--mode")?)?,
            "--format" => {
                options.format = match value("--format")?.as_str() {
                    "same" => OutputFormat::Same,
                    "png" => OutputFormat::Png,
                    "jpeg" | "jpg" => OutputFormat::Jpeg,
                    "webp" => OutputFormat::Webp,
                    "avif" => OutputFormat::Avif,
                    "auto" => OutputFormat::Auto,
                    other => return Err(format!("unknown format {other:?}")),
                }
            }
            "--background" => {
                let hex = value("--background")?;
                let hex = hex.trim_start_matches('#');
                let channel = |i: usize| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                };
                match (hex.len(), channel(0), channel(2), channel(4)) {
                    (6, Some(r), Some(g), Some(b)) => options.background = Some([r, g, b]),
                    _ => return Err(format!("background must be RRGGBB, not {hex:?}")),
                }
            }
            "--srgb" => options.to_srgb = true,
            "--resize" => options.resize = Some(parse_resize(&value("--resize")?)?),
            "--keep" => {
                for item in value("--keep")?.split(',').map(str::trim) {
                    match item {
                        "copyright" => options.keep.copyright = true,
                        "date" | "creation" => options.keep.creation = true,
                        "location" | "gps" => options.keep.location = true,
                        // The colour profile is kept unless --srgb; accepted so scripts can say so.
                        "icc" => {}
                        other => {
                            return Err(format!(
                                "unknown metadata {other:?}: copyright, date, location or icc"
                            ))
                        }
                    }
                }
            }
            "-o" | "--out" => out_dir = Some(PathBuf::from(value("-o")?)),
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            file => files.push(PathBuf::from(file)),
        }
    }
    let out_dir = out_dir.ok_or("-o OUTDIR is required")?;
    if files.is_empty() {
        return Err("no input files".into());
    }
    Ok(Args {
        options,
        out_dir,
        files,
    })
}

fn json_string(value: &str) -> String {
    let mut out = String::from('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// OUTDIR/<input's name>, with the output format's extension when the format changed.
fn output_path(out_dir: &Path, input_path: &Path, input: &[u8], result: &Compressed) -> PathBuf {
    let name = input_path
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| "image".into());
    if engine::sniff_format(input) == Some(result.format) {
        out_dir.join(name)
    } else {
        out_dir.join(name.with_extension(result.format.extension()))
    }
}

fn process(file: &Path, args: &Args) -> Result<String, String> {
    let input = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
    let started = Instant::now();
    let result = compress(&input, &args.options).map_err(|e| e.to_string())?;
    let ms = started.elapsed().as_millis();
    let out = output_path(&args.out_dir, file, &input, &result);
    std::fs::write(&out, &result.bytes)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let format = match result.format {
        ImageFormat::Jpeg => "jpeg",
        other => other.extension(),
    };
    let score = result
        .score
        .map_or("null".to_string(), |s| format!("{s:.2}"));
    Ok(format!(
        "{{\"file\":{},\"input_bytes\":{},\"output_bytes\":{},\"format\":\"{format}\",\"width\":{},\"height\":{},\"score\":{score},\"kept_original\":{},\"ms\":{ms}}}",
        json_string(&file.display().to_string()),
        result.input_bytes,
        result.output_bytes,
        result.width,
        result.height,
        result.kept_original,
    ))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("slimage: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out_dir) {
        eprintln!("slimage: cannot create {}: {e}", args.out_dir.display());
        return ExitCode::from(2);
    }
    let mut failed = false;
    for file in &args.files {
        match process(file, &args) {
            Ok(line) => println!("{line}"),
            Err(message) => {
                failed = true;
                eprintln!("slimage: {}: {message}", file.display());
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
