//! Separable resampling of 3-channel images held as `f32` HWC buffers.
//!
//! Shrinking averages areas (OpenCV's INTER_AREA, as the reference
//! implementations resize); enlarging interpolates bilinearly.

/// A row-major, 3-channel `f32` image.
#[derive(Debug, Clone)]
pub(crate) struct Planar {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Planar {
    pub fn zeros(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0.0; width * height * 3],
        }
    }

    #[inline]
    pub fn px(&self, x: usize, y: usize) -> &[f32] {
        let i = (y * self.width + x) * 3;
        &self.data[i..i + 3]
    }
}

/// For each output index along one axis, the input indices and weights.
fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            if scale > 1.0 {
                let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
                let mut w = Vec::with_capacity(scale.ceil() as usize + 1);
                let mut i = start.floor() as usize;
                while (i as f64) < end && i < src {
                    let overlap = (end.min(i as f64 + 1.0) - start.max(i as f64)).max(0.0);
                    if overlap > 1e-9 {
                        w.push((i, (overlap / scale) as f32));
                    }
                    i += 1;
                }
                w
            } else {
                let pos = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f64);
                let i0 = pos.floor() as usize;
                let i1 = (i0 + 1).min(src - 1);
                let f = (pos - i0 as f64) as f32;
                if i1 == i0 || f == 0.0 {
                    vec![(i0, 1.0)]
                } else {
                    vec![(i0, 1.0 - f), (i1, f)]
                }
            }
        })
        .collect()
}

/// Resizes `src` to `dw × dh`.
#[cfg(test)]
pub(crate) fn resize(src: &Planar, dw: usize, dh: usize) -> Planar {
    resize_raw(&src.data, src.width, src.height, dw, dh)
}

/// Resizes an 8-bit RGB image straight into `f32`, without a full-size copy.
pub(crate) fn resize_rgb8(src: &image::RgbImage, dw: usize, dh: usize) -> Planar {
    resize_raw(
        src.as_raw(),
        src.width() as usize,
        src.height() as usize,
        dw,
        dh,
    )
}

fn resize_raw<T: Copy + Into<f32>>(
    data: &[T],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
) -> Planar {
    assert!(sw > 0 && sh > 0 && dw > 0 && dh > 0);
    let wx = axis_weights(sw, dw);
    let wy = axis_weights(sh, dh);
    // Horizontal pass: sh × dw.
    let mut tmp = vec![0.0f32; sh * dw * 3];
    for y in 0..sh {
        let row = &data[y * sw * 3..(y + 1) * sw * 3];
        let out = &mut tmp[y * dw * 3..(y + 1) * dw * 3];
        for (x, weights) in wx.iter().enumerate() {
            let (mut r, mut g, mut b) = (0.0, 0.0, 0.0);
            for &(i, w) in weights {
                r += row[i * 3].into() * w;
                g += row[i * 3 + 1].into() * w;
                b += row[i * 3 + 2].into() * w;
            }
            out[x * 3] = r;
            out[x * 3 + 1] = g;
            out[x * 3 + 2] = b;
        }
    }
    // Vertical pass.
    let mut out = Planar::zeros(dw, dh);
    let stride = dw * 3;
    for (y, weights) in wy.iter().enumerate() {
        let dst = &mut out.data[y * stride..(y + 1) * stride];
        for &(i, w) in weights {
            let src_row = &tmp[i * stride..(i + 1) * stride];
            for (d, s) in dst.iter_mut().zip(src_row) {
                *d += s * w;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_of_a_checkerboard_is_grey() {
        let mut src = Planar::zeros(8, 8);
        for y in 0..8 {
            for x in 0..8 {
                let v = if (x + y) % 2 == 0 { 255.0 } else { 0.0 };
                src.data[(y * 8 + x) * 3..(y * 8 + x) * 3 + 3].fill(v);
            }
        }
        let out = resize(&src, 4, 4);
        assert!(out.data.iter().all(|v| (v - 127.5).abs() < 1e-3));
        let odd = resize(&src, 3, 5);
        assert!(odd.data.iter().all(|v| (0.0..=255.0).contains(v)));
    }

    #[test]
    fn enlarging_keeps_constant_images_constant() {
        let mut src = Planar::zeros(3, 2);
        src.data.fill(42.0);
        let out = resize(&src, 24, 24);
        assert!(out.data.iter().all(|v| (v - 42.0).abs() < 1e-4));
    }
}
