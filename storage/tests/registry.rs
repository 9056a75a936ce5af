//! The registry against a real redb file in a temp data root.

use facerec_storage::*;

fn code(s: &str) -> DomainCode {
    DomainCode::parse(s).unwrap()
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn link(d: &str, priority: u32) -> DatasetLink {
    DatasetLink {
        domain: code(d),
        priority,
    }
}

fn person(id: &str) -> NewPerson {
    NewPerson {
        id: PersonId::parse(id).unwrap(),
        display_name: id.replace('_', " "),
        status: PersonStatus::Candidate,
        wikidata_id: None,
        country: Some("RS".into()),
        occupations: vec!["athlete".into()],
        sitelinks: Some(120),
        image_urls: vec![],
    }
}

#[test]
fn create_makes_folders_and_rejects_duplicates() {
    let (dir, store) = open();
    let d = store.create_domain(NewDomain::named("serbia")).unwrap();
    assert_eq!(d.display_name, "serbia");
    assert_eq!(d.countries, vec!["*"]);
    for sub in [
        "training/serbia",
        "trainingPass/serbia",
        "recognized_faces_prod/serbia",
        "recognized_faces_batched/serbia",
        "training_batches",
    ] {
        assert!(dir.path().join(sub).is_dir(), "{sub} missing");
    }
    let err = store.create_domain(NewDomain::named("serbia")).unwrap_err();
    assert!(matches!(err, StorageError::DomainExists(_)), "{err}");
}

#[test]
fn invalid_fields_are_rejected_with_the_field_named() {
    let (_dir, store) = open();
    let mut new = NewDomain::named("greece");
    new.default_country = Some("Greece".into());
    let err = store.create_domain(new).unwrap_err().to_string();
    assert!(err.contains("country") && err.contains("Greece"), "{err}");
    assert!(
        store.list_domains().unwrap().is_empty(),
        "nothing stored on error"
    );
}

#[test]
fn patch_changes_only_given_fields_and_bumps_updated_at() {
    let (_dir, store) = open();
    let before = store.create_domain(NewDomain::named("greece")).unwrap();
    let after = store
        .update_domain(
            &code("greece"),
            DomainPatch {
                display_name: Some("Greece".into()),
                is_active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(after.display_name, "Greece");
    assert!(!after.is_active);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    let same = store
        .update_domain(&code("greece"), DomainPatch::default())
        .unwrap();
    assert_eq!(
        same.updated_at, after.updated_at,
        "an empty patch changes nothing"
    );
}

#[test]
fn datasets_reject_unknown_self_duplicates_and_cycles() {
    let (_dir, store) = open();
    for d in ["slovenia", "croatia", "serbia"] {
        store.create_domain(NewDomain::named(d)).unwrap();
    }
    let s = code("slovenia");
    store
        .set_datasets(&s, vec![link("serbia", 2), link("croatia", 1)])
        .unwrap();
    assert_eq!(
        store.datasets(&s).unwrap(),
        vec![link("croatia", 1), link("serbia", 2)]
    );
    assert_eq!(
        store.search_order(&s).unwrap(),
        vec![code("slovenia"), code("croatia"), code("serbia")]
    );

    let err = |links| {
        store
            .set_datasets(&code("serbia"), links)
            .unwrap_err()
            .to_string()
    };
    assert!(err(vec![link("atlantis", 1)]).contains("does not exist"));
    assert!(err(vec![link("serbia", 1)]).contains("itself"));
    assert!(err(vec![link("croatia", 1), link("croatia", 2)]).contains("twice"));
    assert!(err(vec![link("croatia", 1), link("slovenia", 1)]).contains("priority 1"));
    let cycle = err(vec![link("slovenia", 1)]);
    assert!(
        cycle.contains("cycle") && cycle.contains("serbia → slovenia"),
        "{cycle}"
    );
    // A longer cycle through croatia.
    store
        .set_datasets(&code("croatia"), vec![link("serbia", 1)])
        .unwrap();
    let cycle = err(vec![link("slovenia", 1)]);
    assert!(cycle.contains("cycle"), "{cycle}");
    assert!(
        store.datasets(&code("serbia")).unwrap().is_empty(),
        "rejected sets store nothing"
    );
}

#[test]
fn people_status_index_and_stats() {
    let (_dir, store) = open();
    let d = code("serbia");
    store.create_domain(NewDomain::named("serbia")).unwrap();
    store.create_domain(NewDomain::named("greece")).unwrap();
    let (_, created) = store.upsert_person(&d, person("novak_djokovic")).unwrap();
    assert!(created);
    store.upsert_person(&d, person("ana_ivanovic")).unwrap();
    store
        .upsert_person(&code("greece"), person("giannis"))
        .unwrap();
    let id = PersonId::parse("ana_ivanovic").unwrap();
    store
        .set_person_status(&d, &id, PersonStatus::Rejected)
        .unwrap();
    // Re-proposing keeps the rejection.
    let (again, created) = store.upsert_person(&d, person("ana_ivanovic")).unwrap();
    assert!(!created);
    assert_eq!(again.status, PersonStatus::Rejected);

    let candidates = store
        .list_people(&d, Some(PersonStatus::Candidate))
        .unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].id.as_str(), "novak_djokovic");
    assert_eq!(
        store
            .list_people(&d, Some(PersonStatus::Rejected))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.list_people(&d, None).unwrap().len(), 2);

    let novak = PersonId::parse("novak_djokovic").unwrap();
    let sha = |n: u8| format!("{:064x}", n);
    let img = |n: u8, source| NewImage {
        person: novak.clone(),
        source,
        source_url: None,
        sha256: sha(n),
        path: format!("training/serbia/novak_djokovic_{n}.jpg"),
    };
    let (first, new) = store.add_image(&d, img(1, ImageSource::Wikimedia)).unwrap();
    assert!(new);
    let (dup, new) = store.add_image(&d, img(1, ImageSource::Upload)).unwrap();
    assert!(!new, "same sha256 is deduplicated");
    assert_eq!(dup.id, first.id);
    store.add_image(&d, img(2, ImageSource::Serp)).unwrap();
    store.add_image(&d, img(3, ImageSource::Upload)).unwrap();
    assert_eq!(store.person_images(&d, &novak).unwrap().len(), 3);
    store
        .set_image_status(&d, first.id, ImageStatus::Deleted, Some("erased".into()))
        .unwrap();

    // Erased bytes can be enrolled again, even for another person.
    let ana_id = PersonId::parse("ana_ivanovic").unwrap();
    let (back, new) = store
        .add_image(
            &d,
            NewImage {
                person: ana_id.clone(),
                ..img(1, ImageSource::Upload)
            },
        )
        .unwrap();
    assert!(new, "an erased image's bytes are not a duplicate");
    assert_ne!(back.id, first.id);
    assert_eq!(back.person, ana_id);
    let (dup, new) = store.add_image(&d, img(1, ImageSource::Upload)).unwrap();
    assert!(!new);
    assert_eq!(
        dup.id, back.id,
        "the new image is the one deduplicated against"
    );
    store
        .set_image_status(&d, back.id, ImageStatus::Deleted, Some("erased".into()))
        .unwrap();

    let stats = store.domain_stats(&d).unwrap();
    assert_eq!(stats.total_people, 2);
    assert_eq!(stats.total_images, 2);
    assert_eq!(stats.images_from_wikimedia, 0);
    assert_eq!(stats.images_from_serp, 1);
    assert_eq!(store.domain_stats(&code("greece")).unwrap().total_images, 0);

    let err = store
        .add_image(
            &d,
            NewImage {
                person: PersonId::parse("nobody").unwrap(),
                ..img(9, ImageSource::Upload)
            },
        )
        .unwrap_err();
    assert!(matches!(err, StorageError::UnknownPerson { .. }));
}

#[test]
fn batches_follow_seq_and_feed_stats() {
    let (_dir, store) = open();
    let d = code("greece");
    store.create_domain(NewDomain::named("greece")).unwrap();
    let batch = |seq| BatchMeta {
        domain: d.clone(),
        seq,
        id: format!("{seq:04}"),
        kind: BatchKind::Delta,
        created_at: chrono::Utc::now(),
        people_added: 1,
        people_removed: 0,
        descriptors: 3,
        content_hash: "00".repeat(32),
        pack: "dlib-v1".into(),
    };
    assert!(store.last_batch(&d).unwrap().is_none());
    store.record_batch(&batch(1)).unwrap();
    assert!(store.record_batch(&batch(3)).is_err(), "gap refused");
    assert!(store.record_batch(&batch(1)).is_err(), "repeat refused");
    store.record_batch(&batch(2)).unwrap();
    assert_eq!(store.last_batch(&d).unwrap().unwrap().seq, 2);
    assert_eq!(store.list_batches(&d).unwrap().len(), 2);
    let stats = store.domain_stats(&d).unwrap();
    assert_eq!(stats.production_batches, 2);
    assert!(stats.last_batch_at.is_some());
}

#[test]
fn delete_is_refused_while_needed_and_purge_removes_everything() {
    let (dir, store) = open();
    let (s, c) = (code("slovenia"), code("croatia"));
    store.create_domain(NewDomain::named("slovenia")).unwrap();
    store.create_domain(NewDomain::named("croatia")).unwrap();
    store.set_datasets(&s, vec![link("croatia", 1)]).unwrap();
    let err = store.delete_domain(&c, true).unwrap_err().to_string();
    assert!(err.contains("inherited by slovenia"), "{err}");
    store.set_datasets(&s, vec![]).unwrap();

    store.upsert_person(&c, person("luka_modric")).unwrap();
    let err = store.delete_domain(&c, false).unwrap_err().to_string();
    assert!(err.contains("1 people") && err.contains("purge"), "{err}");
    std::fs::write(dir.path().join("training/croatia/luka_modric_1.jpg"), b"x").unwrap();
    store.delete_domain(&c, true).unwrap();
    assert!(store.get_domain(&c).unwrap().is_none());
    assert!(!dir.path().join("training/croatia").exists());
    // Re-creating starts clean.
    store.create_domain(NewDomain::named("croatia")).unwrap();
    assert!(store.list_people(&c, None).unwrap().is_empty());
    assert!(matches!(
        store.delete_domain(&code("atlantis"), false),
        Err(StorageError::UnknownDomain(_))
    ));
}

#[test]
fn state_survives_reopen_and_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.create_domain(NewDomain::named("serbia")).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.list_domains().unwrap().len(), 1);
        let second = Store::open(dir.path()).unwrap_err();
        assert!(matches!(second, StorageError::Locked { .. }), "{second}");
        store.force_schema_version(SCHEMA_VERSION + 1).unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::SchemaTooNew { .. }), "{err}");
    assert!(err.to_string().contains("upgrade facerecd"));
}

