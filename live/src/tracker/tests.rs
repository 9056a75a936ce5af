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

fn known(person: &str) -> Sample {
    Sample {
        label: Label::Known {
            domain: "serbia".into(),
            person: person.into(),
        },
        distance: Some(0.3),
        confidence: 0.9,
    }
}

/// A unit descriptor along axis `k`: different axes are √2 apart, far
/// beyond any pack's split distance.
fn axis(k: usize) -> Vec<f32> {
    let mut v = vec![0.0; 128];
    v[k] = 1.0;
    v
}

/// `axis(k)` nudged by `by` along another axis: the same face.
fn near(k: usize, by: f32) -> Vec<f32> {
    let mut v = axis(k);
    v[(k + 1) % 128] = by;
    v
}

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn kinds(events: &[TrackEvent]) -> Vec<(&'static str, u64)> {
    events
        .iter()
        .map(|e| {
            let kind = match e {
                TrackEvent::Appeared(_) => "appeared",
                TrackEvent::IdentityChanged { .. } => "changed",
                TrackEvent::Lost { .. } => "lost",
            };
            (kind, e.track().id)
        })
        .collect()
}

/// Detects `faces` at `now` and samples each new or due track with the
/// given descriptor and label; returns every event.
fn step(
    tracker: &mut Tracker,
    now: Instant,
    faces: Vec<(Face, Vec<f32>, Sample)>,
) -> Vec<TrackEvent> {
    let mut events = tracker.update(faces.iter().map(|f| f.0.clone()).collect(), now);
    for id in tracker.due_for_embedding(now, Duration::ZERO) {
        let bbox = tracker.get(id).unwrap().bbox();
        let (_, d, s) = faces.iter().find(|f| f.0.bbox == bbox).unwrap();
        events.extend(tracker.add_sample(id, d.clone(), s.clone(), now));
    }
    events
}

#[test]
fn a_moving_face_keeps_its_track_id() {
    let mut tracker = Tracker::default();
    let start = Instant::now();
    for i in 0..30u64 {
        // Two faces drifting 3 px per frame.
        let d = i as f32 * 3.0;
        tracker.update(
            vec![face(100.0 + d, 100.0), face(400.0 - d, 120.0)],
            ms(start, i * 33),
        );
    }
    let ids: Vec<u64> = tracker.tracks().iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn a_fast_face_seen_every_third_frame_is_followed_by_its_predicted_box() {
    // 24 px per frame (30 fps), detected every 3rd frame: 72 px between
    // detections — an 80 px box that far away barely overlaps where it
    // was. Two detections a frame apart give the velocity.
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    tracker.update(vec![face(26.0, 100.0)], ms(t0, 0));
    for k in 1..10u64 {
        let x = 50.0 + 72.0 * (k - 1) as f32;
        tracker.update(vec![face(x, 100.0)], ms(t0, 33 + (k - 1) * 100));
        assert_eq!(tracker.tracks().len(), 1, "a second track at step {k}");
        let t = &tracker.tracks()[0];
        assert_eq!(t.id, 1);
        // Between detections the box moves on.
        let between = t.bbox_at(ms(t0, 33 + (k - 1) * 100 + 33));
        assert!((between.x1 - (x + 24.0)).abs() < 3.0, "{between:?}");
    }
    // Without the prediction the same detections make new tracks.
    let standing = TrackerConfig {
        iou_match: 0.3,
        ..TrackerConfig::default()
    };
    let mut still = Tracker::new(standing);
    still.update(vec![face(50.0, 100.0)], t0);
    still.update(vec![face(122.0, 100.0)], ms(t0, 100));
    assert_eq!(
        still.tracks().len(),
        2,
        "72 px is beyond IoU matching alone"
    );
}

#[test]
fn a_track_is_announced_after_two_samples_and_ends_exactly_once() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let ana = || (face(100.0, 100.0), near(0, 0.05), known("ana"));
    assert!(step(&mut tracker, t0, vec![ana()]).is_empty(), "one sample");
    let e = step(&mut tracker, ms(t0, 100), vec![ana()]);
    assert_eq!(kinds(&e), vec![("appeared", 1)]);
    // Missed for a few frames: still the same track, no event.
    for k in 2..8 {
        assert!(tracker.update(vec![], ms(t0, k * 100)).is_empty());
    }
    let e = step(&mut tracker, ms(t0, 800), vec![ana()]);
    assert!(e.is_empty(), "{:?}", kinds(&e));
    // Gone for over a second: lost.
    let e = tracker.update(vec![], ms(t0, 1900));
    assert_eq!(kinds(&e), vec![("lost", 1)]);
    assert!(matches!(
        e[0],
        TrackEvent::Lost {
            reason: LostReason::Left,
            ..
        }
    ));
    assert!(tracker.tracks().is_empty());
}

