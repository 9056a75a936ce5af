//! `/api/training/*`: the hub's training pipeline.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, domain_code};
use super::{ApiError, AppState, Problem};
use crate::auth::Client;
use facerec_hub::candidates::{self, CandidateError, CandidateReport, CandidateRequest};

/// Body of `POST /api/training/generate-candidates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateCandidates {
    /// The domain to generate for (required).
    #[schema(example = "serbia")]
    pub domain: String,
    /// Defaults to the domain's `default_country`.
    #[schema(example = "RS")]
    pub country: Option<String>,
    /// Defaults to the domain's `default_occupations`.
    #[schema(example = "actor")]
    pub occupation: Option<String>,
    /// Candidates per source (1-5000, default 100).
    pub limit: Option<u32>,
}

impl From<CandidateError> for ApiError {
    fn from(e: CandidateError) -> Self {
        match e {
            CandidateError::Storage(e) => e.into(),
            CandidateError::NoSources(_) | CandidateError::InvalidRequest(_) => {
                ApiError::unprocessable(e.to_string())
            }
            // The plugin (or what it calls) failed, not this request.
            CandidateError::AllSourcesFailed(_) | CandidateError::Filter { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())
            }
        }
    }
}

/// Runs the domain's source plugins, then its filters, and stores the
/// survivors as `candidate` people (deduplicated by wikidata id). Answers
/// with the candidates, counts per stage and each plugin's timing.
#[utoipa::path(post, path = "/api/training/generate-candidates", tag = "training",
    security(("bearer" = [])),
    request_body = GenerateCandidates,
    responses(
        (status = 200, body = CandidateReport),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not this client's domain"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Unknown domain"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "This node is an edge"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No domain given, bad limit, or no sources configured"),
        (status = 502, body = Problem, content_type = "application/problem+json", description = "A plugin failed (the detail names it)"),
    ))]
pub async fn generate_candidates(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<GenerateCandidates>,
) -> Result<Json<CandidateReport>, ApiError> {
    let code = domain_code(&body.domain)?;
    client.authorize(&code)?;
    let Some(host) = state.plugins.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "candidate generation runs on the hub, not on an edge",
        ));
    };
    let request = CandidateRequest {
        country: body.country,
        occupation: body.occupation,
        limit: body.limit,
    };
    let store = state.store.clone();
    let report =
        tokio::task::spawn_blocking(move || candidates::generate(&store, &host, &code, &request))
            .await
            .map_err(|e| ApiError::internal(format!("candidate task failed: {e}")))??;
    Ok(Json(report))
}
