//! `facerecd migrate legacy`: brings an install with the old hard-coded
//! Serbian paths into the per-domain layout and the registry.
//!
//! - `scan.rs` — the legacy tree → a plan (file, destination, domain, person).
//! - `transfer.rs` — one file placed and verified before its source goes.
//!
//! Order of work, so that a run cut short at any point is finished by the
//! next one and a second full run changes nothing: domains and people are
//! registered first; then file by file: place a verified copy, record the
//! image (deduplicated by sha256), and only then remove the legacy file.

pub mod scan;
pub mod transfer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use facerec_storage::{
    DomainCode, ImageSource, ImageStatus, NewDomain, NewImage, NewPerson, PersonId, PersonStatus,
    Store,
};
use serde::Serialize;

use scan::{Area, Plan};
use transfer::Outcome;

#[derive(Debug, Clone)]
pub struct Options {
    pub from: PathBuf,
    pub dry_run: bool,
    /// Stop after this many files (the rest on the next run).
    pub max_files: Option<usize>,
}

/// What a run did (or, dry, would do); also written as JSON under
/// `DATA_ROOT/migration/`.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub from: PathBuf,
    pub to: PathBuf,
    pub dry_run: bool,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub domains_created: Vec<String>,
    pub people_created: usize,
    pub people_existing: usize,
    /// Files by what happened: copied, in_place, already_done.
    pub files: BTreeMap<String, usize>,
    /// Legacy files removed after their verified copy was recorded.
    pub sources_removed: usize,
    pub images_recorded: usize,
    pub images_existing: usize,
    /// Files left for a later run (`--max-files`).
    pub files_remaining: usize,
    pub per_domain: BTreeMap<String, DomainReport>,
    pub warnings: Vec<String>,
    /// Where this report was written.
    pub report_file: Option<PathBuf>,
}

#[derive(Debug, Default, Serialize)]
pub struct DomainReport {
    pub people: usize,
    pub files_by_area: BTreeMap<String, usize>,
}

fn area_name(a: Area) -> &'static str {
    match a {
        Area::Training => "training",
        Area::Staging => "staging",
        Area::Production => "production",
        Area::Batched => "batched",
    }
}

/// The furthest a person got in the legacy install.
fn person_status(areas: &[Area]) -> PersonStatus {
    match areas.iter().max() {
        Some(Area::Batched) => PersonStatus::Production,
        Some(Area::Production) => PersonStatus::Approved,
        Some(Area::Staging) => PersonStatus::Staging,
        _ => PersonStatus::Candidate,
    }
}

fn image_status(a: Area) -> ImageStatus {
    match a {
        Area::Training => ImageStatus::New,
        Area::Staging => ImageStatus::Staged,
        Area::Production | Area::Batched => ImageStatus::Approved,
    }
}

