//! Test images: a smooth PNG made on the fly (varied by `seed`) and the end-to-end tests' JPEG.

use std::io::Cursor;

/// A smooth 160×120 24-bit PNG (quantises well: the result is much smaller), varied by `seed`.
pub fn png(seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([
            (x + u32::from(seed)) as u8,
            (y * 2) as u8,
            ((x + y) / 2) as u8,
        ])
    });
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A photo-like 400×300 JPEG at quality 97 (re-encoding it saves a lot).
pub fn jpeg() -> Vec<u8> {
    include_bytes!("../../../end2end/fixtures/photo.jpg").to_vec()
}