#[test]
fn another_face_in_the_same_box_splits_the_track() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let at = face(200.0, 100.0);
    step(&mut tracker, t0, vec![(at.clone(), axis(0), known("ana"))]);
    step(
        &mut tracker,
        ms(t0, 100),
        vec![(at.clone(), near(0, 0.1), known("ana"))],
    );
    assert_eq!(tracker.tracks()[0].identity.as_ref().unwrap().votes, 2);
    // A cut the scene detector missed: ivan's face where ana's was. One
    // far sample hides the name but ends nothing (it may be a bad one)…
    let e = step(
        &mut tracker,
        ms(t0, 200),
        vec![(at.clone(), axis(5), known("ivan"))],
    );
    assert!(e.is_empty(), "{:?}", kinds(&e));
    let t = &tracker.tracks()[0];
    assert_eq!((t.id, t.checking), (1, true));
    assert!(t.shown_identity().is_none(), "no name while in doubt");
    // …a second one agreeing with it ends the old track, and the new one
    // has two samples: decided at once.
    let e = step(
        &mut tracker,
        ms(t0, 300),
        vec![(at.clone(), near(5, 0.1), known("ivan"))],
    );
    assert_eq!(kinds(&e), vec![("lost", 1), ("appeared", 2)]);
    assert!(matches!(
        e[0],
        TrackEvent::Lost {
            reason: LostReason::FaceChanged,
            ..
        }
    ));
    match &e[1] {
        TrackEvent::Appeared(t) => {
            assert_eq!(t.identity.as_ref().unwrap().label, known("ivan").label)
        }
        _ => unreachable!(),
    }
}

#[test]
fn one_bad_descriptor_does_not_split_a_track() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let at = face(200.0, 100.0);
    step(&mut tracker, t0, vec![(at.clone(), axis(0), known("ana"))]);
    step(
        &mut tracker,
        ms(t0, 100),
        vec![(at.clone(), near(0, 0.1), known("ana"))],
    );
    // A garbage descriptor (a face turned away), then ana again.
    let e = step(
        &mut tracker,
        ms(t0, 200),
        vec![(
            at.clone(),
            axis(7),
            Sample {
                label: Label::Unknown,
                distance: None,
                confidence: 0.0,
            },
        )],
    );
    assert!(e.is_empty());
    let e = step(
        &mut tracker,
        ms(t0, 300),
        vec![(at, near(0, 0.05), known("ana"))],
    );
    assert!(e.is_empty(), "{:?}", kinds(&e));
    let t = &tracker.tracks()[0];
    assert_eq!(t.id, 1);
    assert!(!t.checking);
    assert_eq!(t.samples.len(), 3, "the bad sample never voted");
}

