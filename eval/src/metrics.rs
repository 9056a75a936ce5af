//! The figures `facerecd eval` reports, from descriptors alone (no models
//! here, so that each definition is tested on numbers with known answers).
//!
//! Every distance is Euclidean between a pack's descriptors (a cosine
//! pack's are unit vectors); "named" means nearest distance `< threshold`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dataset::Pair;

/// One labelled photo after detection and embedding (`None`: no face).
#[derive(Debug, Clone)]
pub struct Embedded {
    pub identity: String,
    pub descriptor: Option<Vec<f32>>,
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    facerec_vision::distance(a, b)
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    pub threshold: f32,
    /// Impostor pairs accepted / impostor pairs.
    pub far: f64,
    /// Genuine pairs rejected / genuine pairs.
    pub frr: f64,
    /// Pairs decided right / pairs.
    pub accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Pairs with a photo where no face was found (each counts as a
    /// rejection: an error for a genuine pair).
    pub pairs_missing_a_face: usize,
    pub at_threshold: Rates,
    /// Where FAR and FRR are closest.
    pub equal_error: Rates,
    /// FAR and FRR at thresholds spread over the observed distances.
    pub sweep: Vec<Rates>,
}

/// Verification over `pairs`, or over every pair of photos when empty.
pub fn verification(photos: &[Embedded], pairs: &[Pair], threshold: f32) -> Verification {
    let all_pairs;
    let pairs = if pairs.is_empty() {
        all_pairs = (0..photos.len())
            .flat_map(|a| (a + 1..photos.len()).map(move |b| Pair { a, b, same: false }))
            .map(|p| Pair {
                same: photos[p.a].identity == photos[p.b].identity,
                ..p
            })
            .collect::<Vec<_>>();
        &all_pairs
    } else {
        pairs
    };
    // `None`: a face was missing, the pair is rejected at any threshold.
    let mut genuine: Vec<Option<f32>> = Vec::new();
    let mut impostor: Vec<Option<f32>> = Vec::new();
    for p in pairs {
        let d = match (&photos[p.a].descriptor, &photos[p.b].descriptor) {
            (Some(a), Some(b)) => Some(distance(a, b)),
            _ => None,
        };
        if p.same { &mut genuine } else { &mut impostor }.push(d);
    }
    let rates = |t: f32| {
        let accepted = |ds: &[Option<f32>]| ds.iter().filter(|d| d.is_some_and(|d| d < t)).count();
        let (ga, ia) = (accepted(&genuine), accepted(&impostor));
        let frac = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        Rates {
            threshold: t,
            far: frac(ia, impostor.len()),
            frr: frac(genuine.len() - ga, genuine.len()),
            accuracy: frac(ga + impostor.len() - ia, genuine.len() + impostor.len()),
        }
    };
    let mut candidates: Vec<f32> = genuine.iter().chain(&impostor).flatten().copied().collect();
    candidates.sort_by(f32::total_cmp);
    let equal_error = candidates
        .iter()
        .map(|&d| rates(d.next_up()))
        .min_by(|a, b| (a.far - a.frr).abs().total_cmp(&(b.far - b.frr).abs()))
        .unwrap_or_else(|| rates(threshold));
    let sweep = if candidates.is_empty() {
        Vec::new()
    } else {
        let (lo, hi) = (candidates[0], candidates[candidates.len() - 1]);
        (0..=20)
            .map(|i| rates(lo + (hi - lo) * i as f32 / 20.0))
            .collect()
    };
    Verification {
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        pairs_missing_a_face: genuine
            .iter()
            .chain(&impostor)
            .filter(|d| d.is_none())
            .count(),
        at_threshold: rates(threshold),
        equal_error,
        sweep,
    }
}

/// One probe's nearest gallery identity.
#[derive(Debug, Clone)]
struct Probe {
    /// The probe's own identity if it is enrolled; `None` for a stranger.
    enrolled_as: Option<String>,
    nearest: String,
    distance: f32,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    /// Strangers named / strangers.
    pub fpir: f64,
    /// Enrolled probes not given their own name / enrolled probes.
    pub fnir: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenSet {
    /// Identities enrolled, summed over both folds.
    pub enrolled_identities: usize,
    pub gallery_photos: usize,
    pub enrolled_probes: usize,
    pub stranger_probes: usize,
    /// Enrolled probes whose nearest identity is their own (no threshold).
    pub rank1: f64,
    pub at_fpir_1pct: OperatingPoint,
    pub at_fpir_01pct: OperatingPoint,
    /// The threshold where at most 2% of enrolled probes go unnamed
    /// (`None` if rank-1 misses alone exceed 2%).
    pub at_fnir_2pct: Option<OperatingPoint>,
    /// At the pack's threshold.
    pub at_threshold: OperatingPoint,
    pub correctly_named: usize,
    pub wrongly_named: usize,
    pub strangers_named: usize,
}

/// Open-set identification in two folds. People with two or more photos
/// (with a face) are split alternately by name: in fold 0 the even ones are
/// enrolled, in fold 1 the odd ones. An enrolled person's first half of
/// photos (at most 5) is the gallery and the rest are probes; every photo of
/// everyone not enrolled (and of people with one photo) probes as a
/// stranger.
pub fn open_set(photos: &[Embedded], threshold: f32) -> OpenSet {
    let by_person = by_person(photos);
    let multi: Vec<&str> = by_person
        .iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(k, _)| *k)
        .collect();
    let mut probes = Vec::new();
    let (mut enrolled_identities, mut gallery_photos) = (0, 0);
    for fold in 0..2 {
        let enrolled: Vec<&str> = multi
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == fold)
            .map(|(_, p)| *p)
            .collect();
        let mut gallery: Vec<(&str, &[f32])> = Vec::new();
        let mut fold_probes: Vec<(Option<&str>, &[f32])> = Vec::new();
        for (person, ds) in &by_person {
            if enrolled.contains(person) {
                let g = gallery_len(ds.len());
                gallery.extend(ds[..g].iter().map(|d| (*person, *d)));
                fold_probes.extend(ds[g..].iter().map(|d| (Some(*person), *d)));
            } else {
                fold_probes.extend(ds.iter().map(|d| (None, *d)));
            }
        }
        enrolled_identities += enrolled.len();
        gallery_photos += gallery.len();
        for (enrolled_as, d) in fold_probes {
            let Some((nearest, dist)) = gallery
                .iter()
                .map(|(who, g)| (*who, distance(d, g)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                continue;
            };
            probes.push(Probe {
                enrolled_as: enrolled_as.map(str::to_string),
                nearest: nearest.to_string(),
                distance: dist,
            });
        }
    }
    summarise(probes, enrolled_identities, gallery_photos, threshold)
}

/// Descriptors by identity, photos without a face left out.
fn by_person(photos: &[Embedded]) -> BTreeMap<&str, Vec<&[f32]>> {
    let mut by_person: BTreeMap<&str, Vec<&[f32]>> = BTreeMap::new();
    for p in photos {
        if let Some(d) = &p.descriptor {
            by_person.entry(&p.identity).or_default().push(d);
        }
    }
    by_person
}

/// How many of an enrolled person's `photos` (in order) are the gallery.
fn gallery_len(photos: usize) -> usize {
    photos.div_ceil(2).min(5)
}

/// The person nearest to `probe` in the galleries of both folds of
/// [`open_set`] (everyone with two or more photos), and the distance:
/// what a domain enrolled like the evaluation would answer for a face
/// that is no one's.
pub fn nearest_enrolled(photos: &[Embedded], probe: &[f32]) -> Option<(String, f32)> {
    by_person(photos)
        .into_iter()
        .filter(|(_, ds)| ds.len() >= 2)
        .flat_map(|(person, ds)| {
            let g = gallery_len(ds.len());
            ds.into_iter()
                .take(g)
                .map(move |d| (person, distance(probe, d)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(person, d)| (person.to_string(), d))
}

fn summarise(
    probes: Vec<Probe>,
    enrolled_identities: usize,
    gallery_photos: usize,
    threshold: f32,
) -> OpenSet {
    let (enrolled, strangers): (Vec<&Probe>, Vec<&Probe>) =
        probes.iter().partition(|p| p.enrolled_as.is_some());
    let right = |p: &Probe| p.enrolled_as.as_deref() == Some(p.nearest.as_str());
    let frac = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let point = |t: f32| OperatingPoint {
        threshold: t,
        fpir: frac(
            strangers.iter().filter(|p| p.distance < t).count(),
            strangers.len(),
        ),
        fnir: frac(
            enrolled.len()
                - enrolled
                    .iter()
                    .filter(|p| right(p) && p.distance < t)
                    .count(),
            enrolled.len(),
        ),
    };
    let mut stranger_distances: Vec<f32> = strangers.iter().map(|p| p.distance).collect();
    stranger_distances.sort_by(f32::total_cmp);
    // The largest threshold naming at most `fpir` of the strangers.
    let at_fpir = |fpir: f64| {
        let allowed = (fpir * stranger_distances.len() as f64).floor() as usize;
        point(
            stranger_distances
                .get(allowed)
                .copied()
                .unwrap_or(f32::INFINITY),
        )
    };
    let mut right_distances: Vec<f32> = enrolled
        .iter()
        .filter(|p| right(p))
        .map(|p| p.distance)
        .collect();
    right_distances.sort_by(f32::total_cmp);
    let needed = (0.98 * enrolled.len() as f64).ceil() as usize;
    let at_fnir_2pct = (needed > 0 && needed <= right_distances.len())
        .then(|| point(right_distances[needed - 1].next_up()));
    let named = |p: &Probe| p.distance < threshold;
    OpenSet {
        enrolled_identities,
        gallery_photos,
        enrolled_probes: enrolled.len(),
        stranger_probes: strangers.len(),
        rank1: frac(enrolled.iter().filter(|p| right(p)).count(), enrolled.len()),
        at_fpir_1pct: at_fpir(0.01),
        at_fpir_01pct: at_fpir(0.001),
        at_fnir_2pct,
        at_threshold: point(threshold),
        correctly_named: enrolled.iter().filter(|p| named(p) && right(p)).count(),
        wrongly_named: enrolled.iter().filter(|p| named(p) && !right(p)).count(),
        strangers_named: strangers.iter().filter(|p| named(p)).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(identity: &str, x: f32) -> Embedded {
        Embedded {
            identity: identity.into(),
            descriptor: Some(vec![x, 0.0]),
        }
    }

    #[test]
    fn verification_counts_pairs_and_rates_at_the_threshold() {
        // a: 0.0, 0.1; b: 1.0, 1.2; c: no face. Genuine pairs: (a,a) 0.1,
        // (b,b) 0.2; impostor: 4 a–b pairs at 0.8–1.2 and 4 with c.
        let photos = vec![
            photo("a", 0.0),
            photo("a", 0.1),
            photo("b", 1.0),
            photo("b", 1.2),
            Embedded {
                identity: "c".into(),
                descriptor: None,
            },
        ];
        let v = verification(&photos, &[], 0.5);
        assert_eq!(
            (v.genuine_pairs, v.impostor_pairs, v.pairs_missing_a_face),
            (2, 8, 4)
        );
        assert_eq!(
            (
                v.at_threshold.far,
                v.at_threshold.frr,
                v.at_threshold.accuracy
            ),
            (0.0, 0.0, 1.0)
        );
        let loose = verification(&photos, &[], 0.95);
        assert_eq!(loose.at_threshold.far, 1.0 / 8.0); // 0.9 only
        let strict = verification(&photos, &[], 0.15);
        assert_eq!(strict.at_threshold.frr, 0.5);
        // Given pairs replace "every pair".
        let given = verification(
            &photos,
            &[Pair {
                a: 0,
                b: 4,
                same: true,
            }],
            0.5,
        );
        assert_eq!((given.genuine_pairs, given.at_threshold.frr), (1, 1.0));
    }

    #[test]
    fn open_set_names_the_enrolled_and_leaves_strangers_unnamed() {
        // Four people with two photos each, well apart, and one single-photo
        // stranger close to "p2" (0.35 from it).
        let mut photos = Vec::new();
        for (i, who) in ["p0", "p1", "p2", "p3"].iter().enumerate() {
            let x = i as f32 * 2.0;
            photos.push(photo(who, x));
            photos.push(photo(who, x + 0.1));
        }
        photos.push(photo("solo", 4.35));
        let o = open_set(&photos, 0.5);
        // Fold 0 enrols p0, p2; fold 1 p1, p3: each person's first photo is
        // gallery, its second a probe; the 2 others and solo are strangers.
        assert_eq!((o.enrolled_identities, o.gallery_photos), (4, 4));
        assert_eq!((o.enrolled_probes, o.stranger_probes), (4, 2 * 4 + 2));
        assert_eq!(o.rank1, 1.0);
        assert_eq!((o.correctly_named, o.wrongly_named), (4, 0));
        // solo is 0.35 from p2's gallery photo in fold 0: named.
        assert_eq!(o.strangers_named, 1);
        assert_eq!(o.at_threshold.fpir, 0.1);
        // At FPIR ≤ 1% of 10 strangers none may be named: threshold 0.35.
        assert!((o.at_fpir_1pct.threshold - 0.35).abs() < 1e-5);
        assert_eq!((o.at_fpir_1pct.fpir, o.at_fpir_1pct.fnir), (0.0, 0.0));
        let two = o.at_fnir_2pct.unwrap();
        assert!(two.threshold > 0.1 && two.threshold < 0.11 && two.fnir == 0.0);
    }

    #[test]
    fn a_face_of_no_one_is_matched_against_gallery_photos_only() {
        let mut photos = Vec::new();
        for (i, who) in ["p0", "p1", "p2"].iter().enumerate() {
            let x = i as f32 * 2.0;
            photos.push(photo(who, x));
            photos.push(photo(who, x + 0.1));
        }
        photos.push(photo("solo", 5.0));
        // p2's gallery is its first photo (4.0); 4.1 is a probe, and a
        // single-photo person is never enrolled.
        let (who, d) = nearest_enrolled(&photos, &[4.3, 0.0]).unwrap();
        assert_eq!(who, "p2");
        assert!((d - 0.3).abs() < 1e-5, "{d}");
        let (who, _) = nearest_enrolled(&photos, &[5.0, 0.0]).unwrap();
        assert_eq!(who, "p2");
        assert!(nearest_enrolled(&photos[6..], &[5.0, 0.0]).is_none());
    }
}
