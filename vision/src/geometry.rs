//! Small 2-D geometry: points and the least-squares similarity transform.

/// A 2-D similarity transform `p ↦ [a −b; b a]·p + t` (scale, rotation,
/// translation; no reflection).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Similarity {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

impl Similarity {
    /// The least-squares similarity taking `from[i]` to `to[i]` (Umeyama,
    /// as dlib's `find_similarity_transform`).
    pub fn fit(from: &[[f64; 2]], to: &[[f64; 2]]) -> Self {
        assert_eq!(from.len(), to.len());
        let n = from.len() as f64;
        let mean = |pts: &[[f64; 2]]| {
            let (sx, sy) = pts
                .iter()
                .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
            [sx / n, sy / n]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut dot, mut cross, mut var) = (0.0, 0.0, 0.0);
        for (f, t) in from.iter().zip(to) {
            let (ax, ay) = (f[0] - mf[0], f[1] - mf[1]);
            let (bx, by) = (t[0] - mt[0], t[1] - mt[1]);
            dot += ax * bx + ay * by;
            cross += ax * by - ay * bx;
            var += ax * ax + ay * ay;
        }
        let (a, b) = if var > 0.0 {
            (dot / var, cross / var)
        } else {
            (1.0, 0.0)
        };
        Self {
            a,
            b,
            tx: mt[0] - (a * mf[0] - b * mf[1]),
            ty: mt[1] - (b * mf[0] + a * mf[1]),
        }
    }

    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    /// The transform undoing this one (`self` must not be degenerate).
    pub fn inverse(&self) -> Self {
        let n = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / n, -self.b / n);
        Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        }
    }

    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }

    pub fn angle(&self) -> f64 {
        self.b.atan2(self.a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_transform() {
        let truth = Similarity {
            a: 2.0 * 0.3f64.cos(),
            b: 2.0 * 0.3f64.sin(),
            tx: 10.0,
            ty: -4.0,
        };
        let from = [[0.0, 0.0], [10.0, 0.0], [0.0, 7.0], [5.0, 5.0], [3.0, 9.0]];
        let to: Vec<[f64; 2]> = from.iter().map(|p| truth.apply(*p)).collect();
        let fit = Similarity::fit(&from, &to);
        assert!((fit.scale() - 2.0).abs() < 1e-9);
        assert!((fit.angle() - 0.3).abs() < 1e-9);
        assert!((fit.tx - 10.0).abs() < 1e-9 && (fit.ty + 4.0).abs() < 1e-9);
        let back = fit.inverse();
        for p in from {
            let q = back.apply(fit.apply(p));
            assert!((q[0] - p[0]).abs() < 1e-9 && (q[1] - p[1]).abs() < 1e-9);
        }
    }
}