#[test]
fn a_face_that_jumps_across_the_frame_keeps_its_track() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    step(
        &mut tracker,
        t0,
        vec![(face(50.0, 50.0), axis(0), known("ana"))],
    );
    step(
        &mut tracker,
        ms(t0, 100),
        vec![(face(50.0, 50.0), near(0, 0.1), known("ana"))],
    );
    // Next detection: far away (no overlap), the same face.
    let e = step(
        &mut tracker,
        ms(t0, 200),
        vec![(face(400.0, 300.0), near(0, 0.2), known("ana"))],
    );
    assert!(e.is_empty(), "{:?}", kinds(&e));
    let ids: Vec<u64> = tracker.tracks().iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![1]);
    assert_eq!(tracker.tracks()[0].bbox().x1, 400.0);
    // A different face jumping in is a new track, and the old one leaves
    // in time.
    let e = step(
        &mut tracker,
        ms(t0, 300),
        vec![(face(50.0, 50.0), axis(9), known("ivan"))],
    );
    assert!(e.is_empty());
    assert_eq!(tracker.tracks().len(), 2);
    let e = tracker.update(vec![face(50.0, 50.0)], ms(t0, 1400));
    assert_eq!(kinds(&e), vec![("lost", 1)]);
}

#[test]
fn a_named_track_whose_samples_turn_unknown_loses_its_name_at_once() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let f = face(10.0, 10.0);
    for k in 0..5 {
        step(
            &mut tracker,
            ms(t0, k * 100),
            vec![(f.clone(), near(0, 0.01 * k as f32), known("ana"))],
        );
    }
    let stranger = Sample {
        label: Label::Unknown,
        distance: None,
        confidence: 0.0,
    };
    let e = step(
        &mut tracker,
        ms(t0, 500),
        vec![(f.clone(), near(0, 0.3), stranger.clone())],
    );
    assert!(e.is_empty(), "one unknown sample of five");
    let e = step(
        &mut tracker,
        ms(t0, 600),
        vec![(f, near(0, 0.35), stranger)],
    );
    match &e[..] {
        [TrackEvent::IdentityChanged { track, previous }] => {
            assert_eq!(track.identity.as_ref().unwrap().label, Label::Unknown);
            assert_eq!(previous.label, known("ana").label);
        }
        other => panic!("{:?}", kinds(other)),
    }
}

#[test]
fn decided_tracks_are_embedded_once_per_interval_and_unsettled_ones_every_time() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let second = Duration::from_secs(1);
    tracker.update(vec![face(0.0, 0.0), face(300.0, 0.0)], t0);
    assert_eq!(tracker.due_for_embedding(t0, second), vec![1, 2]);
    tracker.add_sample(1, axis(0), known("ana"), t0);
    tracker.add_sample(2, axis(1), known("ivan"), t0);
    // Undecided after one sample: due again at the next detection.
    let t1 = ms(t0, 100);
    tracker.update(vec![face(0.0, 0.0), face(300.0, 0.0)], t1);
    assert_eq!(tracker.due_for_embedding(t1, second), vec![1, 2]);
    tracker.add_sample(1, axis(0), known("ana"), t1);
    tracker.add_sample(2, axis(1), known("ivan"), t1);
    let t2 = ms(t0, 200);
    tracker.update(vec![face(0.0, 0.0), face(300.0, 0.0)], t2);
    assert!(tracker.due_for_embedding(t2, second).is_empty());
    let t3 = ms(t0, 1200);
    tracker.update(vec![face(0.0, 0.0)], t3);
    // Track 2 was not seen in this frame: its face is not here to embed.
    assert_eq!(tracker.due_for_embedding(t3, second), vec![1]);
}

#[test]
fn ending_all_tracks_loses_only_the_announced_ones() {
    let mut tracker = Tracker::default();
    let t0 = Instant::now();
    let a = face(0.0, 0.0);
    let b = face(300.0, 0.0);
    step(
        &mut tracker,
        t0,
        vec![
            (a.clone(), axis(0), known("ana")),
            (b.clone(), axis(1), known("ivan")),
        ],
    );
    tracker.update(vec![a.clone(), b], ms(t0, 100));
    tracker.add_sample(1, axis(0), known("ana"), ms(t0, 100));
    let e = tracker.end_all(LostReason::SceneCut);
    assert_eq!(kinds(&e), vec![("lost", 1)]);
    assert!(tracker.tracks().is_empty());
    assert!(tracker.end_all(LostReason::Stopped).is_empty());
}
