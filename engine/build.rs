//! Builds the engine's own copy of libdeflate's compressor (`csrc/`, see `src/deflate.rs`).

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    let mut build = cc::Build::new();
    build
        .file("csrc/deflate_passes.c")
        .include("csrc/libdeflate")
        .warnings(false);
    // The near-optimal parser's costing runs 8 lengths at a time with AVX2 when the Rust code is
    // built for it too (`.cargo/config.toml`: x86-64-v3); otherwise libdeflate's own loop.
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|feature| feature == "avx2") {
        build.flag_if_supported("-mavx2");
    }
    build.compile("slimage_deflate");
}
