//! Full-resolution frames as the decoder gives them (planar 4:2:0, BT.601
//! limited range), converted to RGB only where it is needed: a small copy
//! for detection and tracking, and the region around each face that is
//! embedded. A 1080p frame is 3.1 MB here instead of 6.2 MB of RGB, and
//! most of its pixels are never converted.

use image::RgbImage;

/// One I420 frame: the Y plane (`width × height`), then U and V
/// (`⌈width/2⌉ × ⌈height/2⌉` each).
#[derive(Debug, Clone)]
pub struct Yuv420 {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

/// A region of a frame, in its pixels (`x0..x1`, `y0..y1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Yuv420 {
    /// The bytes one frame of this size takes.
    pub fn frame_len(width: u32, height: u32) -> usize {
        let (cw, ch) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
        width as usize * height as usize + 2 * cw * ch
    }

    /// `None` when `data` is not exactly one frame of this size.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (width > 0 && height > 0 && data.len() == Self::frame_len(width, height)).then_some(Self {
            width,
            height,
            data,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn planes(&self) -> (&[u8], &[u8], &[u8], usize) {
        let y_len = self.width as usize * self.height as usize;
        let cw = self.width.div_ceil(2) as usize;
        let c_len = cw * self.height.div_ceil(2) as usize;
        let (y, rest) = self.data.split_at(y_len);
        let (u, v) = rest.split_at(c_len);
        (y, u, v, cw)
    }

    /// The whole frame shrunk to `out_w × out_h` RGB in one pass: each
    /// output pixel averages the luma of its footprint (so small faces keep
    /// their detail as an area average, not a point sample), chroma from the
    /// footprint's centre.
    pub fn to_rgb_scaled(&self, out_w: u32, out_h: u32) -> RgbImage {
        let (out_w, out_h) = (out_w.clamp(1, self.width), out_h.clamp(1, self.height));
        if out_w * 2 == self.width && out_h * 2 == self.height {
            return self.half();
        }
        let (yp, up, vp, cw) = self.planes();
        let w = self.width as usize;
        let xs: Vec<(usize, usize)> = (0..out_w as usize)
            .map(|x| span(x, out_w as usize, self.width as usize))
            .collect();
        let mut out = RgbImage::new(out_w, out_h);
        let buf: &mut [u8] = &mut out;
        for oy in 0..out_h as usize {
            let (y0, y1) = span(oy, out_h as usize, self.height as usize);
            let cy = ((y0 + y1 - 1) / 2) / 2;
            for (ox, &(x0, x1)) in xs.iter().enumerate() {
                let mut sum = 0u32;
                for row in y0..y1 {
                    let r = &yp[row * w + x0..row * w + x1];
                    sum += r.iter().map(|&p| p as u32).sum::<u32>();
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                let luma = ((sum + n / 2) / n) as u8;
                let cx = ((x0 + x1 - 1) / 2) / 2;
                let rgb = to_rgb(luma, up[cy * cw + cx], vp[cy * cw + cx]);
                buf[(oy * out_w as usize + ox) * 3..][..3].copy_from_slice(&rgb);
            }
        }
        out
    }

    /// Exactly half size, the common case (`min_face = 40`): each output
    /// pixel is a 2×2 luma average and its chroma sample is the plane's
    /// own, so no footprint is searched.
    fn half(&self) -> RgbImage {
        let (yp, up, vp, cw) = self.planes();
        let (w, ow, oh) = (
            self.width as usize,
            self.width as usize / 2,
            self.height as usize / 2,
        );
        let mut out = RgbImage::new(ow as u32, oh as u32);
        let buf: &mut [u8] = &mut out;
        for (oy, row) in buf.chunks_exact_mut(ow * 3).enumerate() {
            let (r0, r1) = (
                &yp[2 * oy * w..][..2 * ow],
                &yp[(2 * oy + 1) * w..][..2 * ow],
            );
            let (u, v) = (&up[oy * cw..][..ow], &vp[oy * cw..][..ow]);
            for (ox, px) in row.chunks_exact_mut(3).enumerate() {
                let sum = r0[2 * ox] as u32
                    + r0[2 * ox + 1] as u32
                    + r1[2 * ox] as u32
                    + r1[2 * ox + 1] as u32;
                px.copy_from_slice(&to_rgb(((sum + 2) / 4) as u8, u[ox], v[ox]));
            }
        }
        out
    }

    /// `region` (clamped to the frame) at full resolution, as RGB.
    pub fn crop_rgb(&self, region: Region) -> RgbImage {
        let x0 = region.x0.min(self.width - 1);
        let y0 = region.y0.min(self.height - 1);
        let x1 = region.x1.clamp(x0 + 1, self.width);
        let y1 = region.y1.clamp(y0 + 1, self.height);
        let (yp, up, vp, cw) = self.planes();
        let w = self.width as usize;
        let mut out = RgbImage::new(x1 - x0, y1 - y0);
        let out_w = (x1 - x0) as usize;
        let buf: &mut [u8] = &mut out;
        for (oy, y) in (y0 as usize..y1 as usize).enumerate() {
            let row = &yp[y * w..];
            let crow = (y / 2) * cw;
            for (ox, x) in (x0 as usize..x1 as usize).enumerate() {
                let rgb = to_rgb(row[x], up[crow + x / 2], vp[crow + x / 2]);
                buf[(oy * out_w + ox) * 3..][..3].copy_from_slice(&rgb);
            }
        }
        out
    }
}

/// The source pixels `[a, b)` that output pixel `i` of `n` covers in `len`.
fn span(i: usize, n: usize, len: usize) -> (usize, usize) {
    let a = i * len / n;
    let b = ((i + 1) * len / n).max(a + 1).min(len);
    (a, b)
}

/// BT.601 limited range, in fixed point (the decoders' default for SD and
/// for most camera streams that do not say otherwise).
fn to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = (y as i32 - 16).max(0) * 298;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose luma is a horizontal ramp and whose chroma is neutral,
    /// except a saturated red square at (8..16, 8..16).
    fn frame(w: u32, h: u32) -> Yuv420 {
        let mut data = vec![0u8; Yuv420::frame_len(w, h)];
        let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
        for y in 0..h as usize {
            for x in 0..w as usize {
                data[y * w as usize + x] = (16 + x * 200 / w as usize) as u8;
            }
        }
        let y_len = (w * h) as usize;
        for i in 0..cw * ch {
            data[y_len + i] = 128;
            data[y_len + cw * ch + i] = 128;
        }
        for cy in 4..8 {
            for cx in 4..8 {
                data[y_len + cy * cw + cx] = 90; // U
                data[y_len + cw * ch + cy * cw + cx] = 240; // V
            }
        }
        Yuv420::new(w, h, data).unwrap()
    }

