//! MTCNN (P-Net → R-Net → O-Net) on tract.
//!
//! Contracts (models/README.md): inputs are `[N, W, H, 3]` — channels last
//! *and width before height* — with pixels `(v − 127.5) / 128`; P-Net is
//! fully convolutional (stride 2, 12-pixel cells) and runs on an image
//! pyramid; R-Net (24×24) and O-Net (48×48) refine square crops; O-Net also
//! gives the five landmarks.

mod boxes;
mod net;
mod rewrite;

use std::sync::atomic::{AtomicUsize, Ordering};

use boxes::{Candidate, Overlap, fix, nms, regress, square};
use image::RgbImage;
use net::Net;
use rayon::prelude::*;

use crate::detect::{BBox, Detector, DetectorConfig, Face};
use crate::error::{VisionError, VisionResult};
use crate::models::{ModelFiles, ONET, PNET, RNET};
use crate::resize::{Planar, resize, resize_rgb8, resize_window};

pub struct MtcnnDetector {
    pnet: Net,
    rnet: Net,
    onet: Net,
    /// Detections running now, on any thread.
    in_flight: AtomicUsize,
}

/// Counts a detection as running until dropped.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `f` over `items`, results in item order: spread over the rayon pool when
/// `parallel`, else on the calling thread.
fn map_in_order<T: Sync, R: Send>(
    parallel: bool,
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    if parallel {
        items.par_iter().map(f).collect()
    } else {
        items.iter().map(f).collect()
    }
}

/// P-Net tile size (width, height); even, so tiles start on the stride.
const PNET_TILE_W: usize = 320;
const PNET_TILE_H: usize = 256;

fn normalise(v: f32) -> f32 {
    (v - 127.5) * 0.0078125
}

/// The face class's softmax probability from P-Net's two logits:
/// `e^face / (e^background + e^face)`, written so it cannot overflow into NaN.
fn face_probability(background: f32, face: f32) -> f32 {
    1.0 / (1.0 + (background - face).exp())
}

/// HWC pixels → the width-major `[W, H, 3]` layout MTCNN takes, normalised.
fn to_input(p: &Planar) -> Vec<f32> {
    let mut out = vec![0.0f32; p.width * p.height * 3];
    for y in 0..p.height {
        for x in 0..p.width {
            let src = p.px(x, y);
            let dst = (x * p.height + y) * 3;
            out[dst] = normalise(src[0]);
            out[dst + 1] = normalise(src[1]);
            out[dst + 2] = normalise(src[2]);
        }
    }
    out
}

