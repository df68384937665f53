//! Where the shared test corpus is: `SLIMAGE_CORPUS`, else `../shared/corpus` beside the
//! repository, else `/work/shared/corpus` (the machines this project is built on); and an
//! independent reader for the engine's AVIF files.
#![allow(dead_code)] // each test binary and the bench use a different part of it

use std::path::PathBuf;

/// The corpus directory; panics with instructions when it cannot be found.
pub fn corpus_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("SLIMAGE_CORPUS").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("manifest.csv").is_file())
        .expect(
            "the test corpus was not found: set SLIMAGE_CORPUS to the directory with manifest.csv",
        )
}

/// The path of one corpus file.
pub fn corpus_path(name: &str) -> PathBuf {
    corpus_dir().join(name)
}

/// The bytes of one corpus file.
pub fn corpus(name: &str) -> Vec<u8> {
    let path = corpus_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The pixels of an AVIF file as decoded by libavif's `avifdec` (dav1d), not by the engine's own
/// decoder, so the file is checked by an independent reader (`scripts/bootstrap.sh` installs it).
pub fn avifdec_rgba(avif: &[u8]) -> image::RgbaImage {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.avif"), dir.path().join("out.png"));
    std::fs::write(&input, avif).unwrap();
    let status = std::process::Command::new("avifdec")
        .args(["--depth", "8"])
        .arg(&input)
        .arg(&output)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("avifdec is installed (scripts/bootstrap.sh installs libavif-bin)");
    assert!(status.success(), "avifdec cannot read the engine's AVIF");
    image::load_from_memory(&std::fs::read(output).unwrap())
        .unwrap()
        .into_rgba8()
}
