//! The live camera pipeline over HTTP: cameras and their state, the latest
//! frame and tracks, and the `/live` page. The streams (events, the view
//! `/live` draws) are in `streams.rs`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::auth::Client;
use facerec_live::pipeline::{CameraStats, TrackView};
use facerec_live::{CameraRuntime, Live};

#[derive(Debug, Serialize, ToSchema)]
pub struct CameraView {
    pub id: String,
    /// The domain it recognises in.
    pub domain: String,
    /// The source supervisor's view: `state` (starting, running,
    /// reconnecting, ended, stopped), frames, restarts, errors by kind.
    #[schema(value_type = Object)]
    pub source: facerec_camera::SourceStatus,
    pub pipeline: CameraStats,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TracksView {
    pub camera: String,
    /// The analysed frame's number (0 before the first).
    pub frame_seq: u64,
    pub width: u32,
    pub height: u32,
    pub tracks: Vec<TrackView>,
}

pub(super) fn live(state: &AppState) -> Result<&Live, ApiError> {
    state.live.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "this node runs no cameras (an edge with [[camera]] or --camera does)",
        )
    })
}

/// The camera `id` if the token may see its domain (404 otherwise, so a
/// client cannot learn other clients' cameras).
pub(super) fn camera<'a>(
    state: &'a AppState,
    client: &Client,
    id: &str,
) -> Result<&'a Arc<CameraRuntime>, ApiError> {
    live(state)?
        .camera(id)
        .filter(|c| client.may_access(&c.domain))
        .ok_or_else(|| ApiError::not_found(format!("no camera `{id}`")))
}

/// The cameras whose domain the token may see, with their state.
#[utoipa::path(get, path = "/api/cameras", tag = "live", security(("bearer" = [])),
    responses((status = 200, body = Vec<CameraView>),
        (status = 409, body = super::Problem, content_type = "application/problem+json", description = "No cameras on this node")))]
pub async fn list_cameras(
    State(state): State<AppState>,
    client: Client,
) -> Result<Json<Vec<CameraView>>, ApiError> {
    Ok(Json(
        live(&state)?
            .cameras
            .iter()
            .filter(|c| client.may_access(&c.domain))
            .map(|c| CameraView {
                id: c.id.clone(),
                domain: c.domain.to_string(),
                source: c.source_status(),
                pipeline: c.stats.lock().expect("stats lock").clone(),
            })
            .collect(),
    ))
}

/// The tracks of the latest analysed frame, with boxes in its pixels.
#[utoipa::path(get, path = "/api/cameras/{id}/tracks", tag = "live", security(("bearer" = [])),
    params(("id" = String, Path, description = "Camera id")),
    responses((status = 200, body = TracksView),
        (status = 404, body = super::Problem, content_type = "application/problem+json")))]
pub async fn camera_tracks(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<TracksView>, ApiError> {
    let cam = camera(&state, &client, &id)?;
    let view = cam.view.read().expect("view lock").clone();
    Ok(Json(TracksView::of(&cam.id, view)))
}

impl TracksView {
    pub(super) fn of(camera: &str, view: facerec_live::pipeline::LiveView) -> Self {
        let (frame_seq, width, height) = view
            .frame
            .as_ref()
            .map_or((0, 0, 0), |f| (f.seq, f.image.width(), f.image.height()));
        Self {
            camera: camera.to_string(),
            frame_seq,
            width,
            height,
            tracks: view.tracks,
        }
    }
}

/// The latest analysed frame as a JPEG (kept in memory only; never
/// stored). 503 until the camera has delivered one.
#[utoipa::path(get, path = "/api/cameras/{id}/frame.jpg", tag = "live", security(("bearer" = [])),
    params(("id" = String, Path, description = "Camera id")),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
        (status = 503, body = super::Problem, content_type = "application/problem+json", description = "No frame yet")))]
pub async fn camera_frame(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let cam = camera(&state, &client, &id)?;
    let frame = cam
        .view
        .read()
        .expect("view lock")
        .frame
        .clone()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no frame from this camera yet",
            )
        })?;
    let jpeg = tokio::task::spawn_blocking(move || {
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(frame.image.as_ref())
            .map(|_| out.into_inner())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("cannot encode the frame: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    ))
}

/// The live view: each camera's latest frame with boxes and names,
/// refreshing by itself. The page needs no token to load; it asks for one
/// (or takes it from `#token=…`) to read the cameras.
#[utoipa::path(get, path = "/live", tag = "live",
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn live_page() -> Html<&'static str> {
    Html(include_str!("live.html"))
}
