//! The HTTP API (axum). Every route is declared with `#[utoipa::path]` and
//! registered through `utoipa_axum::routes!`, so `/api/openapi.json` is
//! generated from the handlers themselves and cannot drift from them.
//!
//! Both roles serve this one API; a route that is one role's work answers
//! 409 on the other. [`auth`] decides who is calling and which domains they
//! may see; [`http_server`] is the accept loop with its limits. The API
//! calls into the hub's crate, the edge's crates and storage; none of them
//! imports it.

pub mod auth;
mod console;
mod domains;
mod extract;
mod health;
pub mod http_server;
mod jobs;
mod live;
mod people;
mod problem;
mod recognize;
mod review;
mod streams;
mod sync;
mod training;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use facerec_storage::{StorageResult, Store};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use domains::DomainView;
pub use problem::{ApiError, Problem};

use crate::auth::TokenTable;
use facerec_node::NodeScope;

/// JSON bodies of the registry API are small; image uploads (later routes)
/// set their own limit.
const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub tokens: Arc<TokenTable>,
    /// Signs the short-lived tokens of event streams.
    pub access_tokens: Arc<crate::auth::access::AccessTokens>,
    pub node: Arc<NodeScope>,
    pub public_hosts: Arc<Vec<String>>,
    /// The WASM plugin runtime; only a hub has one.
    pub plugins: Option<Arc<facerec_plugin_host::PluginHost>>,
    /// Long-running work clients poll at `/api/jobs/{id}`.
    pub jobs: Arc<facerec_hub::jobs::Jobs>,
    /// Every pack's face models, each loaded on first use (a hub may never
    /// process, an edge may never be asked to recognise an upload).
    pub engines: Arc<facerec_vision::Engines>,
    /// Limits of the hub's downloads (shared with plugins).
    pub http_limits: facerec_plugin_host::HttpLimits,
    /// The hub's batch publisher (None on an edge or with MQTT off).
    pub publisher: Option<facerec_hub::publisher::Publisher>,
    /// An edge's search indexes.
    pub index: Option<Arc<facerec_index::IndexSet>>,
    /// An edge's view of batch sync.
    pub sync_status: Option<facerec_edge::subscriber::SyncStatus>,
    /// An edge's cameras and recognition events.
    pub live: Option<facerec_live::Live>,
    pub metrics: Arc<facerec_node::metrics::Metrics>,
}

impl AppState {
    /// 409 on an edge: training and batches are the hub's work.
    pub fn require_hub(&self) -> Result<(), ApiError> {
        if self.plugins.is_some() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "training runs on the hub, not on an edge",
            ))
        }
    }

    /// Tells edges about a domain created, changed or deleted here (a hub
    /// with MQTT republishes its signed definition).
    pub fn domain_changed(&self, domain: &facerec_storage::DomainCode) {
        if let Some(publisher) = &self.publisher {
            publisher.domain_changed(domain);
        }
    }

    /// Runs a blocking storage call off the async workers.
    pub async fn storage<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> StorageResult<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "facerec",
        description = "On-premise, multi-tenant celebrity face recognition. \
            Every call except /healthz, /readyz, /live and /api/openapi.json needs `Authorization: Bearer <token>`; \
            `X-Client-Domain` or the Host subdomain can narrow a request to one of the token's domains. \
            Errors are application/problem+json.",
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "domains", description = "The domain (tenant) registry"),
        (name = "training", description = "The hub's training pipeline: candidates, images, review, batches"),
        (name = "recognition", description = "Recognising faces against a domain (edges)"),
        (name = "live", description = "Cameras, the live view and recognition events (edges)"),
        (name = "operations", description = "Health and API description"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document of this build.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_with_doc().split_for_parts().1
}

fn routes_with_doc() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(domains::list_domains, domains::create_domain))
        .routes(routes!(
            domains::get_domain,
            domains::patch_domain,
            domains::delete_domain
        ))
        .routes(routes!(domains::domain_stats))
        .routes(routes!(domains::get_datasets, domains::put_datasets))
        .routes(routes!(training::generate_candidates))
        .routes(routes!(review::staging))
        .routes(routes!(review::approve))
        .routes(routes!(review::reject))
        .routes(routes!(review::build_batch))
        .routes(routes!(review::build_snapshot))
        .routes(routes!(review::public_key))
        .routes(routes!(jobs::start_processing))
        .routes(routes!(jobs::start_download))
        .routes(routes!(jobs::start_reembed))
        .routes(routes!(jobs::get_job))
        .routes(routes!(review::erase_person))
        .routes(routes!(people::list_people))
        .routes(routes!(people::person_faces))
        .routes(routes!(people::remove_face))
        .routes(routes!(people::face_crop))
        .routes(routes!(people::source_photo))
        .routes(routes!(sync::domain_edges))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(sync::sync_status))
        .routes(routes!(live::list_cameras))
        .routes(routes!(live::camera_tracks))
        .routes(routes!(live::camera_frame))
        .routes(routes!(streams::events))
        .routes(routes!(streams::camera_view))
        .routes(routes!(streams::mint_access_token))
        .routes(routes!(live::live_page))
        .routes(routes!(console::console_page))
        // Uploads carry photos: their own, larger body limit (the inner
        // limit wins over the JSON limit set on the whole router).
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload::upload_images))
                .layer(axum::extract::DefaultBodyLimit::max(
                    upload::UPLOAD_BODY_LIMIT,
                )),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(recognize::recognize))
                .layer(axum::extract::DefaultBodyLimit::max(
                    recognize::RECOGNIZE_BODY_LIMIT,
                )),
        )
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

pub fn router(state: AppState) -> Router {
    let (router, doc) = routes_with_doc().split_for_parts();

    let doc = Arc::new(doc);
    router
        .route("/console/app.js", get(console::console_script))
        .route("/console/app.css", get(console::console_style))
        .route(
            "/api/openapi.json",
            get(move || async move { axum::Json(doc.as_ref().clone()) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .fallback(|| async { ApiError::not_found("no such resource") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this resource",
            )
        })
        .layer(RequestBodyLimitLayer::new(upload::UPLOAD_BODY_LIMIT))
        .layer(axum::middleware::map_response(problem::problems_everywhere))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
