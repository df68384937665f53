//! The engine as a caller meets it: real images in, smaller images out, clear errors for bad input.

mod common;

use std::io::Cursor;

use common::corpus;
use engine::{
    compress, CompressOptions, EngineError, ImageFormat, Limits, Mode, OutputFormat, Resize,
};
use image::{DynamicImage, GenericImageView, ImageBuffer, Rgba};

fn options(mode: Mode) -> CompressOptions {
    CompressOptions {
        mode,
        ..CompressOptions::default()
    }
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("the output decodes")
}

/// Any output's pixels; AVIF (which the `image` crate here does not read) through libavif's
/// `avifdec` (dav1d), an independent reader that `scripts/bootstrap.sh` installs.
fn pixels(bytes: &[u8]) -> image::RgbaImage {
    match engine::sniff_format(bytes) {
        Some(ImageFormat::Avif) => common::avifdec_rgba(bytes),
        _ => decode(bytes).into_rgba8(),
    }
}

/// A 96×64 test picture: smooth gradients plus a hard edge, optionally with a transparent hole.
fn synthetic(alpha: bool) -> DynamicImage {
    DynamicImage::ImageRgba8(ImageBuffer::from_fn(96, 64, |x, y| {
        let a = if alpha && (30..60).contains(&x) && (20..40).contains(&y) {
            0
        } else {
            255
        };
        let edge = if x > 70 { 200 } else { 20 };
        Rgba([(x * 2) as u8, (y * 3) as u8, edge, a])
    }))
}

