//! Review: staged faces are approved into production
//! (`recognized_faces_prod/{domain}/{person}/` plus production embeddings in
//! redb) or rejected; erasure removes a person everywhere.

use facerec_storage::{
    DomainCode, ImageStatus, NewEmbedding, Person, PersonId, PersonStatus, Store,
};
use serde::Serialize;

use super::process::{StagedFace, staged_faces};

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ReviewReport {
    pub people: usize,
    pub faces: usize,
}

/// A person as review sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StagingEntry {
    pub person: Person,
    pub staged: Vec<StagedFace>,
    /// The person's refused images and why.
    pub refused: Vec<RefusedImage>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusedImage {
    pub image_id: u64,
    pub reason: String,
}

/// The domain's people with faces waiting in staging, with the reasons their other images were refused.
pub fn staging(store: &Store, domain: &DomainCode) -> anyhow::Result<Vec<StagingEntry>> {
    let mut out = Vec::new();
    // People waiting for review, and people already approved or published
    // whose new photos have been processed: those faces wait for review
    // too, and approving the person would take them. One listing of the
    // staging folder says who has any.
    let with_staged: std::collections::HashSet<String> =
        std::fs::read_dir(store.layout().staging(domain))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
    let mut people = store.list_people(domain, Some(PersonStatus::Staging))?;
    for status in [PersonStatus::Approved, PersonStatus::Production] {
        people.extend(
            store
                .list_people(domain, Some(status))?
                .into_iter()
                .filter(|p| with_staged.contains(p.id.as_str())),
        );
    }
    for person in people {
        let staged = staged_faces(store, domain, &person.id);
        if person.status != PersonStatus::Staging && staged.is_empty() {
            continue;
        }
        let refused = store
            .person_images(domain, &person.id)?
            .into_iter()
            .filter(|i| i.status == ImageStatus::Rejected)
            .map(|i| RefusedImage {
                image_id: i.id,
                reason: i.reason.unwrap_or_default(),
            })
            .collect();
        out.push(StagingEntry {
            person,
            staged,
            refused,
        });
    }
    Ok(out)
}

/// Approves every staged face of each person. Files are copied to
/// production first, then redb commits, then staging is cleared: a crash
/// at any point leaves a state a rerun completes.
pub fn approve(
    store: &Store,
    domain: &DomainCode,
    people: &[PersonId],
    only_images: Option<&[u64]>,
) -> anyhow::Result<ReviewReport> {
    let mut report = ReviewReport::default();
    for person in people {
        let mut faces = staged_faces(store, domain, person);
        if let Some(ids) = only_images {
            faces.retain(|f| ids.contains(&f.image_id));
        }
        if faces.is_empty() {
            anyhow::bail!("person '{person}' has no faces in staging");
        }
        let staging = store.layout().staging(domain).join(person.as_str());
        let production = store.layout().production(domain).join(person.as_str());
        std::fs::create_dir_all(&production)?;
        for face in &faces {
            for ext in ["png", "json"] {
                let name = format!("{}.{ext}", face.image_id);
                std::fs::copy(staging.join(&name), production.join(&name))?;
            }
        }
        let embeddings: Vec<NewEmbedding> = faces
            .iter()
            .map(|f| NewEmbedding {
                image_id: Some(f.image_id),
                vector: f.descriptor.clone(),
            })
            .collect();
        let pack = &faces[0].pack;
        if let Some(other) = faces.iter().find(|f| &f.pack != pack) {
            anyhow::bail!(
                "person '{person}' has staged faces of two model packs ({pack}, {}): process the person's photos again",
                other.pack
            );
        }
        store.approve_faces(domain, pack, person, &embeddings)?;
        for face in &faces {
            for ext in ["png", "json"] {
                let _ = std::fs::remove_file(staging.join(format!("{}.{ext}", face.image_id)));
            }
        }
        // Only removed when empty: faces not approved this time stay staged.
        let _ = std::fs::remove_dir(&staging);
        report.people += 1;
        report.faces += faces.len();
    }
    Ok(report)
}

/// Rejects staged faces: all of each person's, and the person, or with
/// `only_images` just those images (the person stays in staging).
pub fn reject(
    store: &Store,
    domain: &DomainCode,
    people: &[PersonId],
    only_images: Option<&[u64]>,
    reason: &str,
) -> anyhow::Result<ReviewReport> {
    let mut report = ReviewReport::default();
    for person in people {
        let mut faces = staged_faces(store, domain, person);
        if let Some(ids) = only_images {
            faces.retain(|f| ids.contains(&f.image_id));
        }
        let ids: Vec<u64> = faces.iter().map(|f| f.image_id).collect();
        store.reject(domain, person, &ids, reason, only_images.is_none())?;
        let staging = store.layout().staging(domain).join(person.as_str());
        for id in &ids {
            for ext in ["png", "json"] {
                let _ = std::fs::remove_file(staging.join(format!("{id}.{ext}")));
            }
        }
        let _ = std::fs::remove_dir(&staging);
        report.people += 1;
        report.faces += ids.len();
    }
    Ok(report)
}

/// Erases a person: redb first (embeddings, statuses, a removal queued for
/// the next batch), then every file of theirs.
pub fn erase(store: &Store, domain: &DomainCode, person: &PersonId) -> anyhow::Result<usize> {
    let images = store.erase_person(domain, person)?;
    // The registry already says erased; a file that cannot be removed is
    // logged by name so an operator can remove it by hand.
    let complain = |path: &std::path::Path, e: std::io::Error| {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::error!(path = %path.display(), "erased person's file not removed: {e}");
        }
    };
    for image in &images {
        let path = store.layout().root().join(&image.path);
        if let Err(e) = std::fs::remove_file(&path) {
            complain(&path, e);
        }
    }
    for dir in [
        store.layout().staging(domain).join(person.as_str()),
        store.layout().production(domain).join(person.as_str()),
    ] {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            complain(&dir, e);
        }
    }
    tracing::info!(domain = %domain, person = %person, images = images.len(), "person erased");
    Ok(images.len())
}

/// What "not this person" did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RemovedFace {
    pub image_id: u64,
    /// The person's approved faces left.
    pub faces_left: u64,
    /// True: the next batch carries the change to every edge.
    pub pending_batch: bool,
}

/// The reason recorded on a face taken away on review.
pub const NOT_THIS_PERSON: &str = "not this person (removed on review)";

/// Takes a wrongly approved face away from a person: redb first (the
/// embedding gone, the image rejected, the person due in the next batch),
/// then the face's production files. The source photo stays, rejected
/// with its reason, so processing it again does not bring the face back
/// unnoticed.
pub fn remove_face(
    store: &Store,
    domain: &DomainCode,
    person: &PersonId,
    image_id: u64,
) -> anyhow::Result<RemovedFace> {
    let faces_left = store.remove_face(domain, person, image_id, NOT_THIS_PERSON)?;
    let production = store.layout().production(domain).join(person.as_str());
    for ext in ["png", "json"] {
        let path = production.join(format!("{image_id}.{ext}"));
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(path = %path.display(), "removed face's file not deleted: {e}");
        }
    }
    tracing::info!(domain = %domain, person = %person, image_id, faces_left, "face removed on review");
    Ok(RemovedFace {
        image_id,
        faces_left,
        // Approved people are what the next batch sends.
        pending_batch: store
            .get_person(domain, person)?
            .is_some_and(|p| p.status == PersonStatus::Approved),
    })
}
