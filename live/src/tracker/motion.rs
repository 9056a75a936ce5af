//! Constant-velocity motion of a track's box, so a box keeps moving
//! between detections (`detect_every > 1`) and a detection is matched to
//! where the face should be now, not where it was.

use std::time::Duration;

use facerec_vision::BBox;

/// How far ahead a box is extrapolated at most: beyond this a guess is
/// worse than standing still.
const MAX_HORIZON: Duration = Duration::from_millis(500);

/// Velocity of each box edge, in pixels per second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Motion {
    velocity: Option<[f32; 4]>,
}

fn edges(b: &BBox) -> [f32; 4] {
    [b.x1, b.y1, b.x2, b.y2]
}

impl Motion {
    /// Learns from a box moving `from` → `to` in `dt`. Smoothed, because a
    /// detector's box jitters by a few pixels frame to frame.
    pub fn observe(&mut self, from: &BBox, to: &BBox, dt: Duration) {
        let secs = dt.as_secs_f32();
        if secs <= 0.0 {
            return;
        }
        let (a, b) = (edges(from), edges(to));
        let instant: [f32; 4] = std::array::from_fn(|i| (b[i] - a[i]) / secs);
        self.velocity = Some(match self.velocity {
            None => instant,
            Some(v) => std::array::from_fn(|i| 0.5 * v[i] + 0.5 * instant[i]),
        });
    }

    /// Where `b` should be `dt` later.
    pub fn predict(&self, b: &BBox, dt: Duration) -> BBox {
        let Some(v) = self.velocity else { return *b };
        let secs = dt.min(MAX_HORIZON).as_secs_f32();
        let e = edges(b);
        let p: [f32; 4] = std::array::from_fn(|i| e[i] + v[i] * secs);
        BBox {
            x1: p[0],
            y1: p[1],
            x2: p[2].max(p[0] + 1.0),
            y2: p[3].max(p[1] + 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(x: f32) -> BBox {
        BBox {
            x1: x,
            y1: 50.0,
            x2: x + 60.0,
            y2: 130.0,
        }
    }

    #[test]
    fn a_box_moving_steadily_is_predicted_ahead_and_capped() {
        let mut m = Motion::default();
        assert_eq!(m.predict(&bbox(0.0), Duration::from_millis(100)), bbox(0.0));
        // 30 px per 100 ms = 300 px/s.
        m.observe(&bbox(0.0), &bbox(30.0), Duration::from_millis(100));
        m.observe(&bbox(30.0), &bbox(60.0), Duration::from_millis(100));
        let p = m.predict(&bbox(60.0), Duration::from_millis(100));
        assert!((p.x1 - 90.0).abs() < 1e-3, "{p:?}");
        let far = m.predict(&bbox(60.0), Duration::from_secs(10));
        assert!((far.x1 - 210.0).abs() < 1e-3, "capped at 0.5 s: {far:?}");
    }
}