    #[test]
    fn frames_of_the_wrong_size_are_refused() {
        assert!(Yuv420::new(4, 4, vec![0; 23]).is_none());
        assert!(Yuv420::new(5, 3, vec![0; 15 + 2 * 3 * 2]).is_some());
        assert!(Yuv420::new(0, 4, vec![]).is_none());
    }

    #[test]
    fn a_crop_is_the_same_pixels_as_the_whole_frame_converted() {
        let f = frame(40, 30);
        let whole = f.crop_rgb(Region {
            x0: 0,
            y0: 0,
            x1: 40,
            y1: 30,
        });
        let part = f.crop_rgb(Region {
            x0: 6,
            y0: 5,
            x1: 20,
            y1: 25,
        });
        assert_eq!(part.dimensions(), (14, 20));
        for (x, y, p) in part.enumerate_pixels() {
            assert_eq!(p, whole.get_pixel(x + 6, y + 5));
        }
        // Neutral chroma is grey; the square is red.
        let grey = whole.get_pixel(30, 25);
        assert!(
            grey[0].abs_diff(grey[1]) <= 1 && grey[1].abs_diff(grey[2]) <= 1,
            "{grey:?}"
        );
        let red = whole.get_pixel(10, 10);
        assert!(
            red[0] > red[1].saturating_add(80) && red[0] > red[2],
            "{red:?}"
        );
        // Out-of-frame regions are clamped, never a panic.
        assert_eq!(
            f.crop_rgb(Region {
                x0: 35,
                y0: 28,
                x1: 90,
                y1: 90
            })
            .dimensions(),
            (5, 2)
        );
    }

    #[test]
    fn the_half_size_fast_path_matches_the_general_one() {
        let f = frame(40, 30);
        let fast = f.to_rgb_scaled(20, 15);
        // The general path, asked for the same size through a width it
        // cannot take the fast path for, then compared where both exist.
        let general = f.to_rgb_scaled(20, 14);
        for x in 0..20 {
            let (a, b) = (fast.get_pixel(x, 0), general.get_pixel(x, 0));
            assert!(
                a.0.iter().zip(b.0).all(|(p, q)| p.abs_diff(q) <= 2),
                "{x}: {a:?} {b:?}"
            );
        }
        assert_eq!(fast.dimensions(), (20, 15));
    }

    #[test]
    fn shrinking_averages_luma_over_each_footprint() {
        let f = frame(40, 30);
        let small = f.to_rgb_scaled(10, 10);
        assert_eq!(small.dimensions(), (10, 10));
        let full = f.crop_rgb(Region {
            x0: 0,
            y0: 0,
            x1: 40,
            y1: 30,
        });
        // Output pixel (2, 9) covers x 8..12, y 27..30 of a neutral area:
        // its grey is the mean of those source greys.
        let mean: u32 = (8..12)
            .map(|x| full.get_pixel(x, 28)[1] as u32)
            .sum::<u32>()
            / 4;
        assert!(small.get_pixel(2, 9)[1].abs_diff(mean as u8) <= 2);
        // The ramp still rises left to right.
        assert!(small.get_pixel(9, 9)[1] > small.get_pixel(0, 9)[1] + 100);
    }
}
