//! A local camera through Video4Linux2 (the `v4l` crate): format,
//! resolution and frame-rate negotiation, memory-mapped streaming, MJPEG or
//! YUYV frames converted to RGB.

use std::path::Path;
use std::time::Duration;

use image::RgbImage;
use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapFlags;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::video::capture::Parameters;
use v4l::{Device, FourCC};

use crate::FrameSource;
use crate::convert::{decode_mjpeg, yuyv_to_rgb};
use crate::error::{CameraError, CameraResult};
use crate::spec::PixelFormat;

/// A camera that delivers nothing for this long has stalled.
const FRAME_TIMEOUT: Duration = Duration::from_secs(3);
/// Kernel buffers: enough to capture while one frame is converted.
const BUFFERS: u32 = 4;

const MJPG: [u8; 4] = *b"MJPG";
const YUYV: [u8; 4] = *b"YUYV";

/// What to ask the camera for; the driver answers with what it can do.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub pixel_format: PixelFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Mjpeg,
    Yuyv,
}

/// Picks the encoding from the camera's offered formats.
fn choose_encoding(offered: &[[u8; 4]], wanted: PixelFormat) -> Result<Encoding, String> {
    let has = |f: &[u8; 4]| offered.contains(f);
    let list = || {
        offered
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        PixelFormat::Auto if has(&MJPG) => Ok(Encoding::Mjpeg),
        PixelFormat::Auto if has(&YUYV) => Ok(Encoding::Yuyv),
        PixelFormat::Mjpeg if has(&MJPG) => Ok(Encoding::Mjpeg),
        PixelFormat::Yuyv if has(&YUYV) => Ok(Encoding::Yuyv),
        _ => Err(format!(
            "the camera offers [{}], none of which is {}",
            list(),
            match wanted {
                PixelFormat::Auto => "MJPG or YUYV",
                PixelFormat::Mjpeg => "MJPG",
                PixelFormat::Yuyv => "YUYV",
            }
        )),
    }
}

pub struct V4l2Source {
    name: String,
    // The stream keeps the device's handle alive; the device is kept for
    // its descriptor's lifetime all the same.
    _device: Device,
    stream: Stream<'static>,
    encoding: Encoding,
    width: u32,
    height: u32,
    stride: u32,
    fps: Option<u32>,
}

impl V4l2Source {
    pub fn open(path: &Path, request: Request) -> CameraResult<Self> {
        let name = path.display().to_string();
        let open_err = |reason: String| CameraError::Open {
            source_name: name.clone(),
            reason,
        };
        let device = Device::with_path(path).map_err(|e| open_err(e.to_string()))?;
        let caps = device
            .query_caps()
            .map_err(|e| open_err(format!("not a V4L2 device: {e}")))?;
        if !caps.capabilities.contains(CapFlags::VIDEO_CAPTURE) {
            return Err(open_err(format!("{} cannot capture video", caps.card)));
        }
        if !caps.capabilities.contains(CapFlags::STREAMING) {
            return Err(open_err(format!(
                "{} cannot stream (no mmap I/O)",
                caps.card
            )));
        }
        let offered: Vec<[u8; 4]> = device
            .enum_formats()
            .map_err(|e| open_err(format!("cannot list formats: {e}")))?
            .into_iter()
            .map(|d| d.fourcc.repr)
            .collect();
        let encoding = choose_encoding(&offered, request.pixel_format).map_err(open_err)?;
        let fourcc = FourCC::new(match encoding {
            Encoding::Mjpeg => &MJPG,
            Encoding::Yuyv => &YUYV,
        });
        let mut format = device.format().map_err(|e| open_err(e.to_string()))?;
        format.width = request.width;
        format.height = request.height;
        format.fourcc = fourcc;
        // The driver picks the nearest size it supports and says so.
        let format = device
            .set_format(&format)
            .map_err(|e| open_err(format!("cannot set the format: {e}")))?;
        if format.fourcc != fourcc {
            return Err(open_err(format!(
                "the driver switched the format to {}",
                format.fourcc
            )));
        }
        if (format.width, format.height) != (request.width, request.height) {
            tracing::info!(camera = %name, asked = %format!("{}×{}", request.width, request.height),
                got = %format!("{}×{}", format.width, format.height), "camera resolution adjusted by the driver");
        }
        // Not every driver lets the rate be set; the camera's own rate is
        // fine then.
        let fps = match device.set_params(&Parameters::with_fps(request.fps)) {
            Ok(p) if p.interval.numerator > 0 => {
                Some(p.interval.denominator / p.interval.numerator)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::info!(camera = %name, "the driver keeps its frame rate: {e}");
                None
            }
        };
        let mut stream = Stream::with_buffers(&device, Type::VideoCapture, BUFFERS)
            .map_err(|e| open_err(format!("cannot map capture buffers: {e}")))?;
        stream.set_timeout(FRAME_TIMEOUT);
        Ok(Self {
            name: format!("{name} ({})", caps.card),
            _device: device,
            stream,
            encoding,
            width: format.width,
            height: format.height,
            stride: format.stride,
            fps,
        })
    }
}

