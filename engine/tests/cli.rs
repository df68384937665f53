//! The `slimage` command line: outputs written under -o, one JSON line per file, failures
//! reported per file without stopping the others.

mod common;

use std::process::Command;

use common::corpus_path as corpus;

fn slimage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slimage"))
}

/// Runs `command` and returns its output, failing the test (with its stderr) if it failed.
fn succeeds(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn writes_each_output_and_prints_a_json_line_per_file() {
    let out = tempfile::tempdir().unwrap();
    let output = succeeds(
        slimage()
            .args(["--mode", "balanced", "-o"])
            .arg(out.path())
            .arg(corpus("present_128.png"))
            .arg(corpus("web_grace_hopper.jpg")),
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, name) in lines
        .iter()
        .zip(["present_128.png", "web_grace_hopper.jpg"])
    {
        assert!(line["file"].as_str().unwrap().ends_with(name));
        for key in ["input_bytes", "output_bytes", "width", "height", "ms"] {
            assert!(line[key].is_u64(), "{key} in {line}");
        }
        assert!(line["score"].as_f64().unwrap() >= 75.0);
        assert!(line["kept_original"].is_boolean());
        let written = std::fs::read(out.path().join(name)).unwrap();
        assert_eq!(written.len() as u64, line["output_bytes"].as_u64().unwrap());
        assert!(line["output_bytes"].as_u64() <= line["input_bytes"].as_u64());
    }
    assert_eq!(lines[1]["format"], "jpeg");
}

#[test]
fn a_format_change_changes_the_extension() {
    let out = tempfile::tempdir().unwrap();
    succeeds(
        slimage()
            .args(["--format", "jpeg", "--background", "ffffff", "-o"])
            .arg(out.path())
            .arg(corpus("present_128.png")),
    );
    let written = std::fs::read(out.path().join("present_128.jpg")).unwrap();
    assert_eq!(
        engine::sniff_format(&written),
        Some(engine::ImageFormat::Jpeg)
    );
    let printed = succeeds(
        slimage()
            .args(["--format", "webp", "-o"])
            .arg(out.path())
            .arg(corpus("present_128.png")),
    );
    let written = std::fs::read(out.path().join("present_128.webp")).unwrap();
    assert_eq!(
        engine::sniff_format(&written),
        Some(engine::ImageFormat::WebP)
    );
    assert!(String::from_utf8_lossy(&printed.stdout).contains(r#""format":"webp""#));
}

#[test]
fn a_bad_file_fails_alone_with_one_line_and_a_nonzero_status() {
    let out = tempfile::tempdir().unwrap();
    let bad = out.path().join("notes.png");
    std::fs::write(&bad, b"this is text, not a picture").unwrap();
    let output = slimage()
        .arg("-o")
        .arg(out.path().join("results"))
        .arg(&bad)
        .arg(corpus("present_128.png"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("notes.png") && stderr.contains("not a supported image"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
    assert!(out.path().join("results/present_128.png").exists());
}

#[test]
fn bad_arguments_are_refused_with_the_usage() {
    for args in [
        &["--mode", "extreme", "-o", "x", "f.png"][..],
        &["f.png"][..],
        &["--mode", "quality=0", "-o", "x", "f"][..],
        &["--keep", "copyright,colour", "-o", "x", "f"][..],
        &["--format", "gif", "-o", "x", "f"][..],
    ] {
        let output = slimage().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("usage: slimage"));
    }
}

#[test]
fn resize_options_are_parsed_and_bad_ones_refused() {
    let out = tempfile::tempdir().unwrap();
    let input = corpus("chelsea.png");
    let output = succeeds(
        slimage()
            .args(["--resize", "fit=100x100", "-o"])
            .arg(out.path())
            .arg(&input),
    );
    let line: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["width"], 100);
    for bad in ["fit=100", "cover=0x10", "zoom=2", "scale=big"] {
        let output = slimage()
            .args(["--resize", bad, "-o"])
            .arg(out.path())
            .arg(&input)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad} was accepted");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("resize")
                || String::from_utf8_lossy(&output.stderr).contains("size"),
            "{bad}"
        );
    }
}
