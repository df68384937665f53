//! Metadata the caller chose to keep. Everything is stripped by default; the caller may keep the
//! copyright (Copyright, Artist), the creation date (DateTime, DateTimeOriginal,
//! DateTimeDigitized and their time-zone offsets and sub-seconds) and, only when named, the
//! location (the whole GPS directory). The EXIF orientation is applied to the pixels on decoding
//! and never written. The colour profile is handled apart: it is always kept (see `decode`).
//!
//! The kept fields are written as a fresh EXIF block into the output: an `APP1` segment in JPEG,
//! an `eXIf` chunk in PNG, an `EXIF` chunk in WebP.

use std::io::Cursor;

use exif::{Context, Field, In, Tag};

use crate::{webp, EngineError, ImageFormat};

/// Which metadata to carry from the input to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Keep {
    /// Copyright and artist.
    pub copyright: bool,
    /// When the picture was taken, digitised and last changed.
    pub creation: bool,
    /// Where it was taken (GPS). Never kept unless asked for by name.
    pub location: bool,
}

impl Keep {
    /// Keep nothing (the default).
    pub const NONE: Self = Self {
        copyright: false,
        creation: false,
        location: false,
    };

    /// Whether anything is kept.
    pub fn any(self) -> bool {
        self.copyright || self.creation || self.location
    }
}

fn wanted(tag: Tag, keep: Keep) -> bool {
    (keep.copyright && matches!(tag, Tag::Copyright | Tag::Artist))
        || (keep.creation
            && matches!(
                tag,
                Tag::DateTime
                    | Tag::DateTimeOriginal
                    | Tag::DateTimeDigitized
                    | Tag::OffsetTime
                    | Tag::OffsetTimeOriginal
                    | Tag::OffsetTimeDigitized
                    | Tag::SubSecTime
                    | Tag::SubSecTimeOriginal
                    | Tag::SubSecTimeDigitized
            ))
        || (keep.location && tag.context() == Context::Gps)
}

/// A new EXIF block (TIFF bytes) with only the fields `keep` asks for, from the input's EXIF
/// (`raw`, with or without the `Exif\0\0` prefix). `None` when nothing is asked for or found, or
/// when the input's EXIF cannot be read (it is then dropped, never copied blindly).
pub fn filtered_exif(raw: &[u8], keep: Keep) -> Option<Vec<u8>> {
    if !keep.any() {
        return None;
    }
    let raw = raw.strip_prefix(b"Exif\0\0").unwrap_or(raw);
    let exif = exif::Reader::new().read_raw(raw.to_vec()).ok()?;
    let kept: Vec<&Field> = exif
        .fields()
        .filter(|f| f.ifd_num == In::PRIMARY && wanted(f.tag, keep))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut writer = exif::experimental::Writer::new();
    for field in kept {
        writer.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, exif.little_endian()).ok()?;
    Some(out.into_inner())
}

/// `bytes` (a file the engine wrote in `format`) with the EXIF block `exif` embedded.
pub fn embed(format: ImageFormat, bytes: Vec<u8>, exif: &[u8]) -> Result<Vec<u8>, EngineError> {
    match format {
        ImageFormat::Jpeg => embed_jpeg(bytes, exif),
        ImageFormat::Png => Ok(embed_png(bytes, exif)),
        ImageFormat::WebP => webp::with_exif(&bytes, exif),
        #[cfg(feature = "avif")]
        ImageFormat::Avif => crate::avif::with_exif(&bytes, exif),
        _ => Ok(bytes),
    }
}

/// Inserts an `APP1` Exif segment after SOI and any `APP0` (JFIF) segment.
fn embed_jpeg(jpeg: Vec<u8>, exif: &[u8]) -> Result<Vec<u8>, EngineError> {
    let length = exif.len() + 8; // length field (2) + "Exif\0\0" (6)
    if length > usize::from(u16::MAX) {
        // A segment holds at most 64 KiB; kept fields are a few hundred bytes, so this is a
        // malformed or padded input: drop it rather than write a broken file.
        return Ok(jpeg);
    }
    if jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] {
        return Err(EngineError::Encode(
            "our JPEG lacks its start marker".into(),
        ));
    }
    let mut at = 2;
    if jpeg[2..4] == [0xFF, 0xE0] && jpeg.len() >= 6 {
        at = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    }
    let mut out = Vec::with_capacity(jpeg.len() + length + 2);
    out.extend_from_slice(&jpeg[..at]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(length as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(exif);
    out.extend_from_slice(&jpeg[at..]);
    Ok(out)
}

/// Inserts an `eXIf` chunk before the first `IDAT`.
fn embed_png(png: Vec<u8>, exif: &[u8]) -> Vec<u8> {
    let mut at = 8;
    while let Some(header) = png.get(at..at + 8) {
        if &header[4..8] == b"IDAT" {
            break;
        }
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        at += 12 + length;
    }
    if at > png.len() {
        return png;
    }
    let mut chunk = Vec::with_capacity(exif.len() + 12);
    crate::rgb_png::chunk(&mut chunk, b"eXIf", exif);
    let mut out = png;
    out.splice(at..at, chunk);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::Value;

    fn sample_exif() -> Vec<u8> {
        let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
        let fields = [
            (Tag::Copyright, ascii("(c) Ada")),
            (Tag::Artist, ascii("Ada")),
            (Tag::Make, ascii("Camera Co")),
            (Tag::DateTimeOriginal, ascii("2026:11:26 10:00:00")),
            (Tag::GPSLatitudeRef, ascii("N")),
        ]
        .map(|(tag, value)| Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        });
        let mut writer = exif::experimental::Writer::new();
        fields.iter().for_each(|f| writer.push_field(f));
        let mut out = Cursor::new(Vec::new());
        writer.write(&mut out, false).unwrap();
        out.into_inner()
    }

    fn tags(exif: &[u8]) -> Vec<Tag> {
        let exif = exif::Reader::new().read_raw(exif.to_vec()).unwrap();
        exif.fields().map(|f| f.tag).collect()
    }

    #[test]
    fn only_the_fields_asked_for_are_kept() {
        let raw = sample_exif();
        assert_eq!(filtered_exif(&raw, Keep::NONE), None);
        let copyright = Keep {
            copyright: true,
            ..Keep::NONE
        };
        let mut kept = tags(&filtered_exif(&raw, copyright).unwrap());
        kept.sort_by_key(|t| t.number());
        assert_eq!(kept, [Tag::Artist, Tag::Copyright]);
        let creation = Keep {
            creation: true,
            ..Keep::NONE
        };
        assert_eq!(
            tags(&filtered_exif(&raw, creation).unwrap()),
            [Tag::DateTimeOriginal]
        );
        let location = Keep {
            location: true,
            ..Keep::NONE
        };
        assert_eq!(
            tags(&filtered_exif(&raw, location).unwrap()),
            [Tag::GPSLatitudeRef]
        );
        // With the "Exif\0\0" prefix JPEG segments carry, too; unreadable EXIF is dropped.
        let prefixed = [b"Exif\0\0".as_slice(), &raw].concat();
        assert!(filtered_exif(&prefixed, copyright).is_some());
        assert_eq!(filtered_exif(b"not exif at all", copyright), None);
    }
}
