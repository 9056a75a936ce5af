//! Face tracks across frames, and the events of their lives.
//!
//! A detection continues the track whose *predicted* box ([`motion`]) it
//! overlaps most; a face whose look changes is checked again at once
//! ([`super::look`]). Every embedding of a track is compared with the
//! track's own recent descriptors: a jump hides the name, and a second
//! embedding that agrees with the jump means another face took the box
//! (a cut, a person walking past) and splits the track. A new track
//! whose first descriptor is that of a track missing from this frame is
//! that track, moved. The name is a cautious vote ([`vote`]).
//!
//! The tracker emits every event itself, so its invariants hold by
//! construction and are property-tested (`properties.rs`):
//! - a track is announced (`Appeared`) at most once, and only once it is
//!   decided;
//! - every announced track ends with exactly one `Lost`: when it leaves,
//!   when its face changes, at a scene cut, or when the source ends;
//! - no event names a track that was never announced, or one already lost.
//!
//! Pure logic, no clock of its own: callers pass `now`.

mod motion;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
pub mod vote;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use facerec_vision::{BBox, Face};

use super::look::Look;

pub use motion::Motion;
pub use vote::{Decision, Label, Sample, VoteRules};

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// A detection continues a track when it overlaps the track's
    /// predicted box this much.
    pub iou_match: f32,
    /// A track not seen for this long has left.
    pub lost_after: Duration,
    /// A new face this close to a track missing from the frame is that
    /// track, moved. Stricter than "same person": a wrong merge would hand
    /// one person's track to another.
    pub merge_distance: f32,
    /// An embedding further than this from every recent descriptor of its
    /// track is another face: the track splits.
    pub split_distance: f32,
    /// The identity vote is over this many latest samples.
    pub samples: usize,
    pub vote: VoteRules,
    /// A track whose look changes this much between two frames is checked
    /// again (embedded now, its name hidden until then); 0 turns it off.
    pub look_change: f32,
}

impl TrackerConfig {
    /// Defaults for descriptors of `pack`.
    pub fn for_pack(pack: &facerec_vision::ModelPack) -> Self {
        let same_person = pack.match_distance();
        Self {
            iou_match: 0.3,
            lost_after: Duration::from_millis(1000),
            merge_distance: 0.75 * same_person,
            split_distance: same_person,
            samples: 5,
            vote: VoteRules::default(),
            look_change: 0.1,
        }
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self::for_pack(facerec_vision::DEFAULT_PACK)
    }
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: u64,
    /// The latest detection of the track's face.
    pub face: Face,
    pub first_seen: Instant,
    pub last_seen: Instant,
    pub last_embedded: Option<Instant>,
    pub motion: Motion,
    /// The latest descriptors, oldest first (as many as samples).
    pub descriptors: VecDeque<Vec<f32>>,
    pub samples: VecDeque<Sample>,
    /// Set once the track is announced; what it is announced as.
    pub identity: Option<Decision>,
    /// The face's look at the latest detection.
    pub look: Option<Look>,
    /// The detection at which the look last changed.
    pub look_changed_at: Option<Instant>,
    /// A sample far from the track's own descriptors, held back until the
    /// next one shows whether another face took the box.
    pub jump: Option<(Vec<f32>, Sample)>,
    /// The look changed: the face may be another's until embedded again.
    pub checking: bool,
}

impl Track {
    fn new(id: u64, face: Face, now: Instant) -> Self {
        Self {
            id,
            face,
            first_seen: now,
            last_seen: now,
            last_embedded: None,
            motion: Motion::default(),
            descriptors: VecDeque::new(),
            samples: VecDeque::new(),
            identity: None,
            look: None,
            look_changed_at: None,
            jump: None,
            checking: false,
        }
    }

    /// The identity to show: none while the face is being checked.
    pub fn shown_identity(&self) -> Option<&Decision> {
        self.identity.as_ref().filter(|_| !self.checking)
    }

    /// The box as last detected.
    pub fn bbox(&self) -> BBox {
        self.face.bbox
    }

    /// Where the box should be at `now`, moving as it has been.
    pub fn bbox_at(&self, now: Instant) -> BBox {
        self.motion.predict(
            &self.face.bbox,
            now.saturating_duration_since(self.last_seen),
        )
    }

