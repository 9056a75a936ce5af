//! `facerecd migrate legacy` on a legacy tree: old hard-coded Serbian
//! paths, a name mapping, production and batched folders for three
//! domains — run in steps (as if interrupted), then again, then a third
//! time that must change nothing.

use std::collections::BTreeMap;
use std::path::Path;

use facerec_storage::{DomainCode, ImageSource, ImageStatus, PersonId, PersonStatus, Store};
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::common::facerecd;

fn png(shade: u8) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    RgbImage::from_pixel(8, 8, Rgb([shade, 255 - shade, 7]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// legacy path → (new path, sha256, whether the legacy file stays).
fn legacy_tree(old: &Path) -> BTreeMap<String, (String, String, bool)> {
    let mut expected = BTreeMap::new();
    let mut add = |legacy: &str, new: &str, bytes: Vec<u8>, stays: bool| {
        put(old, legacy, &bytes);
        expected.insert(legacy.to_string(), (new.to_string(), sha(&bytes), stays));
    };
    add(
        "trainingPassSerbia/Novak_Djokovic/a.jpg",
        "trainingPass/serbia/novak_djokovic/a.jpg",
        png(1),
        false,
    );
    add(
        "trainingPassSerbia/Novak_Djokovic/b.png",
        "trainingPass/serbia/novak_djokovic/b.png",
        png(2),
        false,
    );
    add(
        "trainingPassSerbia/Nikola_Jokic/c.jpg",
        "trainingPass/serbia/nikola_jokic/c.jpg",
        png(3),
        false,
    );
    add(
        "storage/name_mapping.json",
        "trainingPass/serbia/name_mapping.json",
        r#"{"Novak_Djokovic": "Novak Đoković", "Nikola_Jokic": "Nikola Jokić"}"#
            .as_bytes()
            .to_vec(),
        false,
    );
    add(
        "training/serbia/Novak_Djokovic/raw1.jpg",
        "training/serbia/novak_djokovic/raw1.jpg",
        png(4),
        true,
    );
    // The oldest layout: production people straight under the folder.
    add(
        "recognized_faces_prod/Novak_Djokovic/p1.jpg",
        "recognized_faces_prod/serbia/novak_djokovic/p1.jpg",
        png(5),
        false,
    );
    add(
        "recognized_faces_prod/greece/Giannis_Antetokounmpo/g1.jpg",
        "recognized_faces_prod/greece/giannis_antetokounmpo/g1.jpg",
        png(6),
        false,
    );
    add(
        "recognized_faces_prod/croatia/Luka_Modric/m1.jpg",
        "recognized_faces_prod/croatia/luka_modric/m1.jpg",
        png(7),
        false,
    );
    // The same photo again once batched: one image record, two files.
    add(
        "recognized_faces_batched/serbia/Novak_Djokovic/p1.jpg",
        "recognized_faces_batched/serbia/novak_djokovic/p1.jpg",
        png(5),
        false,
    );
    add(
        "recognized_faces_batched/greece/Giannis_Antetokounmpo/g1.jpg",
        "recognized_faces_batched/greece/giannis_antetokounmpo/g1.jpg",
        png(6),
        false,
    );
    put(
        old,
        "recognized_faces_prod/greece/Giannis_Antetokounmpo/notes.txt",
        b"not a photo",
    );
    expected
}

fn migrate(new: &Path, old: &Path, extra: &[&str]) -> serde_json::Value {
    let out = facerecd(new)
        .args(["migrate", "legacy", "--json", "--from"])
        .arg(old)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn registry(new: &Path) -> Vec<String> {
    let store = Store::open(new).unwrap();
    let mut rows = vec![];
    for d in store.list_domains().unwrap() {
        for p in store.list_people(&d.domain_code, None).unwrap() {
            rows.push(format!(
                "{} {} {:?} {}",
                d.domain_code, p.id, p.status, p.display_name
            ));
            for i in store.person_images(&d.domain_code, &p.id).unwrap() {
                rows.push(format!(
                    "  {} {:?} {:?} {}",
                    i.sha256, i.status, i.source, i.path
                ));
            }
        }
    }
    rows
}

#[test]
fn a_legacy_install_migrates_in_steps_and_a_second_run_changes_nothing() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let expected = legacy_tree(old.path());

    // A dry run changes no file.
    let report = migrate(new.path(), old.path(), &["--dry-run"]);
    assert_eq!(
        report["domains_created"],
        serde_json::json!(["croatia", "greece", "serbia"])
    );
    assert_eq!(report["files"]["copied"], 10);
    for legacy in expected.keys() {
        assert!(old.path().join(legacy).is_file(), "{legacy}");
    }
    assert!(!new.path().join("trainingPass").exists());
    assert!(registry(new.path()).is_empty());

    // Interrupted after 4 files, then resumed.
    let first = migrate(new.path(), old.path(), &["--max-files", "4"]);
    assert_eq!(first["files_remaining"], 6, "{first}");
    let second = migrate(new.path(), old.path(), &[]);
    assert_eq!(second["files_remaining"], 0);
    assert!(
        second["report_file"]
            .as_str()
            .unwrap()
            .contains("migration/legacy-")
    );

    for (legacy, (new_rel, digest, stays)) in &expected {
        let placed =
            std::fs::read(new.path().join(new_rel)).unwrap_or_else(|e| panic!("{new_rel}: {e}"));
        assert_eq!(&sha(&placed), digest, "{new_rel}");
        assert_eq!(old.path().join(legacy).exists(), *stays, "{legacy}");
    }
    assert!(
        old.path()
            .join("recognized_faces_prod/greece/Giannis_Antetokounmpo/notes.txt")
            .is_file()
    );
    assert!(
        !old.path().join("trainingPassSerbia").exists(),
        "emptied legacy folders are removed"
    );

    let store = Store::open(new.path()).unwrap();
    let code = |c: &str| DomainCode::parse(c).unwrap();
    let id = |p: &str| PersonId::parse(p).unwrap();
    let novak = store
        .get_person(&code("serbia"), &id("novak_djokovic"))
        .unwrap()
        .unwrap();
    assert_eq!(novak.display_name, "Novak Đoković");
    assert_eq!(
        novak.status,
        PersonStatus::Production,
        "batched means published"
    );
    let nikola = store
        .get_person(&code("serbia"), &id("nikola_jokic"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (nikola.display_name.as_str(), nikola.status),
        ("Nikola Jokić", PersonStatus::Staging)
    );
    let luka = store
        .get_person(&code("croatia"), &id("luka_modric"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (luka.display_name.as_str(), luka.status),
        ("Luka Modric", PersonStatus::Approved)
    );
    assert!(
        store
            .get_person(&code("serbia"), &id("luka_modric"))
            .unwrap()
            .is_none()
    );
    let images = store
        .person_images(&code("serbia"), &id("novak_djokovic"))
        .unwrap();
    // a, b (staging), raw1 (training), p1 once for prod + batched.
    assert_eq!(images.len(), 4, "{images:#?}");
    assert!(images.iter().all(|i| i.source == ImageSource::Legacy));
    let p1 = images.iter().find(|i| i.sha256 == sha(&png(5))).unwrap();
    assert_eq!(p1.status, ImageStatus::Approved);
    assert_eq!(
        p1.path,
        "recognized_faces_prod/serbia/novak_djokovic/p1.jpg"
    );
    let raw = images.iter().find(|i| i.sha256 == sha(&png(4))).unwrap();
    assert_eq!(raw.status, ImageStatus::New);
    let giannis = store
        .person_images(&code("greece"), &id("giannis_antetokounmpo"))
        .unwrap();
    assert_eq!(giannis.len(), 1);
    drop(store);

    // Once more: nothing changes.
    let before = registry(new.path());
    let third = migrate(new.path(), old.path(), &[]);
    assert_eq!(third["people_created"], 0, "{third}");
    assert_eq!(third["images_recorded"], 0);
    assert_eq!(third["sources_removed"], 0);
    assert!(third["files"]["copied"].is_null(), "{third}");
    assert_eq!(registry(new.path()), before);
}

#[test]
fn migrating_in_place_moves_the_serbian_folders_and_keeps_training() {
    let root = tempfile::tempdir().unwrap();
    legacy_tree(root.path());
    let report = migrate(root.path(), root.path(), &[]);
    assert_eq!(report["files"]["in_place"], 1, "{report}");
    assert!(
        root.path()
            .join("trainingPass/serbia/novak_djokovic/a.jpg")
            .is_file()
    );
    assert!(
        root.path()
            .join("trainingPass/serbia/name_mapping.json")
            .is_file()
    );
    // training/ stays as it is, recorded in place (not copied beside itself).
    assert!(
        root.path()
            .join("training/serbia/Novak_Djokovic/raw1.jpg")
            .is_file()
    );
    assert!(!root.path().join("training/serbia/novak_djokovic").exists());
    assert!(!root.path().join("trainingPassSerbia").exists());
    assert!(
        !root
            .path()
            .join("recognized_faces_prod/Novak_Djokovic")
            .exists()
    );
    assert!(
        root.path()
            .join("recognized_faces_prod/serbia/novak_djokovic/p1.jpg")
            .is_file()
    );
    let again = migrate(root.path(), root.path(), &[]);
    assert_eq!(again["images_recorded"], 0, "{again}");
}
