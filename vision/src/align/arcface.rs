//! The 112×112 ArcFace chip (InsightFace's template, which SFace was
//! trained on): the similarity that best takes the five landmarks onto the
//! template, fitted image → chip as OpenCV's `FaceRecognizerSF::alignCrop`
//! does, then inverted to sample the image for each chip pixel.

use image::RgbImage;

use super::sample_chip;
use crate::detect::Face;
use crate::geometry::Similarity;

pub const ARCFACE_CHIP_SIZE: u32 = 112;

/// Left eye, right eye, nose, mouth left, mouth right, in chip pixels.
const TEMPLATE: [[f64; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

pub(super) fn align(img: &RgbImage, face: &Face) -> RgbImage {
    let from: Vec<[f64; 2]> = face
        .landmarks
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let to_chip = Similarity::fit(&from, &TEMPLATE);
    let to_image = to_chip.inverse();
    sample_chip(img, ARCFACE_CHIP_SIZE, to_image.scale(), |x, y| {
        to_image.apply([x, y])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::BBox;

    #[test]
    fn a_face_on_the_template_is_cut_where_it_stands() {
        // An image whose landmarks sit exactly on the template at 2× scale:
        // chip pixel (x, y) must come from image pixel (2x, 2y).
        let img = RgbImage::from_fn(224, 224, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let face = Face {
            bbox: BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 224.0,
                y2: 224.0,
            },
            score: 1.0,
            landmarks: TEMPLATE.map(|p| [(2.0 * p[0]) as f32, (2.0 * p[1]) as f32]),
        };
        let chip = align(&img, &face);
        assert_eq!(chip.dimensions(), (112, 112));
        // Halved once (scale 2), so pixel (x, y) averages image 2x..2x+1:
        // red and green read 2x + 0.5, 2y + 0.5.
        for (x, y) in [(10u32, 20u32), (56, 56), (100, 90)] {
            let px = chip.get_pixel(x, y);
            assert!(
                (i32::from(px[0]) - (2 * x as i32)).abs() <= 1,
                "{x},{y}: {px:?}"
            );
            assert!(
                (i32::from(px[1]) - (2 * y as i32)).abs() <= 1,
                "{x},{y}: {px:?}"
            );
        }
    }
}
