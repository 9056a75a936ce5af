//! Ingest and processing on the real photos of `../shared/data/faces`:
//! people's folders (one holding a mislabelled photo, a duplicate and a
//! text file) become staged faces, and the mislabelled photo is flagged as
//! an outlier.

use std::path::Path;

use crate::common::shared_data;

use facerec_hub::acquire::ingest_dir;
use facerec_hub::batch::{build_delta, build_snapshot};
use facerec_hub::process::{QualityGates, process_domain, staged_faces};
use facerec_hub::review::{approve, erase};
use facerec_storage::{DomainCode, ImageStatus, NewDomain, PersonId, PersonStatus, Store};
use facerec_sync::batch::{batch_dir, snapshot_dir, verify_dir};
use facerec_sync::keys::hub_key;
use facerec_vision::{FaceEngine, ModelFiles, default_models_dir};

fn copy(from: &Path, names: &[&str], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for n in names {
        std::fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

#[test]
fn ingest_then_process_stages_good_faces_and_flags_the_mislabelled_photo() {
    let Some(faces) = shared_data("data/faces", "identities.csv") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let d = DomainCode::parse("serbia").unwrap();
    store.create_domain(NewDomain::named("serbia")).unwrap();

    let inbox = tempfile::tempdir().unwrap();
    let alice = inbox.path().join("person_01");
    copy(
        &faces,
        &["img1.jpg", "img2.jpg", "img4.jpg", "img5.jpg", "img6.jpg"],
        &alice,
    );
    // A photo of person_02 filed under person_01, and the same bytes twice.
    std::fs::copy(faces.join("img3.jpg"), alice.join("mislabelled.jpg")).unwrap();
    std::fs::copy(faces.join("img1.jpg"), alice.join("img1-again.jpg")).unwrap();
    let bob = inbox.path().join("person_02");
    copy(&faces, &["img12.jpg", "img53.jpg", "img54.jpg"], &bob);
    std::fs::write(bob.join("notes.jpg"), b"not a photo at all").unwrap();

    let report = ingest_dir(&store, &d, inbox.path(), |_| {}).unwrap();
    assert_eq!(report.added, 9, "{report:?}");
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.refused.len(), 1);
    assert!(report.refused[0].0.ends_with("notes.jpg"), "{report:?}");
    assert!(report.refused[0].1.contains("not a JPEG"), "{report:?}");
    // Files land under training/{domain} with the design's naming.
    let training: Vec<String> = std::fs::read_dir(store.layout().training(&d))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(training.len(), 9);
    for name in &training {
        // {person}_{yyyymmddHHMMSS}_{n}.jpg
        let stem = name.strip_suffix(".jpg").expect(name);
        let mut parts = stem.rsplitn(3, '_');
        let (n, stamp, person) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert!(
            n.parse::<u32>().is_ok() && stamp.len() == 14 && stamp.parse::<u64>().is_ok(),
            "{name}"
        );
        assert!(person == "person_01" || person == "person_02", "{name}");
    }

    // Ingesting the same folder again adds nothing.
    let again = ingest_dir(&store, &d, inbox.path(), |_| {}).unwrap();
    assert_eq!((again.added, again.duplicates), (0, 10));

    let engine = FaceEngine::load(&ModelFiles::new(default_models_dir())).unwrap();
    let report = process_domain(&store, &engine, &d, &QualityGates::default(), 2, &|| {}).unwrap();
    assert_eq!(report.processed, 9);

    let p1 = PersonId::parse("person_01").unwrap();
    let images = store.person_images(&d, &p1).unwrap();
    let mislabelled_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(faces.join("img3.jpg")).unwrap(),
        ))
    };
    let flagged = images.iter().find(|i| i.sha256 == mislabelled_sha).unwrap();
    assert_eq!(flagged.status, ImageStatus::Rejected);
    assert!(
        flagged.reason.as_deref().unwrap().starts_with("outlier"),
        "{:?}",
        flagged.reason
    );
    let wrongly_flagged: Vec<_> = images
        .iter()
        .filter(|i| i.sha256 != mislabelled_sha)
        .filter(|i| {
            i.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("outlier"))
        })
        .collect();
    assert!(wrongly_flagged.is_empty(), "{wrongly_flagged:?}");

    // Accepted faces are in staging with chip and descriptor; statuses moved.
    let staged = staged_faces(&store, &d, &p1);
    assert!(
        staged.len() >= 4,
        "{} staged of person_01: {report:?}",
        staged.len()
    );
    assert!(staged.iter().all(|f| f.descriptor.len() == 128));
    let chip = store
        .layout()
        .staging(&d)
        .join("person_01")
        .join(format!("{}.png", staged[0].image_id));
    let side = engine.pack.chip.size();
    assert_eq!(image::image_dimensions(&chip).unwrap(), (side, side));
    assert_eq!(
        store.get_person(&d, &p1).unwrap().unwrap().status,
        PersonStatus::Staging
    );

    // A second run has nothing new to do.
    let rerun = process_domain(&store, &engine, &d, &QualityGates::default(), 2, &|| {}).unwrap();
    assert_eq!(rerun.processed, 0);

    // Review → production → signed batches.
    let p2 = PersonId::parse("person_02").unwrap();
    let staged_p2 = staged_faces(&store, &d, &p2).len();
    let approved = approve(&store, &d, &[p1.clone(), p2.clone()], None).unwrap();
    assert_eq!(approved.faces, staged.len() + staged_p2);
    assert!(
        staged_faces(&store, &d, &p1).is_empty(),
        "staging is cleared"
    );
    assert_eq!(
        store.person_embeddings(&d, &p1).unwrap().len(),
        staged.len()
    );
    assert!(store.layout().production(&d).join("person_01").is_dir());

    let key = hub_key(store.layout()).unwrap();
    let trusted = [key.verifying_key()];
    let b1 = build_delta(&store, &d, &key).unwrap().expect("batch 1");
    assert_eq!((b1.seq, b1.people_added, b1.people_removed), (1, 2, 0));
    assert_eq!(b1.descriptors as usize, approved.faces);
    let dir1 = batch_dir(&store, &d, 1);
    let content = verify_dir(&dir1, &trusted).unwrap();
    assert_eq!(content.added.len(), 2);
    assert!(store.layout().batch_manifest(&d, "0001").is_file());
    assert_eq!(
        store.get_person(&d, &p1).unwrap().unwrap().status,
        PersonStatus::Production
    );

    // One flipped byte anywhere in the content, or another hub's key, fails.
    let content_path = dir1.join("descriptors.json");
    let original = std::fs::read(&content_path).unwrap();
    let mut tampered = original.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    std::fs::write(&content_path, &tampered).unwrap();
    let err = verify_dir(&dir1, &trusted).unwrap_err().to_string();
    assert!(err.contains("sha256"), "{err}");
    std::fs::write(&content_path, &original).unwrap();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
    let err = verify_dir(&dir1, &[stranger]).unwrap_err().to_string();
    assert!(err.contains("signature"), "{err}");

    // Erasure: gone from the hub, and a removal in the next batch.
    erase(&store, &d, &p2).unwrap();
    assert!(store.person_embeddings(&d, &p2).unwrap().is_empty());
    assert!(!store.layout().production(&d).join("person_02").exists());
    assert!(
        store.person_images(&d, &p2).unwrap().iter().all(|i| !store
            .layout()
            .root()
            .join(&i.path)
            .exists())
    );
    let b2 = build_delta(&store, &d, &key).unwrap().expect("batch 2");
    assert_eq!((b2.seq, b2.people_added, b2.people_removed), (2, 0, 1));
    let content = verify_dir(&batch_dir(&store, &d, 2), &trusted).unwrap();
    assert_eq!(content.removed, ["person_02"]);

    // A snapshot holds what is published: person_01 only, at seq 2.
    let snap = build_snapshot(&store, &d, &key).unwrap();
    assert_eq!((snap.seq, snap.people_added), (2, 1));
    let content = verify_dir(&snapshot_dir(&store, &d, 2), &trusted).unwrap();
    assert_eq!(content.added[0].person, "person_01");
    assert_eq!(content.added[0].embeddings.len(), staged.len());

    // Nothing changed: no batch 3.
    assert!(build_delta(&store, &d, &key).unwrap().is_none());
    assert_eq!(store.list_batches(&d).unwrap().len(), 2);
}

