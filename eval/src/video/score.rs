//! What `eval video` counts, from what the live pipeline drew on each frame
//! and the events it sent, against the clip's [`Truth`]:
//!
//! - **wrong-name frames**: frames where a drawn box carries a name that is
//!   not the annotated person's (a stranger named, one person named as
//!   another, a name where nobody is annotated);
//! - **wrong-name events**: `track_appeared` / `identity_changed` naming
//!   someone other than the annotated person at that frame;
//! - **identity switches**: within one appearance (the frames a person is
//!   continuously in view), how often the track following them changes;
//!   **fragmented tracks**: the extra track ids one appearance took;
//! - **time to name**: from an appearance's first frame to the first frame
//!   its box carries the right name; an appearance never named is
//!   **missed**;
//! - **spurious tracks**: tracks announced on no annotated face.

use std::collections::{BTreeMap, BTreeSet};

use facerec_vision::BBox;
use serde::Serialize;

use super::truth::{Truth, Who};

/// One box drawn on a frame.
#[derive(Debug, Clone)]
pub struct Drawn {
    pub track: u64,
    pub bbox: BBox,
    /// The name's identity, when named.
    pub person: Option<String>,
}

/// One event, as the score needs it.
#[derive(Debug, Clone)]
pub struct Announced {
    pub kind: &'static str,
    pub frame: usize,
    pub track: u64,
    pub bbox: BBox,
    pub person: Option<String>,
    pub reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub struct ClipScore {
    pub clip: String,
    pub frames: usize,
    pub fps: f32,
    /// Appearances of enrolled people (a person continuously in view).
    pub appearances: usize,
    pub stranger_frames: usize,
    pub wrong_name_frames: usize,
    pub wrong_name_events: usize,
    pub identity_switches: usize,
    /// The most switches of any one person.
    pub max_switches_per_person: usize,
    pub fragmented_tracks: usize,
    /// Slowest appearance to be named, in seconds (named ones only).
    pub max_time_to_name_s: Option<f32>,
    pub mean_time_to_name_s: Option<f32>,
    /// Appearances never named: `person frames a–b`.
    pub missed: Vec<String>,
    pub spurious_tracks: usize,
    /// Events by type, and `track_lost` by reason.
    pub events: BTreeMap<String, usize>,
    pub lost_reasons: BTreeMap<String, usize>,
    /// Faces the quality gate kept from voting, by reason.
    pub gate_refusals: BTreeMap<String, u64>,
    /// The first few wrong names, for a look at the frames.
    pub wrong_names: Vec<String>,
    /// Median analysis time per frame, ms.
    pub ms_per_frame: f64,
}

pub fn score(clip: &str, truth: &Truth, drawn: &[Vec<Drawn>], events: &[Announced]) -> ClipScore {
    let mut s = ClipScore {
        clip: clip.to_string(),
        frames: drawn.len(),
        fps: truth.fps,
        ..Default::default()
    };
    let wrong = |s: &mut ClipScore, what: String| {
        if s.wrong_names.len() < 10 {
            s.wrong_names.push(what);
        }
    };
    // Each enrolled person's appearances (runs of frames in view).
    let runs: BTreeMap<&str, Vec<(usize, usize)>> = truth
        .rows
        .iter()
        .filter_map(|r| match &r.who {
            Who::Person(p) => Some(p.as_str()),
            Who::Stranger => None,
        })
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(|p| (p, appearances(truth, p, drawn.len())))
        .collect();
    let appearance_start = |p: &str, f: usize| {
        runs[p]
            .iter()
            .find(|(a, b)| (*a..=*b).contains(&f))
            .map_or(f, |r| r.0)
    };
    // Frame by frame: wrong names, and which track followed whom.
    let mut followed: BTreeMap<(String, usize), Vec<u64>> = BTreeMap::new();
    for (f, boxes) in drawn.iter().enumerate() {
        if truth.at(f).any(|r| r.who == Who::Stranger) {
            s.stranger_frames += 1;
        }
        let mut frame_wrong = false;
        for d in boxes {
            let row = truth.row_of(f, &d.bbox);
            let expected = row.and_then(|r| match &r.who {
                Who::Person(p) => Some(p.as_str()),
                Who::Stranger => None,
            });
            if let Some(name) = &d.person
                && Some(name.as_str()) != expected
            {
                frame_wrong = true;
                wrong(
                    &mut s,
                    format!(
                        "frame {f}: track {} named {name}, truth {:?}",
                        d.track, expected
                    ),
                );
            }
            if let Some(p) = expected {
                let start = appearance_start(p, f);
                followed
                    .entry((p.to_string(), start))
                    .or_default()
                    .push(d.track);
            }
        }
        s.wrong_name_frames += frame_wrong as usize;
    }
    let mut times = Vec::new();
    let mut switches_by_person: BTreeMap<&str, usize> = BTreeMap::new();
    for (&person, person_runs) in &runs {
        for &(start, end) in person_runs {
            s.appearances += 1;
            let named_at = (start..=end).find(|&f| {
                drawn[f].iter().any(|d| {
                    d.person.as_deref() == Some(person)
                        && truth
                            .row_of(f, &d.bbox)
                            .is_some_and(|r| r.who == Who::Person(person.into()))
                })
            });
            match named_at {
                Some(f) => times.push((f - start) as f32 / truth.fps),
                None => s.missed.push(format!("{person} frames {start}–{end}")),
            }
            let tracks = followed
                .get(&(person.to_string(), start))
                .cloned()
                .unwrap_or_default();
            let switches = tracks.windows(2).filter(|w| w[0] != w[1]).count();
            let distinct: BTreeSet<u64> = tracks.iter().copied().collect();
            s.identity_switches += switches;
            s.fragmented_tracks += distinct.len().saturating_sub(1);
            *switches_by_person.entry(person).or_default() += switches;
        }
    }
    s.max_switches_per_person = switches_by_person.values().copied().max().unwrap_or(0);
    if !times.is_empty() {
        s.max_time_to_name_s = times.iter().copied().reduce(f32::max);
        s.mean_time_to_name_s = Some(times.iter().sum::<f32>() / times.len() as f32);
    }
    for e in events {
        *s.events.entry(e.kind.to_string()).or_default() += 1;
        if let Some(reason) = e.reason {
            *s.lost_reasons.entry(reason.to_string()).or_default() += 1;
        }
        let row = truth.row_of(e.frame, &e.bbox);
        if e.kind == "track_appeared" && row.is_none() {
            s.spurious_tracks += 1;
        }
        if e.kind == "track_lost" {
            continue;
        }
        let expected = row.and_then(|r| match &r.who {
            Who::Person(p) => Some(p.as_str()),
            Who::Stranger => None,
        });
        if let Some(name) = &e.person
            && Some(name.as_str()) != expected
        {
            s.wrong_name_events += 1;
            wrong(
                &mut s,
                format!(
                    "{} at frame {} on track {} named {name}, truth {expected:?}",
                    e.kind, e.frame, e.track
                ),
            );
        }
    }
    s
}

/// The runs of consecutive frames in which `person` is in view.
fn appearances(truth: &Truth, person: &str, frames: usize) -> Vec<(usize, usize)> {
    let present = |f: usize| truth.at(f).any(|r| r.who == Who::Person(person.into()));
    let mut runs = Vec::new();
    let mut start = None;
    for f in 0..frames {
        match (present(f), start) {
            (true, None) => start = Some(f),
            (false, Some(b)) => {
                runs.push((b, f - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(b) = start {
        runs.push((b, frames - 1));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> BBox {
        BBox {
            x1: x,
            y1: 0.0,
            x2: x + 50.0,
            y2: 50.0,
        }
    }

    fn drawn(track: u64, x: f32, person: Option<&str>) -> Drawn {
        Drawn {
            track,
            bbox: b(x),
            person: person.map(str::to_string),
        }
    }

    #[test]
    fn a_clip_with_a_late_name_a_switch_a_stranger_named_and_a_miss() {
        // ana in frames 0–9 (box-less); ivan 10–14 left, a stranger right.
        let truth =
            Truth::parse("# fps=10\n0,9,ana\n10,14,ivan,0,0,100,100\n10,14,-,200,0,300,100\n")
                .unwrap();
        let mut frames: Vec<Vec<Drawn>> = vec![];
        for f in 0..10 {
            // Pending for 3 frames, then named; the track changes at 6.
            let track = if f < 6 { 1 } else { 2 };
            frames.push(vec![drawn(track, 10.0, (f >= 3).then_some("ana"))]);
        }
        for f in 10..15 {
            // ivan never named; the stranger named "ana" on one frame.
            frames.push(vec![
                drawn(3, 10.0, None),
                drawn(4, 210.0, (f == 12).then_some("ana")),
            ]);
        }
        let events = vec![Announced {
            kind: "track_appeared",
            frame: 12,
            track: 4,
            bbox: b(210.0),
            person: Some("ana".into()),
            reason: None,
        }];
        let s = score("t", &truth, &frames, &events);
        assert_eq!(s.appearances, 2);
        assert_eq!(s.wrong_name_frames, 1);
        assert_eq!(s.wrong_name_events, 1);
        assert_eq!((s.identity_switches, s.fragmented_tracks), (1, 1));
        assert_eq!(s.max_time_to_name_s, Some(0.3));
        assert_eq!(s.missed, vec!["ivan frames 10–14".to_string()]);
        assert_eq!(s.stranger_frames, 5);
        assert_eq!(s.spurious_tracks, 0);
    }
}
