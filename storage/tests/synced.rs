//! Applying hub batches on an edge: whole batches, in seq order, in one
//! transaction each.

use facerec_storage::*;

fn vector(seed: f32) -> Vec<f32> {
    (0..EMBEDDING_DIM)
        .map(|i| (i as f32 * 0.01 + seed).sin() * 0.1)
        .collect()
}

fn person(id: &str, seeds: &[f32]) -> SyncedPerson {
    SyncedPerson {
        id: PersonId::parse(id).unwrap(),
        display_name: id.replace('_', " "),
        wikidata_id: None,
        embeddings: seeds
            .iter()
            .map(|s| NewEmbedding {
                image_id: None,
                vector: vector(*s),
            })
            .collect(),
    }
}

fn batch(seq: u64, kind: BatchKind, added: Vec<SyncedPerson>, removed: &[&str]) -> IncomingBatch {
    batch_of_pack("dlib-v1", seq, kind, added, removed)
}

fn batch_of_pack(
    pack: &str,
    seq: u64,
    kind: BatchKind,
    added: Vec<SyncedPerson>,
    removed: &[&str],
) -> IncomingBatch {
    IncomingBatch {
        meta: BatchMeta {
            domain: DomainCode::parse("serbia").unwrap(),
            seq,
            id: format!("{seq:04}"),
            kind,
            created_at: chrono::Utc::now(),
            people_added: added.len() as u64,
            people_removed: removed.len() as u64,
            descriptors: added.iter().map(|p| p.embeddings.len() as u64).sum(),
            content_hash: "00".into(),
            pack: pack.into(),
        },
        added,
        removed: removed
            .iter()
            .map(|r| PersonId::parse(r).unwrap())
            .collect(),
    }
}

fn people(store: &Store) -> Vec<String> {
    let d = DomainCode::parse("serbia").unwrap();
    let mut out: Vec<String> = store
        .list_people(&d, Some(PersonStatus::Production))
        .unwrap()
        .into_iter()
        .map(|p| p.id.to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn deltas_apply_in_order_and_snapshots_replace_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();
    let d = DomainCode::parse("serbia").unwrap();

    let one = store
        .apply_batch(batch(
            1,
            BatchKind::Delta,
            vec![person("ana", &[1.0, 2.0]), person("bora", &[3.0])],
            &[],
        ))
        .unwrap();
    assert_eq!(one.added.len(), 3);
    assert!(one.removed.is_empty() && !one.replaced_all);
    assert_eq!(store.applied_seq(&d).unwrap(), 1);

    // A gap, and a replay of seq 1, change nothing.
    let gap = store.apply_batch(batch(
        3,
        BatchKind::Delta,
        vec![person("cveta", &[4.0])],
        &[],
    ));
    assert!(matches!(gap, Err(StorageError::Conflict(_))), "{gap:?}");
    let again = store.apply_batch(batch(
        1,
        BatchKind::Delta,
        vec![person("cveta", &[4.0])],
        &[],
    ));
    assert!(matches!(again, Err(StorageError::Conflict(_))));
    assert_eq!(people(&store), ["ana", "bora"]);
    assert_eq!(store.embedding_count(&d).unwrap(), 3);

    // seq 2 re-sends ana with one descriptor (replacing her two) and removes bora.
    let two = store
        .apply_batch(batch(
            2,
            BatchKind::Delta,
            vec![person("ana", &[5.0])],
            &["bora"],
        ))
        .unwrap();
    let mut removed: Vec<_> = two.removed.iter().map(|p| p.to_string()).collect();
    removed.sort();
    assert_eq!(removed, ["ana", "bora"]);
    assert_eq!(people(&store), ["ana"]);
    assert_eq!(store.embedding_count(&d).unwrap(), 1);
    assert!(two.revision > one.revision);

    // A snapshot at seq 2 is not news; one at seq 5 replaces the state.
    assert!(
        store
            .apply_batch(batch(2, BatchKind::Snapshot, vec![], &[]))
            .is_err()
    );
    let snap = store
        .apply_batch(batch(
            5,
            BatchKind::Snapshot,
            vec![person("dusan", &[6.0, 7.0])],
            &[],
        ))
        .unwrap();
    assert!(snap.replaced_all);
    assert_eq!(people(&store), ["dusan"]);
    assert_eq!(store.embedding_count(&d).unwrap(), 2);
    assert_eq!(store.applied_seq(&d).unwrap(), 5);
    assert!(
        store
            .get_person(&d, &PersonId::parse("ana").unwrap())
            .unwrap()
            .is_none()
    );

    // Deltas continue from the snapshot.
    store
        .apply_batch(batch(6, BatchKind::Delta, vec![person("ema", &[8.0])], &[]))
        .unwrap();
    assert_eq!(people(&store), ["dusan", "ema"]);
}

#[test]
fn a_bad_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();
    let d = DomainCode::parse("serbia").unwrap();
    store
        .apply_batch(batch(1, BatchKind::Delta, vec![person("ana", &[1.0])], &[]))
        .unwrap();
    let revision = store.embedding_revision(&d).unwrap();

    // The second person's descriptor is malformed: the whole batch fails.
    let mut bad = person("bora", &[2.0]);
    bad.embeddings[0].vector.truncate(5);
    let err = store
        .apply_batch(batch(
            2,
            BatchKind::Delta,
            vec![person("cveta", &[3.0]), bad],
            &["ana"],
        ))
        .unwrap_err();
    assert!(err.to_string().contains("embedding"), "{err}");
    assert_eq!(people(&store), ["ana"]);
    assert_eq!(store.applied_seq(&d).unwrap(), 1);
    assert_eq!(store.embedding_revision(&d).unwrap(), revision);

    let mut other = batch(2, BatchKind::Delta, vec![], &[]);
    other.meta.domain = DomainCode::parse("greece").unwrap();
    assert!(matches!(
        store.apply_batch(other),
        Err(StorageError::UnknownDomain(_))
    ));
}

#[test]
fn a_delta_of_another_pack_is_refused_and_a_snapshot_switches_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();
    let d = DomainCode::parse("serbia").unwrap();
    store
        .apply_batch(batch(1, BatchKind::Delta, vec![person("ana", &[1.0])], &[]))
        .unwrap();
    assert_eq!(
        store.embedding_pack(&d).unwrap().as_deref(),
        Some("dlib-v1")
    );

    let err = store
        .apply_batch(batch_of_pack(
            "sface-v1",
            2,
            BatchKind::Delta,
            vec![person("ivo", &[2.0])],
            &[],
        ))
        .unwrap_err();
    assert!(matches!(err, StorageError::PackMismatch { .. }), "{err}");
    assert_eq!(
        store.applied_seq(&d).unwrap(),
        1,
        "nothing of the refused delta stays"
    );
    assert_eq!(people(&store), ["ana"]);

    let snapshot = store
        .apply_batch(batch_of_pack(
            "sface-v1",
            3,
            BatchKind::Snapshot,
            vec![person("ivo", &[2.0])],
            &[],
        ))
        .unwrap();
    assert!(snapshot.replaced_all);
    assert_eq!(
        store.embedding_pack(&d).unwrap().as_deref(),
        Some("sface-v1")
    );
    assert_eq!(people(&store), ["ivo"]);
    // Deltas now follow the new pack.
    store
        .apply_batch(batch_of_pack(
            "sface-v1",
            4,
            BatchKind::Delta,
            vec![person("zoe", &[3.0])],
            &[],
        ))
        .unwrap();
    assert_eq!(people(&store), ["ivo", "zoe"]);
}
