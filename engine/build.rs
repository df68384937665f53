//! Builds the engine's own copy of libdeflate's compressor (`csrc/`, see `src/deflate.rs`).

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    cc::Build::new()
        .file("csrc/deflate_passes.c")
        .include("csrc/libdeflate")
        .warnings(false)
        .compile("slimage_deflate");
}
