//! The lossy truecolour PNG's final file written directly, when it is the file oxipng would
//! write but for the deflate: an opaque RGB image, Average filter on every row, one IDAT.
//!
//! oxipng picks the colour type by compressing each candidate; for an opaque image with colour
//! and more than 256 colours its only candidates are RGBA and RGB, and RGB wins, so the file is
//! known before compressing. Written here, its IDAT comes from [`crate::deflate::zlib`], whose
//! parser can run fewer passes than level 11's (see there). Any other image goes to oxipng.

use std::collections::HashSet;

use crate::{deflate, png, EngineError};

/// Whether `rgba` (pixels, no colour profile to carry) is one whose PNG this module writes as
/// oxipng would: every pixel opaque, some pixel not grey, more than 256 colours.
pub fn applies(rgba: &[u8]) -> bool {
    let mut grey = true;
    let mut colours = HashSet::with_capacity(257);
    for pixel in rgba.chunks_exact(4) {
        if pixel[3] != 255 {
            return false;
        }
        grey &= pixel[0] == pixel[1] && pixel[1] == pixel[2];
        if colours.len() <= 256 {
            colours.insert([pixel[0], pixel[1], pixel[2]]);
        }
    }
    !grey && colours.len() > 256
}

/// The PNG of the opaque `rgba` (`width`×`height`), RGB with the Average filter on every row,
/// its image data deflated at level 11 with at most `passes` parser passes.
pub fn write(rgba: &[u8], width: u32, height: u32, passes: u32) -> Result<Vec<u8>, EngineError> {
    let idat = deflate::zlib(&averaged_rows(rgba, width as usize), 11, passes)?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, adaptive filters, progressive
    let mut png = Vec::with_capacity(idat.len() + 64);
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

/// PNG's filtered image data of RGB rows from `rgba`: each row the Average filter's type byte
/// (3), then every colour sample less [`png::predict`]'s mean of the same sample to its left and
/// above (the same neighbours in RGBA as in RGB).
fn averaged_rows(rgba: &[u8], width: usize) -> Vec<u8> {
    let stride = width * 4;
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3 + rgba.len() / stride.max(1));
    for (y, row) in rgba.chunks_exact(stride).enumerate() {
        out.push(3);
        for x in 0..width {
            for c in 0..3 {
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
