//! Where the shared test corpus is: `SLIMAGE_CORPUS`, else `../shared/corpus` beside the
//! repository, else `/work/shared/corpus` (the machines this project is built on).
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
