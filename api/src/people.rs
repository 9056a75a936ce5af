//! A domain's people and their faces on the hub, for review: search,
//! a person's production faces, "not this person", and the pictures
//! themselves (face crops and source photos).
//!
//! Pictures are personal data: they are served only to tokens of their
//! domain, marked `Cache-Control: private, no-store` so no shared cache
//! keeps them, and only by a hub (edges never hold them).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use facerec_storage::{DomainCode, ImageSource, ImageStatus, Person, PersonId, PersonStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiPath, ApiQuery, domain_code};
use super::{ApiError, AppState, Problem};
use crate::auth::Client;
use facerec_hub::review::{self, RemovedFace};

/// The most people one search returns.
const MAX_PEOPLE: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PeopleQuery {
    /// Part of a name or id (any case), or a Wikidata id (`Q5812`).
    pub q: Option<String>,
    /// Only people in this status (erased people only when asked for).
    pub status: Option<PersonStatus>,
    /// At most this many (1–1000, default 200), by name.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonSummary {
    #[serde(flatten)]
    pub person: Person,
    /// Approved faces (production descriptors) the person has.
    pub faces: usize,
}

fn hub_domain(state: &AppState, client: &Client, code: &str) -> Result<DomainCode, ApiError> {
    let code = domain_code(code)?;
    client.authorize(&code)?;
    state.require_hub()?;
    Ok(code)
}

fn matches(person: &Person, needle: &str) -> bool {
    person.display_name.to_lowercase().contains(needle)
        || person.id.as_str().contains(needle)
        || person
            .wikidata_id
            .as_deref()
            .is_some_and(|q| q.eq_ignore_ascii_case(needle))
}

