//! Index dumps on disk: reuse when consistent, rebuild when missing, stale
//! or corrupt, and background rebuilds once removals pile up.

use std::sync::Arc;

use facerec_index::*;
use facerec_storage::*;

fn code(s: &str) -> DomainCode {
    DomainCode::parse(s).unwrap()
}

/// A unit-length pseudo-random vector (a splitmix stream from `seed`).
fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let v: Vec<f32> = (0..EMBEDDING_DIM)
        .map(|_| {
            x ^= x >> 30;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x ^= x >> 27;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.into_iter().map(|a| a / norm).collect()
}

/// `people` people with 3 embeddings each, near their own centre.
fn enrol(store: &Store, d: &DomainCode, people: std::ops::Range<u64>) {
    for p in people {
        let id = PersonId::parse(&format!("person_{p}")).unwrap();
        store
            .upsert_person(
                d,
                NewPerson {
                    id: id.clone(),
                    display_name: format!("Person {p}"),
                    status: PersonStatus::Production,
                    wikidata_id: None,
                    country: None,
                    occupations: vec![],
                    sitelinks: None,
                    image_urls: vec![],
                },
            )
            .unwrap();
        let centre = vector(p);
        let new: Vec<NewEmbedding> = (0..3)
            .map(|k| NewEmbedding {
                image_id: None,
                vector: centre
                    .iter()
                    .zip(vector(10_000 + p * 3 + k))
                    .map(|(c, n)| c + 0.02 * n)
                    .collect(),
            })
            .collect();
        store.add_embeddings(d, "dlib-v1", &id, &new).unwrap();
    }
}

fn options() -> IndexOptions {
    IndexOptions::new(SearchParams::with_threshold(0.6))
}

fn found(set: &IndexSet, d: &DomainCode, p: u64) -> Option<PersonId> {
    set.search(d, &dlib(&vector(p)))
        .unwrap()
        .best
        .map(|m| m.person)
}

fn person(p: u64) -> PersonId {
    PersonId::parse(&format!("person_{p}")).unwrap()
}

fn generation_dir(root: &std::path::Path) -> std::path::PathBuf {
    let dir = root.join("index/serbia");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    dir.join(manifest["generation"].as_str().unwrap())
}

#[test]
fn a_consistent_dump_is_loaded_and_a_corrupt_one_is_rebuilt() {
    let root = tempfile::tempdir().unwrap();
    let d = code("serbia");
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        store.create_domain(NewDomain::named("serbia")).unwrap();
        enrol(&store, &d, 0..200);
        let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert_eq!(
            reports[0].source,
            IndexSource::Rebuilt(DumpProblem::Missing)
        );
        assert_eq!(found(&set, &d, 7), Some(person(7)));
    }
    // Restart: the dump is used as is.
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert_eq!(reports[0].source, IndexSource::Dump);
        assert_eq!(reports[0].embeddings, 600);
        for p in [0, 99, 199] {
            assert_eq!(found(&set, &d, p), Some(person(p)));
        }
        assert_eq!(found(&set, &d, 5_000), None, "a stranger is unknown");
    }
    // Flip one byte of the graph's data file: detected, rebuilt, correct.
    let data = generation_dir(root.path()).join("graph.bin");
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&data, &bytes).unwrap();
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert!(
            matches!(&reports[0].source, IndexSource::Rebuilt(DumpProblem::Corrupt { file, .. }) if file == "graph.bin"),
            "{:?}",
            reports[0].source
        );
        assert_eq!(found(&set, &d, 42), Some(person(42)));
    }
    // The rebuild saved a fresh dump; a truncated points file is caught too.
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        let (_, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert_eq!(reports[0].source, IndexSource::Dump);
    }
    let points = generation_dir(root.path()).join("points.bin");
    let len = std::fs::metadata(&points).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&points)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    std::fs::write(root.path().join("index/serbia/manifest.json.tmp"), b"{").unwrap();
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert!(
            matches!(&reports[0].source, IndexSource::Rebuilt(DumpProblem::Corrupt { file, .. }) if file == "points.bin"),
            "{:?}",
            reports[0].source
        );
        assert_eq!(set.get(&d).unwrap().len(), 600);
    }
    // The dump names its pack; one naming another than the database's
    // descriptors is never searched with them.
    let manifest_path = root.path().join("index/serbia/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["pack"], "dlib-v1");
    manifest["pack"] = "sface-v1".into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    {
        let store = Arc::new(Store::open(root.path()).unwrap());
        let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
        assert!(
            matches!(
                &reports[0].source,
                IndexSource::Rebuilt(DumpProblem::OtherPack { .. })
            ),
            "{:?}",
            reports[0].source
        );
        assert_eq!(set.get(&d).unwrap().pack(), Some("dlib-v1"));
    }
    // A garbage manifest is a clear reason too, never a panic.
    std::fs::write(root.path().join("index/serbia/manifest.json"), b"not json").unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let (_, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
    assert!(
        matches!(
            &reports[0].source,
            IndexSource::Rebuilt(DumpProblem::BadManifest(_))
        ),
        "{:?}",
        reports[0].source
    );
}

#[test]
fn removals_past_the_threshold_rebuild_the_graph_in_the_background() {
    let root = tempfile::tempdir().unwrap();
    let d = code("serbia");
    let store = Arc::new(Store::open(root.path()).unwrap());
    store.create_domain(NewDomain::named("serbia")).unwrap();
    enrol(&store, &d, 0..100);
    let mut opts = options();
    opts.rebuild_min_tombstones = 30;
    opts.rebuild_tombstone_ratio = 0.1;
    let (set, _) = IndexSet::open(store.clone(), std::slice::from_ref(&d), opts).unwrap();
    // Nine removals (27 points) stay tombstones.
    for p in 0..9 {
        store.remove_person_embeddings(&d, &person(p)).unwrap();
        let revision = store.embedding_revision(&d).unwrap();
        set.apply(&d, revision, &[], &[person(p)]).unwrap();
        assert_eq!(found(&set, &d, p), None, "person_{p} removed");
    }
    set.wait_for_rebuilds();
    assert_eq!(set.get(&d).unwrap().tombstones(), 27);
    // The tenth (30 ≥ 30 and 10% of 300) triggers the rebuild.
    store.remove_person_embeddings(&d, &person(9)).unwrap();
    let revision = store.embedding_revision(&d).unwrap();
    set.apply(&d, revision, &[], &[person(9)]).unwrap();
    set.wait_for_rebuilds();
    let index = set.get(&d).unwrap();
    assert_eq!((index.tombstones(), index.len()), (0, 270));
    for p in 0..10 {
        assert_eq!(found(&set, &d, p), None, "person_{p} stays removed");
    }
    assert_eq!(found(&set, &d, 50), Some(person(50)));
    // The rebuilt index was saved: a restart loads it without rebuilding.
    drop(set);
    let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), opts).unwrap();
    assert_eq!(reports[0].source, IndexSource::Dump);
    assert_eq!(found(&set, &d, 3), None);
}