#[test]
fn concurrent_creates_of_one_code_have_one_winner() {
    let (_dir, store) = open();
    let store = std::sync::Arc::new(store);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                let same = store.create_domain(NewDomain::named("contested")).is_ok();
                store
                    .create_domain(NewDomain::named(&format!("d{i}")))
                    .unwrap();
                same
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(store.list_domains().unwrap().len(), 51);
}

const EXAMPLE: &str = r#"{"domains": {
  "slovenia": {"display_name": "Slovenia", "countries": ["SI"], "occupations": ["actor"], "search_priority": 3, "inherit_from": ["croatia", "serbia"], "filter": "sitelinks >= 50"},
  "croatia": {"display_name": "Croatia", "countries": ["HR"], "search_priority": 2},
  "serbia": {"display_name": "Serbia", "countries": ["RS"], "search_priority": 1}
}}"#;

#[test]
fn import_is_atomic_and_idempotent() {
    let (_dir, store) = open();
    let file = DomainConfigFile::from_json(EXAMPLE).unwrap();
    let dry = store.import_domains(&file, true).unwrap();
    assert_eq!(dry.created.len(), 3);
    assert!(
        store.list_domains().unwrap().is_empty(),
        "dry run writes nothing"
    );

    let first = store.import_domains(&file, false).unwrap();
    assert_eq!(first.created, vec!["croatia", "serbia", "slovenia"]);
    assert_eq!(first.datasets_changed, vec!["slovenia"]);
    let slovenia = store.domain(&code("slovenia")).unwrap();
    assert_eq!(slovenia.default_country.as_deref(), Some("SI"));
    assert_eq!(slovenia.filter.as_deref(), Some("sitelinks >= 50"));
    assert_eq!(
        store.search_order(&code("slovenia")).unwrap(),
        vec![code("slovenia"), code("croatia"), code("serbia")]
    );

    let second = store.import_domains(&file, false).unwrap();
    assert!(!second.changed_anything(), "{second:?}");
    assert_eq!(second.unchanged.len(), 3);

    let edited =
        DomainConfigFile::from_json(&EXAMPLE.replace("\"Croatia\"", "\"Hrvatska\"")).unwrap();
    let third = store.import_domains(&edited, false).unwrap();
    assert_eq!(third.updated, vec!["croatia"]);

    // A file with a cycle changes nothing, not even its valid entries.
    let cyclic = DomainConfigFile::from_json(
        r#"{"domains": {"serbia": {"inherit_from": ["slovenia"]}, "bosnia": {}}}"#,
    )
    .unwrap();
    assert!(
        store
            .import_domains(&cyclic, false)
            .unwrap_err()
            .to_string()
            .contains("cycle")
    );
    assert!(store.get_domain(&code("bosnia")).unwrap().is_none());
}

