//! Fuzzes `engine::compress` with arbitrary bytes: any input must give an image or a typed
//! error, never a panic, an abort, a hang or an allocation beyond the limits.
//! The first byte picks the mode and output format, so every encoder path is exercised.
#![no_main]

use engine::{compress, CompressOptions, Limits, Mode, OutputFormat, Resize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, image)) = data.split_first() else {
        return;
    };
    let mode = match selector % 4 {
        0 => Mode::Lossless,
        1 => Mode::Quality(70),
        2 => Mode::Balanced,
        _ => Mode::Small,
    };
    let format = match (selector / 4) % 3 {
        0 => OutputFormat::Same,
        1 => OutputFormat::Png,
        _ => OutputFormat::Jpeg,
    };
    let resize = (selector & 0x80 != 0).then_some(Resize::Fit { width: 7, height: 9 });
    let options = CompressOptions {
        mode,
        format,
        background: Some([255, 255, 255]),
        resize,
        // Small limits keep each run fast; the limits themselves are under test too.
        limits: Limits {
            max_input_bytes: 1 << 20,
            max_pixels: 1 << 20,
            max_dimension: 4096,
        },
    };
    let _ = compress(image, &options);
});
