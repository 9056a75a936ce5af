//! Splits a byte stream into JPEG frames by walking JPEG markers.
//!
//! Works on an HTTP `multipart/x-mixed-replace` body (the part headers and
//! boundaries between frames are skipped) and on a raw `.mjpeg` file (frames
//! back to back) alike. Walking the segment structure, rather than
//! searching for the next `FF D9`, keeps an EXIF thumbnail's own end marker
//! from ending the frame early.

use std::io::{self, BufRead, BufReader, Read};

/// A frame larger than this is refused (a broken stream would otherwise
/// grow the buffer without bound).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

pub struct JpegSplitter<R: Read> {
    reader: BufReader<R>,
    max_frame: usize,
}

impl<R: Read> JpegSplitter<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader: BufReader::with_capacity(64 * 1024, reader),
            max_frame: DEFAULT_MAX_FRAME,
        }
    }

    pub fn with_max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    fn byte(&mut self) -> io::Result<Option<u8>> {
        let buf = self.reader.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.reader.consume(1);
        Ok(Some(b))
    }

    fn need(&mut self) -> io::Result<u8> {
        self.byte()?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ended inside a frame",
            )
        })
    }

    fn push(&self, out: &mut Vec<u8>, bytes: &[u8]) -> io::Result<()> {
        if out.len() + bytes.len() > self.max_frame {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a frame is over {} bytes", self.max_frame),
            ));
        }
        out.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete JPEG (start to end marker), or `None` at the end
    /// of the stream. Bytes between frames are skipped.
    pub fn next_jpeg(&mut self) -> io::Result<Option<Vec<u8>>> {
        // Find the start-of-image marker.
        let mut previous = 0u8;
        loop {
            match self.byte()? {
                None => return Ok(None),
                Some(0xD8) if previous == 0xFF => break,
                Some(b) => previous = b,
            }
        }
        let mut out = vec![0xFF, 0xD8];
        let mut marker = self.next_marker()?;
        loop {
            match marker {
                0xD9 => {
                    self.push(&mut out, &[0xFF, 0xD9])?;
                    return Ok(Some(out));
                }
                // Markers without a length.
                0x01 | 0xD0..=0xD7 => {
                    self.push(&mut out, &[0xFF, marker])?;
                    marker = self.next_marker()?;
                }
                _ => {
                    let (hi, lo) = (self.need()?, self.need()?);
                    let len = u16::from_be_bytes([hi, lo]) as usize;
                    if len < 2 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("a JPEG segment (marker {marker:#04X}) has length {len}"),
                        ));
                    }
                    self.push(&mut out, &[0xFF, marker, hi, lo])?;
                    let mut body = vec![0u8; len - 2];
                    self.reader.read_exact(&mut body)?;
                    self.push(&mut out, &body)?;
                    marker = if marker == 0xDA {
                        self.entropy_data(&mut out)?
                    } else {
                        self.next_marker()?
                    };
                }
            }
        }
    }

    /// Skips fill bytes up to the next marker and returns its code.
    fn next_marker(&mut self) -> io::Result<u8> {
        let mut b = self.need()?;
        if b != 0xFF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected a JPEG marker, found byte {b:#04X}"),
            ));
        }
        while b == 0xFF {
            b = self.need()?;
        }
        Ok(b)
    }

    /// Copies entropy-coded data (with its stuffed `FF 00` and restart
    /// markers) and returns the marker that ends it.
    fn entropy_data(&mut self, out: &mut Vec<u8>) -> io::Result<u8> {
        loop {
            let b = self.need()?;
            if b != 0xFF {
                self.push(out, &[b])?;
                continue;
            }
            let mut next = self.need()?;
            while next == 0xFF {
                next = self.need()?;
            }
            match next {
                0x00 | 0xD0..=0xD7 => self.push(out, &[0xFF, next])?,
                marker => return Ok(marker),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

    fn jpeg(seed: u8) -> Vec<u8> {
        let img = RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb([seed.wrapping_add(x as u8), (y * 7) as u8, seed])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut s = JpegSplitter::new(bytes);
        std::iter::from_fn(|| s.next_jpeg().unwrap()).collect()
    }

    #[test]
    fn back_to_back_frames_of_an_mjpeg_file_split_exactly() {
        let frames = [jpeg(1), jpeg(50), jpeg(200)];
        assert_eq!(split(&frames.concat()), frames);
    }

    #[test]
    fn a_multipart_http_body_yields_its_frames() {
        let frames = [jpeg(3), jpeg(4)];
        let mut body = Vec::new();
        for f in &frames {
            body.extend_from_slice(
                format!(
                    "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                    f.len()
                )
                .as_bytes(),
            );
            body.extend_from_slice(f);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--frame--\r\n");
        assert_eq!(split(&body), frames);
    }

    #[test]
    fn an_exif_thumbnail_does_not_end_the_frame() {
        // An APP1 segment holding a whole JPEG (a thumbnail) with its own
        // end marker, inserted after SOI.
        let thumb = jpeg(9);
        let main = jpeg(10);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((thumb.len() + 8) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&thumb);
        let mut framed = main[..2].to_vec();
        framed.extend_from_slice(&app1);
        framed.extend_from_slice(&main[2..]);
        let out = split(&framed);
        assert_eq!(out, vec![framed.clone()]);
        assert!(image::load_from_memory(&out[0]).is_ok());
    }

    #[test]
    fn a_stream_cut_inside_a_frame_is_an_error() {
        let f = jpeg(5);
        let mut s = JpegSplitter::new(&f[..f.len() - 10]);
        let err = s.next_jpeg().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn an_oversized_frame_is_refused() {
        let f = jpeg(6);
        let mut s = JpegSplitter::new(&f[..]).with_max_frame(100);
        assert_eq!(
            s.next_jpeg().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
