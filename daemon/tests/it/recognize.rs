//! `POST /api/recognize` on an edge whose index holds people from the
//! sample photos of `samples/faces/`.

use std::path::{Path, PathBuf};

use facerec_node::Role;
use facerec_storage::{
    BatchKind, BatchMeta, DomainCode, IncomingBatch, NewDomain, NewEmbedding, PersonId, Store,
    SyncedPerson,
};
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, decode_image, default_models_dir,
};
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/faces")
        .join(name)
}

fn descriptor(engine: &FaceEngine, file: &str) -> Vec<f32> {
    let image = decode_image(
        &std::fs::read(sample(file)).unwrap(),
        &DecodeLimits::default(),
    )
    .unwrap();
    let mut faces = engine.analyze(&image, &DetectorConfig::default()).unwrap();
    faces.sort_by(|a, b| b.face.bbox.area().total_cmp(&a.face.bbox.area()));
    faces.remove(0).descriptor.0
}

/// `path` blurred with a Gaussian of `sigma` pixels, as a JPEG.
fn blurred_jpeg(path: &Path, sigma: f32) -> Vec<u8> {
    let image = decode_image(&std::fs::read(path).unwrap(), &DecodeLimits::default()).unwrap();
    let blurred = image::imageops::blur(&image, sigma);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(blurred)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    out
}

async fn recognize(edge: &Node, token: &str, body: Vec<u8>) -> reqwest::Response {
    recognize_at(edge, "/api/recognize", token, body).await
}

