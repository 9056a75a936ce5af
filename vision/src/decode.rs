//! Image bytes → RGB, safely.
//!
//! The format is sniffed from the bytes (a WebP named `.jpg` decodes as
//! WebP), EXIF orientation is applied, every pixel layout (grey, RGBA,
//! 16-bit, CMYK JPEG) becomes 8-bit RGB, and limits on bytes, pixels and
//! decoder memory reject decompression bombs before they allocate.

use std::io::{Cursor, ErrorKind};

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use crate::error::{VisionError, VisionResult};

#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Largest accepted image, in pixels (width × height).
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    /// 32 MiB and 40 megapixels: above any real photo or camera frame, far
    /// below what would exhaust an appliance's memory.
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 40_000_000,
        }
    }
}

pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> VisionResult<RgbImage> {
    if bytes.is_empty() {
        return Err(VisionError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(VisionError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("reading from memory cannot fail");
    let Some(format) = reader.format() else {
        return Err(VisionError::NotAnImage {
            magic: magic(bytes),
        });
    };
    let format_name = format!("{format:?}").to_uppercase();
    // The JPEG decoder fills a cut-off scan with grey instead of failing: a
    // truncated upload would otherwise be trained on as a half-grey photo.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(VisionError::Truncated {
            format: format_name,
        });
    }
    let mut reader = reader;
    let mut image_limits = image::Limits::default();
    // Decoders may allocate more than the final RGB buffer (RGBA16, planes):
    // allow 16 bytes a pixel.
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(16));
    reader.limits(image_limits);
    let map_err = |e: ImageError| classify(e, &format_name);
    let mut decoder = reader.into_decoder().map_err(map_err)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(VisionError::TooLarge {
            width,
            height,
            megapixels: pixels as f64 / 1e6,
            limit_mp: limits.max_pixels as f64 / 1e6,
        });
    }
    // A missing or unreadable EXIF block is not an error: upright is the default.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_err)?;
    image.apply_orientation(orientation);
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    if rgb.width() < 12 || rgb.height() < 12 {
        return Err(VisionError::TooSmall {
            width: rgb.width(),
            height: rgb.height(),
        });
    }
    Ok(rgb)
}

fn classify(e: ImageError, format: &str) -> VisionError {
    match e {
        ImageError::Limits(_) => VisionError::Corrupt {
            format: format.into(),
            reason: "decoding it would need more memory than the pixel limit allows".into(),
        },
        ImageError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
            VisionError::Truncated {
                format: format.into(),
            }
        }
        ImageError::Decoding(d) => {
            let reason = d.to_string();
            let lower = reason.to_lowercase();
            if lower.contains("eof")
                || lower.contains("end of")
                || lower.contains("truncat")
                || lower.contains("unexpected end")
            {
                VisionError::Truncated {
                    format: format.into(),
                }
            } else {
                VisionError::Corrupt {
                    format: format.into(),
                    reason,
                }
            }
        }
        other => VisionError::Corrupt {
            format: format.into(),
            reason: other.to_string(),
        },
    }
}

/// A complete JPEG has an end-of-image marker after its last scan header.
/// Entropy-coded data never holds `FF D9` (a data byte 0xFF is always
/// followed by 0x00), so its absence means the file was cut short.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(last_scan) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn magic(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(w: u32, h: u32, color: image::ColorType) -> Vec<u8> {
        let img = match color {
            image::ColorType::L8 => DynamicImage::ImageLuma8(image::GrayImage::new(w, h)),
            image::ColorType::Rgba8 => DynamicImage::ImageRgba8(image::RgbaImage::new(w, h)),
            image::ColorType::Rgb16 => DynamicImage::ImageRgb16(image::ImageBuffer::new(w, h)),
            _ => DynamicImage::ImageRgb8(RgbImage::new(w, h)),
        };
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn every_pixel_layout_becomes_rgb() {
        for color in [
            image::ColorType::L8,
            image::ColorType::Rgba8,
            image::ColorType::Rgb16,
        ] {
            let rgb = decode_image(&png_bytes(40, 30, color), &DecodeLimits::default()).unwrap();
            assert_eq!(rgb.dimensions(), (40, 30), "{color:?}");
        }
    }

    #[test]
    fn bad_inputs_get_specific_errors() {
        let limits = DecodeLimits::default();
        assert!(matches!(
            decode_image(b"", &limits),
            Err(VisionError::Empty)
        ));
        let text = decode_image(b"hello, this is not an image", &limits).expect_err("refused");
        assert!(matches!(text, VisionError::NotAnImage { .. }), "{text}");
        let png = png_bytes(64, 64, image::ColorType::Rgb8);
        let truncated = decode_image(&png[..png.len() / 2], &limits).expect_err("refused");
        assert!(
            matches!(
                truncated,
                VisionError::Truncated { .. } | VisionError::Corrupt { .. }
            ),
            "{truncated}"
        );
        let small = DecodeLimits {
            max_bytes: 10,
            ..limits
        };
        assert!(matches!(
            decode_image(&png, &small),
            Err(VisionError::TooManyBytes { .. })
        ));
        assert!(matches!(
            decode_image(&png_bytes(5, 5, image::ColorType::Rgb8), &limits),
            Err(VisionError::TooSmall { .. })
        ));
    }

    /// A PNG whose header claims 30000×30000 is refused before any pixel
    /// buffer is allocated.
    #[test]
    fn decompression_bomb_header_is_refused() {
        let mut png = png_bytes(16, 16, image::ColorType::Rgb8);
        // IHDR data starts at byte 16: width, height (big-endian), then the CRC at 29..33.
        png[16..20].copy_from_slice(&30000u32.to_be_bytes());
        png[20..24].copy_from_slice(&30000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_image(&png, &DecodeLimits::default()).expect_err("refused");
        assert!(
            matches!(
                err,
                VisionError::TooLarge {
                    width: 30000,
                    height: 30000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("900.0 MP"), "{err}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
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
}