/// The domain's people, searched by name, id or Wikidata id.
#[utoipa::path(get, path = "/api/domains/{code}/people", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), PeopleQuery),
    responses(
        (status = 200, body = [PersonSummary]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_people(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<PeopleQuery>,
) -> Result<Json<Vec<PersonSummary>>, ApiError> {
    let code = hub_domain(&state, &client, &code)?;
    let limit = query.limit.unwrap_or(200);
    if !(1..=MAX_PEOPLE).contains(&limit) {
        return Err(ApiError::unprocessable(format!(
            "limit must be 1–{MAX_PEOPLE}, not {limit}"
        )));
    }
    let needle = query.q.unwrap_or_default().trim().to_lowercase();
    state
        .storage(move |store| {
            store.domain(&code)?;
            let mut people: Vec<Person> = store
                .list_people(&code, query.status)?
                .into_iter()
                .filter(|p| query.status.is_some() || p.status != PersonStatus::Deleted)
                .filter(|p| needle.is_empty() || matches(p, &needle))
                .collect();
            people.sort_by(|a, b| a.display_name.cmp(&b.display_name));
            people.truncate(limit);
            people
                .into_iter()
                .map(|person| {
                    let faces = store.person_embeddings(&code, &person.id)?.len();
                    Ok(PersonSummary { person, faces })
                })
                .collect()
        })
        .await
        .map(Json)
}

/// One approved face of a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductionFace {
    /// The photo it came from (`/api/domains/{code}/images/{id}/face` is its crop).
    pub image_id: Option<u64>,
    pub embedding_id: u64,
    pub source: Option<ImageSource>,
    pub source_url: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// A person's approved faces: what edges recognise them by.
#[utoipa::path(get, path = "/api/domains/{code}/people/{id}/faces", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), ("id" = String, Path, description = "Person id")),
    responses(
        (status = 200, body = [ProductionFace]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn person_faces(
    State(state): State<AppState>,
    client: Client,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<ProductionFace>>, ApiError> {
    let code = hub_domain(&state, &client, &code)?;
    let person = PersonId::parse(&id).map_err(ApiError::from)?;
    state
        .storage(move |store| {
            if store.get_person(&code, &person)?.is_none() {
                return Err(facerec_storage::StorageError::UnknownPerson {
                    domain: code.to_string(),
                    person: person.to_string(),
                });
            }
            store
                .person_embeddings(&code, &person)?
                .into_iter()
                .map(|e| {
                    let image = match e.image_id {
                        Some(i) => store.get_image(&code, i)?,
                        None => None,
                    };
                    Ok(ProductionFace {
                        image_id: e.image_id,
                        embedding_id: e.id,
                        source: image.as_ref().map(|i| i.source),
                        source_url: image.as_ref().and_then(|i| i.source_url.clone()),
                        approved_at: image.map(|i| i.updated_at),
                    })
                })
                .collect()
        })
        .await
        .map(Json)
}

/// "Not this person": takes one approved face away from a person. The
/// next batch sends the person's remaining faces to every edge.
#[utoipa::path(delete, path = "/api/domains/{code}/people/{id}/faces/{image_id}", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), ("id" = String, Path, description = "Person id"),
        ("image_id" = u64, Path, description = "The face's image id")),
    responses(
        (status = 200, body = RemovedFace),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Unknown person or image"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The image is not one of the person's approved faces"),
    ))]
pub async fn remove_face(
    State(state): State<AppState>,
    client: Client,
    ApiPath((code, id, image_id)): ApiPath<(String, String, u64)>,
) -> Result<Json<RemovedFace>, ApiError> {
    let code = hub_domain(&state, &client, &code)?;
    let person = PersonId::parse(&id).map_err(ApiError::from)?;
    let store = state.store.clone();
    let by = client.name.clone();
    let removed = tokio::task::spawn_blocking(move || {
        review::remove_face(&store, &code, &person, image_id).inspect(
            |_| tracing::info!(domain = %code, person = %person, image_id, %by, "not this person"),
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
    .map_err(|e| match e.downcast::<facerec_storage::StorageError>() {
        Ok(storage) => ApiError::from(storage),
        Err(other) => ApiError::internal(format!("{other:#}")),
    })?;
    Ok(Json(removed))
}

/// Bytes of a picture, never kept by a shared cache.
fn picture(bytes: Vec<u8>) -> Response {
    let mime = image::guess_format(&bytes)
        .map(|f| f.to_mime_type())
        .unwrap_or("application/octet-stream");
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The picture file of an image, or 404. `face`: the aligned face crop
/// processing made (in staging, or in production once approved);
/// otherwise the source photo.
async fn image_file(
    state: &AppState,
    code: DomainCode,
    id: u64,
    face: bool,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let missing = || ApiError::not_found(format!("no picture for image {id} in '{code}'"));
        let image = store.get_image(&code, id)?.ok_or_else(missing)?;
        if image.status == ImageStatus::Deleted {
            return Err(missing());
        }
        let layout = store.layout();
        let candidates = if face {
            let name = format!("{id}.png");
            vec![
                layout
                    .staging(&code)
                    .join(image.person.as_str())
                    .join(&name),
                layout
                    .production(&code)
                    .join(image.person.as_str())
                    .join(&name),
            ]
        } else {
            vec![layout.root().join(&image.path)]
        };
        candidates
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(missing)
    })
    .await
    .map_err(|e| ApiError::internal(format!("task failed: {e}")))??;
    Ok(picture(bytes))
}

/// The aligned face crop of an image (staged or approved), PNG.
#[utoipa::path(get, path = "/api/domains/{code}/images/{id}/face", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), ("id" = u64, Path, description = "Image id")),
    responses(
        (status = 200, content_type = "image/png", description = "The crop; `Cache-Control: private, no-store`"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such image, or it has no face crop"),
    ))]
pub async fn face_crop(
    State(state): State<AppState>,
    client: Client,
    ApiPath((code, id)): ApiPath<(String, u64)>,
) -> Result<Response, ApiError> {
    let code = hub_domain(&state, &client, &code)?;
    image_file(&state, code, id, true).await
}

/// The source photo of an image, as acquired.
#[utoipa::path(get, path = "/api/domains/{code}/images/{id}/photo", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), ("id" = u64, Path, description = "Image id")),
    responses(
        (status = 200, content_type = "image/*", description = "The photo; `Cache-Control: private, no-store`"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn source_photo(
    State(state): State<AppState>,
    client: Client,
    ApiPath((code, id)): ApiPath<(String, u64)>,
) -> Result<Response, ApiError> {
    let code = hub_domain(&state, &client, &code)?;
    image_file(&state, code, id, false).await
}
