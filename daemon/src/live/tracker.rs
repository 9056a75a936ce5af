//! Face tracks across frames: detections are matched to tracks by box
//! overlap (IoU), a track that vanishes for a moment and comes back with the
//! same face (descriptor) keeps its id, and each track's identity is decided
//! by a vote over its last few samples.
//!
//! Pure logic, no clocks of its own: callers pass `now`, so tests drive it
//! frame by frame.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use facerec_vision::{BBox, Face};

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// A detection continues a track when their boxes overlap this much.
    pub iou_match: f32,
    /// A track not seen for this long has left.
    pub lost_after: Duration,
    /// A new track whose first descriptor is this close to one of a track
    /// that left within `reid_window` is that track, back.
    pub reid_distance: f32,
    pub reid_window: Duration,
    /// The identity vote is over this many latest samples.
    pub samples: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            iou_match: 0.3,
            lost_after: Duration::from_millis(1000),
            // Stricter than "same person": a wrong re-identification would
            // hand one person's track (and identity) to another.
            reid_distance: 0.75 * facerec_vision::MATCH_THRESHOLD,
            reid_window: Duration::from_secs(3),
            samples: 5,
        }
    }
}

/// Who one sample (one embedding of the track's face) matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Known { domain: String, person: String },
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub label: Label,
    /// Distance to the best match (None when the index had nothing).
    pub distance: Option<f32>,
    /// The index's confidence in [0, 1].
    pub confidence: f32,
}

/// A track's identity as decided from its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub label: Label,
    /// Best distance among the samples that voted for the label.
    pub distance: Option<f32>,
    /// Mean confidence of those samples, in [0, 1].
    pub confidence: f32,
    /// Samples that voted for it / samples considered.
    pub votes: usize,
    pub of: usize,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: u64,
    pub face: Face,
    pub first_seen: Instant,
    pub last_seen: Instant,
    pub last_embedded: Option<Instant>,
    pub descriptor: Option<Vec<f32>>,
    pub samples: VecDeque<Sample>,
    pub identity: Option<Decision>,
}

impl Track {
    pub fn bbox(&self) -> BBox {
        self.face.bbox
    }
}

/// What one `add_sample` changed.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleOutcome {
    /// The first decision for a new track: an appearance.
    Appeared(Decision),
    /// The vote moved to another label.
    Changed {
        from: Decision,
        to: Decision,
    },
    /// The track turned out to be one that had just left (same face); it
    /// took that track's id and identity back.
    Returned {
        id: u64,
    },
    Unchanged,
}