    /// Whether the latest sample disagrees with the announced name.
    fn unsettled(&self) -> bool {
        match (&self.identity, self.samples.back()) {
            (None, _) => true,
            (Some(d), Some(s)) => d.label != s.label,
            (Some(_), None) => false,
        }
    }

    /// Distance from `descriptor` to the nearest of this track's recent
    /// descriptors.
    fn nearest(&self, descriptor: &[f32]) -> Option<f32> {
        self.descriptors
            .iter()
            .map(|d| facerec_vision::distance(d, descriptor))
            .min_by(|a, b| a.total_cmp(b))
    }
}

/// Why a track ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// Not seen for `lost_after`.
    Left,
    /// Another face took its box (its descriptor jumped).
    FaceChanged,
    /// The whole picture changed between two frames.
    SceneCut,
    /// The source ended or the camera stopped.
    Stopped,
}

impl LostReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LostReason::Left => "left",
            LostReason::FaceChanged => "face_changed",
            LostReason::SceneCut => "scene_cut",
            LostReason::Stopped => "stopped",
        }
    }
}

/// What happened to a track. Each carries the track as it is now.
#[derive(Debug, Clone)]
pub enum TrackEvent {
    /// The track was decided for the first time (named or unknown).
    Appeared(Track),
    /// An announced track's identity changed.
    IdentityChanged { track: Track, previous: Decision },
    /// An announced track ended.
    Lost { track: Track, reason: LostReason },
}

impl TrackEvent {
    pub fn track(&self) -> &Track {
        match self {
            TrackEvent::Appeared(t)
            | TrackEvent::IdentityChanged { track: t, .. }
            | TrackEvent::Lost { track: t, .. } => t,
        }
    }
}

