//! `/api/domains`: the registry of domains and the datasets they inherit.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use facerec_storage::{
    DatasetLink, Domain, DomainPatch, DomainStats, DomainSummary, Layout, NewDomain,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiPath, ApiQuery, domain_code};
use super::{ApiError, AppState, Problem};
use crate::auth::Client;

/// A domain with its derived storage paths and inherited datasets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DomainView {
    #[serde(flatten)]
    pub domain: Domain,
    /// `training/{domain}` under the data root: acquired images.
    pub training_path: String,
    /// `trainingPass/{domain}`: processed faces awaiting review.
    pub staging_path: String,
    /// `recognized_faces_prod/{domain}`: approved production data.
    pub production_path: String,
    /// `recognized_faces_batched/{domain}`: built batches.
    pub batched_path: String,
    /// Searched after the domain's own data, by priority.
    pub datasets: Vec<DatasetLink>,
}

impl DomainView {
    pub fn new(domain: Domain, datasets: Vec<DatasetLink>, layout: &Layout) -> Self {
        let code = &domain.domain_code;
        let path = |p: std::path::PathBuf| p.display().to_string();
        Self {
            training_path: path(layout.training(code)),
            staging_path: path(layout.staging(code)),
            production_path: path(layout.production(code)),
            batched_path: path(layout.batched(code)),
            datasets,
            domain,
        }
    }
}

async fn view(state: &AppState, code: facerec_storage::DomainCode) -> Result<DomainView, ApiError> {
    state
        .storage(move |s| {
            let domain = s.domain(&code)?;
            let datasets = s.datasets(&code)?;
            Ok(DomainView::new(domain, datasets, s.layout()))
        })
        .await
}

/// Lists the domains this client may see (all of them for an admin token).
#[utoipa::path(get, path = "/api/domains", tag = "domains", security(("bearer" = [])),
    responses(
        (status = 200, body = [DomainSummary]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_domains(
    State(state): State<AppState>,
    client: Client,
) -> Result<Json<Vec<DomainSummary>>, ApiError> {
    let summaries = state
        .storage(move |s| {
            s.list_domains()?
                .into_iter()
                .filter(|d| client.may_access(&d.domain_code))
                .map(|d| s.domain_summary(&d))
                .collect()
        })
        .await?;
    Ok(Json(summaries))
}

/// Creates a domain and its folders. Admin only.
#[utoipa::path(post, path = "/api/domains", tag = "domains", security(("bearer" = [])),
    request_body = NewDomain,
    responses(
        (status = 201, body = DomainView, description = "Created"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The code is taken"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid code or field"),
    ))]
pub async fn create_domain(
    State(state): State<AppState>,
    client: Client,
    ApiJson(new): ApiJson<NewDomain>,
) -> Result<impl IntoResponse, ApiError> {
    client.require_admin()?;
    let code = domain_code(&new.domain_code)?;
    client.authorize(&code)?;
    if let Some(pack) = &new.pack {
        facerec_vision::ModelPack::named(pack)
            .map_err(|e| ApiError::unprocessable(e.to_string()).at_field("pack"))?;
    }
    let preview = new
        .clone()
        .into_domain(chrono::Utc::now())
        .map_err(ApiError::from)?;
    check_filters(&state, preview).await?;
    let domain = state.storage(move |s| s.create_domain(new)).await?;
    tracing::info!(domain = %domain.domain_code, by = %client.name, "domain created");
    state.domain_changed(&domain.domain_code);
    let location = format!("/api/domains/{}", domain.domain_code);
    let view = DomainView::new(domain, vec![], state.store.layout());
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

/// 422 when the domain's filters could not run (checked by the filter
/// plugins themselves, on a hub; an edge runs no plugins).
async fn check_filters(state: &AppState, domain: facerec_storage::Domain) -> Result<(), ApiError> {
    let Some(host) = state.plugins.clone() else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || facerec_hub::candidates::check_filters(&host, &domain))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::unprocessable(e).at_field("filter"))
}

