//! Search on real face descriptors: enrolment, held-back photos, strangers,
//! removal, restart, inheritance and both search modes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use facerec_index::*;
use facerec_storage::*;
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, MATCH_THRESHOLD, ModelFiles, decode_image,
    default_models_dir,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Descriptor of the largest face of each photo.
fn descriptors(dir: &Path, files: &[&str]) -> HashMap<String, Vec<f32>> {
    let engine = FaceEngine::load_pack(
        &ModelFiles::new(default_models_dir()),
        &facerec_vision::DLIB_V1,
    )
    .unwrap();
    files
        .iter()
        .map(|f| {
            let img = decode_image(
                &std::fs::read(dir.join(f)).unwrap(),
                &DecodeLimits::default(),
            )
            .unwrap();
            let faces = engine.detect(&img, &DetectorConfig::default()).unwrap();
            let face = faces
                .iter()
                .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
                .unwrap();
            (f.to_string(), engine.embed_face(&img, face).unwrap().0)
        })
        .collect()
}

fn code(s: &str) -> DomainCode {
    DomainCode::parse(s).unwrap()
}

fn person(s: &str) -> PersonId {
    PersonId::parse(s).unwrap()
}

fn enrol(store: &Store, domain: &str, who: &str, vectors: &[&Vec<f32>]) {
    let d = code(domain);
    store
        .upsert_person(
            &d,
            NewPerson {
                id: person(who),
                display_name: who.into(),
                status: PersonStatus::Production,
                wikidata_id: None,
                country: None,
                occupations: vec![],
                sitelinks: None,
                image_urls: vec![],
            },
        )
        .unwrap();
    let new: Vec<NewEmbedding> = vectors
        .iter()
        .map(|v| NewEmbedding {
            image_id: None,
            vector: (*v).clone(),
        })
        .collect();
    store
        .add_embeddings(&d, "dlib-v1", &person(who), &new)
        .unwrap();
}

fn params() -> SearchParams {
    SearchParams::with_threshold(MATCH_THRESHOLD)
}

fn open(
    store: &Arc<Store>,
    served: &[DomainCode],
) -> Result<(IndexSet, Vec<LoadReport>), IndexError> {
    IndexSet::open(store.clone(), served, IndexOptions::new(params()))
}

fn sources(reports: &[LoadReport]) -> Vec<(String, IndexSource)> {
    reports
        .iter()
        .map(|r| (r.domain.to_string(), r.source.clone()))
        .collect()
}

