//! Resizing, as Tinify offers it: `scale`, `fit`, `cover` and `thumb`, never enlarging.
//!
//! Pixels are filtered with Lanczos3 in linear light with premultiplied alpha: averaging sRGB
//! values darkens fine detail and edges, and averaging unpremultiplied colour lets the colour of
//! invisible pixels bleed into visible ones.

use image::{imageops, ImageBuffer, Rgba};

use crate::{decode::Decoded, EngineError};

/// How to resize; every method keeps the aspect ratio and never enlarges the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Scale to this width (height follows).
    ScaleWidth(u32),
    /// Scale to this height (width follows).
    ScaleHeight(u32),
    /// Scale down to fit inside the box.
    Fit {
        /// Box width.
        width: u32,
        /// Box height.
        height: u32,
    },
    /// Scale down to cover the box, then crop the overflow around the centre: exactly the box.
    Cover {
        /// Box width.
        width: u32,
        /// Box height.
        height: u32,
    },
    /// A thumbnail of exactly the box: a cut-out object on a plain background is fitted and the
    /// background extended (nothing of the object is cropped); any other image is covered.
    Thumb {
        /// Box width.
        width: u32,
        /// Box height.
        height: u32,
    },
}

impl Resize {
    fn check(self) -> Result<(), EngineError> {
        let ok = match self {
            Self::ScaleWidth(n) | Self::ScaleHeight(n) => n > 0,
            Self::Fit { width, height }
            | Self::Cover { width, height }
            | Self::Thumb { width, height } => width > 0 && height > 0,
        };
        if ok {
            Ok(())
        } else {
            Err(EngineError::Conversion(
                "resize sizes must be at least 1 pixel".into(),
            ))
        }
    }
}

/// Applies `resize` to `image`; an image already within the requested size comes back as it was
/// (moved, not copied).
pub fn apply(image: Decoded, resize: Resize) -> Result<Decoded, EngineError> {
    resize.check()?;
    let (w, h) = (image.width as f64, image.height as f64);
    // Scale factor, capped at 1 (never enlarge), and the final canvas.
    let (scale, canvas) = match resize {
        Resize::ScaleWidth(width) => ((width as f64 / w).min(1.0), None),
        Resize::ScaleHeight(height) => ((height as f64 / h).min(1.0), None),
        Resize::Fit { width, height } => ((width as f64 / w).min(height as f64 / h).min(1.0), None),
        Resize::Cover { width, height } => (
            (width as f64 / w).max(height as f64 / h).min(1.0),
            Some((width, height, Canvas::Crop)),
        ),
        Resize::Thumb { width, height } => match plain_background(&image) {
            Some(colour) => (
                (width as f64 / w).min(height as f64 / h).min(1.0),
                Some((width, height, Canvas::Pad(colour))),
            ),
            None => (
                (width as f64 / w).max(height as f64 / h).min(1.0),
                Some((width, height, Canvas::Crop)),
            ),
        },
    };
    let new_w = ((w * scale).round() as u32).max(1);
    let new_h = ((h * scale).round() as u32).max(1);
    let scaled = if (new_w, new_h) == (image.width, image.height) {
        image
    } else {
        scale_linear(&image, new_w, new_h)?
    };
    Ok(match canvas {
        None => scaled,
        Some((width, height, _)) if (width, height) == (scaled.width, scaled.height) => scaled,
        Some((width, height, Canvas::Crop)) => crop_centre(&scaled, width, height),
        Some((width, height, Canvas::Pad(colour))) => pad_centre(&scaled, width, height, colour),
    })
}

enum Canvas {
    Crop,
    Pad([u8; 4]),
}

/// The colour of a plain border (every edge pixel within a small distance of the corner's),
/// which marks a cut-out object: product shots, logos, icons.
fn plain_background(image: &Decoded) -> Option<[u8; 4]> {
    let (w, h) = (image.width as usize, image.height as usize);
    if w < 3 || h < 3 {
        return None;
    }
    let pixel = |x: usize, y: usize| -> [u8; 4] {
        let i = (y * w + x) * 4;
        [
            image.rgba[i],
            image.rgba[i + 1],
            image.rgba[i + 2],
            image.rgba[i + 3],
        ]
    };
    let corner = pixel(0, 0);
    let close = |p: [u8; 4]| {
        if corner[3] == 0 && p[3] == 0 {
            return true;
        }
        p.iter().zip(corner).all(|(a, b)| a.abs_diff(b) <= 6)
    };
    let border_plain = (0..w).all(|x| close(pixel(x, 0)) && close(pixel(x, h - 1)))
        && (0..h).all(|y| close(pixel(0, y)) && close(pixel(w - 1, y)));
    border_plain.then_some(corner)
}

fn to_linear(v: u8) -> f32 {
    let c = v as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn to_srgb(c: f32) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let v = if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (v * 255.0).round() as u8
}

fn scale_linear(image: &Decoded, width: u32, height: u32) -> Result<Decoded, EngineError> {
    let lut: Vec<f32> = (0..=255u8).map(to_linear).collect();
    let linear: Vec<f32> = image
        .rgba
        .chunks_exact(4)
        .flat_map(|p| {
            let a = p[3] as f32 / 255.0;
            [
                lut[p[0] as usize] * a,
                lut[p[1] as usize] * a,
                lut[p[2] as usize] * a,
                a,
            ]
        })
        .collect();
    let buffer: ImageBuffer<Rgba<f32>, Vec<f32>> =
        ImageBuffer::from_raw(image.width, image.height, linear).ok_or_else(|| {
            EngineError::Conversion("the image buffer does not match its size".into())
        })?;
    let resized = imageops::resize(&buffer, width, height, imageops::FilterType::Lanczos3);
    let mut has_alpha = false;
    let rgba: Vec<u8> = resized
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| {
            let a = p[3].clamp(0.0, 1.0);
            let alpha = (a * 255.0).round() as u8;
            has_alpha |= alpha < 255;
            if alpha == 0 {
                [0, 0, 0, 0]
            } else {
                [
                    to_srgb(p[0] / a),
                    to_srgb(p[1] / a),
                    to_srgb(p[2] / a),
                    alpha,
                ]
            }
        })
        .collect();
    Ok(image.with_pixels(rgba, width, height, has_alpha))
}