/// Serves `files` (path → (content type, bytes)) on loopback; returns the base URL.
fn serve(files: Vec<(&'static str, &'static str, Vec<u8>)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or(0);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut stream = stream;
            match files.iter().find(|(p, _, _)| *p == path) {
                Some((_, ct, body)) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(body);
                }
                None => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    base
}

#[test]
fn candidate_photos_download_through_the_allowlist_and_content_checks() {
    let Some(faces) = shared_data("data/faces", "identities.csv") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let d = DomainCode::parse("serbia").unwrap();
    let photo = std::fs::read(faces.join("img1.jpg")).unwrap();
    let base = serve(vec![
        ("/a.jpg", "image/jpeg", photo.clone()),
        ("/copy.jpg", "image/jpeg", photo),
        ("/page.html", "text/html", b"<html>".to_vec()),
        ("/fake.jpg", "image/jpeg", b"not really a jpeg".to_vec()),
    ]);
    let mut domain = NewDomain::named("serbia");
    domain.plugins.http_allowlist = vec![format!("{base}/")];
    store.create_domain(domain).unwrap();
    let url = |p: &str| format!("{base}{p}");
    store
        .add_candidates(
            &d,
            vec![facerec_storage::NewPerson {
                id: PersonId::parse("ana").unwrap(),
                display_name: "Ana".into(),
                status: PersonStatus::Candidate,
                wikidata_id: Some("Q1".into()),
                country: None,
                occupations: vec![],
                sitelinks: None,
                image_urls: vec![
                    url("/a.jpg"),
                    url("/copy.jpg"),
                    url("/page.html"),
                    url("/fake.jpg"),
                    url("/missing.jpg"),
                    "https://elsewhere.example/x.jpg".into(),
                ],
            }],
        )
        .unwrap();
    let http = facerec_plugin_host::GuardedHttp::new(Default::default());
    let report = facerec_hub::acquire::download_candidates(&store, &http, &d, |_| {}).unwrap();
    assert_eq!(report.downloaded, 1, "{report:?}");
    assert_eq!(report.duplicates, 1, "{report:?}");
    let reasons: Vec<&str> = report.failed.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("not an image")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not a JPEG")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("HTTP 404")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("allowlist")),
        "{reasons:?}"
    );
    let images = store
        .person_images(&d, &PersonId::parse("ana").unwrap())
        .unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0].source_url.as_deref(),
        Some(url("/a.jpg").as_str())
    );
    // A second run skips what it already has.
    let again = facerec_hub::acquire::download_candidates(&store, &http, &d, |_| {}).unwrap();
    assert_eq!(again.downloaded, 0);
}
