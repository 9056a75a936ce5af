//! Camera pixel formats → RGB.
//!
//! USB cameras deliver either packed YUYV 4:2:2 or MJPEG. A V4L2 buffer is
//! larger than the frame it holds: only its first `bytesused` bytes are the
//! frame, and a YUYV row may be padded to `stride` bytes.

use image::{ImageFormat, RgbImage};

use crate::error::{CameraError, CameraResult};

/// Packed YUYV (Y0 U Y1 V per two pixels, BT.601 limited range, as
/// webcams send it) → RGB. `stride` is the bytes per row (≥ 2 × width).
pub fn yuyv_to_rgb(bytes: &[u8], width: u32, height: u32, stride: u32) -> CameraResult<RgbImage> {
    let (w, h) = (width as usize, height as usize);
    let stride = (stride as usize).max(w * 2);
    if w == 0 || h == 0 || w % 2 != 0 {
        return Err(CameraError::CorruptFrame(format!(
            "YUYV needs an even, non-zero width (got {width}×{height})"
        )));
    }
    let needed = stride * (h - 1) + w * 2;
    if bytes.len() < needed {
        return Err(CameraError::CorruptFrame(format!(
            "a {width}×{height} YUYV frame needs {needed} bytes, the buffer holds {}",
            bytes.len()
        )));
    }
    let mut out = vec![0u8; w * h * 3];
    for (y, row_out) in out.chunks_exact_mut(w * 3).enumerate() {
        let row = &bytes[y * stride..y * stride + w * 2];
        for (pair, px) in row.chunks_exact(4).zip(row_out.chunks_exact_mut(6)) {
            let (u, v) = (pair[1] as i32 - 128, pair[3] as i32 - 128);
            px[..3].copy_from_slice(&ycbcr_to_rgb(pair[0], u, v));
            px[3..].copy_from_slice(&ycbcr_to_rgb(pair[2], u, v));
        }
    }
    Ok(RgbImage::from_raw(width, height, out).expect("buffer sized for the image"))
}

/// BT.601 limited range (Y 16–235, C 16–240), fixed point (×256).
fn ycbcr_to_rgb(y: u8, u: i32, v: i32) -> [u8; 3] {
    let c = (y as i32 - 16).max(0) * 298;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * v),
        clamp(c - 100 * u - 208 * v),
        clamp(c + 516 * u),
    ]
}

/// One MJPEG frame → RGB. Frames without Huffman tables (the MJPEG
/// convention: cameras omit them and decoders supply JPEG's standard ones)
/// get the standard tables; a frame cut short (no end marker) or not a
/// JPEG at all is a [`CameraError::CorruptFrame`].
pub fn decode_mjpeg(bytes: &[u8]) -> CameraResult<RgbImage> {
    if bytes.len() < 4 || bytes[..2] != [0xFF, 0xD8] {
        return Err(CameraError::CorruptFrame(
            "not a JPEG frame (no start-of-image marker)".into(),
        ));
    }
    // Cameras pad buffers after the end marker; a frame with no end marker
    // in its last bytes was cut short, and decoders would invent its rest.
    let tail = &bytes[bytes.len().saturating_sub(64)..];
    if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(CameraError::CorruptFrame(
            "truncated JPEG frame (no end-of-image marker)".into(),
        ));
    }
    let with_tables;
    let bytes = if has_huffman_tables(bytes) {
        bytes
    } else {
        with_tables = insert_standard_huffman_tables(bytes);
        &with_tables
    };
    image::load_from_memory_with_format(bytes, ImageFormat::Jpeg)
        .map(|img| img.into_rgb8())
        .map_err(|e| CameraError::CorruptFrame(format!("cannot decode the JPEG frame: {e}")))
}

/// Whether a DHT segment comes before the scan.
fn has_huffman_tables(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        match jpeg[i + 1] {
            0xC4 => return true,
            0xDA | 0xD9 => return false,
            _ => i += 2 + u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize,
        }
    }
    false
}

