//! Reads a legacy install's tree into a plan: which file goes where, for
//! which domain and person.
//!
//! The legacy layout (one hard-coded Serbian tenant, later a few domains):
//!
//! ```text
//! trainingPassSerbia/{person}/*           staged faces of serbia
//! storage/name_mapping.json               {"Folder_Name": "Display Name", …}
//! training/serbia/{person}/*              acquired photos
//! recognized_faces_prod/{person}/*        production faces of serbia (oldest)
//! recognized_faces_prod/{domain}/{person}/*
//! recognized_faces_batched/{person}/*     faces already sent in batches
//! recognized_faces_batched/{domain}/{person}/*
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use facerec_storage::{DomainCode, PersonId};

/// What a file was in the legacy install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Training,
    Staging,
    Production,
    Batched,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFile {
    pub src: PathBuf,
    /// Relative to the new data root.
    pub dest: PathBuf,
    pub domain: DomainCode,
    /// None for `name_mapping.json`.
    pub person: Option<PersonId>,
    pub area: Area,
    /// Legacy sources are removed once their copy is verified; `training/`
    /// is kept where it is.
    pub keep_source: bool,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Display names by (domain, person).
    pub names: BTreeMap<(DomainCode, PersonId), String>,
    pub warnings: Vec<String>,
}

const IMAGE_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "webp", "bmp"];

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

pub fn serbia() -> DomainCode {
    DomainCode::parse("serbia").expect("valid code")
}

/// Scans `old`, the legacy root (it may be the new data root itself).
pub fn scan(old: &Path) -> anyhow::Result<Plan> {
    anyhow::ensure!(old.is_dir(), "{} is not a folder", old.display());
    let mut plan = Plan::default();
    let mapping = old.join("storage/name_mapping.json");
    let names: BTreeMap<String, String> = if mapping.is_file() {
        let text = std::fs::read_to_string(&mapping)?;
        match serde_json::from_str(&text) {
            Ok(map) => map,
            Err(e) => {
                plan.warnings.push(format!(
                    "{} is not a {{\"folder\": \"name\"}} object ({e}); folder names are used as names",
                    mapping.display()
                ));
                BTreeMap::new()
            }
        }
    } else {
        BTreeMap::new()
    };
    if mapping.is_file() {
        plan.files.push(PlannedFile {
            src: mapping.clone(),
            dest: PathBuf::from("trainingPass/serbia/name_mapping.json"),
            domain: serbia(),
            person: None,
            area: Area::Staging,
            keep_source: false,
        });
    }

    let person_dir = |plan: &mut Plan,
                      dir: &Path,
                      domain: &DomainCode,
                      area: Area,
                      dest_root: &str,
                      keep: bool| {
        let folder = file_name(dir);
        let Some(person) = crate::slug::person_id(&folder, None) else {
            plan.warnings.push(format!(
                "{}: no person id can be made from this folder name; skipped",
                dir.display()
            ));
            return;
        };
        let name = names
            .get(&folder)
            .cloned()
            .unwrap_or_else(|| folder.replace('_', " "));
        plan.names
            .entry((domain.clone(), person.clone()))
            .or_insert(name);
        for f in sorted_entries(dir) {
            if !is_image(&f) {
                if f.is_file() {
                    plan.warnings
                        .push(format!("{}: not an image; left where it is", f.display()));
                }
                continue;
            }
            plan.files.push(PlannedFile {
                dest: PathBuf::from(dest_root)
                    .join(domain.as_str())
                    .join(person.as_str())
                    .join(file_name(&f)),
                src: f,
                domain: domain.clone(),
                person: Some(person.clone()),
                area,
                keep_source: keep,
            });
        }
    };

    for dir in sorted_entries(&old.join("trainingPassSerbia"))
        .iter()
        .filter(|p| p.is_dir())
    {
        person_dir(
            &mut plan,
            dir,
            &serbia(),
            Area::Staging,
            "trainingPass",
            false,
        );
    }
    for domain_dir in sorted_entries(&old.join("training"))
        .iter()
        .filter(|p| p.is_dir())
    {
        let Ok(domain) = DomainCode::parse(&file_name(domain_dir)) else {
            plan.warnings.push(format!(
                "{}: not a domain code; skipped",
                domain_dir.display()
            ));
            continue;
        };
        for dir in sorted_entries(domain_dir).iter().filter(|p| p.is_dir()) {
            person_dir(&mut plan, dir, &domain, Area::Training, "training", true);
        }
    }
    for (legacy, area, dest_root) in [
        (
            "recognized_faces_prod",
            Area::Production,
            "recognized_faces_prod",
        ),
        (
            "recognized_faces_batched",
            Area::Batched,
            "recognized_faces_batched",
        ),
    ] {
        for child in sorted_entries(&old.join(legacy))
            .iter()
            .filter(|p| p.is_dir())
        {
            // A folder holding images is a person of the old Serbian-only
            // install; one holding folders is a domain.
            if sorted_entries(child).iter().any(|p| is_image(p)) {
                person_dir(&mut plan, child, &serbia(), area, dest_root, false);
                continue;
            }
            let Ok(domain) = DomainCode::parse(&file_name(child)) else {
                plan.warnings.push(format!(
                    "{}: neither a person's images nor a domain code; skipped",
                    child.display()
                ));
                continue;
            };
            for dir in sorted_entries(child).iter().filter(|p| p.is_dir()) {
                person_dir(&mut plan, dir, &domain, area, dest_root, false);
            }
        }
    }
    Ok(plan)
}
