//! A face's look: a tiny colour patch of its box. Between two detections
//! of one track the look barely changes (the same face, a little moved or
//! turned); when another face takes the box — a cut between two shots of
//! a studio, someone walking in front — it changes at once, long before
//! the next scheduled embedding would notice. A changed look does not
//! decide anything: it has the track's face embedded and compared again
//! now, and hides the track's name until that is done.
//!
//! Measured with `facerecd eval video` (docs/evaluation.md): the same face
//! between consecutive frames of real clips changes by 0.01–0.09 (up to
//! 0.2 among a walking crowd); a cut to another face at the same place by
//! 0.14–0.28.

use facerec_vision::{BBox, RgbImage};

const SIDE: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Look(Vec<[f32; 3]>);

impl Look {
    /// The patch of `bbox` in `image` (clipped to the image); None when
    /// too little of the box is in the picture.
    pub fn of(image: &RgbImage, bbox: &BBox) -> Option<Self> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let (x1, y1) = (bbox.x1.max(0.0), bbox.y1.max(0.0));
        let (x2, y2) = (bbox.x2.min(w - 1.0), bbox.y2.min(h - 1.0));
        if x2 - x1 < 4.0 || y2 - y1 < 4.0 {
            return None;
        }
        let (cw, ch) = ((x2 - x1) / SIDE as f32, (y2 - y1) / SIDE as f32);
        let mut cells = Vec::with_capacity(SIDE * SIDE);
        for cy in 0..SIDE {
            for cx in 0..SIDE {
                // 2×2 points per cell: enough against noise, cheap.
                let mut sum = [0.0f32; 3];
                for (fx, fy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    let x = x1 + (cx as f32 + fx) * cw;
                    let y = y1 + (cy as f32 + fy) * ch;
                    let p = image.get_pixel(x as u32, y as u32).0;
                    for c in 0..3 {
                        sum[c] += p[c] as f32;
                    }
                }
                cells.push(sum.map(|v| v / (4.0 * 255.0)));
            }
        }
        Some(Self(cells))
    }

    /// Mean absolute colour difference to `other`, in [0, 1].
    pub fn change(&self, other: &Look) -> f32 {
        let total: f32 = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(p, q)| (0..3).map(|c| (p[c] - q[c]).abs()).sum::<f32>())
            .sum();
        total / (3 * self.0.len().max(1)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_patch_moved_a_little_looks_the_same_and_another_does_not() {
        let image = RgbImage::from_fn(200, 200, |x, y| {
            image::Rgb([(x * 2 % 256) as u8, (y * 3 % 256) as u8, 90])
        });
        let b = |x: f32| BBox {
            x1: x,
            y1: 20.0,
            x2: x + 60.0,
            y2: 90.0,
        };
        let a = Look::of(&image, &b(20.0)).unwrap();
        assert!(a.change(&Look::of(&image, &b(21.0)).unwrap()) < 0.02);
        let other = RgbImage::from_pixel(200, 200, image::Rgb([200, 40, 40]));
        assert!(a.change(&Look::of(&other, &b(20.0)).unwrap()) > 0.2);
        assert!(Look::of(&image, &b(198.0)).is_none(), "off the picture");
    }
}