#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    next_id: u64,
    active: Vec<Track>,
    /// Tracks that left recently, kept for re-identification.
    left: Vec<(Track, Instant)>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            next_id: 1,
            active: vec![],
            left: vec![],
        }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.active
    }

    pub fn get(&self, id: u64) -> Option<&Track> {
        self.active.iter().find(|t| t.id == id)
    }

    /// Matches this frame's detections to tracks (greedy, best overlap
    /// first), starts a track for each unmatched detection, and returns the
    /// tracks that left.
    pub fn update(&mut self, faces: Vec<Face>, now: Instant) -> Vec<Track> {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.active.iter().enumerate() {
            for (fi, f) in faces.iter().enumerate() {
                let iou = t.face.bbox.iou(&f.bbox);
                if iou >= self.config.iou_match {
                    pairs.push((iou, ti, fi));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.active.len()];
        let mut face_used = vec![false; faces.len()];
        for (_, ti, fi) in pairs {
            if track_used[ti] || face_used[fi] {
                continue;
            }
            track_used[ti] = true;
            face_used[fi] = true;
            self.active[ti].face = faces[fi].clone();
            self.active[ti].last_seen = now;
        }
        for (fi, face) in faces.into_iter().enumerate() {
            if !face_used[fi] {
                self.active.push(Track {
                    id: self.next_id,
                    face,
                    first_seen: now,
                    last_seen: now,
                    last_embedded: None,
                    descriptor: None,
                    samples: VecDeque::new(),
                    identity: None,
                });
                self.next_id += 1;
            }
        }
        let lost_after = self.config.lost_after;
        let (gone, kept): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|t| now.duration_since(t.last_seen) > lost_after);
        self.active = kept;
        let window = self.config.reid_window;
        self.left
            .retain(|(_, at)| now.duration_since(*at) <= window);
        // Only tracks that were decided are worth announcing as gone or
        // bringing back.
        let announced: Vec<Track> = gone.into_iter().filter(|t| t.identity.is_some()).collect();
        if !window.is_zero() {
            self.left.extend(announced.iter().map(|t| (t.clone(), now)));
        }
        announced
    }

    /// Tracks seen in this frame that need an embedding: new ones, and ones
    /// last embedded more than `interval` ago.
    pub fn due_for_embedding(&self, now: Instant, interval: Duration) -> Vec<u64> {
        self.active
            .iter()
            .filter(|t| t.last_seen == now)
            .filter(|t| {
                t.last_embedded
                    .is_none_or(|at| now.duration_since(at) >= interval)
            })
            .map(|t| t.id)
            .collect()
    }

    /// Records one embedding of track `id` and what the index made of it.
    pub fn add_sample(
        &mut self,
        id: u64,
        descriptor: Vec<f32>,
        sample: Sample,
        now: Instant,
    ) -> SampleOutcome {
        let Some(pos) = self.active.iter().position(|t| t.id == id) else {
            return SampleOutcome::Unchanged;
        };
        if self.active[pos].samples.is_empty()
            && let Some(back) = self.returning(&descriptor)
        {
            let (old, _) = self.left.remove(back);
            let t = &mut self.active[pos];
            t.id = old.id;
            t.first_seen = old.first_seen;
            t.samples = old.samples;
            t.identity = old.identity;
        }
        let returned = self.active[pos].id != id;
        let cap = self.config.samples.max(1);
        let t = &mut self.active[pos];
        t.last_embedded = Some(now);
        t.descriptor = Some(descriptor);
        t.samples.push_back(sample);
        while t.samples.len() > cap {
            t.samples.pop_front();
        }
        let decision = vote(&t.samples);
        let outcome = match &t.identity {
            None => SampleOutcome::Appeared(decision.clone()),
            Some(old) if old.label != decision.label => SampleOutcome::Changed {
                from: old.clone(),
                to: decision.clone(),
            },
            Some(_) if returned => SampleOutcome::Returned { id: t.id },
            Some(_) => SampleOutcome::Unchanged,
        };
        t.identity = Some(decision);
        outcome
    }

    fn returning(&self, descriptor: &[f32]) -> Option<usize> {
        self.left
            .iter()
            .enumerate()
            .filter_map(|(i, (t, _))| {
                let d = facerec_vision::distance(t.descriptor.as_deref()?, descriptor);
                (d <= self.config.reid_distance).then_some((i, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }
}

/// The label most samples agree on; a tie goes to the label whose samples
/// are closer on average.
pub fn vote(samples: &VecDeque<Sample>) -> Decision {
    let mut tally: Vec<(&Label, Vec<&Sample>)> = Vec::new();
    for s in samples {
        match tally.iter_mut().find(|(l, _)| **l == s.label) {
            Some((_, v)) => v.push(s),
            None => tally.push((&s.label, vec![s])),
        }
    }
    let mean_distance = |v: &[&Sample]| {
        v.iter()
            .map(|s| s.distance.unwrap_or(f32::MAX))
            .sum::<f32>()
            / v.len() as f32
    };
    let (label, voters) = tally
        .into_iter()
        .max_by(|a, b| {
            a.1.len()
                .cmp(&b.1.len())
                .then(mean_distance(&b.1).total_cmp(&mean_distance(&a.1)))
        })
        .expect("at least one sample");
    Decision {
        label: label.clone(),
        distance: voters
            .iter()
            .filter_map(|s| s.distance)
            .min_by(|a, b| a.total_cmp(b)),
        confidence: voters.iter().map(|s| s.confidence).sum::<f32>() / voters.len() as f32,
        votes: voters.len(),
        of: samples.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32) -> Face {
        Face {
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + 80.0,
                y2: y + 100.0,
            },
            score: 0.99,
            landmarks: [[0.0; 2]; 5],
        }
    }

    fn known(person: &str, distance: f32) -> Sample {
        Sample {
            label: Label::Known {
                domain: "serbia".into(),
                person: person.into(),
            },
            distance: Some(distance),
            confidence: 0.9,
        }
    }

    fn unknown() -> Sample {
        Sample {
            label: Label::Unknown,
            distance: Some(0.8),
            confidence: 0.1,
        }
    }

    fn frames(start: Instant, n: u64, fps: u64) -> impl Iterator<Item = Instant> {
        (0..n).map(move |i| start + Duration::from_millis(i * 1000 / fps))
    }

    #[test]
    fn a_moving_face_keeps_its_track_id() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let start = Instant::now();
        for (i, now) in frames(start, 30, 30).enumerate() {
            // Two faces drifting 3 px per frame.
            let d = i as f32 * 3.0;
            tracker.update(vec![face(100.0 + d, 100.0), face(400.0 - d, 120.0)], now);
        }
        let ids: Vec<u64> = tracker.tracks().iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn a_missed_detection_does_not_end_a_track_but_a_long_absence_does() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let t0 = Instant::now();
        tracker.update(vec![face(100.0, 100.0)], t0);
        let id = tracker.tracks()[0].id;
        tracker.add_sample(id, vec![0.0; 128], known("ana", 0.3), t0);
        // Three frames without the face (detector missed it), then back.
        for k in 1..4 {
            assert!(
                tracker
                    .update(vec![], t0 + Duration::from_millis(33 * k))
                    .is_empty()
            );
        }
        tracker.update(vec![face(104.0, 101.0)], t0 + Duration::from_millis(133));
        assert_eq!(tracker.tracks()[0].id, id);
        // Gone for over a second: the track has left.
        let left = tracker.update(vec![], t0 + Duration::from_millis(1300));
        assert_eq!(left.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
        assert!(tracker.tracks().is_empty());
    }

    #[test]
    fn identity_is_a_vote_and_a_change_is_reported_once() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let t0 = Instant::now();
        tracker.update(vec![face(10.0, 10.0)], t0);
        let mut outcomes = vec![];
        for (k, s) in [
            known("ana", 0.4),
            unknown(),
            known("ana", 0.35),
            known("ivan", 0.5),
            known("ivan", 0.45),
            known("ivan", 0.3),
            known("ivan", 0.3),
        ]
        .into_iter()
        .enumerate()
        {
            let now = t0 + Duration::from_secs(k as u64);
            tracker.update(vec![face(10.0, 10.0)], now);
            outcomes.push(tracker.add_sample(1, vec![k as f32; 128], s, now));
        }
        let ana = Label::Known {
            domain: "serbia".into(),
            person: "ana".into(),
        };
        let ivan = Label::Known {
            domain: "serbia".into(),
            person: "ivan".into(),
        };
        assert!(matches!(&outcomes[0], SampleOutcome::Appeared(d) if d.label == ana));
        // ana 2 : unknown 1 : ivan 1 → ana; then ana 2 : ivan 2, a tie that
        // ana wins by mean distance (0.375 against 0.475).
        assert!(
            outcomes[1..5]
                .iter()
                .all(|o| *o == SampleOutcome::Unchanged),
            "{outcomes:?}"
        );
        // Last five: unknown, ana, ivan, ivan, ivan → ivan.
        match &outcomes[5] {
            SampleOutcome::Changed { from, to } => {
                assert_eq!(from.label, ana);
                assert_eq!(to.label, ivan);
                assert_eq!((to.votes, to.of), (3, 5));
                assert_eq!(to.distance, Some(0.3));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(outcomes[6], SampleOutcome::Unchanged);
    }

    #[test]
    fn a_face_back_after_a_short_absence_gets_its_old_track_id() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let t0 = Instant::now();
        let ana = vec![0.1f32; 128];
        tracker.update(vec![face(100.0, 100.0)], t0);
        tracker.add_sample(1, ana.clone(), known("ana", 0.3), t0);
        assert_eq!(
            tracker
                .update(vec![], t0 + Duration::from_millis(1500))
                .len(),
            1
        );
        // Back elsewhere in the frame (no overlap) two seconds later.
        let back = t0 + Duration::from_millis(2500);
        tracker.update(vec![face(400.0, 300.0)], back);
        let new_id = tracker.tracks()[0].id;
        assert_ne!(new_id, 1);
        let mut close = ana.clone();
        close[0] += 0.2;
        assert_eq!(
            tracker.add_sample(new_id, close, known("ana", 0.3), back),
            SampleOutcome::Returned { id: 1 }
        );
        assert_eq!(tracker.tracks()[0].id, 1);
        // A different face in the same situation is a new track.
        tracker.update(vec![], back + Duration::from_millis(1100));
        let later = back + Duration::from_millis(1600);
        tracker.update(vec![face(50.0, 50.0)], later);
        let id = tracker.tracks()[0].id;
        let outcome = tracker.add_sample(id, vec![0.9f32; 128], known("ivan", 0.3), later);
        assert!(matches!(outcome, SampleOutcome::Appeared(_)), "{outcome:?}");
        assert_ne!(tracker.tracks()[0].id, 1);
    }

    #[test]
    fn only_new_and_stale_tracks_seen_now_are_due_for_embedding() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let t0 = Instant::now();
        tracker.update(vec![face(0.0, 0.0), face(300.0, 0.0)], t0);
        assert_eq!(
            tracker.due_for_embedding(t0, Duration::from_secs(1)),
            vec![1, 2]
        );
        tracker.add_sample(1, vec![0.0; 128], unknown(), t0);
        tracker.add_sample(2, vec![1.0; 128], unknown(), t0);
        let t1 = t0 + Duration::from_millis(500);
        tracker.update(vec![face(0.0, 0.0), face(300.0, 0.0)], t1);
        assert!(
            tracker
                .due_for_embedding(t1, Duration::from_secs(1))
                .is_empty()
        );
        let t2 = t0 + Duration::from_millis(1100);
        tracker.update(vec![face(0.0, 0.0)], t2);
        // Track 2 was not seen in this frame: its face is not here to embed.
        assert_eq!(
            tracker.due_for_embedding(t2, Duration::from_secs(1)),
            vec![1]
        );
    }
}
