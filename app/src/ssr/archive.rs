//! Names of downloaded results: the original's name with the result's extension, and, inside a
//! ZIP, the folder path kept, every entry unique (case-insensitively, as on macOS and Windows) and
//! nothing that could climb out of the folder it is unpacked into.

use std::collections::HashSet;

use super::uploads::clean_name;

/// Extensions that already name `format` (the result's extension, e.g. `jpg`).
fn extensions_of(format: &str) -> &'static [&'static str] {
    match format {
        "jpg" | "jpeg" => &["jpg", "jpeg", "jpe", "jfif"],
        "png" => &["png"],
        "webp" => &["webp"],
        "avif" => &["avif"],
        "gif" => &["gif"],
        "tiff" | "tif" => &["tiff", "tif"],
        "bmp" => &["bmp"],
        _ => &[],
    }
}

/// `name` (a cleaned path) with the extension of `format` when it does not already have one that
/// names it: `a.png` as WebP is `a.webp`, `b.jpeg` as JPEG stays `b.jpeg`.
pub fn with_format_extension(name: &str, format: Option<&str>) -> String {
    let Some(format) = format else {
        return name.to_string();
    };
    let (folder, file) = match name.rsplit_once('/') {
        Some((folder, file)) => (Some(folder), file),
        None => (None, name),
    };
    let (stem, extension) = match file.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, Some(extension)),
        _ => (file, None),
    };
    let keeps =
        extension.is_some_and(|e| extensions_of(format).contains(&e.to_ascii_lowercase().as_str()));
    let file = if keeps {
        file.to_string()
    } else {
        let new = extensions_of(format).first().copied().unwrap_or(format);
        format!("{stem}.{new}")
    };
    match folder {
        Some(folder) => format!("{folder}/{file}"),
        None => file,
    }
}

/// The file name (no folders) a result is downloaded under.
pub fn download_name(name: &str, format: Option<&str>) -> String {
    let named = with_format_extension(&clean_name(name).unwrap_or_else(|| "image".into()), format);
    named.rsplit('/').next().unwrap_or("image").to_string()
}

/// The entry names of a ZIP of `files` (stored name, result format), in order: cleaned, with the
/// result's extension, and made unique by adding ` (2)`, ` (3)`, … before the extension.
pub fn zip_entry_names<'a>(
    files: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<String> {
    let mut taken = HashSet::new();
    files
        .into_iter()
        .map(|(name, format)| {
            let base =
                with_format_extension(&clean_name(name).unwrap_or_else(|| "image".into()), format);
            let mut candidate = base.clone();
            let mut n = 2;
            while !taken.insert(candidate.to_lowercase()) {
                candidate = numbered(&base, n);
                n += 1;
            }
            candidate
        })
        .collect()
}

fn numbered(name: &str, n: u32) -> String {
    let (folder, file) = match name.rsplit_once('/') {
        Some((folder, file)) => (format!("{folder}/"), file),
        None => (String::new(), name),
    };
    match file.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => format!("{folder}{stem} ({n}).{extension}"),
        _ => format!("{folder}{file} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_take_their_formats_extension() {
        assert_eq!(with_format_extension("a/b.png", Some("webp")), "a/b.webp");
        assert_eq!(with_format_extension("b.JPEG", Some("jpg")), "b.JPEG");
        assert_eq!(with_format_extension("noext", Some("png")), "noext.png");
        assert_eq!(with_format_extension(".hidden", Some("png")), ".hidden.png");
        assert_eq!(download_name("trip/day 1/c.png", Some("png")), "c.png");
    }

    #[test]
    fn zip_entries_are_unique_and_stay_inside_the_folder() {
        let names = zip_entry_names([
            ("x/a.png", Some("png")),
            ("x/A.png", Some("png")),
            ("../x/a.png", Some("png")),
            ("x/a.bmp", Some("png")),
            ("/etc/passwd", None),
        ]);
        assert_eq!(
            names,
            [
                "x/a.png",
                "x/A (2).png",
                "x/a (3).png",
                "x/a (4).png",
                "etc/passwd"
            ]
        );
    }
}
