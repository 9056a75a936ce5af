//! `POST /api/recognize`: every face in an uploaded image, recognised
//! against the caller's domain and the datasets it inherits — the design's
//! `recognize_face(image_bytes, domain)`, answered the way cloud celebrity
//! recognition APIs answer (recognised and unrecognised faces), with the
//! faces the quality gate kept from the search and why (as Rekognition's
//! `QualityFilter` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use facerec_storage::DomainCode;
use facerec_vision::{DecodeLimits, DetectorConfig, Face, QualityGate, decode_image};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, AppState, Problem};
use crate::auth::Client;

/// Photos are searched for faces at this size at most (longer side); faces
/// are then cut from the full-resolution photo. A face under ~2.5% of the
/// longer side is too small to recognise well anyway.
pub const DETECT_MAX_SIDE: u32 = 800;

#[derive(Debug, Deserialize, IntoParams)]
pub struct RecognizeQuery {
    /// Smallest face to look for, in pixels (the side of its box), 20–2000.
    /// Default: 5% of the photo's longer side, at least 40 — detection
    /// time grows with the square of (photo size ÷ smallest face).
    pub min_face: Option<f32>,
    /// `auto` (default): a face that fails the quality gate — smaller than
    /// `min_face`, a weak detection, not a face's landmarks, turned away,
    /// blurred, one flat tone as in a drawing — is not searched and is
    /// listed under `refused` with the reason. `none`: every face is
    /// searched.
    pub quality: Option<QualityFilter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QualityFilter {
    #[default]
    Auto,
    None,
}

/// The gate an uploaded photo's faces pass before they are searched: the
/// photo defaults, with the request's smallest face.
fn photo_gate(min_face: f32) -> QualityGate {
    QualityGate {
        min_face,
        ..QualityGate::default()
    }
}

/// The default smallest face for a photo whose longer side is `longest`.
pub fn default_min_face(longest: u32) -> f32 {
    (longest as f32 / 20.0).max(40.0)
}

/// An upload is one photo: the hub's per-photo limit.
pub const RECOGNIZE_BODY_LIMIT: usize = facerec_hub::acquire::MAX_IMAGE_BYTES as usize;

#[derive(Debug, Serialize, ToSchema)]
pub struct FaceBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetectedFace {
    #[serde(rename = "box")]
    pub bbox: FaceBox,
    /// Left eye, right eye, nose, mouth left, mouth right: `[x, y]` pixels.
    pub landmarks: Vec<[f32; 2]>,
    /// Detector confidence in [0, 1].
    pub detection_score: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecognizedFace {
    #[serde(flatten)]
    pub face: DetectedFace,
    pub person: String,
    pub name: String,
    pub wikidata_id: Option<String>,
    pub urls: Vec<String>,
    /// The domain whose data matched: the caller's own or an inherited one.
    pub domain: String,
    /// Euclidean distance of the descriptors in the matched domain's model
    /// pack (same person below 0.6 with `dlib-v1`; `sface-v1` descriptors
    /// are unit vectors, √(2 − 2·cosine), same person below 1.049).
    pub distance: f32,
    /// 0–100.
    pub confidence: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedFace {
    #[serde(flatten)]
    pub face: DetectedFace,
    /// `too_small`, `low_score`, `landmarks`, `pose`, `blurred` or `flat_tone`.
    pub reason: String,
    /// The reason in words, with the measure and the limit.
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecognizeResult {
    /// The caller's domain.
    pub domain: String,
    /// The domains searched, in order.
    pub searched: Vec<String>,
    pub recognized: Vec<RecognizedFace>,
    pub unrecognized: Vec<DetectedFace>,
    /// Faces not searched: they failed the quality gate (`quality=auto`).
    pub refused: Vec<RefusedFace>,
}

/// The domain a request recognises in: the one it narrowed to
/// (`X-Client-Domain` or the Host subdomain), else this edge's own.
fn caller_domain(state: &AppState, client: &Client) -> Result<DomainCode, ApiError> {
    let domain = client
        .narrowed
        .clone()
        .or_else(|| state.node.primary.clone())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "name the domain to recognise in with the X-Client-Domain header",
            )
        })?;
    client.authorize(&domain)?;
    Ok(domain)
}

/// The image: the raw body, or the first file of a multipart form.
async fn image_bytes(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    let too_large = |e: String| {
        if e.contains("length limit") {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the image is over 25 MiB")
        } else {
            ApiError::bad_request(format!("cannot read the body: {e}"))
        }
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !multipart {
        return Bytes::from_request(request, state)
            .await
            .map_err(|e| too_large(e.body_text()));
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| too_large(e.body_text()))?
    {
        if field.file_name().is_some() || matches!(field.name(), Some("file" | "image")) {
            return field.bytes().await.map_err(|e| too_large(e.body_text()));
        }
    }
    Err(ApiError::unprocessable(
        "the form has no file: send the image as `file`",
    ))
}

/// Recognises every face of the image (the raw body, or the `file` of a
/// multipart form; JPEG, PNG, WebP or BMP, judged by its bytes; up to 25 MiB
/// and 40 megapixels) against the caller's domain and its inherited
/// datasets. Runs on an edge.
#[utoipa::path(post, path = "/api/recognize", tag = "recognition", security(("bearer" = [])),
    params(RecognizeQuery),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The image's bytes"),
    responses(
        (status = 200, body = RecognizeResult),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not an edge"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Over 25 MiB"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a decodable image, or too many pixels"),
    ))]
