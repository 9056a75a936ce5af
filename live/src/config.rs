//! Per-camera settings: `[[camera]]` tables in the config file, or
//! `--camera SPEC` on the command line (docs/configuration.md).

use std::time::Duration;

use facerec_camera::SourceSpec;
use facerec_vision::DetectorConfig;
use serde::{Deserialize, Serialize};

use super::tracker::{TrackerConfig, VoteRules};

/// Measured with `facerecd eval video`: see docs/live.md.
pub const DEFAULT_SCENE_CUT: f32 = 0.15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Names the camera in events, metrics and the API (`[a-z0-9_-]`, ≤ 32).
    pub id: String,
    pub source: SourceSpec,
    /// The domain to recognise in (its datasets are searched too); the
    /// edge's own domain when absent.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub settings: LiveSettings,
    /// Areas never analysed, as `[x1, y1, x2, y2]` shares of the frame
    /// (0–1, left/top to right/bottom): a face whose centre is inside one is
    /// ignored (a TV screen in view, a poster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<[f32; 4]>,
    /// The longer side of the copy a full-resolution stream (`rtsp`,
    /// `stream`) is analysed at, at most; faces are still cut from the
    /// full frame.
    #[serde(default = "default_analysis_max_side")]
    pub analysis_max_side: u32,
}

fn default_analysis_max_side() -> u32 {
    1920
}

/// How a camera's frames are analysed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSettings {
    /// Detect on every Nth frame (1 = every frame); tracks carry over.
    pub detect_every: u32,
    /// Smallest face to look for, in pixels (the side of its box); smaller
    /// faces are ignored. Larger is faster.
    pub min_face: f32,
    /// The detector score a face needs to be tracked, in [0, 1).
    pub detector_score: f32,
    /// What a tracked face needs to be embedded and to vote on its track's
    /// name (size, score, landmarks, pose, sharpness); a refused face is
    /// still tracked, and tried again at the next detection.
    pub quality: facerec_vision::QualityGate,
    /// A stricter match threshold for this camera, in the pack's own
    /// metric (dlib-v1: a distance below 0.6; sface-v1: a similarity above
    /// 0.45). Unset: the pack's. A looser value is held to the pack's.
    pub match_threshold: Option<f32>,
    /// A track is embedded when it appears and then at most this often.
    pub embed_interval_ms: u64,
    /// Faces embedded per analysed frame at most (the most urgent first);
    /// the others wait for the next detection.
    pub embed_per_frame: u32,
    /// The identity vote is over this many latest samples.
    pub samples: usize,
    /// A face not seen for this long has left.
    pub lost_after_ms: u64,
    /// Boxes overlapping this much (IoU) are the same track.
    pub iou_match: f32,
    /// A name needs at least this many agreeing samples; a track is
    /// announced (named or unknown) once it has this many.
    pub min_agree: usize,
    /// …and more than this share of the samples voting (unknown samples
    /// count against every name).
    pub majority: f32,
    /// How much of the picture must change between two analysed frames
    /// (mean colour difference, 0–1) for a scene cut, which ends every
    /// track; 0 turns it off.
    pub scene_cut: f32,
    /// How much a face's look (a small colour patch of its box) must
    /// change between two frames for its track to be checked again at
    /// once: embedded now, its name hidden until then; 0 turns it off.
    pub look_change: f32,
    /// No longer used: a face coming back within `lost_after_ms` keeps its
    /// track, and one that left is announced as gone for good. Accepted so
    /// that older config files still load.
    #[serde(skip_serializing)]
    pub reid_window_ms: Option<u64>,
}

impl Default for LiveSettings {
    fn default() -> Self {
        let tracker = TrackerConfig::default();
        Self {
            detect_every: 1,
            min_face: 40.0,
            detector_score: DetectorConfig::default().score_threshold,
            // Webcam and broadcast frames are softer than photos: the
            // same faces measure 30–50 in real clips (eval video), and a
            // blurred sample still needs a second agreeing one to name.
            quality: facerec_vision::QualityGate {
                min_sharpness: 25.0,
                ..Default::default()
            },
            match_threshold: None,
            embed_interval_ms: 1000,
            embed_per_frame: 2,
            samples: tracker.samples,
            lost_after_ms: tracker.lost_after.as_millis() as u64,
            iou_match: tracker.iou_match,
            min_agree: tracker.vote.min_agree,
            majority: tracker.vote.majority,
            scene_cut: DEFAULT_SCENE_CUT,
            look_change: tracker.look_change,
            reid_window_ms: None,
        }
    }
}

impl LiveSettings {
    pub fn detector(&self) -> DetectorConfig {
        DetectorConfig {
            min_face: self.min_face,
            score_threshold: self.detector_score,
        }
    }

    /// The tracker for descriptors of `pack` (its distances set the
    /// split and merge limits).
    pub fn tracker(&self, pack: &facerec_vision::ModelPack) -> TrackerConfig {
        TrackerConfig {
            iou_match: self.iou_match,
            lost_after: Duration::from_millis(self.lost_after_ms),
            samples: self.samples,
            vote: VoteRules {
                min_agree: self.min_agree,
                majority: self.majority,
            },
            look_change: self.look_change,
            ..TrackerConfig::for_pack(pack)
        }
    }

    pub fn embed_interval(&self) -> Duration {
        Duration::from_millis(self.embed_interval_ms)
    }
}

