//! `facerecd train reembed`: an older install's photos, migrated without
//! descriptors, become searchable; a run stopped part-way (and a progress
//! line torn by a kill) resumes without redoing or losing work; a domain
//! moves to another pack all at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use facerec_index::{IndexOptions, IndexSet, PackQuery, SearchParams};
use facerec_storage::{DomainCode, Store};
use facerec_vision::{DetectorConfig, FaceEngine, ModelFiles, ModelPack, default_models_dir};

use crate::common::facerecd;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/faces")
        .join(name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn reembed(root: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run(facerecd(root)
        .args(["train", "reembed", "--domain", "serbia", "--json"])
        .args(extra));
    serde_json::from_str(&out).unwrap()
}

/// Who the index of `root` names on `photo`, searched with `pack`.
fn recognise(root: &Path, photo: &str, pack: &'static ModelPack) -> Option<String> {
    let store = std::sync::Arc::new(Store::open(root).unwrap());
    let serbia = DomainCode::parse("serbia").unwrap();
    let (set, _) = IndexSet::open(
        store,
        std::slice::from_ref(&serbia),
        IndexOptions::new(SearchParams::with_threshold(pack.match_distance())),
    )
    .unwrap();
    let engine = FaceEngine::load_pack(&ModelFiles::new(default_models_dir()), pack).unwrap();
    let image = image::open(sample(photo)).unwrap().to_rgb8();
    let faces = engine.detect(&image, &DetectorConfig::default()).unwrap();
    let d = engine.embed_face(&image, &faces[0]).unwrap();
    let query = [PackQuery {
        pack: pack.name,
        vector: d.as_slice(),
        threshold: pack.match_distance(),
    }];
    set.search(&serbia, &query)
        .unwrap()
        .best
        .map(|m| m.person.to_string())
}

#[test]
fn migrated_photos_become_searchable_and_an_interrupted_run_resumes() {
    let work = tempfile::tempdir().unwrap();
    let (old, new) = (work.path().join("old"), work.path().join("new"));
    // The old layout: production people straight under the folder.
    for (person, photos) in [
        ("Person_Five", &["img16.jpg", "img17.jpg", "img61.jpg"][..]),
        ("Person_Three", &["img50.jpg"][..]),
    ] {
        for p in photos {
            let to = old.join("recognized_faces_prod").join(person).join(p);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(sample(p), to).unwrap();
        }
    }
    let out = run(facerecd(&new)
        .args(["migrate", "legacy", "--from"])
        .arg(&old));
    assert!(
        out.contains("facerecd train reembed --domain serbia"),
        "migrate tells what to do next: {out}"
    );
    let store = Store::open(&new).unwrap();
    let serbia = DomainCode::parse("serbia").unwrap();
    assert_eq!(
        store.embedding_count(&serbia).unwrap(),
        0,
        "the old install kept no descriptors"
    );
    drop(store);

    // Stopped after two photos, with the next line torn as a kill leaves it.
    let first = reembed(&new, &["--max-photos", "2"]);
    assert_eq!(
        (first["photos"].as_u64(), first["remaining"].as_u64()),
        (Some(4), Some(2))
    );
    // A new domain's pack is the default, SFace.
    let progress = new.join("reembed/serbia.sface-v1.jsonl");
    let mut text = std::fs::read_to_string(&progress).unwrap();
    assert_eq!(text.lines().count(), 2);
    text.push_str("{\"image\":99,\"person\":\"pers");
    std::fs::write(&progress, text).unwrap();
    assert_eq!(
        Store::open(&new).unwrap().embedding_count(&serbia).unwrap(),
        0,
        "nothing replaced mid-way"
    );

    let second = reembed(&new, &[]);
    assert_eq!(second["resumed"].as_u64(), Some(2), "{second}");
    assert_eq!(second["embedded"].as_u64(), Some(4), "{second}");
    assert!(!progress.exists(), "the finished run removes its progress");
    let store = Store::open(&new).unwrap();
    assert_eq!(store.embedding_count(&serbia).unwrap(), 4);
    assert_eq!(
        store.embedding_pack(&serbia).unwrap().as_deref(),
        Some("sface-v1")
    );
    assert!(store.domain_embeddings(&serbia).unwrap().iter().all(|e| {
        let norm = e.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        (norm - 1.0).abs() < 1e-4 // SFace descriptors are unit vectors
    }));
    drop(store);
    // An unseen photo of a migrated person is recognised.
    assert_eq!(
        recognise(&new, "img62.jpg", &facerec_vision::SFACE_V1).as_deref(),
        Some("person_five")
    );

    // Moving the domain to dlib's pack replaces every descriptor at once.
    let switched = reembed(&new, &["--pack", "dlib-v1"]);
    assert_eq!(switched["embedded"].as_u64(), Some(4), "{switched}");
    let store = Store::open(&new).unwrap();
    assert_eq!(
        store.embedding_pack(&serbia).unwrap().as_deref(),
        Some("dlib-v1")
    );
    assert_eq!(store.domain(&serbia).unwrap().pack, "dlib-v1");
    drop(store);
    assert_eq!(
        recognise(&new, "img62.jpg", &facerec_vision::DLIB_V1).as_deref(),
        Some("person_five")
    );
}