fn encoded(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn a_photo_png_shrinks_and_stays_visually_lossless() {
    let input = corpus("chelsea.png");
    let result = compress(&input, &CompressOptions::default()).unwrap();
    assert_eq!(result.format, ImageFormat::Png);
    assert!(!result.kept_original);
    assert!(
        result.output_bytes < input.len() / 2,
        "{} -> {}",
        input.len(),
        result.output_bytes
    );
    assert!(result.score.unwrap() >= 75.0, "score {:?}", result.score);
    let original = decode(&input);
    let output = decode(&result.bytes);
    assert_eq!(output.dimensions(), original.dimensions());
    assert_eq!((result.width, result.height), original.dimensions());
    assert_eq!(result.output_bytes, result.bytes.len());
    assert_eq!(result.input_bytes, input.len());
}

#[test]
fn a_jpeg_shrinks_with_mozjpeg_and_stays_visually_lossless() {
    let input = corpus("jpg95_coffee.jpg");
    let result = compress(&input, &CompressOptions::default()).unwrap();
    assert_eq!(result.format, ImageFormat::Jpeg);
    assert!(
        result.output_bytes < input.len() * 7 / 10,
        "{} -> {}",
        input.len(),
        result.output_bytes
    );
    assert!(result.score.unwrap() >= 75.0);
    assert_eq!(
        decode(&result.bytes).dimensions(),
        decode(&input).dimensions()
    );
}

#[test]
fn small_mode_is_smaller_than_balanced_at_a_lower_but_bounded_score() {
    let input = corpus("jpg95_coffee.jpg");
    let balanced = compress(&input, &options(Mode::Balanced)).unwrap();
    let small = compress(&input, &options(Mode::Small)).unwrap();
    assert!(small.output_bytes < balanced.output_bytes);
    assert!(small.score.unwrap() >= 65.0);
}

#[test]
fn transparency_survives_png_compression() {
    let input = corpus("present_128.png");
    let result = compress(&input, &CompressOptions::default()).unwrap();
    assert_eq!(result.format, ImageFormat::Png);
    assert!(result.score.unwrap() >= 75.0);
    let output = decode(&result.bytes).into_rgba8();
    assert!(
        output.pixels().any(|p| p[3] == 0),
        "transparent pixels were lost"
    );
}

#[test]
fn a_photo_cutout_no_palette_can_hold_becomes_a_lossy_truecolour_png() {
    // No 256-colour palette reaches 75 on this feathered photo cutout: it used to stay lossless
    // (0.94× its size). Rounded prediction errors keep it a PNG, 0.14× its size.
    let input = corpus("photo_cutout_ladybird.png");
    let result = compress(&input, &CompressOptions::default()).unwrap();
    assert_eq!(result.format, ImageFormat::Png);
    assert!(result.score.unwrap() >= 75.0, "score {:?}", result.score);
    assert!(
        result.output_bytes * 100 < input.len() * 20,
        "{} -> {}",
        input.len(),
        result.output_bytes
    );
    let header = png::Decoder::new(Cursor::new(&result.bytes))
        .read_info()
        .unwrap();
    assert_eq!(
        header.info().color_type,
        png::ColorType::Rgba,
        "truecolour, not a palette"
    );
    // Fully transparent and fully opaque pixels stay exactly so; the feathered edge's opacity is
    // rounded like a colour (never by more than half the coarsest step, 24 levels) and stays soft.
    let alpha = |image: DynamicImage| {
        image
            .into_rgba8()
            .pixels()
            .map(|p| p[3])
            .collect::<Vec<_>>()
    };
    let (before, after) = (alpha(decode(&input)), alpha(decode(&result.bytes)));
    let mut soft = (0, 0);
    for (&a, &b) in before.iter().zip(&after) {
        match a {
            0 | 255 => assert_eq!(a, b),
            _ => assert!(a.abs_diff(b) <= 24, "{a} -> {b}"),
        }
        soft.0 += usize::from(a % 255 != 0);
        soft.1 += usize::from(b % 255 != 0);
    }
    assert!(soft.1 * 10 >= soft.0 * 9, "the edge stays soft: {soft:?}");
}

#[test]
fn lossless_png_keeps_every_pixel() {
    let input = corpus("icon_folder_pictures.png");
    let result = compress(&input, &options(Mode::Lossless)).unwrap();
    assert!(result.output_bytes <= input.len());
    assert_eq!(
        decode(&result.bytes).into_rgba8(),
        decode(&input).into_rgba8()
    );
    assert_eq!(result.score, Some(100.0));
}

/// Whether a JPEG is progressive (has a SOF2 marker before its first scan).
fn is_progressive(jpeg: &[u8]) -> bool {
    jpeg.windows(2).any(|w| w == [0xFF, 0xC2])
}

#[test]
fn lossless_on_a_jpeg_re_encodes_it_pixel_for_pixel() {
    // A baseline JPEG with the standard Huffman tables, as most cameras and libraries write them.
    let input = encoded(
        &DynamicImage::ImageRgb8(
            synthetic(false)
                .resize_exact(640, 480, image::imageops::FilterType::Triangle)
                .into_rgb8(),
        ),
        image::ImageFormat::Jpeg,
    );
    assert!(!is_progressive(&input));
    let result = compress(&input, &options(Mode::Lossless)).unwrap();
    assert!(!result.kept_original);
    assert_eq!(result.format, ImageFormat::Jpeg);
    assert_eq!(result.score, Some(100.0));
    assert!(
        result.output_bytes * 100 < input.len() * 95,
        "{} → {} bytes",
        input.len(),
        result.output_bytes
    );
    assert!(is_progressive(&result.bytes));
    assert_eq!(
        decode(&result.bytes).into_rgb8(),
        decode(&input).into_rgb8(),
        "every pixel decodes as before"
    );
    // Its colour profile is written again (one that does not fit one marker, in several).
    use image::{ImageDecoder, ImageEncoder};
    let profile: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let source = decode(&input).into_rgb8();
    let mut with_icc = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut with_icc, 90);
    encoder.set_icc_profile(profile.clone()).unwrap();
    encoder
        .write_image(source.as_raw(), 640, 480, image::ExtendedColorType::Rgb8)
        .unwrap();
    let result = compress(&with_icc, &options(Mode::Lossless)).unwrap();
    assert!(!result.kept_original);
    let mut decoder =
        image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&result.bytes)).unwrap();
    assert_eq!(
        decoder.icc_profile().unwrap().as_deref(),
        Some(&profile[..])
    );
    // A CMYK JPEG too: same pixels, its colour space kept.
    let cmyk = fixture("cmyk.jpg");
    let result = compress(&cmyk, &options(Mode::Lossless)).unwrap();
    assert_eq!(decode(&result.bytes).into_rgb8(), decode(&cmyk).into_rgb8());
}

#[test]
fn lossless_keeps_a_jpeg_that_is_stored_turned() {
    // Its pixels are rotated on decoding; re-encoding the stored coefficients would lose that.
    let input = jpeg_with_orientation_6(48, 24);
    let result = compress(&input, &options(Mode::Lossless)).unwrap();
    assert!(result.kept_original);
    assert_eq!(result.bytes, input);
}

