//! Server-sent event streams: recognition events (`GET /api/events`), each
//! camera's live view (`GET /api/cameras/{id}/view`, what `/live` draws),
//! and the short-lived access tokens a browser's `EventSource` opens them
//! with (`POST /api/access-tokens`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use base64::Engine;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::live::{TracksView, camera, live};
use super::{ApiError, AppState};
use crate::auth::access::ACCESS_TOKEN_TTL;
use crate::auth::{Client, StreamClient};
use facerec_live::LiveEvent;
use facerec_live::events::{Cursor, EventBus, Sequenced};

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessToken {
    /// Pass as `?access_token=` to `/api/events` or
    /// `/api/cameras/{id}/view`; nowhere else.
    pub access_token: String,
    /// Seconds it can be used to open a stream (an open stream stays open).
    pub expires_in: u64,
}

/// A short-lived token for opening event streams from a browser, whose
/// `EventSource` cannot send the bearer header. It grants what the bearer
/// token grants (narrowed as this request is), for a minute.
#[utoipa::path(post, path = "/api/access-tokens", tag = "live", security(("bearer" = [])),
    responses((status = 201, body = AccessToken),
        (status = 401, body = super::Problem, content_type = "application/problem+json")))]
pub async fn mint_access_token(
    State(state): State<AppState>,
    client: Client,
) -> (StatusCode, Json<AccessToken>) {
    let token = state
        .access_tokens
        .mint(client.token_hash, client.narrowed.as_ref());
    (
        StatusCode::CREATED,
        Json(AccessToken {
            access_token: token,
            expires_in: ACCESS_TOKEN_TTL.as_secs(),
        }),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventFilter {
    /// Only this camera's events.
    pub camera: Option<String>,
    /// Resume after this event id, as the `Last-Event-ID` header does (for
    /// clients that cannot set it).
    pub last_event_id: Option<String>,
    /// A token from `POST /api/access-tokens`, instead of the bearer header.
    #[allow(dead_code)] // read by `StreamClient`; declared for the API docs
    pub access_token: Option<String>,
}

/// Recognition events as they happen (`text/event-stream`): each SSE
/// message's `event` is the type (`track_appeared`, `identity_changed`,
/// `track_lost`), its `id` the event's place in this edge's order, and its
/// `data` the event JSON (docs/live.md). Only events of cameras whose
/// domain the token may see. A reader that reconnects with `Last-Event-ID`
/// first gets the events it missed, from the latest `[events] history`
/// of each camera, then a `caught_up` message (`{"replayed": n}`); an id
/// from before the edge restarted replays all it keeps. A reader that
/// falls behind gets a `lagged` message saying how many it missed.
#[utoipa::path(get, path = "/api/events", tag = "live", security(("bearer" = [])),
    params(EventFilter, ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    responses((status = 200, content_type = "text/event-stream", body = LiveEvent),
        (status = 401, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json", description = "No cameras on this node")))]
pub async fn events(
    State(state): State<AppState>,
    StreamClient(client): StreamClient,
    headers: HeaderMap,
    Query(filter): Query<EventFilter>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let live = live(&state)?;
    if let Some(id) = &filter.camera {
        camera(&state, &client, id)?;
    }
    let visible: Vec<String> = live
        .cameras
        .iter()
        .filter(|c| client.may_access(&c.domain))
        .filter(|c| filter.camera.as_ref().is_none_or(|id| *id == c.id))
        .map(|c| c.id.clone())
        .collect();
    let resume_from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(filter.last_event_id.as_deref());
    let (missed, receiver) = match resume_from {
        Some(id) => {
            let cursor = Cursor::parse(id).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Last-Event-ID `{id}` is not an id this edge sent (`{{boot}}-{{seq}}`)"
                ))
            })?;
            live.bus.resume(cursor, &visible)
        }
        None => (vec![], live.bus.subscribe()),
    };
    let dropped = state
        .metrics
        .live
        .events_dropped
        .with_label_values(&["sse"]);
    let bus = live.bus.clone();
    let message = move |bus: &EventBus, e: &Sequenced| {
        let data = serde_json::to_string(&e.event).expect("events serialise");
        Event::default()
            .event(e.kind.as_str())
            .id(bus.cursor(e).to_string())
            .data(data)
    };
    let mut backlog: Vec<Result<Event, Infallible>> =
        missed.iter().map(|e| Ok(message(&bus, e))).collect();
    if resume_from.is_some() {
        // Tells a resuming reader that what follows is live.
        backlog.push(Ok(Event::default()
            .event("caught_up")
            .data(format!("{{\"replayed\":{}}}", missed.len()))));
    }
    let last_replayed = missed.last().map_or(0, |e| e.seq);
    let live_events = futures_util::stream::unfold(receiver, move |mut rx| {
        let (visible, dropped, bus) = (visible.clone(), dropped.clone(), bus.clone());
        async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.seq > last_replayed && visible.contains(&e.camera) => {
                        return Some((Ok(message(&bus, &e)), rx));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        dropped.inc_by(n);
                        let msg = Event::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(msg), rx));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    use futures_util::StreamExt;
    let stream = futures_util::stream::iter(backlog).chain(live_events);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ViewParams {
    /// Views per second at most (1–15, default 5).
    pub fps: Option<u32>,
    /// A token from `POST /api/access-tokens`, instead of the bearer header.
    #[allow(dead_code)] // read by `StreamClient`; declared for the API docs
    pub access_token: Option<String>,
}

/// One analysed frame as `/live` draws it: the picture and its tracks,
/// together, so that what is written and what is drawn always agree.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewMessage {
    #[serde(flatten)]
    pub tracks: TracksView,
    /// The frame as a base64 JPEG (none before the camera's first frame).
    pub jpeg: Option<String>,
}

/// A camera's live view as server-sent events: a `view` message
/// ([`ViewMessage`]) whenever a new frame has been analysed, at most `fps`
/// a second. Frames are encoded for this reader only and never stored.
#[utoipa::path(get, path = "/api/cameras/{id}/view", tag = "live", security(("bearer" = [])),
    params(("id" = String, Path, description = "Camera id"), ViewParams),
    responses((status = 200, content_type = "text/event-stream", body = ViewMessage),
        (status = 401, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json")))]
pub async fn camera_view(
    State(state): State<AppState>,
    StreamClient(client): StreamClient,
    Path(id): Path<String>,
    Query(params): Query<ViewParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let cam = camera(&state, &client, &id)?.clone();
    let fps = params.fps.unwrap_or(5);
    if !(1..=15).contains(&fps) {
        return Err(ApiError::bad_request(format!(
            "fps must be 1–15, not {fps}"
        )));
    }
    let period = Duration::from_millis(1000 / fps as u64);
    // The first message goes out at once, with or without a frame; then one
    // per newly analysed frame.
    let stream = futures_util::stream::unfold(
        (cam, None::<Option<u64>>),
        move |(cam, last): (Arc<facerec_live::CameraRuntime>, Option<Option<u64>>)| async move {
            loop {
                let view = cam.view.read().expect("view lock").clone();
                let seq = view.frame.as_ref().map(|f| f.seq);
                if last == Some(seq) {
                    tokio::time::sleep(period).await;
                    continue;
                }
                let frame = view.frame.clone();
                let tracks = TracksView::of(&cam.id, view);
                let jpeg = match frame {
                    None => None,
                    Some(frame) => tokio::task::spawn_blocking(move || {
                        let mut out = std::io::Cursor::new(Vec::new());
                        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 75)
                            .encode_image(frame.image.as_ref())
                            .ok()
                            .map(|_| {
                                base64::engine::general_purpose::STANDARD.encode(out.into_inner())
                            })
                    })
                    .await
                    .ok()
                    .flatten(),
                };
                let msg = Event::default().event("view").data(
                    serde_json::to_string(&ViewMessage { tracks, jpeg }).expect("views serialise"),
                );
                if last.is_some() {
                    tokio::time::sleep(period).await;
                }
                return Some((Ok(msg), (cam, Some(seq))));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
