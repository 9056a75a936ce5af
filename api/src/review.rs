//! Review, batches and erasure on the hub: `/api/training/staging`,
//! `/api/training/approve|reject`, `/api/domains/{code}/batches`,
//! `DELETE /api/domains/{code}/people/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use facerec_storage::{DomainCode, PersonId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery, domain_code};
use super::{ApiError, AppState, Problem};
use crate::auth::Client;
use facerec_hub::review::{self, ReviewReport, StagingEntry};
use facerec_sync::batch::BatchManifest;
use facerec_sync::keys;

/// Runs blocking hub work; anyhow errors become 422 when they are about
/// the request (unknown person, nothing staged) and 500 otherwise.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
        .map_err(|e| match e.downcast::<facerec_storage::StorageError>() {
            Ok(storage) => ApiError::from(storage),
            Err(other) => ApiError::unprocessable(format!("{other:#}")),
        })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DomainQuery {
    /// The domain.
    pub domain: String,
}

/// People with faces in staging, and why their other images were refused.
#[utoipa::path(get, path = "/api/training/staging", tag = "training", security(("bearer" = [])),
    params(DomainQuery),
    responses(
        (status = 200, body = [StagingEntry]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn staging(
    State(state): State<AppState>,
    client: Client,
    ApiQuery(q): ApiQuery<DomainQuery>,
) -> Result<Json<Vec<StagingEntry>>, ApiError> {
    let code = domain_code(&q.domain)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let store = state.store.clone();
    blocking(move || {
        store.domain(&code)?;
        review::staging(&store, &code)
    })
    .await
    .map(Json)
}

/// Body of approve and reject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub domain: String,
    /// Person ids.
    pub people: Vec<String>,
    /// Only these staged images (ids) of those people; all when absent.
    pub images: Option<Vec<u64>>,
    /// Recorded on rejected images (reject only).
    pub reason: Option<String>,
}

fn parse_people(raw: &[String]) -> Result<Vec<PersonId>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::unprocessable(
            "people must list at least one person id",
        ));
    }
    raw.iter()
        .map(|p| PersonId::parse(p).map_err(ApiError::from))
        .collect()
}

fn review_target(
    client: &Client,
    state: &AppState,
    req: &ReviewRequest,
) -> Result<(DomainCode, Vec<PersonId>), ApiError> {
    let code = domain_code(&req.domain)?;
    client.authorize(&code)?;
    state.require_hub()?;
    Ok((code, parse_people(&req.people)?))
}

/// Approves people's staged faces into production; the next batch publishes them.
#[utoipa::path(post, path = "/api/training/approve", tag = "training", security(("bearer" = [])),
    request_body = ReviewRequest,
    responses(
        (status = 200, body = ReviewReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Bad person id, or nothing staged for a person"),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<Json<ReviewReport>, ApiError> {
    let (code, people) = review_target(&client, &state, &req)?;
    let store = state.store.clone();
    let images = req.images.clone();
    blocking(move || review::approve(&store, &code, &people, images.as_deref()))
        .await
        .map(Json)
}

/// Rejects people and their staged faces.
#[utoipa::path(post, path = "/api/training/reject", tag = "training", security(("bearer" = [])),
    request_body = ReviewRequest,
    responses(
        (status = 200, body = ReviewReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<Json<ReviewReport>, ApiError> {
    let (code, people) = review_target(&client, &state, &req)?;
    let reason = req
        .reason
        .clone()
        .unwrap_or_else(|| "rejected on review".into());
    let store = state.store.clone();
    let images = req.images.clone();
    blocking(move || review::reject(&store, &code, &people, images.as_deref(), &reason))
        .await
        .map(Json)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BuildResult {
    /// False when nothing was approved or erased since the last batch.
    pub built: bool,
    pub batch: Option<BatchManifest>,
}

/// Builds the domain's next signed delta batch from everything approved or
/// erased since the last one. Building with no change makes no batch.
#[utoipa::path(post, path = "/api/domains/{code}/batches", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    responses(
        (status = 201, body = BuildResult, description = "A batch was built"),
        (status = 200, body = BuildResult, description = "Nothing to publish"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn build_batch(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
) -> Result<(StatusCode, Json<BuildResult>), ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let store = state.store.clone();
    let built = blocking(move || {
        store.domain(&code)?;
        let key = keys::hub_key(store.layout())?;
        facerec_hub::batch::build_delta(&store, &code, &key)
    })
    .await?;
    if let (Some(publisher), Some(b)) = (&state.publisher, &built) {
        publisher.batch_built(&domain_code(&b.domain)?, b.kind, b.seq);
    }
    let status = if built.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(BuildResult {
            built: built.is_some(),
            batch: built,
        }),
    ))
}

/// Erases a person: images, descriptors and files on the hub; the next
/// batch removes them from every edge.
#[utoipa::path(delete, path = "/api/domains/{code}/people/{id}", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), ("id" = String, Path, description = "Person id")),
    responses(
        (status = 204, description = "Erased"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn erase_person(
    State(state): State<AppState>,
    client: Client,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let person = PersonId::parse(&id).map_err(ApiError::from)?;
    let store = state.store.clone();
    blocking(move || review::erase(&store, &code, &person)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The hub's batch-signing public key (hex), for edges to trust.
#[utoipa::path(get, path = "/api/batches/public-key", tag = "training", security(("bearer" = [])),
    responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn public_key(
    State(state): State<AppState>,
    _client: Client,
) -> Result<String, ApiError> {
    state.require_hub()?;
    let store = state.store.clone();
    blocking(move || {
        Ok(hex::encode(
            keys::hub_key(store.layout())?.verifying_key().to_bytes(),
        ))
    })
    .await
}

/// Writes a signed snapshot of everything the domain has published (the
/// state after its last batch), for new or far-behind edges.
#[utoipa::path(post, path = "/api/domains/{code}/snapshots", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    responses(
        (status = 201, body = BatchManifest),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No batch yet"),
    ))]
pub async fn build_snapshot(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
) -> Result<(StatusCode, Json<BatchManifest>), ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let store = state.store.clone();
    let manifest = blocking(move || {
        store.domain(&code)?;
        let key = keys::hub_key(store.layout())?;
        facerec_hub::batch::build_snapshot(&store, &code, &key)
    })
    .await?;
    if let Some(publisher) = &state.publisher {
        publisher.batch_built(&domain_code(&manifest.domain)?, manifest.kind, manifest.seq);
    }
    Ok((StatusCode::CREATED, Json(manifest)))
}
