//! `POST /api/training/images`: photos uploaded for one person of a domain.

use axum::Json;
use axum::extract::{Multipart, State};
use facerec_storage::{ImageSource, PersonId};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::domain_code;
use super::{ApiError, AppState, Problem};
use crate::auth::Client;
use facerec_hub::acquire::{self, AcquireError, MAX_IMAGE_BYTES};

/// Upload bodies may carry several photos.
pub const UPLOAD_BODY_LIMIT: usize = 8 * MAX_IMAGE_BYTES as usize;

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedFile {
    pub file: String,
    /// The stored image's id (also for a duplicate: the existing one).
    pub image_id: Option<u64>,
    /// `added`, `duplicate` or `refused`.
    pub outcome: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReport {
    pub domain: String,
    pub person: String,
    pub files: Vec<UploadedFile>,
}

/// The multipart form: `domain`, `person` (id; created as a candidate if
/// new), optional `name`, and one or more `files`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    domain: String,
    person: String,
    name: Option<String>,
    #[schema(format = Binary)]
    files: Vec<String>,
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(detail)
}

/// Stores uploaded photos in `training/{domain}/` (status `new`, source
/// `upload`), deduplicated by sha256. Each file's outcome is reported; a
/// non-image file is refused by its bytes, whatever its name.
#[utoipa::path(post, path = "/api/training/images", tag = "training", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = UploadReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over the upload limit"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing domain, person or files"),
    ))]
pub async fn upload_images(
    State(state): State<AppState>,
    client: Client,
    mut form: Multipart,
) -> Result<Json<UploadReport>, ApiError> {
    let (mut domain, mut person, mut name) = (None, None, None);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "domain" => domain = Some(field.text().await.map_err(multipart_error)?),
            "person" => person = Some(field.text().await.map_err(multipart_error)?),
            "name" => name = Some(field.text().await.map_err(multipart_error)?),
            "files" | "file" => {
                let file = field.file_name().unwrap_or("upload").to_string();
                let bytes = field.bytes().await.map_err(multipart_error)?;
                files.push((file, bytes.to_vec()));
            }
            other => return Err(bad(format!("unknown form field {other:?}"))),
        }
    }
    let code = domain_code(
        domain
            .as_deref()
            .ok_or_else(|| bad("the form needs a `domain` field"))?,
    )?;
    client.authorize(&code)?;
    state.require_hub()?;
    let person = PersonId::parse(
        person
            .as_deref()
            .ok_or_else(|| bad("the form needs a `person` field"))?,
    )
    .map_err(ApiError::from)?;
    if files.is_empty() {
        return Err(bad("the form needs at least one `files` part"));
    }
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<UploadReport, ApiError> {
        store.domain(&code)?;
        let display = name.unwrap_or_else(|| person.as_str().replace('_', " "));
        acquire::ensure_person(&store, &code, &person, &display).map_err(acquire_error)?;
        let mut out = Vec::with_capacity(files.len());
        for (file, bytes) in files {
            let row = match acquire::store_image(
                &store,
                &code,
                &person,
                &bytes,
                ImageSource::Upload,
                None,
            ) {
                Ok((image, added)) => UploadedFile {
                    file,
                    image_id: Some(image.id),
                    outcome: if added { "added" } else { "duplicate" }.into(),
                    reason: None,
                },
                Err(e @ (AcquireError::TooLarge(_) | AcquireError::NotAnImage)) => UploadedFile {
                    file,
                    image_id: None,
                    outcome: "refused".into(),
                    reason: Some(e.to_string()),
                },
                Err(e) => return Err(acquire_error(e)),
            };
            out.push(row);
        }
        Ok(UploadReport {
            domain: code.to_string(),
            person: person.to_string(),
            files: out,
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("upload task failed: {e}")))??;
    Ok(Json(report))
}

fn acquire_error(e: AcquireError) -> ApiError {
    match e {
        AcquireError::Storage(s) => s.into(),
        other => {
            tracing::error!(error = %other, "upload failed");
            ApiError::internal("the upload could not be stored; the server log has the details")
        }
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    // A chunked body that outgrows the limit fails mid-stream; axum reports
    // that as a server error unless told otherwise.
    if super::problem::is_length_limit(&e) {
        return ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is over {} MiB",
                UPLOAD_BODY_LIMIT / (1024 * 1024)
            ),
        );
    }
    ApiError::new(e.status(), e.body_text())
}
