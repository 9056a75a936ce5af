//! The tracker's lifecycle invariants over random detection sequences.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use facerec_vision::{BBox, Face};
use proptest::prelude::*;

use super::*;

/// One step of a random camera: a detection with some faces (each a
/// position, a person among a few, and whether the gate lets it vote),
/// some frames without a detection, or a scene cut.
#[derive(Debug, Clone)]
enum Step {
    Detect(Vec<(u8, u8, u8, bool)>),
    Pause(u16),
    Cut,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec((0u8..8, 0u8..6, 0u8..5, any::<bool>()), 0..5).prop_map(Step::Detect),
        2 => (1u16..1500).prop_map(Step::Pause),
        1 => Just(Step::Cut),
    ]
}

fn face(cell: u8, jitter: u8) -> Face {
    let x = (cell % 4) as f32 * 150.0 + jitter as f32 * 4.0;
    let y = (cell / 4) as f32 * 200.0 + jitter as f32 * 3.0;
    Face {
        bbox: BBox {
            x1: x,
            y1: y,
            x2: x + 90.0,
            y2: y + 110.0,
        },
        score: 0.9,
        landmarks: [[0.0; 2]; 5],
    }
}

/// Person `p` (4 = a stranger) with a little noise: the same person's
/// descriptors are close, different people's far apart.
fn descriptor(p: u8, noise: u8) -> Vec<f32> {
    let mut v = vec![0.0f32; 128];
    v[p as usize * 10] = 1.0;
    v[p as usize * 10 + 1] = noise as f32 * 0.02;
    v
}

fn label(p: u8) -> Sample {
    if p == 4 {
        Sample {
            label: Label::Unknown,
            distance: None,
            confidence: 0.0,
        }
    } else {
        Sample {
            label: Label::Known {
                domain: "d".into(),
                person: format!("p{p}"),
            },
            distance: Some(0.3),
            confidence: 0.8,
        }
    }
}

#[derive(Default)]
struct Ledger {
    appeared: HashSet<u64>,
    lost: HashSet<u64>,
    named: HashMap<u64, Label>,
}

impl Ledger {
    fn record(&mut self, events: Vec<TrackEvent>) -> Result<(), TestCaseError> {
        for e in events {
            let id = e.track().id;
            prop_assert!(
                !self.lost.contains(&id),
                "an event after track {id} was lost: {e:?}"
            );
            match e {
                TrackEvent::Appeared(t) => {
                    prop_assert!(self.appeared.insert(id), "track {id} appeared twice");
                    self.named.insert(id, t.identity.clone().unwrap().label);
                }
                TrackEvent::IdentityChanged { track, previous } => {
                    prop_assert!(self.appeared.contains(&id), "change before appearance");
                    prop_assert_eq!(&self.named[&id], &previous.label);
                    let now = track.identity.clone().unwrap().label;
                    prop_assert_ne!(&now, &previous.label, "a change to the same name");
                    self.named.insert(id, now);
                }
                TrackEvent::Lost { .. } => {
                    prop_assert!(self.appeared.contains(&id), "lost without appearing: {id}");
                    self.lost.insert(id);
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_announced_track_ends_exactly_once(steps in prop::collection::vec(step(), 1..60)) {
        let mut tracker = Tracker::default();
        let mut ledger = Ledger::default();
        let t0 = Instant::now();
        let mut now = t0;
        for s in steps {
            match s {
                Step::Pause(ms) => {
                    now += Duration::from_millis(ms as u64);
                    ledger.record(tracker.update(vec![], now))?;
                }
                Step::Cut => ledger.record(tracker.end_all(LostReason::SceneCut))?,
                Step::Detect(faces) => {
                    now += Duration::from_millis(100);
                    let faces: Vec<(Face, u8, u8, bool)> = faces
                        .into_iter()
                        .map(|(cell, person, noise, passes)| (face(cell, noise), person, noise, passes))
                        .collect();
                    ledger.record(tracker.update(faces.iter().map(|f| f.0.clone()).collect(), now))?;
                    for id in tracker.due_for_embedding(now, Duration::from_millis(500)) {
                        let bbox = tracker.get(id).unwrap().bbox();
                        let Some((_, person, noise, passes)) = faces.iter().find(|f| f.0.bbox == bbox) else {
                            continue;
                        };
                        // Refused by the gate: no sample.
                        if *passes {
                            ledger.record(tracker.add_sample(id, descriptor(*person, *noise), label(*person), now))?;
                        }
                    }
                }
            }
            // Every track shown with a name was announced with it.
            for t in tracker.tracks() {
                if let Some(d) = &t.identity {
                    prop_assert_eq!(ledger.named.get(&t.id), Some(&d.label));
                    prop_assert!(!ledger.lost.contains(&t.id));
                }
            }
        }
        ledger.record(tracker.end_all(LostReason::Stopped))?;
        prop_assert!(tracker.tracks().is_empty());
        prop_assert_eq!(&ledger.appeared, &ledger.lost, "every appeared track is lost exactly once");
    }
}
