//! Ingest and processing on the real photos of `../shared/data/faces`:
//! people's folders (one holding a mislabelled photo, a duplicate and a
//! text file) become staged faces, and the mislabelled photo is flagged as
//! an outlier.

use std::path::{Path, PathBuf};

use facerec_storage::{DomainCode, ImageStatus, NewDomain, PersonId, PersonStatus, Store};
use facerec_vision::{FaceEngine, ModelFiles, default_models_dir};
use facerecd::hub::acquire::ingest_dir;
use facerecd::hub::process::{QualityGates, process_domain, staged_faces};

fn shared_faces() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/faces");
    if dir.join("identities.csv").is_file() {
        return Some(dir);
    }
    if std::env::var_os("FACEREC_REQUIRE_SHARED").is_some() {
        panic!(
            "{} is missing and FACEREC_REQUIRE_SHARED is set",
            dir.display()
        );
    }
    eprintln!("skipped: {} is not here", dir.display());
    None
}

fn copy(from: &Path, names: &[&str], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for n in names {
        std::fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

#[test]
fn ingest_then_process_stages_good_faces_and_flags_the_mislabelled_photo() {
    let Some(faces) = shared_faces() else { return };
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
    assert_eq!(image::image_dimensions(&chip).unwrap(), (150, 150));
    assert_eq!(
        store.get_person(&d, &p1).unwrap().unwrap().status,
        PersonStatus::Staging
    );

    // A second run has nothing new to do.
    let rerun = process_domain(&store, &engine, &d, &QualityGates::default(), 2, &|| {}).unwrap();
    assert_eq!(rerun.processed, 0);
}