pub fn run(store: &Store, opts: &Options) -> anyhow::Result<Report> {
    let root = store.layout().root().to_path_buf();
    let plan: Plan = scan::scan(&opts.from)?;
    let mut report = Report {
        from: opts.from.clone(),
        to: root.clone(),
        dry_run: opts.dry_run,
        started_at: Some(chrono::Utc::now()),
        warnings: plan.warnings.clone(),
        ..Default::default()
    };

    // Domains, then people — before any file moves, so a recorded image
    // always has its person.
    let domains: std::collections::BTreeSet<DomainCode> =
        plan.files.iter().map(|f| f.domain.clone()).collect();
    for d in &domains {
        if store.get_domain(d)?.is_none() {
            report.domains_created.push(d.to_string());
            if !opts.dry_run {
                store.create_domain(NewDomain::named(d.as_str()))?;
            }
        }
    }
    let mut areas: BTreeMap<(DomainCode, PersonId), Vec<Area>> = BTreeMap::new();
    for f in &plan.files {
        if let Some(p) = &f.person {
            areas
                .entry((f.domain.clone(), p.clone()))
                .or_default()
                .push(f.area);
        }
    }
    for ((domain, person), person_areas) in &areas {
        report
            .per_domain
            .entry(domain.to_string())
            .or_default()
            .people += 1;
        let exists = !report.domains_created.contains(&domain.to_string())
            && store.get_person(domain, person)?.is_some();
        if exists {
            report.people_existing += 1;
            continue;
        }
        report.people_created += 1;
        if !opts.dry_run {
            store.upsert_person(
                domain,
                NewPerson::named(
                    person.clone(),
                    plan.names
                        .get(&(domain.clone(), person.clone()))
                        .cloned()
                        .unwrap_or_else(|| person.to_string()),
                    person_status(person_areas),
                ),
            )?;
        }
    }

    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
    let mut removed = Vec::new();
    for (done, f) in plan.files.iter().enumerate() {
        // A kept file already inside this data root (an in-place migration
        // of training/) is recorded where it is, not copied beside itself.
        let mut f = f.clone();
        if f.keep_source
            && let Ok(rel) = f
                .src
                .canonicalize()
                .unwrap_or_else(|_| f.src.clone())
                .strip_prefix(&canonical_root)
                .map(Path::to_path_buf)
        {
            f.dest = rel;
        }
        let f = &f;
        if opts.max_files.is_some_and(|max| done >= max) {
            report.files_remaining = plan.files.len() - done;
            break;
        }
        *report
            .per_domain
            .entry(f.domain.to_string())
            .or_default()
            .files_by_area
            .entry(area_name(f.area).into())
            .or_default() += 1;
        let dest = root.join(&f.dest);
        let outcome = if opts.dry_run {
            transfer::preview(&f.src, &dest)
                .with_context(|| format!("cannot read {}", f.src.display()))?
        } else {
            let (outcome, sha) = transfer::place(&f.src, &dest)?;
            if let Some(person) = &f.person {
                record_image(store, f, person, sha, &mut report)?;
            }
            if !f.keep_source && outcome != Outcome::InPlace {
                std::fs::remove_file(&f.src)
                    .with_context(|| format!("cannot remove {}", f.src.display()))?;
                report.sources_removed += 1;
                removed.push(f.src.clone());
            }
            outcome
        };
        let key = match outcome {
            Outcome::Copied => "copied",
            Outcome::InPlace => "in_place",
            Outcome::AlreadyDone => "already_done",
        };
        *report.files.entry(key.into()).or_default() += 1;
    }
    if !opts.dry_run {
        remove_emptied_dirs(&opts.from, &removed);
        for d in &domains {
            store.layout().create_domain_dirs(d)?;
        }
        let dir = root.join("migration");
        std::fs::create_dir_all(&dir)?;
        let file = dir.join(format!(
            "legacy-{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ));
        report.report_file = Some(file.clone());
        facerec_storage::files::write_atomic(&file, &serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(report)
}

fn record_image(
    store: &Store,
    f: &scan::PlannedFile,
    person: &PersonId,
    sha256: String,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (image, created) = store.add_image(
        &f.domain,
        NewImage {
            person: person.clone(),
            source: ImageSource::Legacy,
            source_url: None,
            sha256,
            path: f.dest.to_string_lossy().into_owned(),
        },
    )?;
    if created {
        report.images_recorded += 1;
    } else {
        report.images_existing += 1;
    }
    // A run cut short between the two writes left the image New; the same
    // photo in a later stage (production after staging) moves it on.
    let wanted = image_status(f.area);
    if image.status != wanted
        && image.status != ImageStatus::Deleted
        && image.source == ImageSource::Legacy
        && rank(wanted) > rank(image.status)
    {
        store.set_image_status(&f.domain, image.id, wanted, None)?;
    }
    Ok(())
}

fn rank(s: ImageStatus) -> u8 {
    match s {
        ImageStatus::New => 0,
        ImageStatus::Staged => 1,
        ImageStatus::Approved => 2,
        ImageStatus::Rejected | ImageStatus::Deleted => 3,
    }
}

/// Removes the folders that moving `sources` emptied, walking up towards
/// `old` and stopping at the first one that still holds anything.
fn remove_emptied_dirs(old: &Path, sources: &[PathBuf]) {
    for src in sources {
        let mut dir = src.parent();
        while let Some(d) = dir {
            if d == old || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}