impl FrameSource for V4l2Source {
    fn describe(&self) -> String {
        format!(
            "{} {}×{} {} @ {}",
            self.name,
            self.width,
            self.height,
            match self.encoding {
                Encoding::Mjpeg => "MJPG",
                Encoding::Yuyv => "YUYV",
            },
            self.fps
                .map_or("driver rate".into(), |f| format!("{f} fps"))
        )
    }

    fn next_frame(&mut self) -> CameraResult<RgbImage> {
        let (buffer, meta) = match self.stream.next() {
            Ok(next) => next,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(CameraError::Stalled {
                    source_name: self.name.clone(),
                    seconds: FRAME_TIMEOUT.as_secs_f64(),
                });
            }
            // ENODEV after an unplug, EIO on a USB error: reopen.
            Err(e) => {
                return Err(CameraError::Disconnected {
                    source_name: self.name.clone(),
                    reason: e.to_string(),
                });
            }
        };
        if meta.flags.contains(BufferFlags::ERROR) {
            return Err(CameraError::CorruptFrame(
                "the driver flagged the buffer as corrupt".into(),
            ));
        }
        // A buffer is sized for the largest frame; only `bytesused` of it is
        // this frame.
        let used = (meta.bytesused as usize).min(buffer.len());
        frame_to_rgb(
            self.encoding,
            &buffer[..used],
            self.width,
            self.height,
            self.stride,
        )
    }
}

fn frame_to_rgb(
    encoding: Encoding,
    bytes: &[u8],
    w: u32,
    h: u32,
    stride: u32,
) -> CameraResult<RgbImage> {
    match encoding {
        Encoding::Mjpeg => decode_mjpeg(bytes),
        Encoding::Yuyv => yuyv_to_rgb(bytes, w, h, stride),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_mjpeg_and_falls_back_to_yuyv() {
        assert_eq!(
            choose_encoding(&[YUYV, MJPG], PixelFormat::Auto),
            Ok(Encoding::Mjpeg)
        );
        assert_eq!(
            choose_encoding(&[YUYV], PixelFormat::Auto),
            Ok(Encoding::Yuyv)
        );
        assert_eq!(
            choose_encoding(&[YUYV, MJPG], PixelFormat::Yuyv),
            Ok(Encoding::Yuyv)
        );
    }

    #[test]
    fn a_camera_without_a_usable_format_is_refused_naming_what_it_offers() {
        let err = choose_encoding(&[*b"NV12", *b"H264"], PixelFormat::Auto).unwrap_err();
        assert!(
            err.contains("NV12, H264") && err.contains("MJPG or YUYV"),
            "{err}"
        );
        let err = choose_encoding(&[YUYV], PixelFormat::Mjpeg).unwrap_err();
        assert!(err.contains("none of which is MJPG"), "{err}");
    }

    #[test]
    fn only_the_bytes_used_of_a_buffer_are_the_frame() {
        // A mapped buffer holds the frame then stale bytes of an older,
        // larger frame: slicing to bytesused keeps the stale bytes out.
        let img = RgbImage::from_pixel(16, 8, image::Rgb([10, 200, 30]));
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let jpeg = jpeg.into_inner();
        let mut buffer = jpeg.clone();
        buffer.extend(std::iter::repeat_n(0xAB, 4096));
        let rgb = frame_to_rgb(Encoding::Mjpeg, &buffer[..jpeg.len()], 16, 8, 0).unwrap();
        assert_eq!(rgb.dimensions(), (16, 8));
        // YUYV at 640×480 from a buffer padded to a page multiple.
        let mut yuyv = vec![0u8; 640 * 480 * 2 + 4096];
        for px in yuyv[..640 * 480 * 2].chunks_exact_mut(2) {
            px.copy_from_slice(&[126, 128]);
        }
        let rgb = frame_to_rgb(Encoding::Yuyv, &yuyv[..640 * 480 * 2], 640, 480, 1280).unwrap();
        assert!(
            rgb.pixels()
                .all(|p| p.0.iter().all(|&c| c.abs_diff(128) <= 2))
        );
    }

    #[test]
    fn a_missing_device_is_an_open_error_naming_it() {
        let err = V4l2Source::open(
            Path::new("/dev/video-that-is-not-there"),
            Request {
                width: 640,
                height: 480,
                fps: 30,
                pixel_format: PixelFormat::Auto,
            },
        )
        .err()
        .unwrap();
        assert!(matches!(err, CameraError::Open { .. }));
        assert!(
            err.to_string().contains("/dev/video-that-is-not-there"),
            "{err}"
        );
    }
}
