//! Recognising an image format from the first bytes of a file.

/// An image format the engine recognises by its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// Portable Network Graphics, including APNG.
    Png,
    /// JPEG / JFIF / Exif.
    Jpeg,
    /// WebP (RIFF container).
    WebP,
    /// GIF 87a or 89a.
    Gif,
    /// Windows bitmap.
    Bmp,
    /// TIFF, either byte order.
    Tiff,
    /// AVIF (ISO-BMFF with an `avif` or `avis` brand).
    Avif,
}

impl ImageFormat {
    /// The media type used on the wire for this format.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
            Self::Avif => "image/avif",
        }
    }

    /// The format's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::WebP => "WebP",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
            Self::Tiff => "TIFF",
            Self::Avif => "AVIF",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Avif => "avif",
        }
    }
}

/// Returns the format whose signature starts `bytes`, or `None` when the bytes are not an image
/// format the engine knows. Only the first 32 bytes are looked at, so callers can sniff the first
/// chunk of an upload before the rest has arrived.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        return Some(ImageFormat::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(ImageFormat::Jpeg);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(ImageFormat::WebP);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some(ImageFormat::Gif);
    }
    if bytes.starts_with(b"BM") && bytes.len() >= 14 {
        return Some(ImageFormat::Bmp);
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some(ImageFormat::Tiff);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        if brand == b"avif" || brand == b"avis" {
            return Some(ImageFormat::Avif);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: image::ImageFormat) -> Vec<u8> {
        let picture =
            image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 0]));
        let mut out = std::io::Cursor::new(Vec::new());
        picture.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn recognises_files_written_by_real_encoders() {
        let formats = [
            (image::ImageFormat::Png, ImageFormat::Png),
            (image::ImageFormat::Jpeg, ImageFormat::Jpeg),
            (image::ImageFormat::Gif, ImageFormat::Gif),
            (image::ImageFormat::Bmp, ImageFormat::Bmp),
            (image::ImageFormat::Tiff, ImageFormat::Tiff),
            (image::ImageFormat::WebP, ImageFormat::WebP),
        ];
        for (written, recognised) in formats {
            assert_eq!(
                sniff_format(&encoded(written)),
                Some(recognised),
                "{written:?}"
            );
        }
    }

    #[test]
    fn recognises_the_other_signatures() {
        assert_eq!(
            sniff_format(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::WebP)
        );
        assert_eq!(sniff_format(b"GIF89a\x01\0\x01\0"), Some(ImageFormat::Gif));
        assert_eq!(
            sniff_format(b"BM\0\0\0\0\0\0\0\0\0\0\0\0"),
            Some(ImageFormat::Bmp)
        );
        assert_eq!(sniff_format(b"II*\0\x08\0\0\0"), Some(ImageFormat::Tiff));
        assert_eq!(sniff_format(b"MM\0*\0\0\0\x08"), Some(ImageFormat::Tiff));
        assert_eq!(
            sniff_format(b"\0\0\0\x1cftypavif\0\0\0\0"),
            Some(ImageFormat::Avif)
        );
    }

    #[test]
    fn refuses_what_is_not_an_image_whatever_it_claims_to_be() {
        assert_eq!(sniff_format(b""), None);
        assert_eq!(sniff_format(b"%PDF-1.7\n"), None);
        assert_eq!(
            sniff_format(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(sniff_format(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_format(b"\0\0\0\x18ftypmp42"), None);
        // A truncated PNG signature is not a PNG.
        assert_eq!(sniff_format(b"\x89PNG\r\n"), None);
    }
}