#[test]
fn added_embeddings_are_searchable_and_unknown_domains_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let d = code("serbia");
    let store = Arc::new(Store::open(root.path()).unwrap());
    store.create_domain(NewDomain::named("serbia")).unwrap();
    store.create_domain(NewDomain::named("greece")).unwrap();
    enrol(&store, &d, 0..10);
    let (set, _) = IndexSet::open(store.clone(), std::slice::from_ref(&d), options()).unwrap();
    assert_eq!(found(&set, &d, 11), None);
    enrol(&store, &d, 11..12);
    let added = store.person_embeddings(&d, &person(11)).unwrap();
    let revision = store.embedding_revision(&d).unwrap();
    set.apply(&d, revision, &added, &[]).unwrap();
    assert_eq!(found(&set, &d, 11), Some(person(11)));
    let greece = code("greece");
    assert!(matches!(
        set.search(&greece, &dlib(&vector(1))),
        Err(IndexError::NotServed(_))
    ));
    assert!(matches!(
        set.apply(&greece, 1, &[], &[]),
        Err(IndexError::NotServed(_))
    ));
    // Unknown domains cannot be opened at all.
    assert!(IndexSet::open(store, &[code("atlantis")], options()).is_err());
}

/// The query of one dlib descriptor at dlib's threshold.
fn dlib(vector: &[f32]) -> [PackQuery<'_>; 1] {
    [PackQuery {
        pack: "dlib-v1",
        vector,
        threshold: 0.6,
    }]
}