pub async fn recognize(
    State(state): State<AppState>,
    client: Client,
    super::extract::ApiQuery(query): super::extract::ApiQuery<RecognizeQuery>,
    request: Request,
) -> Result<Json<RecognizeResult>, ApiError> {
    let started = std::time::Instant::now();
    let metrics = state.metrics.clone();
    let result = run(state, client, query, request).await;
    match &result {
        Ok(r) => {
            metrics
                .recognize_seconds
                .observe(started.elapsed().as_secs_f64());
            metrics.recognize_requests.with_label_values(&["ok"]).inc();
            let faces = &metrics.recognize_faces;
            faces
                .with_label_values(&["recognized"])
                .inc_by(r.recognized.len() as u64);
            faces
                .with_label_values(&["unrecognized"])
                .inc_by(r.unrecognized.len() as u64);
            faces
                .with_label_values(&["refused"])
                .inc_by(r.refused.len() as u64);
        }
        Err(e) => metrics
            .recognize_requests
            .with_label_values(&[e.status.as_str()])
            .inc(),
    }
    result.map(Json)
}

async fn run(
    state: AppState,
    client: Client,
    query: RecognizeQuery,
    request: Request,
) -> Result<RecognizeResult, ApiError> {
    if let Some(m) = query.min_face
        && !(20.0..=2000.0).contains(&m)
    {
        return Err(ApiError::unprocessable(format!(
            "min_face {m} is outside 20–2000 pixels"
        )));
    }
    // A hub says so first: what the request lacks does not matter there.
    let index = state.index.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "recognition runs on an edge, not on the hub",
        )
    })?;
    let domain = caller_domain(&state, &client)?;
    let body = image_bytes(&state, request).await?;
    if body.is_empty() {
        return Err(ApiError::unprocessable(
            "the body is empty: send the image's bytes",
        ));
    }
    let (engines, store) = (state.engines.clone(), state.store.clone());
    let result = tokio::task::spawn_blocking(move || -> Result<RecognizeResult, ApiError> {
        let image = decode_image(&body, &DecodeLimits::default())
            .map_err(|e| ApiError::unprocessable(format!("the body is not a usable image: {e}")))?;
        let detector_net = engines
            .detector()
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
        let detector = DetectorConfig {
            min_face: query
                .min_face
                .unwrap_or_else(|| default_min_face(image.width().max(image.height()))),
            ..DetectorConfig::default()
        };
        let gate = match query.quality.unwrap_or_default() {
            QualityFilter::Auto => Some(photo_gate(detector.min_face)),
            QualityFilter::None => None,
        };
        let longest = image.width().max(image.height());
        let faces = detector_net
            .detect(&image, &detector.within(longest, DETECT_MAX_SIDE))
            .map_err(|e| ApiError::internal(format!("face detection failed: {e}")))?;
        let mut out = RecognizeResult {
            domain: domain.to_string(),
            searched: vec![],
            recognized: vec![],
            unrecognized: vec![],
            refused: vec![],
        };
        for f in &faces {
            let detected = detected_face(f);
            if let Some(Err(refusal)) = gate.map(|g| g.check(&image, f)) {
                out.refused.push(RefusedFace {
                    face: detected,
                    reason: refusal.reason().to_string(),
                    detail: refusal.to_string(),
                });
                continue;
            }
            let outcome =
                facerec_live::recognition::recognise(&engines, &index, &domain, &image, f)
                    .map_err(|e| ApiError::internal(format!("recognition failed: {e:#}")))?
                    .outcome;
            out.searched = outcome.searched.iter().map(|d| d.to_string()).collect();
            let Some(m) = outcome.best else {
                out.unrecognized.push(detected);
                continue;
            };
            let person = store.get_person(&m.domain, &m.person)?;
            let (name, wikidata_id) = person
                .map(|p| (p.display_name, p.wikidata_id))
                .unwrap_or_else(|| (m.person.to_string(), None));
            out.recognized.push(RecognizedFace {
                face: detected,
                person: m.person.to_string(),
                urls: wikidata_id
                    .iter()
                    .map(|q| format!("https://www.wikidata.org/wiki/{q}"))
                    .collect(),
                name,
                wikidata_id,
                domain: m.domain.to_string(),
                distance: m.distance,
                confidence: (m.confidence * 1000.0).round() / 10.0,
            });
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::internal(format!("recognition task failed: {e}")))??;
    Ok(result)
}

fn detected_face(f: &Face) -> DetectedFace {
    DetectedFace {
        bbox: FaceBox {
            x1: f.bbox.x1,
            y1: f.bbox.y1,
            x2: f.bbox.x2,
            y2: f.bbox.y2,
        },
        landmarks: f.landmarks.to_vec(),
        detection_score: f.score,
    }
}
