//! Faces cut from the full-resolution frame. A camera is analysed (scene
//! cuts, detection, tracking, looks) on a copy sized for the smallest face
//! it wants; a face that is gated and embedded is cut from the source's
//! own pixels, so a 1080p or 4K camera gives its faces every pixel it has
//! without the whole frame ever being converted at full size.

use std::sync::Arc;

use facerec_camera::{Frame, Region};
use facerec_vision::{BBox, Face, RgbImage};

/// How far around a face box the cut reaches, as a share of the box's
/// side: the aligners' chips reach about 25–40% past the box, and a tilted
/// face needs more.
const MARGIN: f32 = 0.6;

/// The picture to gate and embed `face` from, and the face in its
/// coordinates: the face's region of the full frame when there is one,
/// else the analysis image itself.
pub fn face_source(frame: &Frame, face: &Face) -> (Arc<RgbImage>, Face) {
    let Some(full) = &frame.full else {
        return (frame.image.clone(), face.clone());
    };
    let s = frame.source_scale();
    let b = &face.bbox;
    let side = b.width().max(b.height()) * s;
    let pad = side * MARGIN;
    let clamp = |v: f32, max: u32| v.max(0.0).min(max as f32) as u32;
    let region = Region {
        x0: clamp(b.x1 * s - pad, full.width()),
        y0: clamp(b.y1 * s - pad, full.height()),
        x1: clamp(b.x2 * s + pad, full.width()),
        y1: clamp(b.y2 * s + pad, full.height()),
    };
    let cut = full.crop_rgb(region);
    let (ox, oy) = (region.x0 as f32, region.y0 as f32);
    let mapped = Face {
        bbox: BBox {
            x1: b.x1 * s - ox,
            y1: b.y1 * s - oy,
            x2: b.x2 * s - ox,
            y2: b.y2 * s - oy,
        },
        score: face.score,
        landmarks: face.landmarks.map(|[x, y]| [x * s - ox, y * s - oy]),
    };
    (Arc::new(cut), mapped)
}

/// A box of the analysis image in the source's pixels (what events report).
pub fn to_source(frame: &Frame, b: BBox) -> BBox {
    let s = frame.source_scale();
    BBox {
        x1: b.x1 * s,
        y1: b.y1 * s,
        x2: b.x2 * s,
        y2: b.y2 * s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Instant, SystemTime};

    use facerec_camera::Yuv420;

    #[test]
    fn a_face_is_cut_at_full_resolution_with_its_landmarks_moved_along() {
        // A 400×200 source analysed at 100×50 (scale 4).
        let full = Yuv420::new(400, 200, vec![128; Yuv420::frame_len(400, 200)]).unwrap();
        let frame = Frame {
            seq: 1,
            image: Arc::new(RgbImage::new(100, 50)),
            full: Some(Arc::new(full)),
            captured: Instant::now(),
            captured_at: SystemTime::now(),
        };
        assert_eq!(frame.source_scale(), 4.0);
        let face = Face {
            bbox: BBox {
                x1: 40.0,
                y1: 20.0,
                x2: 50.0,
                y2: 30.0,
            },
            score: 0.9,
            landmarks: [
                [43.0, 23.0],
                [47.0, 23.0],
                [45.0, 25.0],
                [43.0, 28.0],
                [47.0, 28.0],
            ],
        };
        let (cut, mapped) = face_source(&frame, &face);
        // The box is 40 source pixels; 24 around it on each side.
        assert_eq!(cut.dimensions(), (88, 88));
        assert_eq!(
            mapped.bbox,
            BBox {
                x1: 24.0,
                y1: 24.0,
                x2: 64.0,
                y2: 64.0
            }
        );
        assert_eq!(mapped.landmarks[2], [180.0 - 136.0, 100.0 - 56.0]);
        assert_eq!(to_source(&frame, face.bbox).x2, 200.0);
        // Without a full frame, the analysis image is the source.
        let plain = Frame {
            full: None,
            ..frame
        };
        let (img, same) = face_source(&plain, &face);
        assert_eq!((img.dimensions(), same), ((100, 50), face));
    }
}