impl CameraConfig {
    /// A camera from `--camera SPEC`, numbered in order (`cam1`, `cam2`…).
    pub fn from_short(n: usize, spec: &str) -> Result<Self, String> {
        Ok(Self {
            id: format!("cam{n}"),
            source: SourceSpec::parse_short(spec)?,
            domain: None,
            settings: LiveSettings::default(),
            masks: vec![],
            analysis_max_side: default_analysis_max_side(),
        })
    }

    /// The analysis copy of a full-resolution source: its smallest wanted
    /// face (`min_face`, in the source's pixels) becomes the detector's
    /// smallest findable one.
    pub fn analysis_size(&self) -> facerec_camera::AnalysisSize {
        facerec_camera::AnalysisSize {
            scale: (facerec_vision::SMALLEST_FACE / self.settings.min_face).min(1.0),
            max_side: self.analysis_max_side,
        }
    }

    /// Whether a face centred at `(x, y)` of a `width × height` picture is
    /// inside a mask.
    pub fn masked(&self, x: f32, y: f32, width: u32, height: u32) -> bool {
        let (fx, fy) = (x / width.max(1) as f32, y / height.max(1) as f32);
        self.masks
            .iter()
            .any(|m| fx >= m[0] && fx <= m[2] && fy >= m[1] && fy <= m[3])
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(format!(
                "camera id `{}` must be 1–32 characters of a–z, 0–9, _ or -",
                self.id
            ));
        }
        let s = &self.settings;
        let bad = |what: &str| Err(format!("camera `{}`: {what}", self.id));
        if s.detect_every == 0 {
            return bad("detect_every must be at least 1");
        }
        if !(12.0..=2000.0).contains(&s.min_face) {
            return bad("min_face must be 12–2000 pixels");
        }
        for m in &self.masks {
            if !(m.iter().all(|v| (0.0..=1.0).contains(v)) && m[0] < m[2] && m[1] < m[3]) {
                return bad(
                    "each mask is [x1, y1, x2, y2], shares of the frame from 0 to 1 with x1 < x2 and y1 < y2",
                );
            }
        }
        if !(160..=8192).contains(&self.analysis_max_side) {
            return bad("analysis_max_side must be 160–8192 pixels");
        }
        if s.match_threshold.is_some_and(|t| !(t > 0.0 && t < 2.0)) {
            return bad(
                "match_threshold must be in (0, 2): a distance (dlib-v1) or a similarity (sface-v1)",
            );
        }
        if !(0.0..1.0).contains(&s.detector_score) {
            return bad("detector_score must be in [0, 1)");
        }
        if s.embed_per_frame == 0 || s.embed_per_frame > 64 {
            return bad("embed_per_frame must be 1–64");
        }
        if s.samples == 0 || s.samples > 50 {
            return bad("samples must be 1–50");
        }
        if !(0.05..=0.95).contains(&s.iou_match) {
            return bad("iou_match must be 0.05–0.95");
        }
        if s.min_agree == 0 || s.min_agree > s.samples {
            return bad("min_agree must be 1 to `samples`");
        }
        if !(0.0..1.0).contains(&s.majority) {
            return bad("majority must be in [0, 1)");
        }
        if !(0.0..=1.0).contains(&s.scene_cut) {
            return bad("scene_cut must be 0–1 (0 turns it off)");
        }
        if !(0.0..=1.0).contains(&s.look_change) {
            return bad("look_change must be 0–1 (0 turns it off)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_table_parses_with_defaults() {
        let c: CameraConfig = toml::from_str(
            r#"
            id = "entrance"
            source = { kind = "v4l2", device = "/dev/video2", pixel_format = "yuyv" }
            [settings]
            detect_every = 3
            "#,
        )
        .unwrap();
        assert_eq!(c.settings.detect_every, 3);
        assert_eq!(c.settings.min_face, 40.0);
        assert!(matches!(
            c.source,
            SourceSpec::V4l2 {
                fps: 30,
                width: 640,
                ..
            }
        ));
        c.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused_naming_the_camera() {
        let mut c = CameraConfig::from_short(1, "replay:/tmp/x@10").unwrap();
        c.settings.match_threshold = Some(-0.5);
        assert!(c.validate().unwrap_err().contains("cam1"));
        c.settings.match_threshold = Some(0.5);
        c.validate().unwrap();
        c.id = "../etc".into();
        assert!(c.validate().unwrap_err().contains("a–z"));
        assert!(
            CameraConfig::from_short(1, "ftp://cam")
                .unwrap_err()
                .contains("v4l2:")
        );
        // An RTSP camera is one now; masks must be inside the frame.
        let mut rtsp = CameraConfig::from_short(2, "rtsp://cam/main").unwrap();
        rtsp.validate().unwrap();
        rtsp.masks = vec![[0.5, 0.0, 1.2, 0.5]];
        assert!(rtsp.validate().unwrap_err().contains("mask"));
        rtsp.masks = vec![[0.5, 0.0, 1.0, 0.5]];
        rtsp.validate().unwrap();
        assert!(rtsp.masked(1500.0, 100.0, 1920, 1080));
        assert!(!rtsp.masked(100.0, 100.0, 1920, 1080));
        assert_eq!(rtsp.analysis_size().scale, 0.5);
        let err = toml::from_str::<CameraConfig>(
            "id = \"a\"\nsource = { kind = \"replay\", path = \"x\", fsp = 3 }",
        )
        .unwrap_err();
        assert!(err.to_string().contains("fsp"), "{err}");
    }
}
