//! Image decoding for datasets: encoded bytes → 8-bit RGB with the EXIF orientation applied.
//!
//! Built on the `image` crate (0.25): the format is guessed from the content (not the file name),
//! the header is read first and images over [`DecodeLimits`] are refused before any pixel buffer
//! is allocated (`image::Limits` guards the decoder's own allocations too). Grayscale, 16-bit and
//! alpha images are converted like PIL's `convert("RGB")` (alpha dropped, 16-bit scaled to 8-bit);
//! CMYK JPEGs are converted to RGB by the JPEG decoder. EXIF orientation (tag 0x0112, JEITA
//! CP-3451 "Exif 2.3") is applied with `DynamicImage::apply_orientation`.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::DataError;

/// Size limits for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum width × height.
    pub max_pixels: u64,
    /// Maximum bytes the decoder may allocate.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    /// 40 megapixels, 256 MiB.
    fn default() -> Self {
        Self {
            max_pixels: 40_000_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Decode a file (see [`decode_bytes`]); errors name the path.
pub fn decode_path(path: &Path) -> Result<RgbImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_bytes_limited(
        &bytes,
        &path.display().to_string(),
        &DecodeLimits::default(),
    )
}

/// Decode encoded image bytes with default limits; `id` names the source in errors.
pub fn decode_bytes(bytes: &[u8], id: &str) -> Result<RgbImage, DataError> {
    decode_bytes_limited(bytes, id, &DecodeLimits::default())
}

/// Decode encoded image bytes with explicit limits.
pub fn decode_bytes_limited(
    bytes: &[u8],
    id: &str,
    limits: &DecodeLimits,
) -> Result<RgbImage, DataError> {
    let derr = |message: String| DataError::Decode {
        id: id.to_string(),
        message,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| derr(e.to_string()))?;
    if reader.format().is_none() {
        return Err(derr("not a recognised image format".into()));
    }
    if reader.format() == Some(image::ImageFormat::Jpeg) && jpeg_is_truncated(bytes) {
        // The JPEG decoder fills a truncated scan with grey; PIL refuses such files by default
        // ("image file is truncated"), and so do we.
        return Err(derr(
            "truncated JPEG (no end-of-image marker after the last scan)".into(),
        ));
    }
    let mut il = image::Limits::default();
    il.max_alloc = Some(limits.max_alloc);
    let mut reader = reader;
    reader.limits(il);
    let too_large = |w: u32, h: u32| DataError::TooLarge {
        id: id.to_string(),
        width: w,
        height: h,
        max_pixels: limits.max_pixels,
        max_alloc: limits.max_alloc,
    };
    let mut decoder = match reader.into_decoder() {
        Ok(d) => d,
        Err(image::ImageError::Limits(_)) => {
            // The header was read but the decoder refused; report the dimensions if we can.
            let dims = ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .ok()
                .and_then(|mut r| {
                    r.no_limits();
                    r.into_dimensions().ok()
                })
                .unwrap_or((0, 0));
            return Err(too_large(dims.0, dims.1));
        }
        Err(e) => return Err(derr(e.to_string())),
    };
    let (w, h) = decoder.dimensions();
    if (w as u64) * (h as u64) > limits.max_pixels || decoder.total_bytes() > limits.max_alloc {
        return Err(too_large(w, h));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = match DynamicImage::from_decoder(decoder) {
        Ok(i) => i,
        Err(image::ImageError::Limits(_)) => return Err(too_large(w, h)),
        Err(e) => return Err(derr(e.to_string())),
    };
    img.apply_orientation(orientation);
    Ok(match img {
        DynamicImage::ImageRgb8(i) => i,
        other => other.to_rgb8(),
    })
}

/// A JPEG is truncated when no EOI marker (`FF D9`) follows its last start-of-scan (`FF DA`).
/// Inside entropy-coded data `FF` is always followed by `00` or a restart marker, so `FF D9` there
/// can only be the real end; an EXIF thumbnail's markers come before the main image's scans.
pub fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let last = |m: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == m);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi < sos,
        (Some(_), None) => true,
        _ => false, // no scan at all: let the decoder report what is wrong
    }
}
