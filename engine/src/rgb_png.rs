//! The lossy truecolour PNG's final file written directly, when it is the file oxipng would
//! write but for the deflate: RGB, RGBA or grey with alpha, Average filter on every row, one
//! IDAT, and the colour profile as oxipng carries it.
//!
//! oxipng picks the colour type by compressing each candidate. For an image of more than 256
//! colours (counting opacity) it has one candidate: RGB when every pixel is opaque, otherwise
//! RGBA (the engine does not let it alter transparent pixels), or grey with alpha when every
//! pixel is grey and there is no profile (an opaque grey image has 256 colours at most). So the
//! file is known before compressing. Written here, its IDAT comes from [`crate::deflate::zlib`],
//! whose parser can run fewer passes than level 11's (see there). Any other image goes to oxipng.

use std::collections::HashSet;

use crate::{deflate, png, EngineError};

/// A PNG colour type this module writes: its code, and which of an RGBA pixel's samples it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    code: u8,
    samples: &'static [usize],
}

pub const RGB: Layout = Layout {
    code: 2,
    samples: &[0, 1, 2],
};
pub const RGBA: Layout = Layout {
    code: 6,
    samples: &[0, 1, 2, 3],
};
pub const GREY_ALPHA: Layout = Layout {
    code: 4,
    samples: &[0, 3],
};

/// The colour type of the file oxipng writes for `rgba` (with a colour profile when `profiled`)
/// when this module can write the same, `None` when oxipng would pick another (a palette, a
/// lower bit depth) or drop or keep a profile in ways not followed here.
pub fn applies(rgba: &[u8], profiled: bool) -> Option<Layout> {
    let mut grey = true;
    let mut opaque = true;
    let mut colours = HashSet::with_capacity(257);
    for pixel in rgba.chunks_exact(4) {
        opaque &= pixel[3] == 255;
        grey &= pixel[0] == pixel[1] && pixel[1] == pixel[2];
        if colours.len() <= 256 {
            colours.insert([pixel[0], pixel[1], pixel[2], pixel[3]]);
        }
    }
    if colours.len() <= 256 || (grey && profiled) {
        return None;
    }
    Some(match (grey, opaque) {
        (true, _) => GREY_ALPHA,
        (false, true) => RGB,
        (false, false) => RGBA,
    })
}

/// The PNG of `rgba` (`width`×`height`) as `layout` (from [`applies`]), the Average filter on
/// every row, its image data deflated at level 11 with at most `passes` parser passes, and `icc`
/// as oxipng writes a profile (see [`profile_chunk`]).
pub fn write(
    rgba: &[u8],
    width: u32,
    height: u32,
    layout: Layout,
    icc: Option<&[u8]>,
    passes: u32,
) -> Result<Vec<u8>, EngineError> {
    let rows = averaged_rows(rgba, width as usize, layout.samples);
    let idat = deflate::zlib(&rows, 11, passes)?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // 8 bits, the colour type, deflate, adaptive filters, progressive
    ihdr.extend_from_slice(&[8, layout.code, 0, 0, 0]);
    let mut png = Vec::with_capacity(idat.len() + 64);
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    chunk(&mut png, b"IHDR", &ihdr);
    if let Some(icc) = icc {
        let (kind, data) = profile_chunk(icc)?;
        chunk(&mut png, &kind, &data);
    }
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

/// The chunk oxipng 10 writes for the colour profile `icc`. It first stores the profile deflated
/// at level 1, then reads it back into a buffer of 10 times that (at least 1000 bytes): a profile
/// that does not fit stays so. Otherwise an sRGB profile libpng knows becomes an `sRGB` chunk
/// with its rendering intent, and any other is deflated again at level 11, kept unless more than
/// 4 bytes larger.
fn profile_chunk(icc: &[u8]) -> Result<([u8; 4], Vec<u8>), EngineError> {
    let quick = deflate::zlib(icc, 1, 0)?;
    let readable = icc.len() <= (quick.len() * 10).clamp(1000, 1_000_000);
    if let Some(intent) = srgb_rendering_intent(icc).filter(|_| readable) {
        return Ok((*b"sRGB", vec![intent]));
    }
    let mut data = b"icc\0\0".to_vec(); // a name, its terminator, zlib
    let full = if readable {
        Some(deflate::zlib(icc, 11, 4)?).filter(|full| full.len() <= quick.len() + 4)
    } else {
        None
    };
    data.extend_from_slice(full.as_ref().unwrap_or(&quick));
    Ok((*b"iCCP", data))
}

/// The rendering intent of `icc` when it is one of the sRGB profiles libpng recognises (by their
/// MD5 profile identifier, or for a few without one by CRC and length), as oxipng 10 checks it.
fn srgb_rendering_intent(icc: &[u8]) -> Option<u8> {
    let intent = *icc.get(67)?;
    let known = match icc.get(84..100)? {
        b"\x29\xf8\x3d\xde\xaf\xf2\x55\xae\x78\x42\xfa\xe4\xca\x83\x39\x0d"
        | b"\xc9\x5b\xd6\x37\xe9\x5d\x8a\x3b\x0d\xf3\x8f\x99\xc1\x32\x03\x89"
        | b"\xfc\x66\x33\x78\x37\xe2\x88\x6b\xfd\x72\xe9\x83\x82\x28\xf1\xb8"
        | b"\x34\x56\x2a\xbf\x99\x4c\xcd\x06\x6d\x2c\x57\x21\xd0\xd6\x8c\x5d" => true,
        id if id.iter().all(|&b| b == 0) => matches!(
            (crc32fast::hash(icc), icc.len()),
            (0x5d51_29ce, 3024) | (0x182e_a552, 3144) | (0xf29e_526d, 3144)
        ),
        _ => false,
    };
    known.then_some(intent)
}

/// PNG's filtered image data of rows of the `samples` of each pixel of `rgba`: each row the
/// Average filter's type byte (3), then every sample less [`png::predict`]'s mean of the same
/// sample to its left and above (the same neighbours in RGBA as in any other layout).
fn averaged_rows(rgba: &[u8], width: usize, samples: &[usize]) -> Vec<u8> {
    let stride = width * 4;
    let mut out = Vec::with_capacity(rgba.len() / 4 * samples.len() + rgba.len() / stride.max(1));
    for (y, row) in rgba.chunks_exact(stride).enumerate() {
        out.push(3);
        for x in 0..width {
            for &c in samples {
                let i = y * stride + x * 4 + c;
                out.push(row[x * 4 + c].wrapping_sub(png::predict(rgba, i, x, stride)));
            }
        }
    }
    out
}

/// Appends a PNG chunk: length, type, data, CRC of type and data (for the file written here and
/// for the `eXIf` chunk `metadata` inserts into a PNG).
pub fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
}