#[test]
fn a_damaged_jpeg_in_lossless_mode_is_an_error_not_a_crash() {
    let mut input = corpus("web_grace_hopper.jpg");
    input.truncate(input.len() / 3);
    // Whatever the decoder makes of a truncated file, the answer is a result or a typed error.
    let _ = compress(&input, &options(Mode::Lossless));
}

#[test]
fn nothing_smaller_means_the_original_comes_back_marked() {
    // A PNG the engine itself optimised cannot be made smaller losslessly a second time.
    let once = compress(&corpus("present_128.png"), &options(Mode::Lossless))
        .unwrap()
        .bytes;
    let again = compress(&once, &options(Mode::Lossless)).unwrap();
    assert!(again.kept_original);
    assert_eq!(again.bytes, once);
    assert_eq!(again.format, ImageFormat::Png);
}

#[test]
fn the_same_input_and_options_give_the_same_bytes_on_any_thread() {
    let input = corpus("chelsea.png");
    let here = compress(&input, &CompressOptions::default()).unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let input = input.clone();
            std::thread::spawn(move || compress(&input, &CompressOptions::default()).unwrap())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().bytes, here.bytes);
    }
}

#[test]
fn gif_bmp_and_tiff_inputs_become_png_and_webp_stays_webp() {
    let picture = synthetic(false);
    for (format, output) in [
        (image::ImageFormat::Gif, ImageFormat::Png),
        (image::ImageFormat::Bmp, ImageFormat::Png),
        (image::ImageFormat::Tiff, ImageFormat::Png),
        (image::ImageFormat::WebP, ImageFormat::WebP),
    ] {
        let input = encoded(&picture, format);
        let result = compress(&input, &CompressOptions::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(result.format, output, "{format:?}");
        assert_eq!(decode(&result.bytes).dimensions(), (96, 64), "{format:?}");
        assert!(result.score.unwrap() >= 75.0, "{format:?}");
    }
}

#[test]
fn sixteen_bit_and_grey_pngs_are_supported() {
    let sixteen = DynamicImage::ImageRgba16(synthetic(true).into_rgba16());
    let grey = DynamicImage::ImageLuma8(synthetic(false).into_luma8());
    for picture in [sixteen, grey] {
        let input = encoded(&picture, image::ImageFormat::Png);
        let result = compress(&input, &CompressOptions::default()).unwrap();
        assert_eq!(decode(&result.bytes).dimensions(), (96, 64));
        assert!(result.score.unwrap() >= 75.0);
    }
}

#[test]
fn a_transparent_image_becomes_jpeg_only_with_a_background() {
    let input = encoded(&synthetic(true), image::ImageFormat::Png);
    let mut to_jpeg = CompressOptions {
        format: OutputFormat::Jpeg,
        ..CompressOptions::default()
    };
    assert!(matches!(
        compress(&input, &to_jpeg),
        Err(EngineError::Conversion(_))
    ));
    to_jpeg.background = Some([255, 255, 255]);
    let result = compress(&input, &to_jpeg).unwrap();
    assert_eq!(result.format, ImageFormat::Jpeg);
    // The hole is white now.
    let pixel = decode(&result.bytes).into_rgb8().get_pixel(45, 30).0;
    assert!(pixel.iter().all(|&c| c > 240), "{pixel:?}");
}

#[test]
fn webp_output_keeps_transparency_and_meets_the_target() {
    let input = encoded(&synthetic(true), image::ImageFormat::Png);
    let to_webp = CompressOptions {
        format: OutputFormat::Webp,
        ..CompressOptions::default()
    };
    let result = compress(&input, &to_webp).unwrap();
    assert_eq!(result.format, ImageFormat::WebP);
    assert_eq!(engine::sniff_format(&result.bytes), Some(ImageFormat::WebP));
    assert!(result.score.unwrap() >= 75.0, "{:?}", result.score);
    let decoded = decode(&result.bytes).into_rgba8();
    assert_eq!(decoded.dimensions(), (96, 64));
    // The hole in the middle is still transparent: no background was asked for or used.
    assert_eq!(decoded.get_pixel(45, 30).0[3], 0);
}

#[test]
fn a_photo_becomes_a_smaller_webp_at_the_target_and_webp_stays_webp() {
    let input = corpus("web_grace_hopper.jpg");
    let to_webp = CompressOptions {
        format: OutputFormat::Webp,
        ..CompressOptions::default()
    };
    let webp = compress(&input, &to_webp).unwrap();
    assert_eq!(webp.format, ImageFormat::WebP);
    assert!(
        webp.output_bytes < input.len(),
        "{} !< {}",
        webp.output_bytes,
        input.len()
    );
    assert!(webp.score.unwrap() >= 75.0);
    // A WebP input keeps its format by default (never larger: the original comes back otherwise).
    let again = compress(&webp.bytes, &CompressOptions::default()).unwrap();
    assert_eq!(again.format, ImageFormat::WebP);
    assert!(again.output_bytes <= webp.output_bytes);
}

#[test]
fn auto_picks_the_smallest_format_that_meets_the_target_and_keeps_transparency() {
    let auto = CompressOptions {
        format: OutputFormat::Auto,
        ..CompressOptions::default()
    };
    let photo = corpus("web_grace_hopper.jpg");
    let best = compress(&photo, &auto).unwrap();
    assert!(best.score.unwrap() >= 75.0);
    for format in [
        OutputFormat::Jpeg,
        OutputFormat::Webp,
        OutputFormat::Png,
        OutputFormat::Avif,
    ] {
        let single = compress(
            &photo,
            &CompressOptions {
                format,
                ..auto.clone()
            },
        )
        .unwrap();
        assert!(
            best.output_bytes <= single.output_bytes,
            "{format:?} was smaller"
        );
    }
    // A transparent image never becomes JPEG without a background colour.
    let transparent = encoded(&synthetic(true), image::ImageFormat::Png);
    let result = compress(&transparent, &auto).unwrap();
    assert_ne!(result.format, ImageFormat::Jpeg);
    // Fully transparent, or (AVIF codes alpha lossily, the score checks) invisibly close to it.
    assert!(pixels(&result.bytes).get_pixel(45, 30).0[3] <= 2);
}

#[test]
fn lossless_webp_keeps_every_pixel() {
    let picture = synthetic(false);
    let input = encoded(&picture, image::ImageFormat::Png);
    let options = CompressOptions {
        mode: Mode::Lossless,
        format: OutputFormat::Webp,
        ..CompressOptions::default()
    };
    let result = compress(&input, &options).unwrap();
    assert_eq!(result.format, ImageFormat::WebP);
    assert_eq!(result.score, Some(100.0));
    assert_eq!(decode(&result.bytes).into_rgba8(), picture.into_rgba8());
}

#[test]
fn a_fixed_quality_is_honoured_without_search() {
    let input = corpus("jpg95_coffee.jpg");
    let low = compress(&input, &options(Mode::Quality(40))).unwrap();
    let high = compress(&input, &options(Mode::Quality(90))).unwrap();
    assert!(low.output_bytes < high.output_bytes);
    assert!(low.score.unwrap() < high.score.unwrap());
}

#[test]
fn tiny_images_are_compressed_losslessly() {
    let tiny = DynamicImage::ImageRgba8(ImageBuffer::from_fn(5, 5, |x, y| {
        Rgba([x as u8 * 40, y as u8 * 40, 0, 255])
    }));
    let input = encoded(&tiny, image::ImageFormat::Bmp);
    let result = compress(&input, &CompressOptions::default()).unwrap();
    assert_eq!(result.format, ImageFormat::Png);
    assert_eq!(decode(&result.bytes).into_rgba8(), tiny.into_rgba8());
}

#[test]
fn bad_inputs_get_typed_errors_never_a_panic() {
    let png = corpus("present_128.png");
    let jpeg = corpus("web_grace_hopper.jpg");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("text", b"hello, this is not an image".to_vec()),
        ("pdf", b"%PDF-1.7\n1 0 obj\n".to_vec()),
        ("truncated png", png[..png.len() / 3].to_vec()),
        ("png signature only", png[..8].to_vec()),
        ("truncated jpeg", jpeg[..200].to_vec()),
        (
            "jpeg header then zeros",
            [&jpeg[..4], &[0u8; 64][..]].concat(),
        ),
        ("png with a corrupted header", {
            let mut bad = png.clone();
            bad[16..24].copy_from_slice(&[0xff; 8]);
            bad
        }),
    ];
    for (what, input) in cases {
        match compress(&input, &CompressOptions::default()) {
            Err(
                EngineError::Empty
                | EngineError::UnsupportedFormat
                | EngineError::Malformed { .. }
                | EngineError::ImageTooLarge { .. },
            ) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn limits_refuse_oversized_inputs_before_decoding() {
    let input = corpus("chelsea.png");
    let with = |limits: Limits| CompressOptions {
        limits,
        ..CompressOptions::default()
    };
    let small_bytes = with(Limits {
        max_input_bytes: 1000,
        ..Limits::default()
    });
    assert!(matches!(
        compress(&input, &small_bytes),
        Err(EngineError::InputTooLarge { limit: 1000, .. })
    ));
    let few_pixels = with(Limits {
        max_pixels: 10_000,
        ..Limits::default()
    });
    assert!(matches!(
        compress(&input, &few_pixels),
        Err(EngineError::ImageTooLarge { .. })
    ));
    let short_sides = with(Limits {
        max_dimension: 100,
        ..Limits::default()
    });
    assert!(matches!(
        compress(&input, &short_sides),
        Err(EngineError::ImageTooLarge { .. })
    ));
}

#[test]
fn a_png_claiming_gigapixels_is_refused_without_allocating_them() {
    // A valid PNG header for 60000×60000 pixels, with no image data behind it.
    let mut header = Vec::new();
    header.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let ihdr: Vec<u8> = [
        &60000u32.to_be_bytes()[..],
        &60000u32.to_be_bytes()[..],
        &[8, 6, 0, 0, 0],
    ]
    .concat();
    header.extend_from_slice(&13u32.to_be_bytes());
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&ihdr);
    header.extend_from_slice(&chunk);
    header.extend_from_slice(&crc32(&chunk).to_be_bytes());
    assert!(matches!(
        compress(&header, &CompressOptions::default()),
        Err(EngineError::ImageTooLarge { .. })
    ));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A JPEG of `width`×`height` whose EXIF data says "rotate 90° clockwise to display".
fn jpeg_with_orientation_6(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encoded(
        &DynamicImage::ImageRgb8(
            synthetic(false)
                .resize_exact(width, height, image::imageops::FilterType::Nearest)
                .into_rgb8(),
        ),
        image::ImageFormat::Jpeg,
    );
    // TIFF header (big-endian), one IFD entry: Orientation (0x0112), SHORT, count 1, value 6.
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
    ]);
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_to_the_pixels() {
    let input = jpeg_with_orientation_6(48, 24);
    let result = compress(&input, &options(Mode::Quality(90))).unwrap();
    assert_eq!((result.width, result.height), (24, 48));
    assert_eq!(decode(&result.bytes).dimensions(), (24, 48));
    let png = compress(
        &input,
        &CompressOptions {
            format: OutputFormat::Png,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(decode(&png.bytes).dimensions(), (24, 48));
}

#[test]
fn resizing_never_enlarges_and_the_score_is_against_the_resized_image() {
    let input = corpus("chelsea.png");
    let (w, h) = decode(&input).dimensions();
    let resized = compress(
        &input,
        &CompressOptions {
            resize: Some(Resize::Fit {
                width: 200,
                height: 200,
            }),
            ..CompressOptions::default()
        },
    )
    .unwrap();
    let expected_h = ((h as f64) * 200.0 / w as f64).round() as u32;
    assert_eq!((resized.width, resized.height), (200, expected_h));
    assert_eq!(decode(&resized.bytes).dimensions(), (200, expected_h));
    assert!(!resized.kept_original);
    assert!(resized.score.unwrap() >= 75.0);

    // Lossless PNG output of a resized image, and a cover crop to exactly the box.
    let cover = compress(
        &input,
        &CompressOptions {
            mode: Mode::Lossless,
            resize: Some(Resize::Cover {
                width: 64,
                height: 64,
            }),
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(decode(&cover.bytes).dimensions(), (64, 64));

    // Asking for more than there is keeps the size.
    let same = compress(
        &input,
        &CompressOptions {
            resize: Some(Resize::ScaleWidth(w * 2)),
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!((same.width, same.height), (w, h));
}

#[test]
fn a_resized_jpeg_in_lossless_mode_is_re_encoded_not_kept() {
    let input = corpus("jpg95_coffee.jpg");
    let result = compress(
        &input,
        &CompressOptions {
            mode: Mode::Lossless,
            resize: Some(Resize::ScaleWidth(120)),
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(result.format, ImageFormat::Jpeg);
    assert_eq!(result.width, 120);
    assert!(!result.kept_original);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_cmyk_jpeg_keeps_its_colours() {
    // Left half red, right half blue, stored as CMYK (as print workflows export).
    let input = fixture("cmyk.jpg");
    let result = compress(&input, &options(Mode::Quality(90))).unwrap();
    assert_eq!(result.format, ImageFormat::Jpeg);
    let output = decode(&result.bytes).to_rgb8();
    let red = output.get_pixel(10, 32).0;
    let blue = output.get_pixel(85, 32).0;
    assert!(
        red[0] > 190 && red[1] < 70 && red[2] < 80,
        "left half is {red:?}"
    );
    assert!(blue[2] > 180 && blue[0] < 70, "right half is {blue:?}");
}

#[test]
fn animated_gifs_are_refused_with_a_clear_error() {
    let mut bytes = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for shade in [0u8, 200] {
            let frame = ImageBuffer::from_pixel(16, 16, Rgba([shade, 100, 50, 255]));
            encoder.encode_frame(image::Frame::new(frame)).unwrap();
        }
    }
    match compress(&bytes, &options(Mode::Balanced)) {
        Err(EngineError::UnsupportedFeature {
            format: "GIF",
            reason,
        }) => {
            assert!(reason.contains("animated"), "{reason}")
        }
        other => panic!("expected a clear refusal, got {other:?}"),
    }
}

#[test]
fn a_colour_profile_survives_lossy_and_lossless_png_output() {
    use image::{ImageDecoder, ImageEncoder};
    // Not sRGB (oxipng would be allowed to swap an sRGB profile for an sRGB chunk).
    let profile: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    let source = decode(&corpus("chelsea.png")).to_rgba8();
    let mut input = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut input);
    encoder.set_icc_profile(profile.clone()).unwrap();
    encoder
        .write_image(
            source.as_raw(),
            source.width(),
            source.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    let profile_of = |bytes: &[u8]| {
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png)
            .into_decoder()
            .unwrap()
            .icc_profile()
            .unwrap()
    };
    assert_eq!(profile_of(&input).as_deref(), Some(&profile[..]));
    // The palette path (quality 60 always re-encodes) and whatever balanced and lossless choose.
    let palette = compress(&input, &options(Mode::Quality(60))).unwrap();
    assert!(!palette.kept_original);
    assert_eq!(profile_of(&palette.bytes).as_deref(), Some(&profile[..]));
    for mode in [Mode::Balanced, Mode::Lossless] {
        let result = compress(&input, &options(mode)).unwrap();
        assert_eq!(
            profile_of(&result.bytes).as_deref(),
            Some(&profile[..]),
            "{mode:?}"
        );
    }
    // WebP output carries it too (an ICCP chunk in an extended-format file).
    for mode in [Mode::Balanced, Mode::Lossless] {
        let webp = compress(
            &input,
            &CompressOptions {
                mode,
                format: OutputFormat::Webp,
                ..CompressOptions::default()
            },
        )
        .unwrap();
        let mut decoder =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&webp.bytes)).unwrap();
        assert_eq!(
            decoder.icc_profile().unwrap().as_deref(),
            Some(&profile[..]),
            "WebP {mode:?}"
        );
    }
    // Pixels re-encoded losslessly (a resize forces it) keep it too.
    let resized = compress(
        &input,
        &CompressOptions {
            mode: Mode::Lossless,
            resize: Some(Resize::ScaleWidth(48)),
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(profile_of(&resized.bytes).as_deref(), Some(&profile[..]));
}

#[test]
fn a_png_that_makes_the_png_decoder_panic_gives_a_typed_error() {
    // Found by the fuzz target: a palette PNG on which png 0.18.1 indexes past its palette
    // (decoder/transform/palette.rs:74). The first byte is the fuzz target's mode selector.
    // The palette is now checked before the png crate sees it, so the error names the cause.
    let data = fixture("fuzz-png-palette-panic.bin");
    for mode in [Mode::Lossless, Mode::Balanced, Mode::Quality(70)] {
        match compress(&data[1..], &options(mode)) {
            Err(EngineError::Malformed {
                format: "PNG",
                reason,
            }) => assert!(reason.contains("PLTE) has 49 bytes"), "{reason}"),
            other => panic!("{mode:?}: expected a malformed-PNG error, got {other:?}"),
        }
    }
}

/// `jpeg` with an EXIF block (copyright, artist, capture date, camera make, GPS) right after SOI.
fn with_sample_exif(jpeg: &[u8]) -> Vec<u8> {
    use exif::{Field, In, Tag, Value};
    let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
    let fields = [
        (Tag::Copyright, ascii("(c) 2026 Ada")),
        (Tag::Artist, ascii("Ada")),
        (Tag::Make, ascii("Camera Co")),
        (Tag::DateTimeOriginal, ascii("2026:11:26 10:00:00")),
        (Tag::GPSLatitudeRef, ascii("N")),
        (
            Tag::GPSLatitude,
            Value::Rational(vec![(51, 1).into(), (30, 1).into(), (0, 1).into()]),
        ),
    ]
    .map(|(tag, value)| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    });
    let mut writer = exif::experimental::Writer::new();
    fields.iter().for_each(|f| writer.push_field(f));
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((tiff.len() + 8) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(&tiff);
    out.extend(&jpeg[2..]);
    out
}

/// The EXIF tags in a JPEG, PNG or WebP file (none when it has no EXIF).
fn exif_tags(bytes: &[u8]) -> Vec<exif::Tag> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif.fields().map(|f| f.tag).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn metadata_is_stripped_unless_kept_and_the_location_only_when_named() {
    use exif::Tag;
    let input = with_sample_exif(&corpus("jpg95_coffee.jpg"));
    assert!(exif_tags(&input).contains(&Tag::GPSLatitude));
    let keep = |copyright, creation, location| engine::Keep {
        copyright,
        creation,
        location,
    };
    for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
        let run = |keep| {
            let options = CompressOptions {
                mode: Mode::Quality(70),
                format,
                keep,
                ..CompressOptions::default()
            };
            let result = compress(&input, &options).unwrap();
            assert!(!result.kept_original, "{format:?}");
            decode(&result.bytes); // still a valid file
            exif_tags(&result.bytes)
        };
        assert_eq!(
            run(engine::Keep::NONE),
            [],
            "{format:?} default strips everything"
        );
        let tags = run(keep(true, true, false));
        for tag in [Tag::Copyright, Tag::Artist, Tag::DateTimeOriginal] {
            assert!(tags.contains(&tag), "{format:?} lost {tag}: {tags:?}");
        }
        for tag in [Tag::Make, Tag::GPSLatitude, Tag::GPSLatitudeRef] {
            assert!(!tags.contains(&tag), "{format:?} kept {tag}");
        }
        let tags = run(keep(false, false, true));
        assert!(tags.contains(&Tag::GPSLatitude), "{format:?}: {tags:?}");
        assert!(!tags.contains(&Tag::Copyright), "{format:?}");
    }
}

#[test]
fn a_wide_gamut_image_is_converted_to_srgb_on_request_and_keeps_its_profile_otherwise() {
    use image::{ImageDecoder, ImageEncoder};
    let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    // Pure P3 red: outside sRGB, so the converted pixel is clipped to sRGB red.
    let source = ImageBuffer::from_fn(64, 64, |_, _| Rgba([255u8, 0, 0, 255]));
    let mut input = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut input);
    encoder.set_icc_profile(p3.clone()).unwrap();
    encoder
        .write_image(source.as_raw(), 64, 64, image::ExtendedColorType::Rgba8)
        .unwrap();
    let profile_of = |bytes: &[u8]| {
        image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Png)
            .into_decoder()
            .unwrap()
            .icc_profile()
            .unwrap()
    };
    let kept = compress(&input, &options(Mode::Lossless)).unwrap();
    assert_eq!(profile_of(&kept.bytes).as_deref(), Some(&p3[..]));
    let converted = compress(
        &input,
        &CompressOptions {
            mode: Mode::Lossless,
            to_srgb: true,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        profile_of(&converted.bytes),
        None,
        "the profile is dropped once converted"
    );
    let pixel = decode(&converted.bytes).into_rgba8().get_pixel(10, 10).0;
    assert!(pixel[0] > 250 && pixel[1] < 5 && pixel[2] < 5, "{pixel:?}");
    // A mid-gamut colour changes value: P3 (128, 64, 32) is a more saturated sRGB colour.
    let muted = ImageBuffer::from_fn(64, 64, |_, _| Rgba([128u8, 64, 32, 255]));
    let mut input = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut input);
    encoder.set_icc_profile(p3).unwrap();
    encoder
        .write_image(muted.as_raw(), 64, 64, image::ExtendedColorType::Rgba8)
        .unwrap();
    let converted = compress(
        &input,
        &CompressOptions {
            mode: Mode::Lossless,
            to_srgb: true,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    let pixel = decode(&converted.bytes).into_rgba8().get_pixel(10, 10).0;
    assert!(
        pixel[0] > 130 && pixel[2] < 32,
        "P3 (128,64,32) should become redder in sRGB: {pixel:?}"
    );
    // AVIF output carries no profile: the image is converted to sRGB for it, even unasked.
    let avif = compress(
        &input,
        &CompressOptions {
            format: OutputFormat::Avif,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_eq!(avif.format, ImageFormat::Avif);
    let pixel = pixels(&avif.bytes).get_pixel(10, 10).0;
    assert!(
        pixel[0] > 130 && pixel[2] < 32,
        "the AVIF shows the sRGB colour: {pixel:?}"
    );
}

#[test]
fn a_photo_becomes_a_smaller_avif_at_the_target_and_avif_input_is_refused() {
    let input = corpus("web_grace_hopper.jpg");
    let to_avif = CompressOptions {
        format: OutputFormat::Avif,
        ..CompressOptions::default()
    };
    let avif = compress(&input, &to_avif).unwrap();
    assert_eq!(avif.format, ImageFormat::Avif);
    assert_eq!(engine::sniff_format(&avif.bytes), Some(ImageFormat::Avif));
    assert!(avif.score.unwrap() >= 75.0, "{:?}", avif.score);
    let webp = compress(
        &input,
        &CompressOptions {
            format: OutputFormat::Webp,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert!(
        avif.output_bytes < webp.output_bytes,
        "AVIF {} !< WebP {}",
        avif.output_bytes,
        webp.output_bytes
    );
    // An independent decoder reads it at the photo's size.
    assert_eq!(pixels(&avif.bytes).dimensions(), (avif.width, avif.height));
    // AVIF input is refused with a clear error (its decoder only reads the engine's own files).
    match compress(&avif.bytes, &CompressOptions::default()) {
        Err(EngineError::UnsupportedFeature { format, reason }) => {
            assert_eq!(format, "AVIF");
            assert!(reason.contains("not supported"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn avif_keeps_transparency_and_refuses_what_it_cannot_hold() {
    let transparent = encoded(&synthetic(true), image::ImageFormat::Png);
    let to_avif = |mode| CompressOptions {
        mode,
        format: OutputFormat::Avif,
        ..CompressOptions::default()
    };
    let result = compress(&transparent, &to_avif(Mode::Balanced)).unwrap();
    assert_eq!(result.format, ImageFormat::Avif);
    assert!(result.score.unwrap() >= 75.0);
    // The hole is still there (alpha is coded lossily like colour: invisible 1/255 steps are
    // allowed, the score over both backgrounds checks).
    assert!(pixels(&result.bytes).get_pixel(45, 30).0[3] <= 2);
    // AVIF is lossy only here: lossless mode says so rather than writing something else.
    match compress(&transparent, &to_avif(Mode::Lossless)) {
        Err(EngineError::Conversion(reason)) => assert!(reason.contains("lossy only"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // `auto` in lossless mode simply leaves AVIF out.
    let auto = compress(
        &transparent,
        &CompressOptions {
            mode: Mode::Lossless,
            format: OutputFormat::Auto,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    assert_ne!(auto.format, ImageFormat::Avif);
}

#[test]
fn an_image_with_a_colour_profile_is_not_made_avif_silently() {
    use image::ImageEncoder;
    let profile: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    let source = synthetic(false).to_rgba8();
    let mut input = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut input);
    encoder.set_icc_profile(profile).unwrap();
    encoder
        .write_image(
            source.as_raw(),
            source.width(),
            source.height(),
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    let with = |format| CompressOptions {
        format,
        ..CompressOptions::default()
    };
    match compress(&input, &with(OutputFormat::Avif)) {
        Err(EngineError::Conversion(reason)) => {
            assert!(reason.contains("cannot be converted"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_ne!(
        compress(&input, &with(OutputFormat::Auto)).unwrap().format,
        ImageFormat::Avif
    );
}