#[test]
fn inheritance_isolation_removal_and_restart_on_the_bundled_samples() {
    let dir = repo().join("samples/faces");
    let v = descriptors(
        &dir,
        &[
            "img16.jpg",
            "img17.jpg",
            "img61.jpg",
            "img62.jpg",
            "img44.jpg",
            "img46.jpg",
            "img50.jpg",
            "img51.jpg",
            "img12.jpg",
            "img25.jpg",
        ],
    );
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    for d in ["serbia", "croatia", "slovenia", "greece"] {
        store.create_domain(NewDomain::named(d)).unwrap();
    }
    store
        .set_datasets(
            &code("slovenia"),
            vec![
                DatasetLink {
                    domain: code("croatia"),
                    priority: 1,
                },
                DatasetLink {
                    domain: code("serbia"),
                    priority: 2,
                },
            ],
        )
        .unwrap();
    enrol(
        &store,
        "serbia",
        "person_05",
        &[&v["img16.jpg"], &v["img17.jpg"], &v["img61.jpg"]],
    );
    enrol(&store, "serbia", "person_10", &[&v["img44.jpg"]]);
    enrol(&store, "croatia", "person_02", &[&v["img12.jpg"]]);
    enrol(&store, "greece", "person_03", &[&v["img50.jpg"]]);
    let served = [code("slovenia"), code("croatia"), code("serbia")];
    let (set, reports) = open(&store, &served).unwrap();
    assert!(
        reports
            .iter()
            .all(|r| r.source == IndexSource::Rebuilt(DumpProblem::Missing)),
        "first start builds every index: {reports:?}"
    );

    // A held-back photo of a Serbian face, asked on the Slovenian edge, is
    // found through inheritance after slovenia and croatia were searched.
    let hit = set
        .search(&code("slovenia"), &dlib(&v["img62.jpg"]))
        .unwrap();
    let best = hit.best.expect("person_05 found");
    assert_eq!(best.person, person("person_05"));
    assert_eq!(best.domain, code("serbia"));
    assert_eq!(
        hit.searched,
        [code("slovenia"), code("croatia"), code("serbia")]
    );
    assert!(best.distance < MATCH_THRESHOLD && best.confidence > 0.5 && best.votes >= 1);
    assert_eq!(
        set.search(&code("serbia"), &dlib(&v["img46.jpg"]))
            .unwrap()
            .best
            .unwrap()
            .person,
        person("person_10")
    );
    // Greek data is not inherited: the Greek face is unknown here, and
    // greece itself is not served by this set at all.
    assert!(
        set.search(&code("slovenia"), &dlib(&v["img51.jpg"]))
            .unwrap()
            .best
            .is_none()
    );
    assert!(matches!(
        set.search(&code("greece"), &dlib(&v["img51.jpg"])),
        Err(IndexError::NotServed(_))
    ));
    // A person never enrolled anywhere is unknown.
    assert!(
        set.search(&code("slovenia"), &dlib(&v["img25.jpg"]))
            .unwrap()
            .best
            .is_none()
    );
    // first_match stops at croatia when croatia matches.
    let hit = set
        .search(&code("slovenia"), &dlib(&v["img12.jpg"]))
        .unwrap();
    assert_eq!(hit.best.unwrap().domain, code("croatia"));
    assert_eq!(hit.searched, [code("slovenia"), code("croatia")]);

    // Removal (committed to redb, then applied): invisible to the next
    // query...
    assert_eq!(
        store
            .remove_person_embeddings(&code("serbia"), &person("person_05"))
            .unwrap(),
        3
    );
    let revision = store.embedding_revision(&code("serbia")).unwrap();
    set.apply(&code("serbia"), revision, &[], &[person("person_05")])
        .unwrap();
    assert_eq!(set.get(&code("serbia")).unwrap().tombstones(), 3);
    assert!(
        set.search(&code("slovenia"), &dlib(&v["img62.jpg"]))
            .unwrap()
            .best
            .is_none()
    );
    // ...and after a restart, whether from the saved dump...
    set.save_all().unwrap();
    drop(set);
    drop(store);
    let store = Arc::new(Store::open(root.path()).unwrap());
    let (set, reports) = open(&store, &served).unwrap();
    assert!(
        reports.iter().all(|r| r.source == IndexSource::Dump),
        "{:?}",
        sources(&reports)
    );
    assert!(
        set.search(&code("slovenia"), &dlib(&v["img62.jpg"]))
            .unwrap()
            .best
            .is_none()
    );
    // ...or rebuilt from redb.
    set.rebuild(&code("serbia")).unwrap();
    assert_eq!(set.get(&code("serbia")).unwrap().tombstones(), 0);
    assert!(
        set.search(&code("slovenia"), &dlib(&v["img62.jpg"]))
            .unwrap()
            .best
            .is_none()
    );
    assert_eq!(set.get(&code("serbia")).unwrap().len(), 1);

    // An edge may not load a domain whose datasets it does not serve.
    let partial = open(&store, &[code("slovenia"), code("croatia")])
        .err()
        .expect("refused");
    assert!(
        partial.to_string().contains("inherits 'serbia'"),
        "{partial}"
    );

    // `best` mode: the closest match over every inherited domain wins.
    enrol(&store, "croatia", "person_05_lookalike", &[&v["img16.jpg"]]);
    enrol(&store, "serbia", "person_05", &[&v["img61.jpg"]]);
    store
        .update_domain(
            &code("slovenia"),
            DomainPatch {
                search_mode: Some(SearchMode::Best),
                ..Default::default()
            },
        )
        .unwrap();
    drop(set);
    let (set, reports) = open(&store, &served).unwrap();
    assert!(
        matches!(
            &sources(&reports)[..],
            [
                (_, IndexSource::Dump),
                (_, IndexSource::Rebuilt(DumpProblem::Stale { .. })),
                (_, IndexSource::Rebuilt(DumpProblem::Stale { .. }))
            ]
        ),
        "embeddings added while the node was down make croatia and serbia stale: {:?}",
        sources(&reports)
    );
    let hit = set
        .search(&code("slovenia"), &dlib(&v["img62.jpg"]))
        .unwrap();
    assert_eq!(hit.searched.len(), 3, "best mode searches every domain");
    let best = hit.best.unwrap();
    let d16 = facerec_vision::distance(&v["img62.jpg"], &v["img16.jpg"]);
    let d61 = facerec_vision::distance(&v["img62.jpg"], &v["img61.jpg"]);
    let (want_person, want_domain) = if d16 < d61 {
        ("person_05_lookalike", "croatia")
    } else {
        ("person_05", "serbia")
    };
    assert_eq!(
        (best.person, best.domain),
        (person(want_person), code(want_domain))
    );
}

