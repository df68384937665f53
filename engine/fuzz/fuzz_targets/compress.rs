//! Fuzzes `engine::compress` with arbitrary bytes: any input must give an image or a typed
//! error, never a panic, an abort, a hang or an allocation beyond the limits.
//! The first byte picks the mode and output format, so every encoder path is exercised.
//!
//! The contract under test is `compress`'s: an image or a typed error, never a panic that
//! reaches the caller, never an abort. `compress` turns a panic inside a codec into
//! `EngineError::Malformed` ("decoder fault"), so the fuzzer's abort-on-panic hook is replaced
//! by a silent one; a panic escaping `compress`, an abort, a hang or an allocation past the
//! limits still fails the run. Codec panics found this way are kept as regression inputs in
//! `engine/tests/fixtures/fuzz-*.bin`.
#![no_main]

use engine::{compress, CompressOptions, Keep, Limits, Mode, OutputFormat, Resize};
use libfuzzer_sys::fuzz_target;

static QUIET_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&selector, image)) = data.split_first() else {
        return;
    };
    let mode = match selector % 4 {
        0 => Mode::Lossless,
        1 => Mode::Quality(70),
        2 => Mode::Balanced,
        _ => Mode::Small,
    };
    let format = match (selector / 4) % 6 {
        0 => OutputFormat::Same,
        1 => OutputFormat::Png,
        2 => OutputFormat::Jpeg,
        3 => OutputFormat::Webp,
        4 => OutputFormat::Avif,
        _ => OutputFormat::Auto,
    };
    let resize = (selector & 0x80 != 0).then_some(Resize::Fit { width: 7, height: 9 });
    let options = CompressOptions {
        mode,
        format,
        background: Some([255, 255, 255]),
        resize,
        // Some runs convert colour profiles to sRGB, half carry every kind of metadata over.
        to_srgb: selector & 0x20 != 0,
        keep: if selector & 0x40 != 0 {
            Keep {
                copyright: true,
                creation: true,
                location: true,
            }
        } else {
            Keep::NONE
        },
        // Small limits keep each run fast; the limits themselves are under test too.
        limits: Limits {
            max_input_bytes: 1 << 20,
            max_pixels: 1 << 20,
            max_dimension: 4096,
        },
    };
    let _ = compress(image, &options);
});