/// One domain with its paths and datasets.
#[utoipa::path(get, path = "/api/domains/{code}", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code, e.g. `serbia`")),
    responses(
        (status = 200, body = DomainView),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not this client's domain (whether or not it exists)"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_domain(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<DomainView>, ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    Ok(Json(view(&state, code).await?))
}

/// Changes a domain's display name, defaults, filter or `is_active`. Admin only.
#[utoipa::path(patch, path = "/api/domains/{code}", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    request_body = DomainPatch,
    responses(
        (status = 200, body = DomainView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_domain(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
    ApiJson(patch): ApiJson<DomainPatch>,
) -> Result<Json<DomainView>, ApiError> {
    client.require_admin()?;
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    if patch.filter.is_some() || patch.plugins.is_some() {
        let c = code.clone();
        let current = state
            .storage(move |s| s.get_domain(&c))
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no domain '{code}'")))?;
        let preview = facerec_storage::Domain {
            filter: match &patch.filter {
                Some(f) if f.trim().is_empty() => None,
                Some(f) => Some(f.trim().to_string()),
                None => current.filter.clone(),
            },
            plugins: patch.plugins.clone().unwrap_or(current.plugins.clone()),
            ..current
        };
        check_filters(&state, preview).await?;
    }
    let c = code.clone();
    state.storage(move |s| s.update_domain(&c, patch)).await?;
    state.domain_changed(&code);
    Ok(Json(view(&state, code).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteParams {
    /// Also delete the domain's people, images, batches and folders.
    #[serde(default)]
    pub purge: bool,
}

/// Deletes a domain. Refused (409) while it holds people unless
/// `?purge=true`, and while another domain inherits it. Admin only.
#[utoipa::path(delete, path = "/api/domains/{code}", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code"), DeleteParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_domain(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<StatusCode, ApiError> {
    client.require_admin()?;
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    let c = code.clone();
    state
        .storage(move |s| s.delete_domain(&c, params.purge))
        .await?;
    tracing::warn!(domain = %code, purge = params.purge, by = %client.name, "domain deleted");
    state.domain_changed(&code);
    Ok(StatusCode::NO_CONTENT)
}

/// Counts of a domain's people, images and batches.
#[utoipa::path(get, path = "/api/domains/{code}/stats", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    responses(
        (status = 200, body = DomainStats),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn domain_stats(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<DomainStats>, ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    Ok(Json(state.storage(move |s| s.domain_stats(&code)).await?))
}

/// The domains this domain inherits, by priority (lower first).
#[utoipa::path(get, path = "/api/domains/{code}/datasets", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    responses(
        (status = 200, body = [DatasetLink]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_datasets(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Vec<DatasetLink>>, ApiError> {
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    Ok(Json(state.storage(move |s| s.datasets(&code)).await?))
}

/// Replaces the datasets. Unknown domains, the domain itself, duplicates and
/// cycles are refused with 422. Admin only.
#[utoipa::path(put, path = "/api/domains/{code}/datasets", tag = "domains", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    request_body = [DatasetLink],
    responses(
        (status = 200, body = [DatasetLink]),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_datasets(
    State(state): State<AppState>,
    client: Client,
    ApiPath(code): ApiPath<String>,
    ApiJson(links): ApiJson<Vec<DatasetLink>>,
) -> Result<Json<Vec<DatasetLink>>, ApiError> {
    client.require_admin()?;
    let code = domain_code(&code)?;
    client.authorize(&code)?;
    for link in &links {
        if !state.node.serves(&link.domain) {
            return Err(ApiError::forbidden(format!(
                "this {} node does not serve domain '{}'",
                state.node.role, link.domain
            )));
        }
    }
    let c = code.clone();
    let links = state.storage(move |s| s.set_datasets(&c, links)).await?;
    state.domain_changed(&code);
    Ok(Json(links))
}