/// `POST path` (`/api/recognize` with a query) with a JPEG body.
async fn recognize_at(edge: &Node, path: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    edge.req(Method::POST, path, Some(token))
        .header("content-type", "image/jpeg")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Applies batch 1 of `serbia` holding `people` (id, name, sample photos),
/// with descriptors computed from the photos, as sync would.
pub fn enrol_serbia(
    store: &Store,
    index: &facerec_index::IndexSet,
    people: &[(&str, &str, &[&str])],
) {
    let engine = FaceEngine::load(&ModelFiles::new(default_models_dir())).unwrap();
    let added: Vec<SyncedPerson> = people
        .iter()
        .map(|(id, name, files)| SyncedPerson {
            id: PersonId::parse(id).unwrap(),
            display_name: name.to_string(),
            wikidata_id: Some("Q1".into()),
            embeddings: files
                .iter()
                .map(|f| NewEmbedding {
                    image_id: None,
                    vector: descriptor(&engine, f),
                })
                .collect(),
        })
        .collect();
    let batch = IncomingBatch {
        meta: BatchMeta {
            domain: DomainCode::parse("serbia").unwrap(),
            seq: 1,
            id: "0001".into(),
            kind: BatchKind::Delta,
            created_at: chrono::Utc::now(),
            people_added: added.len() as u64,
            people_removed: 0,
            descriptors: added.iter().map(|p| p.embeddings.len() as u64).sum(),
            content_hash: "00".into(),
            pack: engine.pack.name.into(),
        },
        added,
        removed: vec![],
    };
    facerec_edge::apply::apply(store, index, batch, None).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_recognises_enrolled_people_and_reports_strangers() {
    let root = tempfile::tempdir().unwrap();
    {
        let store = Store::open(root.path()).unwrap();
        store.create_domain(NewDomain::named("serbia")).unwrap();
        store.create_domain(NewDomain::named("greece")).unwrap();
    }
    let edge = Node::start(&config(root.path(), Some("serbia"), &[]), Role::Edge).await;
    let server = edge.server.as_ref().unwrap();

    // person_05 and person_03 reach the edge as a batch would bring them.
    enrol_serbia(
        &server.store,
        server.index.as_ref().unwrap(),
        &[
            (
                "person_05",
                "Person Five",
                &["img16.jpg", "img17.jpg", "img61.jpg"],
            ),
            ("person_03", "Person Three", &["img50.jpg"]),
        ],
    );

    // An unseen photo of person_05 is recognised, with the answer's shape.
    let resp = recognize(&edge, SERBIA, std::fs::read(sample("img62.jpg")).unwrap()).await;
    let body: Value = json(resp, 200).await;
    assert_eq!(body["domain"], "serbia");
    assert_eq!(body["searched"], serde_json::json!(["serbia"]));
    let hit = &body["recognized"][0];
    assert_eq!(hit["person"], "person_05", "{body}");
    assert_eq!(hit["name"], "Person Five");
    assert_eq!(hit["urls"][0], "https://www.wikidata.org/wiki/Q1");
    assert!(hit["distance"].as_f64().unwrap() < 0.6);
    let confidence = hit["confidence"].as_f64().unwrap();
    assert!((50.0..=100.0).contains(&confidence), "{confidence}");
    assert_eq!(hit["landmarks"].as_array().unwrap().len(), 5);
    assert!(hit["box"]["x2"].as_f64().unwrap() > hit["box"]["x1"].as_f64().unwrap());

    // A multipart upload of person_03's other photo works the same.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(std::fs::read(sample("img51.jpg")).unwrap())
            .file_name("img51.jpg"),
    );
    let resp = edge
        .req(Method::POST, "/api/recognize", Some(SERBIA))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body: Value = json(resp, 200).await;
    assert_eq!(body["recognized"][0]["person"], "person_03", "{body}");

    // A person never enrolled is a stranger.
    let body: Value = json(
        recognize(&edge, SERBIA, std::fs::read(sample("img44.jpg")).unwrap()).await,
        200,
    )
    .await;
    assert!(body["recognized"].as_array().unwrap().is_empty(), "{body}");
    assert_eq!(body["unrecognized"].as_array().unwrap().len(), 1);
    assert!(body["refused"].as_array().unwrap().is_empty(), "{body}");

    // A blurred copy of person_05's photo is still boxed, but the quality
    // gate keeps it from the search and says why — unless the caller asks
    // for every face with `quality=none`.
    let blurred = blurred_jpeg(&sample("img62.jpg"), 6.0);
    let body: Value = json(recognize(&edge, SERBIA, blurred.clone()).await, 200).await;
    assert!(body["recognized"].as_array().unwrap().is_empty(), "{body}");
    assert!(
        body["unrecognized"].as_array().unwrap().is_empty(),
        "{body}"
    );
    // The face, and a weak box the blur made on the background.
    let refused = body["refused"].as_array().unwrap();
    let refused = refused
        .iter()
        .max_by(|a, b| {
            let width =
                |f: &Value| f["box"]["x2"].as_f64().unwrap() - f["box"]["x1"].as_f64().unwrap();
            width(a).total_cmp(&width(b))
        })
        .expect("refused faces");
    assert_eq!(refused["reason"], "blurred", "{body}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .starts_with("blurred (sharpness"),
        "{body}"
    );
    assert_eq!(refused["landmarks"].as_array().unwrap().len(), 5);
    let resp = recognize_at(&edge, "/api/recognize?quality=none", SERBIA, blurred).await;
    let body: Value = json(resp, 200).await;
    assert!(body["refused"].as_array().unwrap().is_empty(), "{body}");
    assert_eq!(body["recognized"][0]["person"], "person_05", "{body}");
    let photo = std::fs::read(sample("img62.jpg")).unwrap();
    let resp = recognize_at(&edge, "/api/recognize?quality=strict", SERBIA, photo).await;
    problem(resp, 400).await;

    // Bad input and other clients' domains.
    let detail = problem(
        recognize(&edge, SERBIA, b"not an image".to_vec()).await,
        422,
    )
    .await;
    assert!(detail.contains("not a usable image"), "{detail}");
    let truncated = std::fs::read(sample("img62.jpg")).unwrap()[..2000].to_vec();
    problem(recognize(&edge, SERBIA, truncated).await, 422).await;
    problem(recognize(&edge, SERBIA, vec![]).await, 422).await;
    problem(
        recognize(&edge, GREECE, std::fs::read(sample("img62.jpg")).unwrap()).await,
        403,
    )
    .await;
    edge.stop().await;

    let hub_root = tempfile::tempdir().unwrap();
    let hub = Node::hub(hub_root.path()).await;
    // A hub answers 409 before looking at what the request lacks.
    let detail = problem(
        recognize(&hub, ADMIN, std::fs::read(sample("img62.jpg")).unwrap()).await,
        409,
    )
    .await;
    assert!(detail.contains("on an edge"), "{detail}");
    let resp = hub
        .req(Method::POST, "/api/recognize", Some(ADMIN))
        .header("x-client-domain", "serbia")
        .body(std::fs::read(sample("img62.jpg")).unwrap())
        .send()
        .await
        .unwrap();
    problem(resp, 409).await;
    hub.stop().await;
}
