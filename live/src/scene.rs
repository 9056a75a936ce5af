//! Scene cuts: the whole picture changing between two analysed frames (an
//! edit in a broadcast, a camera switched). Tracks cannot continue across
//! a cut — the face in a box afterwards is someone else's until shown
//! otherwise — so the pipeline ends them all.
//!
//! The measure is the mean absolute difference of two small colour
//! thumbnails, in [0, 1]: a person moving, even close to the camera,
//! changes part of the picture; a cut changes all of it.

use facerec_vision::RgbImage;

const COLS: usize = 32;
const ROWS: usize = 24;
/// Points averaged per thumbnail cell, per axis: enough to smooth texture
/// and sensor noise, few enough to cost well under a millisecond.
const POINTS: usize = 6;

type Thumbnail = Vec<[f32; 3]>;

pub struct SceneCuts {
    /// Change at and above which two frames are different scenes; 0 turns
    /// detection off.
    threshold: f32,
    previous: Option<Thumbnail>,
}

impl SceneCuts {
    pub fn new(threshold: f32) -> Self {
        Self {
            threshold,
            previous: None,
        }
    }

    /// Whether `image` starts a new scene (never the first frame).
    pub fn is_cut(&mut self, image: &RgbImage) -> bool {
        if self.threshold <= 0.0 {
            return false;
        }
        let now = thumbnail(image);
        let cut = self
            .previous
            .as_ref()
            .is_some_and(|p| change(p, &now) >= self.threshold);
        self.previous = Some(now);
        cut
    }
}

fn thumbnail(image: &RgbImage) -> Thumbnail {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut cells = vec![[0.0f32; 3]; COLS * ROWS];
    if w == 0 || h == 0 {
        return cells;
    }
    for (i, cell) in cells.iter_mut().enumerate() {
        let (cx, cy) = (i % COLS, i / COLS);
        for py in 0..POINTS {
            for px in 0..POINTS {
                let x = ((cx * POINTS + px) * 2 + 1) * w / (2 * COLS * POINTS);
                let y = ((cy * POINTS + py) * 2 + 1) * h / (2 * ROWS * POINTS);
                let p = image.get_pixel(x.min(w - 1) as u32, y.min(h - 1) as u32).0;
                for c in 0..3 {
                    cell[c] += p[c] as f32;
                }
            }
        }
        let n = (POINTS * POINTS) as f32 * 255.0;
        cell.iter_mut().for_each(|v| *v /= n);
    }
    cells
}

/// Mean absolute difference of two thumbnails, in [0, 1].
fn change(a: &Thumbnail, b: &Thumbnail) -> f32 {
    let total: f32 = a
        .iter()
        .zip(b)
        .map(|(p, q)| (0..3).map(|c| (p[c] - q[c]).abs()).sum::<f32>())
        .sum();
    total / (3 * a.len()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(shift: u32, tint: u8) -> RgbImage {
        RgbImage::from_fn(320, 240, |x, y| {
            image::Rgb([((x + shift) % 256) as u8, (y % 256) as u8, tint])
        })
    }

    #[test]
    fn a_small_movement_is_no_cut_and_a_new_picture_is() {
        let mut cuts = SceneCuts::new(0.15);
        assert!(!cuts.is_cut(&gradient(0, 40)), "the first frame");
        assert!(!cuts.is_cut(&gradient(3, 40)), "a 3 px pan");
        // A dark rectangle (someone walking in front) over a sixth of it.
        let mut occluded = gradient(3, 40);
        for y in 0..80 {
            for x in 0..160 {
                occluded.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        assert!(!cuts.is_cut(&occluded));
        let other = RgbImage::from_fn(320, 240, |x, y| {
            image::Rgb([(255 - x % 256) as u8, 200, (y / 2) as u8])
        });
        assert!(cuts.is_cut(&other));
        assert!(!SceneCuts::new(0.0).is_cut(&gradient(0, 0)));
    }
}