#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    next_id: u64,
    active: Vec<Track>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(TrackerConfig::default())
    }
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            next_id: 1,
            active: vec![],
        }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.active
    }

    pub fn get(&self, id: u64) -> Option<&Track> {
        self.active.iter().find(|t| t.id == id)
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.active.iter().position(|t| t.id == id)
    }

    fn start_track(&mut self, face: Face, now: Instant) -> usize {
        self.active.push(Track::new(self.next_id, face, now));
        self.next_id += 1;
        self.active.len() - 1
    }

    /// Matches this frame's detections to tracks (greedy, best overlap
    /// with the predicted box first), starts a track for each unmatched
    /// detection, and ends the tracks not seen for `lost_after`.
    pub fn update(&mut self, faces: Vec<Face>, now: Instant) -> Vec<TrackEvent> {
        let predicted: Vec<BBox> = self.active.iter().map(|t| t.bbox_at(now)).collect();
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, p) in predicted.iter().enumerate() {
            for (fi, f) in faces.iter().enumerate() {
                let iou = p.iou(&f.bbox);
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
            let t = &mut self.active[ti];
            let dt = now.saturating_duration_since(t.last_seen);
            t.motion.observe(&t.face.bbox, &faces[fi].bbox, dt);
            t.face = faces[fi].clone();
            t.last_seen = now;
        }
        for (fi, face) in faces.into_iter().enumerate() {
            if !face_used[fi] {
                self.start_track(face, now);
            }
        }
        let lost_after = self.config.lost_after;
        let (gone, kept): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|t| now.saturating_duration_since(t.last_seen) > lost_after);
        self.active = kept;
        ended(gone, LostReason::Left)
    }

    /// Ends every track: the picture changed completely, or the source
    /// ended.
    pub fn end_all(&mut self, reason: LostReason) -> Vec<TrackEvent> {
        ended(std::mem::take(&mut self.active), reason)
    }

    /// Records the look of track `id` at this detection; a changed look
    /// puts the track under check. Returns whether it changed.
    pub fn set_look(&mut self, id: u64, look: Look) -> bool {
        let limit = self.config.look_change;
        let Some(pos) = self.position(id) else {
            return false;
        };
        let t = &mut self.active[pos];
        let changed = limit > 0.0 && t.look.as_ref().is_some_and(|l| l.change(&look) >= limit);
        if changed {
            t.checking = true;
            t.look_changed_at = Some(t.last_seen);
        }
        t.look = Some(look);
        changed
    }

    /// Whether `look` (of track `id`'s predicted box between detections)
    /// differs from the track's last look by enough to detect again now.
    pub fn look_changed(&self, id: u64, look: &Look) -> bool {
        let limit = self.config.look_change;
        limit > 0.0
            && self
                .get(id)
                .and_then(|t| t.look.as_ref())
                .is_some_and(|l| l.change(look) >= limit)
    }

    /// Tracks seen at `now` that need an embedding: undecided ones, ones
    /// under check and ones whose latest sample disagreed (at every
    /// detection, so that a name comes, or goes, quickly), the others once
    /// per `interval`.
    pub fn due_for_embedding(&self, now: Instant, interval: Duration) -> Vec<u64> {
        self.active
            .iter()
            .filter(|t| t.last_seen == now)
            .filter(|t| {
                t.unsettled()
                    || t.checking
                    || t.last_embedded
                        .is_none_or(|at| now.saturating_duration_since(at) >= interval)
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
    ) -> Vec<TrackEvent> {
        let Some(mut pos) = self.position(id) else {
            return vec![];
        };
        let mut events = vec![];
        let far = |t: &Track| {
            t.nearest(&descriptor)
                .is_some_and(|d| d > self.config.split_distance)
        };
        if far(&self.active[pos]) {
            let t = &mut self.active[pos];
            // Confirmed by a second descriptor agreeing with the jump, or
            // by the look having changed at this very detection: two
            // independent signs of another face.
            let confirms = t.look_changed_at == Some(now)
                || t.jump.as_ref().is_some_and(|(d, _)| {
                    facerec_vision::distance(d, &descriptor) <= self.config.split_distance
                });
            if !confirms {
                // One far descriptor may be a bad one (a face half turned,
                // landmarks off): hide the name and look again at the next
                // detection before deciding.
                t.jump = Some((descriptor, sample));
                t.checking = true;
                t.last_embedded = Some(now);
                return events;
            }
            // Twice another face, the same both times: the old track ends
            // here and the new face starts a track of its own with both
            // samples.
            let old = self.active.remove(pos);
            pos = self.start_track(old.face.clone(), old.last_seen);
            if let Some((d, s)) = old.jump.clone() {
                self.active[pos].descriptors.push_back(d);
                self.active[pos].samples.push_back(s);
            }
            events.extend(ended(vec![old], LostReason::FaceChanged));
        } else if self.active[pos].descriptors.is_empty()
            && let Some(other) = self.moved(pos, &descriptor, now)
        {
            // A face first seen here is a track missing from this frame,
            // moved faster than its box could follow: carry on with that
            // track. The new one was never announced, so nothing is said.
            let new = self.active.remove(pos);
            pos = if other > pos { other - 1 } else { other };
            let t = &mut self.active[pos];
            t.face = new.face;
            t.last_seen = new.last_seen;
            t.motion = Motion::default();
        }
        // Near the track's own descriptors again: a pending jump was a bad
        // sample.
        self.active[pos].jump = None;
        let (cap, rules) = (self.config.samples.max(1), self.config.vote);
        let t = &mut self.active[pos];
        t.last_embedded = Some(now);
        t.checking = false;
        t.descriptors.push_back(descriptor);
        t.samples.push_back(sample);
        while t.samples.len() > cap {
            t.samples.pop_front();
        }
        while t.descriptors.len() > cap {
            t.descriptors.pop_front();
        }
        let Some(decision) = vote::decide(&t.samples, t.identity.as_ref(), rules) else {
            return events;
        };
        match t.identity.replace(decision.clone()) {
            None => events.push(TrackEvent::Appeared(t.clone())),
            Some(previous) if previous.label != decision.label => {
                events.push(TrackEvent::IdentityChanged {
                    track: t.clone(),
                    previous,
                })
            }
            Some(_) => {}
        }
        events
    }

    /// The track, other than the one at `pos`, missing from the frame at
    /// `now` whose face `descriptor` is.
    fn moved(&self, pos: usize, descriptor: &[f32], now: Instant) -> Option<usize> {
        self.active
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != pos && t.last_seen < now)
            .filter_map(|(i, t)| Some((i, t.nearest(descriptor)?)))
            .filter(|(_, d)| *d <= self.config.merge_distance)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }
}

/// `Lost` for each of `tracks` that was announced; the others go quietly.
fn ended(tracks: Vec<Track>, reason: LostReason) -> Vec<TrackEvent> {
    tracks
        .into_iter()
        .filter(|t| t.identity.is_some())
        .map(|track| TrackEvent::Lost { track, reason })
        .collect()
}
