//! Colour profiles: an embedded ICC profile is kept by default; on request, an RGB image in
//! another colour space is converted to sRGB (through moxcms) and the profile dropped, so the file
//! shows the same colours without one. A profile that cannot be converted is kept, never dropped.

use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use crate::{decode::Decoded, EngineError};

/// Converts `image` to sRGB in place when it carries an RGB profile; returns whether it did.
pub fn convert_to_srgb(image: &mut Decoded) -> Result<bool, EngineError> {
    let Some(icc) = image.icc_profile.as_deref() else {
        return Ok(false);
    };
    let Ok(source) = ColorProfile::new_from_slice(icc) else {
        return Ok(false); // unreadable: kept as it is
    };
    if source.color_space != DataColorSpace::Rgb {
        return Ok(false);
    }
    let srgb = ColorProfile::new_srgb();
    let transform = source
        .create_transform_8bit(
            Layout::Rgba,
            &srgb,
            Layout::Rgba,
            TransformOptions::default(),
        )
        .map_err(|e| {
            EngineError::Conversion(format!("cannot convert the colour profile to sRGB: {e}"))
        })?;
    let mut converted = vec![0u8; image.rgba.len()];
    transform
        .transform(&image.rgba, &mut converted)
        .map_err(|e| {
            EngineError::Conversion(format!("cannot convert the colour profile to sRGB: {e}"))
        })?;
    image.rgba = converted;
    image.icc_profile = None;
    Ok(true)
}
