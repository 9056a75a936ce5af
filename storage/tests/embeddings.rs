//! Embeddings in redb: the source of truth of every search index.

use facerec_storage::*;

fn setup() -> (tempfile::TempDir, Store, DomainCode, PersonId) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();
    let d = DomainCode::parse("serbia").unwrap();
    let p = PersonId::parse("novak_djokovic").unwrap();
    store
        .upsert_person(
            &d,
            NewPerson {
                id: p.clone(),
                display_name: "Novak Djokovic".into(),
                status: PersonStatus::Production,
                wikidata_id: Some("Q5812".into()),
                country: Some("RS".into()),
                occupations: vec![],
                sitelinks: None,
                image_urls: vec![],
            },
        )
        .unwrap();
    (dir, store, d, p)
}

fn vector(seed: f32) -> Vec<f32> {
    (0..EMBEDDING_DIM)
        .map(|i| (i as f32 * 0.01 + seed).sin() * 0.1)
        .collect()
}

#[test]
fn embeddings_round_trip_exactly_and_survive_reopen() {
    let (dir, store, d, p) = setup();
    let new = [
        NewEmbedding {
            image_id: Some(7),
            vector: vector(1.0),
        },
        NewEmbedding {
            image_id: None,
            vector: vector(2.0),
        },
    ];
    let ids = store.add_embeddings(&d, "dlib-v1", &p, &new).unwrap();
    assert_eq!(ids.len(), 2);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let all = store.domain_embeddings(&d).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].vector, vector(1.0), "bit-exact");
    assert_eq!(all[0].image_id, Some(7));
    assert_eq!(all[1].image_id, None);
    assert_eq!(all[1].person, p);
    assert_eq!(store.person_embeddings(&d, &p).unwrap().len(), 2);
    assert_eq!(store.embedding_count(&d).unwrap(), 2);
}

#[test]
fn invalid_vectors_and_unknown_people_store_nothing() {
    let (_dir, store, d, p) = setup();
    let short = [NewEmbedding {
        image_id: None,
        vector: vec![0.0; 127],
    }];
    assert!(
        store
            .add_embeddings(&d, "dlib-v1", &p, &short)
            .unwrap_err()
            .to_string()
            .contains("127")
    );
    let mut nan = vector(1.0);
    nan[5] = f32::NAN;
    let mixed = [
        NewEmbedding {
            image_id: None,
            vector: vector(1.0),
        },
        NewEmbedding {
            image_id: None,
            vector: nan,
        },
    ];
    assert!(store.add_embeddings(&d, "dlib-v1", &p, &mixed).is_err());
    let stranger = PersonId::parse("nobody").unwrap();
    let ok = [NewEmbedding {
        image_id: None,
        vector: vector(1.0),
    }];
    assert!(matches!(
        store.add_embeddings(&d, "dlib-v1", &stranger, &ok),
        Err(StorageError::UnknownPerson { .. })
    ));
    assert_eq!(
        store.embedding_count(&d).unwrap(),
        0,
        "a rejected batch writes nothing"
    );
}

#[test]
fn removing_a_person_removes_only_their_embeddings() {
    let (_dir, store, d, p) = setup();
    let ana = PersonId::parse("ana_ivanovic").unwrap();
    store
        .upsert_person(
            &d,
            NewPerson {
                id: ana.clone(),
                display_name: "Ana Ivanovic".into(),
                status: PersonStatus::Production,
                wikidata_id: None,
                country: None,
                occupations: vec![],
                sitelinks: None,
                image_urls: vec![],
            },
        )
        .unwrap();
    let one = |s| {
        [NewEmbedding {
            image_id: None,
            vector: vector(s),
        }]
    };
    store.add_embeddings(&d, "dlib-v1", &p, &one(1.0)).unwrap();
    store.add_embeddings(&d, "dlib-v1", &p, &one(2.0)).unwrap();
    store
        .add_embeddings(&d, "dlib-v1", &ana, &one(3.0))
        .unwrap();
    assert_eq!(store.remove_person_embeddings(&d, &p).unwrap(), 2);
    let left = store.domain_embeddings(&d).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].person, ana);
    assert_eq!(store.remove_person_embeddings(&d, &p).unwrap(), 0);
    // Purging the domain takes the rest.
    store.delete_domain(&d, true).unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();
    assert_eq!(store.embedding_count(&d).unwrap(), 0);
}