#[test]
fn a_stale_dump_is_served_at_once_never_answers_the_erased_and_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let d = code("serbia");
    let store = Arc::new(Store::open(root.path()).unwrap());
    store.create_domain(NewDomain::named("serbia")).unwrap();
    enrol(&store, &d, 0..50);
    let stale_options = IndexOptions {
        serve_stale_from: 0,
        catch_up_behind: false,
        ..options()
    };
    {
        let (set, _) =
            IndexSet::open(store.clone(), std::slice::from_ref(&d), stale_options).unwrap();
        set.save_all().unwrap();
    }
    // While the node was down (a crash after a batch's commit, before its
    // dump): one person erased, one added.
    store.erase_person(&d, &person(7)).unwrap();
    enrol(&store, &d, 50..51);

    let (set, reports) =
        IndexSet::open(store.clone(), std::slice::from_ref(&d), stale_options).unwrap();
    assert!(
        matches!(
            reports[0].source,
            IndexSource::ServedStale(DumpProblem::Stale { .. })
        ),
        "{:?}",
        reports[0].source
    );
    assert_eq!(set.catching_up(), std::slice::from_ref(&d));
    assert_eq!(found(&set, &d, 3), Some(person(3)), "serves at once");
    assert_ne!(found(&set, &d, 7), Some(person(7)), "never the erased");
    assert_eq!(
        found(&set, &d, 50),
        None,
        "the new one comes with the rebuild"
    );
    set.rebuild(&d).unwrap();
    assert!(set.catching_up().is_empty());
    assert_eq!(found(&set, &d, 50), Some(person(50)));
    assert_ne!(found(&set, &d, 7), Some(person(7)));
    drop(set);

    // With the catch-up on its own thread, the node converges by itself:
    // the stale index is patched (one added, one erased), not rebuilt.
    enrol(&store, &d, 51..52);
    store.erase_person(&d, &person(3)).unwrap();
    let (set, _) = IndexSet::open(
        store.clone(),
        std::slice::from_ref(&d),
        IndexOptions {
            serve_stale_from: 0,
            ..options()
        },
    )
    .unwrap();
    set.wait_for_rebuilds();
    assert!(set.catching_up().is_empty());
    assert_eq!(found(&set, &d, 51), Some(person(51)));
    assert_ne!(found(&set, &d, 3), Some(person(3)));
    let index = set.get(&d).unwrap();
    assert_eq!(
        index.tombstones(),
        3,
        "person 3's points are buried, not rebuilt away"
    );
    assert_eq!(index.len() as u64, store.embedding_count(&d).unwrap());
    // And the patched index was dumped: a restart loads it as current.
    drop(set);
    let (_, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
    assert_eq!(reports[0].source, IndexSource::Dump);
}

/// The graph a hub ships in a snapshot, over the domain's embeddings in
/// the order redb holds them (a snapshot stores them in its own order).
fn shipped_for(store: &Store, d: &DomainCode) -> ShippedGraph {
    let set = store.domain_embeddings_at_revision(d).unwrap();
    ShippedGraph::build(set.embeddings.iter().map(|e| e.vector.as_slice()))
}

#[test]
fn a_shipped_graph_is_used_when_it_fits_and_rebuilt_when_it_does_not() {
    let root = tempfile::tempdir().unwrap();
    let d = code("serbia");
    let store = Arc::new(Store::open(root.path()).unwrap());
    store.create_domain(NewDomain::named("serbia")).unwrap();
    enrol(&store, &d, 0..300);
    let (set, _) = IndexSet::open(store.clone(), std::slice::from_ref(&d), options()).unwrap();
    let good = shipped_for(&store, &d);

    // Used as shipped, and it answers as the exact nearest neighbour does.
    assert!(set.install(&d, &good).unwrap());
    for p in (0..300).step_by(7) {
        assert_eq!(found(&set, &d, p), Some(person(p)), "person {p}");
    }

    // Truncated, tampered, or built over other descriptors: refused, and
    // the index is built here instead — and still answers.
    let mut truncated = good.clone();
    truncated.links.truncate(truncated.links.len() / 2);
    let mut tampered = good.clone();
    let last = tampered.links.len() - 5;
    tampered.links[last] ^= 0xFF;
    let mut other = good.clone();
    other.vectors_sha256 = "0".repeat(64);
    for (what, bad) in [
        ("truncated", truncated),
        ("tampered", tampered),
        ("other vectors", other),
    ] {
        assert!(!set.install(&d, &bad).unwrap(), "{what} was used");
        for p in (0..300).step_by(29) {
            assert_eq!(found(&set, &d, p), Some(person(p)), "{what}: person {p}");
        }
    }

    // A shipped graph that was used is dumped like any other: a restart
    // loads it.
    assert!(set.install(&d, &good).unwrap());
    drop(set);
    let (set, reports) = IndexSet::open(store, std::slice::from_ref(&d), options()).unwrap();
    assert_eq!(reports[0].source, IndexSource::Dump);
    assert_eq!(found(&set, &d, 42), Some(person(42)));
}