/// JPEG's standard Huffman tables (ITU T.81 Annex K.3, tables K.3–K.6):
/// (class and id, code counts per length 1–16, symbols).
const STANDARD_TABLES: [(u8, [u8; 16], &[u8]); 4] = [
    (
        0x00,
        [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        0x01,
        [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        0x10,
        [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
        &AC_LUMA,
    ),
    (
        0x11,
        [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        &AC_CHROMA,
    ),
];

const AC_LUMA: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
    0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
    0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
    0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];

const AC_CHROMA: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
    0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
    0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
    0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
    0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
    0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];

/// The frame with one DHT segment of the standard tables after its SOI.
fn insert_standard_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let body: usize = STANDARD_TABLES.iter().map(|(_, _, v)| 17 + v.len()).sum();
    let mut out = Vec::with_capacity(jpeg.len() + body + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xC4]);
    out.extend_from_slice(&((body + 2) as u16).to_be_bytes());
    for (class_id, counts, symbols) in STANDARD_TABLES {
        out.push(class_id);
        out.extend_from_slice(&counts);
        out.extend_from_slice(symbols);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Any still image (JPEG, PNG, WebP, BMP; judged by its bytes) → RGB.
pub fn decode_still(bytes: &[u8]) -> CameraResult<RgbImage> {
    image::load_from_memory(bytes)
        .map(|img| img.into_rgb8())
        .map_err(|e| CameraError::CorruptFrame(format!("cannot decode the image: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_reference_colours_convert() {
        // Two pixels per YUYV quad: white/black, then pure BT.601 red, green
        // and blue (limited-range values from the standard's matrix).
        let quads: [[u8; 4]; 4] = [
            [235, 128, 16, 128], // white, black
            [81, 90, 81, 240],   // red, red
            [145, 54, 145, 34],  // green
            [41, 240, 41, 110],  // blue
        ];
        let bytes: Vec<u8> = quads.iter().flatten().copied().collect();
        let rgb = yuyv_to_rgb(&bytes, 8, 1, 16).unwrap();
        let px = |x| rgb.get_pixel(x, 0).0;
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3);
        assert!(close(px(0), [255, 255, 255]), "{:?}", px(0));
        assert!(close(px(1), [0, 0, 0]), "{:?}", px(1));
        assert!(close(px(2), [255, 0, 0]), "{:?}", px(2));
        assert!(close(px(4), [0, 255, 0]), "{:?}", px(4));
        assert!(close(px(6), [0, 0, 255]), "{:?}", px(6));
    }

    #[test]
    fn yuyv_rows_padded_to_the_stride_are_skipped_correctly() {
        // 2×2 frame, rows padded to 8 bytes: row 0 white, row 1 black, the
        // padding is bright garbage that must not leak into the image.
        let bytes = [
            235, 128, 235, 128, 255, 255, 255, 255, //
            16, 128, 16, 128, 255, 255, 255, 255,
        ];
        let rgb = yuyv_to_rgb(&bytes, 2, 2, 8).unwrap();
        assert!(rgb.get_pixel(1, 0).0.iter().all(|&c| c >= 252));
        assert!(rgb.get_pixel(1, 1).0.iter().all(|&c| c <= 3));
    }

    #[test]
    fn a_short_yuyv_buffer_is_a_corrupt_frame() {
        let err = yuyv_to_rgb(&[0; 100], 640, 480, 1280).unwrap_err();
        assert!(matches!(err, CameraError::CorruptFrame(_)));
        assert!(err.to_string().contains("614400"), "{err}");
    }

    fn sample_jpeg() -> Vec<u8> {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    /// Removes every DHT segment, as MJPEG cameras send frames.
    fn strip_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut i = 2;
        while i + 4 <= jpeg.len() && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA {
            let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
            if jpeg[i + 1] != 0xC4 {
                out.extend_from_slice(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        }
        out.extend_from_slice(&jpeg[i..]);
        out
    }

    #[test]
    fn mjpeg_frames_without_huffman_tables_decode_like_full_jpegs() {
        let full = sample_jpeg();
        let stripped = strip_huffman_tables(&full);
        assert!(stripped.len() < full.len(), "the sample had DHT segments");
        assert!(!stripped.windows(2).any(|w| w == [0xFF, 0xC4]));
        assert_eq!(
            decode_mjpeg(&stripped).unwrap(),
            decode_mjpeg(&full).unwrap()
        );
    }

    #[test]
    fn padding_after_the_end_marker_is_tolerated() {
        let mut padded = sample_jpeg();
        padded.extend_from_slice(&[0; 32]);
        assert_eq!(decode_mjpeg(&padded).unwrap().dimensions(), (64, 48));
    }

    #[test]
    fn corrupt_mjpeg_frames_are_errors_not_panics() {
        let jpeg = sample_jpeg();
        for (what, bytes) in [
            ("cut in half", jpeg[..jpeg.len() / 2].to_vec()),
            ("no SOI", jpeg[2..].to_vec()),
            ("empty", vec![]),
            ("text", b"not a jpeg at all".to_vec()),
        ] {
            let err = decode_mjpeg(&bytes).unwrap_err();
            assert!(matches!(err, CameraError::CorruptFrame(_)), "{what}: {err}");
            assert!(!err.is_fatal());
        }
    }
}