#[test]
fn candidates_are_deduplicated_by_wikidata_id_and_keep_their_status() {
    let (_dir, store) = open();
    let d = code("serbia");
    store.create_domain(NewDomain::named("serbia")).unwrap();
    let with_item = |id: &str, q: &str, sitelinks: u32| NewPerson {
        wikidata_id: Some(q.into()),
        sitelinks: Some(sitelinks),
        status: PersonStatus::Candidate,
        ..person(id)
    };
    let first = store
        .add_candidates(&d, vec![with_item("novak_djokovic", "Q5812", 100)])
        .unwrap();
    assert!(first[0].1, "new");
    store
        .set_person_status(
            &d,
            &PersonId::parse("novak_djokovic").unwrap(),
            PersonStatus::Rejected,
        )
        .unwrap();
    // Proposed again under another slug: the same person, still rejected,
    // with the fresh sitelinks count.
    let again = store
        .add_candidates(
            &d,
            vec![
                with_item("djokovic_novak", "Q5812", 150),
                with_item("ana_ivanovic", "Q1", 80),
            ],
        )
        .unwrap();
    assert!(!again[0].1);
    assert_eq!(again[0].0.id.as_str(), "novak_djokovic");
    assert_eq!(again[0].0.status, PersonStatus::Rejected);
    assert_eq!(again[0].0.sitelinks, Some(150));
    assert!(again[1].1);
    assert_eq!(store.list_people(&d, None).unwrap().len(), 2);
    assert!(matches!(
        store.add_candidates(&code("nowhere"), vec![]),
        Err(StorageError::UnknownDomain(_))
    ));
}
