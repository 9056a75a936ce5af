//! A track's identity from its latest samples. The rules favour "not
//! sure" over a wrong name: a name needs at least `min_agree` agreeing
//! samples *and* a clear majority of the window, unknown samples count
//! against it, and a named track whose latest `min_agree` samples all
//! disagree loses the name at once.

use std::collections::VecDeque;

/// Who one sample (one embedding of the track's face) matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoteRules {
    /// A name needs at least this many agreeing samples; a track is
    /// announced (named or unknown) once it has this many samples.
    pub min_agree: usize,
    /// …and more than this share of the window.
    pub majority: f32,
}

impl Default for VoteRules {
    fn default() -> Self {
        Self {
            min_agree: 2,
            majority: 0.5,
        }
    }
}

/// The decision over `samples` (oldest first) for a track currently
/// decided as `current`; `None` while an undecided track has too few
/// samples to say anything.
pub fn decide(
    samples: &VecDeque<Sample>,
    current: Option<&Decision>,
    rules: VoteRules,
) -> Option<Decision> {
    let min_agree = rules.min_agree.max(1);
    if current.is_none() && samples.len() < min_agree {
        return None;
    }
    // The latest samples all disagreeing with the name take it away now,
    // even while older samples still hold a majority for it.
    let disowned = current.and_then(|c| {
        let recent: Vec<&Sample> = samples.iter().rev().take(min_agree).collect();
        (matches!(c.label, Label::Known { .. })
            && recent.len() == min_agree
            && recent.iter().all(|s| s.label != c.label))
        .then_some(&c.label)
    });
    let n = samples.len();
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
    let named = tally
        .iter()
        .filter(|(label, voters)| {
            matches!(label, Label::Known { .. })
                && Some(*label) != disowned
                && voters.len() >= min_agree
                && voters.len() as f32 > rules.majority * n as f32
        })
        .max_by(|a, b| {
            a.1.len()
                .cmp(&b.1.len())
                .then(mean_distance(&b.1).total_cmp(&mean_distance(&a.1)))
        });
    Some(match named {
        Some((label, voters)) => Decision {
            label: (*label).clone(),
            distance: voters
                .iter()
                .filter_map(|s| s.distance)
                .min_by(|a, b| a.total_cmp(b)),
            confidence: voters.iter().map(|s| s.confidence).sum::<f32>() / voters.len() as f32,
            votes: voters.len(),
            of: n,
        },
        None => Decision {
            label: Label::Unknown,
            distance: None,
            confidence: 0.0,
            votes: samples.iter().filter(|s| s.label == Label::Unknown).count(),
            of: n,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            distance: None,
            confidence: 0.0,
        }
    }

    fn person(d: &Option<Decision>) -> Option<&str> {
        match d.as_ref().map(|d| &d.label) {
            Some(Label::Known { person, .. }) => Some(person),
            _ => None,
        }
    }

    /// Feeds samples one by one as a track would, returning each decision.
    fn run(samples: Vec<Sample>, window: usize) -> Vec<Option<Decision>> {
        let mut w = VecDeque::new();
        let mut current: Option<Decision> = None;
        let mut out = vec![];
        for s in samples {
            w.push_back(s);
            if w.len() > window {
                w.pop_front();
            }
            if let Some(d) = decide(&w, current.as_ref(), VoteRules::default()) {
                current = Some(d);
            }
            out.push(current.clone());
        }
        out
    }

    #[test]
    fn one_sample_names_nobody() {
        let d = run(vec![known("ana", 0.3)], 5);
        assert_eq!(d[0], None, "one sample is not a decision");
    }

    #[test]
    fn two_agreeing_samples_name_and_unknowns_count_against() {
        let d = run(vec![known("ana", 0.4), known("ana", 0.3)], 5);
        assert_eq!(person(&d[1]), Some("ana"));
        assert_eq!(d[1].as_ref().unwrap().distance, Some(0.3));
        // ana, unknown: no majority → announced as unknown; a third ana
        // sample makes 2 of 3.
        let d = run(vec![known("ana", 0.4), unknown(), known("ana", 0.4)], 5);
        assert_eq!(d[1].as_ref().unwrap().label, Label::Unknown);
        assert_eq!(person(&d[2]), Some("ana"));
        // Two of four is not a majority.
        let d = run(
            vec![known("ana", 0.4), unknown(), unknown(), known("ana", 0.4)],
            5,
        );
        assert_eq!(person(&d[3]), None);
    }

    #[test]
    fn two_people_with_one_sample_each_name_nobody() {
        let d = run(vec![known("ana", 0.2), known("ivan", 0.2)], 5);
        assert_eq!(d[1].as_ref().unwrap().label, Label::Unknown);
    }

    #[test]
    fn a_name_goes_as_soon_as_the_latest_samples_disagree() {
        let mut samples = vec![known("ana", 0.3); 5];
        samples.push(known("ivan", 0.3));
        // One disagreeing sample: ana still has 4 of 5.
        let d = run(samples.clone(), 5);
        assert_eq!(person(&d[5]), Some("ana"));
        // Two: the name goes at once (to unknown: ivan has no majority)…
        samples.push(known("ivan", 0.3));
        let d = run(samples.clone(), 5);
        assert_eq!(d[6].as_ref().unwrap().label, Label::Unknown);
        // …and a third names ivan.
        samples.push(known("ivan", 0.3));
        let d = run(samples, 5);
        assert_eq!(person(&d[7]), Some("ivan"));
    }

    #[test]
    fn a_tie_between_two_names_goes_to_the_closer() {
        // Window 4: ana 2, ivan 2 — neither has more than half.
        let d = run(
            vec![
                known("ana", 0.2),
                known("ana", 0.2),
                known("ivan", 0.4),
                known("ivan", 0.4),
            ],
            4,
        );
        assert_eq!(d[3].as_ref().unwrap().label, Label::Unknown);
        let rules = VoteRules {
            min_agree: 2,
            majority: 0.4,
        };
        let w: VecDeque<Sample> = [
            known("ivan", 0.4),
            known("ana", 0.2),
            known("ivan", 0.4),
            known("ana", 0.2),
        ]
        .into();
        let d = decide(&w, None, rules).unwrap();
        assert_eq!(person(&Some(d)), Some("ana"));
    }
}