/// Every held-back photo of an enrolled person is found as that person;
/// the person never enrolled is unknown.
#[test]
fn held_back_photos_of_the_full_set() {
    let dir = repo().join("../shared/data/faces");
    if !dir.join("identities.csv").is_file() {
        if std::env::var_os("FACEREC_REQUIRE_SHARED").is_some() {
            panic!(
                "{} is missing and FACEREC_REQUIRE_SHARED is set",
                dir.display()
            );
        }
        eprintln!("skipped: {} is not here", dir.display());
        return;
    }
    let rows: Vec<(String, String)> = std::fs::read_to_string(dir.join("identities.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(',')
                .map(|(f, i)| (f.to_string(), i.to_string()))
        })
        .collect();
    let files: Vec<&str> = rows.iter().map(|(f, _)| f.as_str()).collect();
    let v = descriptors(&dir, &files);
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    store
        .create_domain(NewDomain::named("celebrities"))
        .unwrap();
    let stranger = "person_13";
    // Enrol every photo but the last of each person (person_13: none).
    let mut by_person: HashMap<&str, Vec<&str>> = HashMap::new();
    for (f, p) in &rows {
        by_person.entry(p.as_str()).or_default().push(f.as_str());
    }
    let mut held_back = Vec::new();
    for (p, photos) in &by_person {
        if *p == stranger {
            continue;
        }
        let (last, enrolled) = photos.split_last().unwrap();
        let vectors: Vec<&Vec<f32>> = enrolled.iter().map(|f| &v[*f]).collect();
        enrol(&store, "celebrities", p, &vectors);
        held_back.push((*last, *p));
    }
    let (set, _) = open(&store, &[code("celebrities")]).unwrap();
    for (photo, who) in &held_back {
        let best = set
            .search(&code("celebrities"), &dlib(&v[*photo]))
            .unwrap()
            .best;
        assert_eq!(
            best.map(|b| b.person),
            Some(person(who)),
            "{photo} should be {who}"
        );
    }
    for photo in &by_person[stranger] {
        let best = set
            .search(&code("celebrities"), &dlib(&v[*photo]))
            .unwrap()
            .best;
        assert!(
            best.is_none(),
            "{photo} of the never-enrolled person matched {best:?}"
        );
    }
}

/// The query of one dlib descriptor at dlib's threshold.
fn dlib(vector: &[f32]) -> [PackQuery<'_>; 1] {
    [PackQuery {
        pack: "dlib-v1",
        vector,
        threshold: 0.6,
    }]
}
