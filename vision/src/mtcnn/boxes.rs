//! Box arithmetic of the reference MTCNN implementation, kept exact —
//! including its 1-based "+1" widths — so that its trained thresholds hold.

/// A candidate face: box, score, and the regression the next stage applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
    pub reg: [f32; 4],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlap {
    Union,
    Min,
}

/// Greedy non-maximum suppression; returns the kept candidates, best first.
pub(crate) fn nms(mut boxes: Vec<Candidate>, threshold: f32, method: Overlap) -> Vec<Candidate> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |c: &Candidate| (c.x2 - c.x1 + 1.0) * (c.y2 - c.y1 + 1.0);
    let mut kept: Vec<Candidate> = Vec::new();
    let mut suppressed = vec![false; boxes.len()];
    for i in 0..boxes.len() {
        if suppressed[i] {
            continue;
        }
        let a = boxes[i];
        kept.push(a);
        for j in i + 1..boxes.len() {
            if suppressed[j] {
                continue;
            }
            let b = &boxes[j];
            let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
            let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
            let inter = w * h;
            let o = match method {
                Overlap::Min => inter / area(&a).min(area(b)),
                Overlap::Union => inter / (area(&a) + area(b) - inter),
            };
            if o > threshold {
                suppressed[j] = true;
            }
        }
    }
    kept
}

/// Makes the box square around its centre (longer side).
pub(crate) fn square(c: &mut Candidate) {
    let (w, h) = (c.x2 - c.x1, c.y2 - c.y1);
    let l = w.max(h);
    c.x1 += w * 0.5 - l * 0.5;
    c.y1 += h * 0.5 - l * 0.5;
    c.x2 = c.x1 + l;
    c.y2 = c.y1 + l;
}

/// Applies the regression of a refinement stage (widths with +1).
pub(crate) fn regress(c: &mut Candidate) {
    let w = c.x2 - c.x1 + 1.0;
    let h = c.y2 - c.y1 + 1.0;
    c.x1 += c.reg[0] * w;
    c.y1 += c.reg[1] * h;
    c.x2 += c.reg[2] * w;
    c.y2 += c.reg[3] * h;
}

/// Truncates the corners to whole pixels, as the reference does before cropping.
pub(crate) fn fix(c: &mut Candidate) {
    c.x1 = c.x1.trunc();
    c.y1 = c.y1.trunc();
    c.x2 = c.x2.trunc();
    c.y2 = c.y2.trunc();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Candidate {
        Candidate {
            x1,
            y1,
            x2,
            y2,
            score,
            reg: [0.0; 4],
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = vec![
            cand(0.0, 0.0, 10.0, 10.0, 0.8),
            cand(1.0, 1.0, 11.0, 11.0, 0.9),
            cand(50.0, 50.0, 60.0, 60.0, 0.7),
        ];
        let kept = nms(boxes, 0.5, Overlap::Union);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        // A small box inside a big one: Min overlap suppresses it, Union does not.
        let nested = vec![
            cand(0.0, 0.0, 100.0, 100.0, 0.9),
            cand(10.0, 10.0, 20.0, 20.0, 0.8),
        ];
        assert_eq!(nms(nested.clone(), 0.7, Overlap::Min).len(), 1);
        assert_eq!(nms(nested, 0.7, Overlap::Union).len(), 2);
    }

    #[test]
    fn square_keeps_the_centre() {
        let mut c = cand(10.0, 20.0, 30.0, 60.0, 1.0);
        square(&mut c);
        assert_eq!((c.x2 - c.x1, c.y2 - c.y1), (40.0, 40.0));
        assert_eq!(((c.x1 + c.x2) / 2.0, (c.y1 + c.y2) / 2.0), (20.0, 40.0));
    }
}
