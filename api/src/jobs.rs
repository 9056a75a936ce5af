//! Long hub work started over HTTP answers 202 with a job to poll:
//! `POST /api/training/process`, `POST /api/training/download`,
//! `POST /api/training/reembed`, `GET /api/jobs/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use facerec_storage::{DomainCode, ImageStatus};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, domain_code};
use super::{ApiError, AppState, Problem};
use crate::auth::Client;
use facerec_hub::jobs::Job;
use facerec_hub::{acquire, process};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainJobRequest {
    pub domain: String,
}

type Accepted = (StatusCode, [(header::HeaderName, String); 1], Json<Job>);

async fn prepare(state: &AppState, client: &Client, raw: &str) -> Result<DomainCode, ApiError> {
    let code = domain_code(raw)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let c = code.clone();
    state.storage(move |s| s.domain(&c)).await?;
    Ok(code)
}

/// How many of the domain's images have `status` (a job's total steps).
fn images_with_status(
    store: &facerec_storage::Store,
    domain: &DomainCode,
    status: ImageStatus,
) -> facerec_storage::StorageResult<u64> {
    let mut n = 0u64;
    for p in store.list_people(domain, None)? {
        n += store
            .person_images(domain, &p.id)?
            .iter()
            .filter(|i| i.status == status)
            .count() as u64;
    }
    Ok(n)
}

fn accepted(state: &AppState, id: u64) -> Accepted {
    let job = state.jobs.get(id).expect("just started");
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/jobs/{id}"))],
        Json(job),
    )
}

/// Processes every new image of the domain (detect, gates, embed,
/// outliers → staging) in the background.
#[utoipa::path(post, path = "/api/training/process", tag = "training", security(("bearer" = [])),
    request_body = DomainJobRequest,
    responses(
        (status = 202, body = Job, description = "Started; poll the Location"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start_processing(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<DomainJobRequest>,
) -> Result<Accepted, ApiError> {
    let code = prepare(&state, &client, &req.domain).await?;
    let c = code.clone();
    let total = state
        .storage(move |s| images_with_status(s, &c, ImageStatus::New))
        .await?;
    let job = state.jobs.start("process", code.as_str(), total);
    let id = job.id();
    let (store, engines) = (state.store.clone(), state.engines.clone());
    tokio::task::spawn_blocking(move || {
        let outcome = (|| -> anyhow::Result<serde_json::Value> {
            let engine = engines.named(&store.domain(&code)?.pack)?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let step = job.clone();
            let report = process::process_domain(
                &store,
                &engine,
                &code,
                &process::QualityGates::default(),
                threads,
                &move || step.step(),
            )?;
            for (image, person, reason) in &report.refused {
                job.error(format!("image {image} of {person}: {reason}"));
            }
            Ok(
                serde_json::json!({"processed": report.processed, "staged": report.staged, "refused": report.refused.len()}),
            )
        })();
        job.finish(outcome);
    });
    Ok(accepted(&state, id))
}

/// Downloads the photos proposed for the domain's candidates, through the
/// domain's allowlist, in the background.
#[utoipa::path(post, path = "/api/training/download", tag = "training", security(("bearer" = [])),
    request_body = DomainJobRequest,
    responses(
        (status = 202, body = Job, description = "Started; poll the Location"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start_download(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<DomainJobRequest>,
) -> Result<Accepted, ApiError> {
    let code = prepare(&state, &client, &req.domain).await?;
    let c = code.clone();
    let total = state
        .storage(move |s| {
            Ok(
                s.list_people(&c, Some(facerec_storage::PersonStatus::Candidate))?
                    .iter()
                    .map(|p| p.image_urls.len() as u64)
                    .sum(),
            )
        })
        .await?;
    let job = state.jobs.start("download", code.as_str(), total);
    let id = job.id();
    let store = state.store.clone();
    let http = facerec_plugin_host::GuardedHttp::new(state.http_limits.clone());
    tokio::task::spawn_blocking(move || {
        let step = job.clone();
        let outcome = acquire::download_candidates(&store, &http, &code, |_| step.step()).map(|report| {
            for (url, reason) in &report.failed {
                job.error(format!("{url}: {reason}"));
            }
            serde_json::json!({"downloaded": report.downloaded, "duplicates": report.duplicates, "failed": report.failed.len()})
        });
        job.finish(outcome);
    });
    Ok(accepted(&state, id))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct JobsQuery {
    /// The domain whose jobs to list.
    pub domain: String,
}

/// A domain's jobs (running and the recently finished), newest first.
#[utoipa::path(get, path = "/api/jobs", tag = "training", security(("bearer" = [])),
    params(JobsQuery),
    responses(
        (status = 200, body = [Job]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_jobs(
    State(state): State<AppState>,
    client: Client,
    super::extract::ApiQuery(q): super::extract::ApiQuery<JobsQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let code = domain_code(&q.domain)?;
    client.authorize(&code)?;
    Ok(Json(state.jobs.of_domain(code.as_str())))
}

/// A job's progress: done of total, errors so far, and its result when finished.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "training", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Job id")),
    responses(
        (status = 200, body = Job),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such job (or not this client's)"),
    ))]
pub async fn get_job(
    State(state): State<AppState>,
    client: Client,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Job>, ApiError> {
    let job = state
        .jobs
        .get(id)
        .filter(|j| DomainCode::parse(&j.domain).is_ok_and(|d| client.may_access(&d)))
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(job))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReembedRequest {
    pub domain: String,
    /// Model pack (`dlib-v1`, `sface-v1`); default: the domain's.
    pub pack: Option<String>,
}

/// Detects and embeds every production photo of the domain again with the
/// domain's pack or `pack` (which then becomes the domain's), replaces its
/// descriptors at once and publishes a snapshot to edges. Resumable: a job
/// started again after a crash continues where the last one stopped.
#[utoipa::path(post, path = "/api/training/reembed", tag = "training", security(("bearer" = [])),
    request_body = ReembedRequest,
    responses(
        (status = 202, body = Job, description = "Started; poll the Location"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown pack"),
    ))]
pub async fn start_reembed(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ReembedRequest>,
) -> Result<Accepted, ApiError> {
    let code = prepare(&state, &client, &req.domain).await?;
    let c = code.clone();
    let (domain, photos) = state
        .storage(move |s| {
            Ok((
                s.domain(&c)?,
                images_with_status(s, &c, ImageStatus::Approved)?,
            ))
        })
        .await?;
    let pack = facerec_vision::ModelPack::named(req.pack.as_deref().unwrap_or(&domain.pack))
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let key = facerec_sync::keys::hub_key(state.store.layout())
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    let job = state.jobs.start("reembed", code.as_str(), photos);
    let id = job.id();
    let (store, engines, publisher) = (
        state.store.clone(),
        state.engines.clone(),
        state.publisher.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let outcome = (|| -> anyhow::Result<serde_json::Value> {
            let engine = engines.get(pack)?;
            let step = job.clone();
            let report = facerec_hub::reembed::reembed_domain(
                &store,
                &engine,
                &code,
                &key,
                None,
                &move || step.step(),
            )?;
            for (image, person, reason) in &report.refused {
                job.error(format!("image {image} of {person}: {reason}"));
            }
            if let (Some(publisher), Some(seq)) = (&publisher, report.snapshot_seq) {
                publisher.batch_built(&code, facerec_storage::BatchKind::Snapshot, seq);
            }
            Ok(serde_json::to_value(&report)?)
        })();
        job.finish(outcome);
    });
    Ok(accepted(&state, id))
}