#[test]
fn the_embedding_revision_changes_with_every_change_and_never_repeats() {
    let (_dir, store, d, p) = setup();
    let r0 = store.embedding_revision(&d).unwrap();
    let one = [NewEmbedding {
        image_id: None,
        vector: vector(3.0),
    }];
    store.add_embeddings(&d, "dlib-v1", &p, &one).unwrap();
    let r1 = store.embedding_revision(&d).unwrap();
    assert!(r1 > r0);
    // A removal that removes nothing is no change.
    let ghost = PersonId::parse("nobody").unwrap();
    store.remove_person_embeddings(&d, &ghost).unwrap();
    assert_eq!(store.embedding_revision(&d).unwrap(), r1);
    store.remove_person_embeddings(&d, &p).unwrap();
    let r2 = store.embedding_revision(&d).unwrap();
    assert!(r2 > r1);
    // Another domain's change moves the global counter, not this domain's.
    store.create_domain(NewDomain::named("greece")).unwrap();
    assert_eq!(store.embedding_revision(&d).unwrap(), r2);
}

#[test]
fn one_domain_never_holds_two_packs_and_re_embedding_swaps_them_at_once() {
    let (_dir, store, d, p) = setup();
    let one = |s| {
        [NewEmbedding {
            image_id: None,
            vector: vector(s),
        }]
    };
    assert_eq!(store.embedding_pack(&d).unwrap(), None);
    store.add_embeddings(&d, "dlib-v1", &p, &one(1.0)).unwrap();
    let err = store
        .add_embeddings(&d, "sface-v1", &p, &one(2.0))
        .unwrap_err();
    assert!(matches!(err, StorageError::PackMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("'dlib-v1', not 'sface-v1'"),
        "{err}"
    );
    assert_eq!(
        store.embedding_count(&d).unwrap(),
        1,
        "the refused one was not stored"
    );

    let before = store.embedding_revision(&d).unwrap();
    let revision = store
        .replace_embeddings(&d, "sface-v1", &[(p.clone(), one(5.0).to_vec())])
        .unwrap();
    assert!(revision > before);
    let set = store.domain_embeddings_at_revision(&d).unwrap();
    assert_eq!(set.pack.as_deref(), Some("sface-v1"));
    assert_eq!((set.revision, set.embeddings.len()), (revision, 1));
    assert_eq!(set.embeddings[0].vector, vector(5.0));
    assert_eq!(store.domain(&d).unwrap().pack, "sface-v1");
    // Now dlib descriptors are the foreign ones.
    assert!(store.add_embeddings(&d, "dlib-v1", &p, &one(1.0)).is_err());
    store.add_embeddings(&d, "sface-v1", &p, &one(6.0)).unwrap();
}

#[test]
fn a_face_taken_away_on_review_leaves_the_others_and_is_due_in_the_next_batch() {
    let (_dir, store, d, p) = setup();
    let image = |n: u8| {
        store
            .add_image(
                &d,
                NewImage {
                    person: p.clone(),
                    source: ImageSource::Upload,
                    source_url: None,
                    sha256: format!("{n:064x}"),
                    path: format!("training/serbia/{n}.jpg"),
                },
            )
            .unwrap()
            .0
            .id
    };
    let ids = [image(1), image(2), image(3)];
    let faces: Vec<NewEmbedding> = ids
        .iter()
        .map(|&i| NewEmbedding {
            image_id: Some(i),
            vector: vector(i as f32),
        })
        .collect();
    store.approve_faces(&d, "dlib-v1", &p, &faces).unwrap();
    // As if a batch had published the person.
    store
        .set_person_status(&d, &p, PersonStatus::Production)
        .unwrap();
    let revision = store.embedding_revision(&d).unwrap();

    assert_eq!(
        store
            .remove_face(&d, &p, ids[1], "not this person")
            .unwrap(),
        2
    );
    let left: Vec<Option<u64>> = store
        .person_embeddings(&d, &p)
        .unwrap()
        .iter()
        .map(|e| e.image_id)
        .collect();
    assert_eq!(left, vec![Some(ids[0]), Some(ids[2])]);
    let image = store.get_image(&d, ids[1]).unwrap().unwrap();
    assert_eq!(image.status, ImageStatus::Rejected);
    assert_eq!(image.reason.as_deref(), Some("not this person"));
    assert!(store.embedding_revision(&d).unwrap() > revision);
    // Due in the next batch, which sends the faces left.
    assert_eq!(store.pending_changes(&d).unwrap().approved, vec![p.clone()]);

    // The same face twice, or a photo of someone else: refused, nothing changed.
    assert!(matches!(
        store.remove_face(&d, &p, ids[1], "again"),
        Err(StorageError::Conflict(_))
    ));
    let other = PersonId::parse("someone_else").unwrap();
    store
        .upsert_person(
            &d,
            NewPerson::named(other.clone(), "Someone", PersonStatus::Production),
        )
        .unwrap();
    assert!(matches!(
        store.remove_face(&d, &other, ids[0], "wrong person"),
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        store.remove_face(&d, &p, 999, "unknown"),
        Err(StorageError::UnknownImage { .. })
    ));
    assert_eq!(store.person_embeddings(&d, &p).unwrap().len(), 2);
}
