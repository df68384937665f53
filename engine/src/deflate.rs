//! zlib streams from libdeflate's near-optimal parser run for fewer passes than its level 11.
//!
//! A large photo's truecolour PNG spends most of its time in one level-11 deflate of its rounded
//! prediction errors, and most of that in the parser: level 11 parses every block up to 4 times,
//! each pass with the costs the previous one found. On the 27 corpus PNGs' image data, 2 passes
//! made the streams 0.20 % larger in all (`chelsea.png` +1.0 %, `elephants_3840.png` +0.1 %)
//! for about a fifth less time (a third on `elephants_3840.png`); 1 pass +1.15 %. libdeflate's
//! API takes only a level, so the engine builds its own copy of the compressor (`csrc/`, under
//! other names, beside the copy oxipng links) with the pass count settable.
//!
//! The copy's parser also costs a position's match lengths 8 at a time with AVX2 (where the crate
//! is built for it): the same choices, so the same streams as libdeflate's byte for byte (tested
//! below against the libdeflate oxipng links), 11–24 % faster on the corpus PNGs' image data.

#![allow(unsafe_code)]

use std::{
    ffi::{c_int, c_uint, c_void},
    ptr::NonNull,
};

use crate::EngineError;

unsafe extern "C" {
    fn slimage_deflate_alloc(level: c_int, passes: c_uint) -> *mut c_void;
    fn slimage_libdeflate_deflate_compress(
        compressor: *mut c_void,
        input: *const c_void,
        input_len: usize,
        output: *mut c_void,
        output_avail: usize,
    ) -> usize;
    fn slimage_libdeflate_deflate_compress_bound(
        compressor: *mut c_void,
        input_len: usize,
    ) -> usize;
    fn slimage_libdeflate_free_compressor(compressor: *mut c_void);
}

/// A compressor from `slimage_deflate_alloc`, freed on drop.
struct Compressor(NonNull<c_void>);

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `slimage_deflate_alloc` and freed only here.
        unsafe { slimage_libdeflate_free_compressor(self.0.as_ptr()) }
    }
}

/// `data` as a zlib stream compressed at libdeflate's `level` (1–12) with its near-optimal parser
/// (levels 10–12) running at most `passes` passes; with level 11's own 4 passes, the bytes
/// libdeflate's level 11 gives (oxipng's).
pub fn zlib(data: &[u8], level: u8, passes: u32) -> Result<Vec<u8>, EngineError> {
    // SAFETY: a plain allocation; a null pointer (no memory, bad level) becomes an error.
    let compressor = NonNull::new(unsafe { slimage_deflate_alloc(c_int::from(level), passes) })
        .map(Compressor)
        .ok_or_else(|| EngineError::Encode(format!("deflate: no compressor at level {level}")))?;
    let raw = compressor.0.as_ptr();
    // SAFETY: `raw` is a live compressor.
    let bound = unsafe { slimage_libdeflate_deflate_compress_bound(raw, data.len()) };
    let mut out = vec![0u8; 2 + bound];
    out[..2].copy_from_slice(&zlib_header(level).to_be_bytes());
    // SAFETY: the input is `data` whole; the output is the `bound` bytes after the header, all
    // inside `out`, which libdeflate says any input of this length fits in.
    let written = unsafe {
        slimage_libdeflate_deflate_compress(
            raw,
            data.as_ptr().cast(),
            data.len(),
            out[2..].as_mut_ptr().cast(),
            bound,
        )
    };
    if written == 0 {
        return Err(EngineError::Encode(
            "deflate: the output did not fit".into(),
        ));
    }
    out.truncate(2 + written);
    out.extend_from_slice(&libdeflater::adler32(data).to_be_bytes());
    Ok(out)
}

/// The two bytes libdeflate's zlib wrapper starts a stream with at `level`: deflate with a
/// 32 KiB window, the level's hint, and the check bits that make the pair a multiple of 31.
fn zlib_header(level: u8) -> u16 {
    let hint: u16 = match level {
        0..=1 => 0,
        2..=5 => 1,
        6..=7 => 2,
        _ => 3,
    };
    let header = (8 << 8) | (7 << 12) | (hint << 6);
    header | (31 - header % 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rounded prediction errors' like bytes: a few frequent values with runs and noise.
    fn sample_data() -> Vec<u8> {
        let mut seed = 0x1234_5678_u32;
        (0..300_000)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if i % 3001 == 0 {
                    3
                } else {
                    [0u8, 0, 0, 6, 250, 12, 244, 0][(seed % 8) as usize]
                }
            })
            .collect()
    }

    /// A smooth picture's rounded errors: rows mostly of zeros, a few steps here and there, and
    /// rows that repeat earlier ones, so that many positions have matches of tens to hundreds of
    /// bytes (the lengths the parser costs 8 at a time).
    fn smooth_data() -> Vec<u8> {
        let mut seed = 0x9e37_79b9_u32;
        let mut rows: Vec<Vec<u8>> = Vec::new();
        for y in 0..400 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let row = if y > 3 && seed.is_multiple_of(3) {
                rows[y - 1 - (seed as usize / 3) % 3].clone()
            } else {
                (0..1201u32)
                    .map(|x| match (x * 7 + seed % 97) % 89 {
                        0 => 8,
                        1 => 248,
                        2 if seed.is_multiple_of(5) => 16,
                        _ => 0,
                    })
                    .collect()
            };
            rows.push(row);
        }
        rows.concat()
    }

    #[test]
    fn levels_10_to_12_are_libdeflates_byte_for_byte() {
        for data in [sample_data(), smooth_data()] {
            for level in [10, 11, 12] {
                let mut stock =
                    libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
                let mut expected = vec![0; stock.zlib_compress_bound(data.len())];
                let len = stock.zlib_compress(&data, &mut expected).unwrap();
                expected.truncate(len);
                // `passes` 0 keeps the level's own.
                let ours = zlib(&data, level as u8, 0).unwrap();
                assert_eq!(ours.len(), expected.len(), "level {level}");
                assert!(ours == expected, "level {level}: a different stream");
            }
            assert_eq!(zlib(&data, 11, 4).unwrap(), zlib(&data, 11, 0).unwrap());
        }
    }

    #[test]
    fn fewer_passes_give_a_valid_stream_of_the_same_data() {
        let data = sample_data();
        for passes in [1, 2] {
            let stream = zlib(&data, 11, passes).unwrap();
            let mut inflated = vec![0; data.len()];
            let len = libdeflater::Decompressor::new()
                .zlib_decompress(&stream, &mut inflated)
                .unwrap();
            assert_eq!(&inflated[..len], &data[..], "{passes} passes");
        }
        assert!(
            zlib(&[], 11, 2).is_ok(),
            "an empty input is a valid stream too"
        );
    }
}
