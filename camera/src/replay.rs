//! Replays a folder of images (in name order) or an `.mjpeg` file at a set
//! frame rate: demos, tests and benchmarks run the same pipeline a camera
//! feeds.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::FrameSource;
use crate::convert::{decode_mjpeg, decode_still};
use crate::error::{CameraError, CameraResult};
use crate::jpeg_stream::JpegSplitter;

const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "ppm"];

enum Frames {
    Folder { files: Vec<PathBuf>, next: usize },
    Mjpeg(JpegSplitter<File>),
}

pub struct ReplaySource {
    path: PathBuf,
    frames: Frames,
    interval: Duration,
    repeat: bool,
    next_due: Option<Instant>,
}

impl ReplaySource {
    pub fn open(path: &Path, fps: u32, repeat: bool) -> CameraResult<Self> {
        let open_err = |reason: String| CameraError::Open {
            source_name: path.display().to_string(),
            reason,
        };
        if fps == 0 || fps > 240 {
            return Err(open_err(format!("frame rate {fps} is outside 1–240")));
        }
        let frames = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| open_err(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            if files.is_empty() {
                return Err(open_err("the folder holds no images".into()));
            }
            files.sort();
            Frames::Folder { files, next: 0 }
        } else {
            Frames::Mjpeg(JpegSplitter::new(
                File::open(path).map_err(|e| open_err(e.to_string()))?,
            ))
        };
        Ok(Self {
            path: path.to_path_buf(),
            frames,
            interval: Duration::from_secs_f64(1.0 / fps as f64),
            repeat,
            next_due: None,
        })
    }

    fn ended(&self) -> CameraError {
        CameraError::Ended(self.path.display().to_string())
    }

    fn next_bytes(&mut self) -> CameraResult<(Vec<u8>, bool)> {
        let path = self.path.clone();
        match &mut self.frames {
            Frames::Folder { files, next } => {
                if *next == files.len() {
                    if !self.repeat {
                        return Err(self.ended());
                    }
                    *next = 0;
                }
                let file = &files[*next];
                *next += 1;
                let bytes = std::fs::read(file).map_err(|e| CameraError::Disconnected {
                    source_name: file.display().to_string(),
                    reason: e.to_string(),
                })?;
                Ok((bytes, false))
            }
            Frames::Mjpeg(splitter) => {
                let read_err = |e: std::io::Error| CameraError::Disconnected {
                    source_name: path.display().to_string(),
                    reason: e.to_string(),
                };
                if let Some(jpeg) = splitter.next_jpeg().map_err(read_err)? {
                    return Ok((jpeg, true));
                }
                if !self.repeat {
                    return Err(self.ended());
                }
                *splitter = JpegSplitter::new(File::open(&path).map_err(read_err)?);
                match splitter.next_jpeg().map_err(read_err)? {
                    Some(jpeg) => Ok((jpeg, true)),
                    None => Err(self.ended()),
                }
            }
        }
    }
}

impl FrameSource for ReplaySource {
    fn describe(&self) -> String {
        format!(
            "replay of {} at {:.0} fps",
            self.path.display(),
            1.0 / self.interval.as_secs_f64()
        )
    }

    fn next_frame(&mut self) -> CameraResult<RgbImage> {
        // Pace against a schedule, not by sleeping a fixed interval, so the
        // decode time does not slow the rate down.
        let now = Instant::now();
        let due = self.next_due.unwrap_or(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        // After a long pause (the consumer stopped reading) restart the
        // schedule instead of bursting to catch up.
        self.next_due = Some(due.max(Instant::now() - self.interval) + self.interval);
        let (bytes, mjpeg) = self.next_bytes()?;
        if mjpeg {
            decode_mjpeg(&bytes)
        } else {
            decode_still(&bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat;

    fn write_frames(dir: &Path, n: u8) {
        for i in 0..n {
            let img = RgbImage::from_pixel(32, 24, image::Rgb([i * 20, 0, 0]));
            img.save_with_format(dir.join(format!("f{i:03}.png")), ImageFormat::Png)
                .unwrap();
        }
    }

    #[test]
    fn a_folder_replays_in_name_order_and_ends() {
        let dir = tempfile::tempdir().unwrap();
        write_frames(dir.path(), 3);
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let mut src = ReplaySource::open(dir.path(), 200, false).unwrap();
        let reds: Vec<u8> = (0..3)
            .map(|_| src.next_frame().unwrap().get_pixel(0, 0).0[0])
            .collect();
        assert_eq!(reds, vec![0, 20, 40]);
        assert!(matches!(src.next_frame(), Err(CameraError::Ended(_))));
    }

    #[test]
    fn a_repeating_replay_starts_again_and_keeps_its_rate() {
        let dir = tempfile::tempdir().unwrap();
        write_frames(dir.path(), 2);
        let mut src = ReplaySource::open(dir.path(), 50, true).unwrap();
        let started = Instant::now();
        let reds: Vec<u8> = (0..5)
            .map(|_| src.next_frame().unwrap().get_pixel(0, 0).0[0])
            .collect();
        assert_eq!(reds, vec![0, 20, 0, 20, 0]);
        // Five frames at 50 fps: the first at once, then four 20 ms apart.
        assert!(started.elapsed() >= Duration::from_millis(80));
    }

    #[test]
    fn an_mjpeg_file_replays_its_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = Vec::new();
        for i in 0..4u8 {
            let img = RgbImage::from_pixel(32, 24, image::Rgb([0, i * 60, 0]));
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
            file.extend_from_slice(&out.into_inner());
        }
        let path = dir.path().join("clip.mjpeg");
        std::fs::write(&path, &file).unwrap();
        let mut src = ReplaySource::open(&path, 240, false).unwrap();
        for i in 0..4u8 {
            let g = src.next_frame().unwrap().get_pixel(5, 5).0[1];
            assert!(g.abs_diff(i * 60) <= 4, "frame {i}: {g}");
        }
        assert!(matches!(src.next_frame(), Err(CameraError::Ended(_))));
    }

    #[test]
    fn bad_replays_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = ReplaySource::open(dir.path(), 10, true).err().unwrap();
        assert!(err.to_string().contains("no images"), "{err}");
        let err = ReplaySource::open(&dir.path().join("missing.mjpeg"), 10, true)
            .err()
            .unwrap();
        assert!(err.to_string().contains("missing.mjpeg"), "{err}");
        write_frames(dir.path(), 1);
        let err = ReplaySource::open(dir.path(), 0, true).err().unwrap();
        assert!(err.to_string().contains("1–240"), "{err}");
    }
}