impl MtcnnDetector {
    pub fn load(files: &ModelFiles) -> VisionResult<Self> {
        Ok(Self {
            // P-Net's logits (`conv2d_3`, channel-major `[1, 2, W', H']`),
            // not its softmax: tract's softmax over a two-wide axis cost 14%
            // of P-Net, and `face_probability` is the same function.
            pnet: Net::load("pnet", &files.read(PNET)?, &["conv2d_4", "conv2d_3"])?,
            rnet: Net::load("rnet", &files.read(RNET)?, &["dense_2", "softmax_1"])?,
            onet: Net::load(
                "onet",
                &files.read(ONET)?,
                &["dense_5", "dense_6", "softmax_2"],
            )?,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// The pyramid scales for an image of `w × h`.
    fn scales(w: u32, h: u32, cfg: &DetectorConfig) -> Vec<f32> {
        let m = 12.0 / cfg.min_face.max(12.0);
        let mut min_layer = w.min(h) as f32 * m;
        let mut scales = Vec::new();
        let mut scale = m;
        while min_layer >= 12.0 {
            scales.push(scale);
            scale *= cfg.scale_factor;
            min_layer *= cfg.scale_factor;
        }
        scales
    }

    /// The image pyramid, largest level first. Each level is area-averaged
    /// from the one before: the same result to within rounding, at a
    /// fraction of the cost of going back to the full-size photo each time.
    fn pyramid(img: &RgbImage, cfg: &DetectorConfig) -> Vec<(f32, Planar)> {
        let mut levels: Vec<(f32, Planar)> = Vec::new();
        for s in Self::scales(img.width(), img.height(), cfg) {
            let sw = (img.width() as f32 * s).ceil() as usize;
            let sh = (img.height() as f32 * s).ceil() as usize;
            let level = match levels.last() {
                Some((_, p)) => resize(p, sw, sh),
                None => resize_rgb8(img, sw, sh),
            };
            levels.push((s, level));
        }
        levels
    }

    /// P-Net's face proposals on one pyramid level, after in-level NMS.
    fn level_proposals(
        &self,
        s: f32,
        level: &Planar,
        cfg: &DetectorConfig,
    ) -> VisionResult<Vec<Candidate>> {
        let mut level_boxes = Vec::new();
        self.pnet_cells(level, |x, y, score, reg| {
            if score >= cfg.thresholds[0] {
                level_boxes.push(Candidate {
                    x1: ((2 * x + 1) as f32 / s).trunc(),
                    y1: ((2 * y + 1) as f32 / s).trunc(),
                    x2: ((2 * x + 12) as f32 / s).trunc(),
                    y2: ((2 * y + 12) as f32 / s).trunc(),
                    score,
                    reg,
                });
            }
        })?;
        Ok(nms(level_boxes, 0.5, Overlap::Union))
    }

    fn stage1(
        &self,
        img: &RgbImage,
        cfg: &DetectorConfig,
        parallel: bool,
    ) -> VisionResult<Vec<Candidate>> {
        // Levels are independent: when `parallel` they run on the rayon pool
        // (every core), which is what brings one frame's latency down.
        // Results are joined in level order, so the outcome does not depend
        // on scheduling.
        let pyramid = Self::pyramid(img, cfg);
        let per_level: Vec<Vec<Candidate>> = map_in_order(parallel, &pyramid, |(s, level)| {
            self.level_proposals(*s, level, cfg)
        })
        .into_iter()
        .collect::<VisionResult<_>>()?;
        let all: Vec<Candidate> = per_level.into_iter().flatten().collect();
        let mut boxes = nms(all, 0.7, Overlap::Union);
        for c in &mut boxes {
            // Stage 1 regresses with plain widths (no +1), unlike the others.
            let (w, h) = (c.x2 - c.x1, c.y2 - c.y1);
            c.x1 += c.reg[0] * w;
            c.y1 += c.reg[1] * h;
            c.x2 += c.reg[2] * w;
            c.y2 += c.reg[3] * h;
            square(c);
            fix(c);
        }
        Ok(boxes)
    }

    /// Runs P-Net over a pyramid level and calls `cell(x, y, score, reg)` for
    /// every output cell. Cell `(x, y)` sees input pixels `[2x, 2x+12) ×
    /// [2y, 2y+12)`, so the level can be cut into tiles overlapping by 10
    /// pixels with exactly the same result. Tiles are zero-padded to a few
    /// fixed sizes: tract is ~5× faster per pixel on a 320×256 tile than on a
    /// megapixel input, and a handful of shapes keeps the plan cache small.
    fn pnet_cells(
        &self,
        level: &Planar,
        mut cell: impl FnMut(usize, usize, f32, [f32; 4]),
    ) -> VisionResult<()> {
        let (w, h) = (level.width, level.height);
        if w < 12 || h < 12 {
            return Ok(());
        }
        // P-Net pools in ceil mode: an odd-sized level has one more cell
        // column (row), which sees one pixel past the edge (zero here).
        let (cells_w, cells_h) = ((w - 2).div_ceil(2) - 4, (h - 2).div_ceil(2) - 4);
        let tile = |len: usize, max: usize| {
            if len <= max {
                len.div_ceil(16) * 16
            } else {
                max
            }
        };
        let (tw, th) = (tile(w, PNET_TILE_W), tile(h, PNET_TILE_H));
        let (ow, oh) = ((tw - 12) / 2 + 1, (th - 12) / 2 + 1);
        let mut input = vec![0.0f32; tw * th * 3];
        for ty in (0..).map(|k| k * (th - 10)).take_while(|&oy| oy + 11 <= h) {
            for tx in (0..).map(|k| k * (tw - 10)).take_while(|&ox| ox + 11 <= w) {
                // Width-major [tw, th, 3], normalised; zero beyond the level.
                input.fill(0.0);
                for y in 0..th.min(h - ty) {
                    for x in 0..tw.min(w - tx) {
                        let src = level.px(tx + x, ty + y);
                        let dst = (x * th + y) * 3;
                        input[dst] = normalise(src[0]);
                        input[dst + 1] = normalise(src[1]);
                        input[dst + 2] = normalise(src[2]);
                    }
                }
                let out = self.pnet.run(tw, th, &input)?;
                let (reg, logits) = (&out[0], &out[1]);
                if logits.len() != ow * oh * 2 || reg.len() != ow * oh * 4 {
                    return Err(VisionError::Inference {
                        network: "pnet",
                        reason: format!("unexpected output size for a {tw}×{th} input"),
                    });
                }
                let (gx0, gy0) = (tx / 2, ty / 2);
                for x in 0..ow.min(cells_w.saturating_sub(gx0)) {
                    for y in 0..oh.min(cells_h.saturating_sub(gy0)) {
                        let i = x * oh + y;
                        let r = &reg[i * 4..i * 4 + 4];
                        let score = face_probability(logits[i], logits[ow * oh + i]);
                        cell(gx0 + x, gy0 + y, score, [r[0], r[1], r[2], r[3]]);
                    }
                }
            }
        }
        Ok(())
    }

    /// The reference crop: pixels `x1−1 ..= x2−1` (its 1-based convention),
    /// zero outside the image, resized to `size × size`.
    fn crop(img: &RgbImage, c: &Candidate, size: usize) -> Option<Planar> {
        let tw = (c.x2 - c.x1 + 1.0) as i64;
        let th = (c.y2 - c.y1 + 1.0) as i64;
        if tw <= 0 || th <= 0 || tw > 20_000 || th > 20_000 {
            return None;
        }
        Some(resize_window(
            img,
            c.x1 as i64 - 1,
            c.y1 as i64 - 1,
            tw as usize,
            th as usize,
            size,
            size,
        ))
    }

    fn stage2(
        &self,
        img: &RgbImage,
        boxes: Vec<Candidate>,
        cfg: &DetectorConfig,
        parallel: bool,
    ) -> VisionResult<Vec<Candidate>> {
        let crops: Vec<(Candidate, Planar)> =
            map_in_order(parallel, &boxes, |c| Some((*c, Self::crop(img, c, 24)?)))
                .into_iter()
                .flatten()
                .collect();
        let outputs = self.refine(&self.rnet, 24, &crops, parallel)?;
        let mut passed = Vec::new();
        for ((c, _), out) in crops.iter().zip(outputs) {
            let score = out[1][1];
            if score > cfg.thresholds[1] {
                passed.push(Candidate {
                    score,
                    reg: [out[0][0], out[0][1], out[0][2], out[0][3]],
                    ..*c
                });
            }
        }
        let mut kept = nms(passed, 0.7, Overlap::Union);
        for c in &mut kept {
            regress(c);
            square(c);
        }
        Ok(kept)
    }

    /// Runs a refinement net on each crop; returns, per crop and in crop
    /// order, each output's values. Crops go one at a time (measured: tract
    /// is no faster per crop in batches of 8 or 16), in parallel on the rayon
    /// pool when `parallel`.
    fn refine(
        &self,
        net: &Net,
        size: usize,
        crops: &[(Candidate, Planar)],
        parallel: bool,
    ) -> VisionResult<Vec<Vec<Vec<f32>>>> {
        map_in_order(parallel, crops, |(_, crop)| {
            net.run(size, size, &to_input(crop))
        })
        .into_iter()
        .collect()
    }

    fn stage3(
        &self,
        img: &RgbImage,
        boxes: Vec<Candidate>,
        cfg: &DetectorConfig,
        parallel: bool,
    ) -> VisionResult<Vec<Face>> {
        let mut passed: Vec<(Candidate, [[f32; 2]; 5])> = Vec::new();
        let crops: Vec<(Candidate, Planar)> = map_in_order(parallel, &boxes, |c| {
            let mut c = *c;
            fix(&mut c);
            Some((c, Self::crop(img, &c, 48)?))
        })
        .into_iter()
        .flatten()
        .collect();
        let outputs = self.refine(&self.onet, 48, &crops, parallel)?;
        for ((c, _), out) in crops.iter().zip(outputs) {
            let (reg, points, prob) = (&out[0], &out[1], &out[2]);
            let score = prob[1];
            if score <= cfg.thresholds[2] {
                continue;
            }
            let (w, h) = (c.x2 - c.x1 + 1.0, c.y2 - c.y1 + 1.0);
            let mut landmarks = [[0.0f32; 2]; 5];
            for (k, lm) in landmarks.iter_mut().enumerate() {
                *lm = [w * points[k] + c.x1 - 1.0, h * points[k + 5] + c.y1 - 1.0];
            }
            let mut refined = Candidate {
                score,
                reg: [reg[0], reg[1], reg[2], reg[3]],
                ..*c
            };
            regress(&mut refined);
            passed.push((refined, landmarks));
        }
        // NMS over the refined boxes, keeping each box's landmarks with it.
        let candidates: Vec<Candidate> = passed.iter().map(|(c, _)| *c).collect();
        let kept = nms(candidates, 0.7, Overlap::Min);
        let (iw, ih) = (img.width() as f32, img.height() as f32);
        Ok(kept
            .into_iter()
            .filter_map(|k| {
                let (_, landmarks) = passed
                    .iter()
                    .find(|(c, _)| c.x1 == k.x1 && c.y1 == k.y1 && c.score == k.score)?;
                Some(Face {
                    bbox: BBox {
                        x1: k.x1.clamp(0.0, iw),
                        y1: k.y1.clamp(0.0, ih),
                        x2: k.x2.clamp(0.0, iw),
                        y2: k.y2.clamp(0.0, ih),
                    },
                    score: k.score,
                    landmarks: *landmarks,
                })
            })
            .collect())
    }
}

impl Detector for MtcnnDetector {
    fn detect(&self, image: &RgbImage, config: &DetectorConfig) -> VisionResult<Vec<Face>> {
        // One detection alone spreads over every core; when others are
        // running too (several cameras, concurrent API requests) each keeps
        // to its own thread: the cores are busy anyway, and sharing one pool
        // queue let the slowest requests wait behind everyone's crops.
        let parallel = self.in_flight.fetch_add(1, Ordering::Relaxed) == 0;
        let _running = Running(&self.in_flight);
        let start = std::time::Instant::now();
        let proposals = self.stage1(image, config, parallel)?;
        let t1 = start.elapsed();
        let n1 = proposals.len();
        let refined = if proposals.is_empty() {
            vec![]
        } else {
            self.stage2(image, proposals, config, parallel)?
        };
        let t2 = start.elapsed();
        let n2 = refined.len();
        let faces = if refined.is_empty() {
            vec![]
        } else {
            self.stage3(image, refined, config, parallel)?
        };
        tracing::debug!(
            width = image.width(),
            height = image.height(),
            pnet_ms = t1.as_secs_f64() * 1e3,
            proposals = n1,
            rnet_ms = (t2 - t1).as_secs_f64() * 1e3,
            refined = n2,
            onet_ms = (start.elapsed() - t2).as_secs_f64() * 1e3,
            faces = faces.len(),
            parallel,
            "mtcnn"
        );
        Ok(faces)
    }
}