fn crop_centre(image: &Decoded, width: u32, height: u32) -> Decoded {
    let (width, height) = (width.min(image.width), height.min(image.height));
    let left = ((image.width - width) / 2) as usize;
    let top = ((image.height - height) / 2) as usize;
    let row_bytes = width as usize * 4;
    let mut rgba = Vec::with_capacity(row_bytes * height as usize);
    for y in top..top + height as usize {
        let start = (y * image.width as usize + left) * 4;
        rgba.extend_from_slice(&image.rgba[start..start + row_bytes]);
    }
    let has_alpha = rgba.chunks_exact(4).any(|p| p[3] < 255);
    image.with_pixels(rgba, width, height, has_alpha)
}

fn pad_centre(image: &Decoded, width: u32, height: u32, colour: [u8; 4]) -> Decoded {
    let (width, height) = (width.max(image.width), height.max(image.height));
    let mut rgba: Vec<u8> = colour
        .iter()
        .copied()
        .cycle()
        .take(width as usize * height as usize * 4)
        .collect();
    let left = ((width - image.width) / 2) as usize;
    let top = ((height - image.height) / 2) as usize;
    let row_bytes = image.width as usize * 4;
    for y in 0..image.height as usize {
        let src = y * row_bytes;
        let dst = ((top + y) * width as usize + left) * 4;
        rgba[dst..dst + row_bytes].copy_from_slice(&image.rgba[src..src + row_bytes]);
    }
    image.with_pixels(rgba, width, height, image.has_alpha || colour[3] < 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Decoded {
        let rgba = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| pixel(x, y))
            .collect();
        Decoded {
            rgba,
            width,
            height,
            has_alpha: false,
            icc_profile: None,
            exif: None,
            reoriented: false,
        }
    }

    fn size(d: &Decoded) -> (u32, u32) {
        (d.width, d.height)
    }

    #[test]
    fn each_method_gives_the_sizes_tinify_does_and_never_enlarges() {
        let photo = image(400, 200, |x, y| [(x % 256) as u8, (y % 256) as u8, 90, 255]);
        let cases = [
            (Resize::ScaleWidth(100), (100, 50)),
            (Resize::ScaleHeight(100), (200, 100)),
            (
                Resize::Fit {
                    width: 100,
                    height: 100,
                },
                (100, 50),
            ),
            (
                Resize::Cover {
                    width: 100,
                    height: 100,
                },
                (100, 100),
            ),
            (
                Resize::Thumb {
                    width: 100,
                    height: 100,
                },
                (100, 100),
            ),
            (Resize::ScaleWidth(800), (400, 200)),
            (
                Resize::Fit {
                    width: 1000,
                    height: 1000,
                },
                (400, 200),
            ),
            (
                Resize::Cover {
                    width: 300,
                    height: 300,
                },
                (300, 200),
            ),
        ];
        for (resize, expected) in cases {
            let out = apply(photo.clone(), resize).unwrap();
            assert_eq!(size(&out), expected, "{resize:?}");
            assert_eq!(out.rgba.len(), (out.width * out.height * 4) as usize);
        }
        assert!(apply(photo.clone(), Resize::ScaleWidth(0)).is_err());
    }

    #[test]
    fn averaging_happens_in_linear_light() {
        // Black and white stripes one pixel wide average to the grey of half the light
        // (sRGB 188), not to sRGB 128, which looks much darker than the stripes from afar.
        let stripes = image(
            64,
            64,
            |x, _| if x % 2 == 0 { [0, 0, 0, 255] } else { [255; 4] },
        );
        let out = apply(stripes, Resize::ScaleWidth(16)).unwrap();
        let centre = ((8 * 16 + 8) * 4) as usize;
        let grey = out.rgba[centre];
        assert!((180..=195).contains(&grey), "grey {grey}");
    }

    #[test]
    fn transparent_pixels_do_not_bleed_their_colour() {
        // Invisible red next to opaque blue: the edge must stay blue.
        let mut half = image(64, 64, |x, _| {
            if x < 32 {
                [255, 0, 0, 0]
            } else {
                [0, 0, 255, 255]
            }
        });
        half.has_alpha = true;
        let out = apply(half, Resize::ScaleWidth(16)).unwrap();
        for p in out.rgba.chunks_exact(4).filter(|p| p[3] > 16) {
            assert!(p[0] < 8 && p[2] > 240, "{p:?}");
        }
        assert!(out.has_alpha);
    }

    #[test]
    fn thumb_pads_a_cut_out_object_and_crops_a_photo() {
        // A dark square on white: fitted whole, white added left and right.
        let product = image(200, 100, |x, y| {
            if (50..150).contains(&x) && (25..75).contains(&y) {
                [20, 20, 20, 255]
            } else {
                [255; 4]
            }
        });
        let out = apply(
            product,
            Resize::Thumb {
                width: 100,
                height: 100,
            },
        )
        .unwrap();
        assert_eq!(size(&out), (100, 100));
        assert_eq!(&out.rgba[..4], &[255, 255, 255, 255]);
        let dark = out.rgba.chunks_exact(4).filter(|p| p[0] < 60).count();
        assert!(
            (1000..1600).contains(&dark),
            "object lost or cropped: {dark} dark pixels"
        );
    }
}
