//! The records the registry stores, and the request shapes that create or
//! change them. Field-level validation lives here, next to the fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};

/// How a query walks a domain's inherited datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Stop at the first domain (own data first, then datasets by priority)
    /// that has a match. The design's behaviour.
    #[default]
    FirstMatch,
    /// Search every domain in the chain; the closest match wins.
    Best,
}

/// A tenant: its own training data, staging, production set and index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Domain {
    #[schema(value_type = String, example = "serbia")]
    pub domain_code: DomainCode,
    pub display_name: String,
    /// Country used for candidate generation when a request names none
    /// (ISO 3166-1 alpha-2, e.g. `RS`).
    pub default_country: Option<String>,
    pub default_occupations: Vec<String>,
    /// Countries whose people belong here; `*` means any.
    pub countries: Vec<String>,
    /// Ordering among domains when several are listed or searched: lower first.
    pub search_priority: i32,
    pub search_mode: SearchMode,
    /// Candidate filter expression, e.g. `sitelinks >= 50`.
    pub filter: Option<String>,
    /// Candidate plugins this domain runs and what they may reach.
    #[serde(default)]
    pub plugins: PluginSettings,
    /// The model pack the domain's descriptors are made with (`dlib-v1`,
    /// `sface-v1`); changed only by re-embedding every photo.
    #[serde(default = "legacy_pack")]
    pub pack: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/domains`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    #[schema(value_type = String, example = "serbia")]
    pub domain_code: String,
    /// Defaults to the code.
    pub display_name: Option<String>,
    pub default_country: Option<String>,
    #[serde(default)]
    pub default_occupations: Vec<String>,
    /// Defaults to `[default_country]`, or `["*"]` when there is none.
    pub countries: Option<Vec<String>>,
    #[serde(default)]
    pub search_priority: i32,
    #[serde(default)]
    pub search_mode: SearchMode,
    pub filter: Option<String>,
    #[serde(default)]
    pub plugins: PluginSettings,
    /// Model pack for the domain's descriptors [default: `sface-v1`].
    pub pack: Option<String>,
    #[serde(default = "default_true")]
    pub is_active: bool,
}

fn default_true() -> bool {
    true
}

/// The pack of every descriptor stored before packs were recorded (they
/// were all dlib's), and of a domain record from before packs.
pub const LEGACY_PACK: &str = "dlib-v1";

/// The pack of a new domain that names none: the vision crate's default
/// pack (a daemon test keeps the two equal).
pub const NEW_DOMAIN_PACK: &str = "sface-v1";

fn legacy_pack() -> String {
    LEGACY_PACK.to_string()
}

/// A pack name: `family-vN`, lowercase letters, digits and hyphens (which
/// packs exist is the vision crate's business; this only keeps the name
/// safe to store and log).
pub fn validate_pack(pack: String) -> StorageResult<String> {
    let ok = (3..=32).contains(&pack.len())
        && pack
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(pack)
    } else {
        Err(StorageError::InvalidField {
            field: "pack",
            reason: format!("{pack:?} is not a pack name (like \"sface-v1\")"),
        })
    }
}

impl NewDomain {
    pub fn named(code: &str) -> Self {
        Self {
            domain_code: code.to_string(),
            display_name: None,
            default_country: None,
            default_occupations: vec![],
            countries: None,
            search_priority: 0,
            search_mode: SearchMode::FirstMatch,
            filter: None,
            plugins: PluginSettings::default(),
            pack: None,
            is_active: true,
        }
    }

    /// Validates every field and builds the record to store.
    pub fn into_domain(self, now: DateTime<Utc>) -> StorageResult<Domain> {
        let code = DomainCode::parse(&self.domain_code)?;
        let display_name = match self.display_name {
            Some(name) => validate_display_name(name)?,
            None => code.to_string(),
        };
        let default_country = self
            .default_country
            .map(|c| validate_country("default_country", c))
            .transpose()?;
        let countries = match self.countries {
            Some(list) => validate_countries(list)?,
            None => vec![default_country.clone().unwrap_or_else(|| "*".to_string())],
        };
        Ok(Domain {
            domain_code: code,
            display_name,
            default_country,
            default_occupations: validate_occupations(self.default_occupations)?,
            countries,
            search_priority: self.search_priority,
            search_mode: self.search_mode,
            filter: self.filter.map(validate_filter).transpose()?,
            plugins: self.plugins.validated()?,
            pack: validate_pack(self.pack.unwrap_or_else(|| NEW_DOMAIN_PACK.to_string()))?,
            is_active: self.is_active,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Body of `PATCH /api/domains/{code}`: every field optional. An empty
/// `default_country` or `filter` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainPatch {
    pub display_name: Option<String>,
    pub default_country: Option<String>,
    pub default_occupations: Option<Vec<String>>,
    pub countries: Option<Vec<String>>,
    pub search_priority: Option<i32>,
    pub search_mode: Option<SearchMode>,
    pub filter: Option<String>,
    /// Replaces the plugin settings as a whole.
    pub plugins: Option<PluginSettings>,
    pub is_active: Option<bool>,
}

impl DomainPatch {
    /// Applies the patch; returns whether anything changed.
    pub fn apply(self, domain: &mut Domain) -> StorageResult<bool> {
        let before = domain.clone();
        if let Some(name) = self.display_name {
            domain.display_name = validate_display_name(name)?;
        }
        if let Some(country) = self.default_country {
            domain.default_country = if country.is_empty() {
                None
            } else {
                Some(validate_country("default_country", country)?)
            };
        }
        if let Some(occupations) = self.default_occupations {
            domain.default_occupations = validate_occupations(occupations)?;
        }
        if let Some(countries) = self.countries {
            domain.countries = validate_countries(countries)?;
        }
        if let Some(p) = self.search_priority {
            domain.search_priority = p;
        }
        if let Some(m) = self.search_mode {
            domain.search_mode = m;
        }
        if let Some(filter) = self.filter {
            domain.filter = if filter.trim().is_empty() {
                None
            } else {
                Some(validate_filter(filter)?)
            };
        }
        if let Some(plugins) = self.plugins {
            domain.plugins = plugins.validated()?;
        }
        if let Some(active) = self.is_active {
            domain.is_active = active;
        }
        Ok(*domain != before)
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> StorageError {
    StorageError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn validate_display_name(name: String) -> StorageResult<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(invalid("display_name", "must not be empty"));
    }
    if trimmed.chars().count() > 200 {
        return Err(invalid("display_name", "longer than 200 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid("display_name", "contains control characters"));
    }
    Ok(trimmed.to_string())
}

/// `*`, an ISO 3166-1 alpha-2 code (`RS`) or a Wikidata item (`Q403`).
fn validate_country(field: &'static str, country: String) -> StorageResult<String> {
    let c = country.trim();
    let iso = c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase());
    let qid = c.len() > 1
        && c.len() <= 12
        && c.starts_with('Q')
        && c[1..].chars().all(|ch| ch.is_ascii_digit());
    if c == "*" || iso || qid {
        Ok(c.to_string())
    } else {
        Err(invalid(
            field,
            format!(
                "{c:?} is not \"*\", an ISO 3166-1 alpha-2 code (e.g. \"RS\") or a Wikidata id (e.g. \"Q403\")"
            ),
        ))
    }
}

fn validate_countries(list: Vec<String>) -> StorageResult<Vec<String>> {
    if list.is_empty() {
        return Err(invalid(
            "countries",
            "must not be empty (use [\"*\"] for any country)",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for c in list {
        let c = validate_country("countries", c)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

fn validate_occupations(list: Vec<String>) -> StorageResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for o in list {
        let o = o.trim().to_string();
        if o.is_empty() || o.chars().count() > 64 || o.chars().any(char::is_control) {
            return Err(invalid(
                "default_occupations",
                format!("{o:?} must be 1-64 printable characters"),
            ));
        }
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

fn validate_filter(filter: String) -> StorageResult<String> {
    let f = filter.trim();
    if f.len() > 1000 || f.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(
            "filter",
            "must be at most 1000 printable characters",
        ));
    }
    Ok(f.to_string())
}

/// A plugin and its configuration for one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// The plugin's file name without `.wasm`, e.g. `wikidata-source`.
    #[schema(example = "wikidata-source")]
    pub name: String,
    /// Passed to the plugin as JSON text; `{}` when absent.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Which candidate plugins a domain runs, in order, and the URLs they may
/// fetch. A domain with a `filter` expression and no filters listed runs the
/// bundled `sitelinks-filter` with that expression.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    pub sources: Vec<PluginRef>,
    pub filters: Vec<PluginRef>,
    /// URL prefixes the domain's plugins (and image downloads) may GET, e.g.
    /// `https://query.wikidata.org/sparql`, `https://*.wikimedia.org/`.
    pub http_allowlist: Vec<String>,
}

const MAX_PLUGIN_CONFIG_BYTES: usize = 256 * 1024;

impl PluginSettings {
    fn validated(self) -> StorageResult<Self> {
        for p in self.sources.iter().chain(&self.filters) {
            let ok_name = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name.as_bytes()[0].is_ascii_alphanumeric()
                && p.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok_name {
                return Err(invalid(
                    "plugins",
                    format!(
                        "plugin name {:?} must be 1-64 of a-z, 0-9, '-', '_'",
                        p.name
                    ),
                ));
            }
            if !p.config.is_object() {
                return Err(invalid(
                    "plugins",
                    format!("the config of plugin {:?} must be a JSON object", p.name),
                ));
            }
            if p.config.to_string().len() > MAX_PLUGIN_CONFIG_BYTES {
                return Err(invalid(
                    "plugins",
                    format!("the config of plugin {:?} is over 256 KiB", p.name),
                ));
            }
        }
        for url in &self.http_allowlist {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let host = rest.split('/').next().unwrap_or("");
            if !scheme_ok
                || host.is_empty()
                || host.contains('@')
                || url.chars().any(char::is_whitespace)
            {
                return Err(invalid(
                    "plugins",
                    format!(
                        "http_allowlist entry {url:?} must be an http(s) URL prefix with a host"
                    ),
                ));
            }
        }
        Ok(self)
    }
}

/// One inherited dataset of a domain. Lower priority numbers are searched
/// first, after the domain's own data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetLink {
    #[schema(value_type = String, example = "croatia")]
    pub domain: DomainCode,
    pub priority: u32,
}

/// A row of `GET /api/domains`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainSummary {
    pub code: String,
    pub name: String,
    pub total_people: u64,
    pub total_images: u64,
    pub is_active: bool,
}

/// `GET /api/domains/{code}/stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DomainStats {
    pub domain: String,
    /// People in any status but `deleted`.
    pub total_people: u64,
    /// Images in any status but `deleted`.
    pub total_images: u64,
    pub images_from_wikimedia: u64,
    pub images_from_serp: u64,
    pub production_batches: u64,
    pub last_batch_at: Option<DateTime<Utc>>,
}

/// Where a person is in the training pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    Candidate,
    Staging,
    Approved,
    Production,
    Rejected,
    Deleted,
}

impl PersonStatus {
    pub const ALL: [PersonStatus; 6] = [
        Self::Candidate,
        Self::Staging,
        Self::Approved,
        Self::Production,
        Self::Rejected,
        Self::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Candidate => "candidate",
            Self::Staging => "staging",
            Self::Approved => "approved",
            Self::Production => "production",
            Self::Rejected => "rejected",
            Self::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    #[schema(value_type = String)]
    pub domain: DomainCode,
    #[schema(value_type = String, example = "novak_djokovic")]
    pub id: PersonId,
    pub display_name: String,
    pub status: PersonStatus,
    pub wikidata_id: Option<String>,
    pub country: Option<String>,
    pub occupations: Vec<String>,
    pub sitelinks: Option<u32>,
    /// Photo URLs proposed for the person (by a candidate source), to be
    /// downloaded by image acquisition.
    #[serde(default)]
    pub image_urls: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a caller supplies to add a person; timestamps are the store's.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub id: PersonId,
    pub display_name: String,
    pub status: PersonStatus,
    pub wikidata_id: Option<String>,
    pub country: Option<String>,
    pub occupations: Vec<String>,
    pub sitelinks: Option<u32>,
    pub image_urls: Vec<String>,
}

impl NewPerson {
    /// A person known only by id and name (no Wikidata facts).
    pub fn named(id: PersonId, display_name: impl Into<String>, status: PersonStatus) -> Self {
        Self {
            id,
            display_name: display_name.into(),
            status,
            wikidata_id: None,
            country: None,
            occupations: vec![],
            sitelinks: None,
            image_urls: vec![],
        }
    }
}

/// Where an image came from; stats count by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    Wikimedia,
    Serp,
    Upload,
    Plugin,
    /// Imported from a legacy install by `facerecd migrate legacy`.
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    /// Acquired, not processed yet.
    New,
    /// Processed and waiting for review in staging.
    Staged,
    /// Failed a quality gate or rejected on review (see `reason`).
    Rejected,
    /// Approved into production.
    Approved,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Image {
    pub id: u64,
    #[schema(value_type = String)]
    pub domain: DomainCode,
    #[schema(value_type = String)]
    pub person: PersonId,
    pub source: ImageSource,
    pub source_url: Option<String>,
    /// Hex sha256 of the file's bytes; unique per domain.
    pub sha256: String,
    /// Relative to the data root.
    pub path: String,
    pub status: ImageStatus,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewImage {
    pub person: PersonId,
    pub source: ImageSource,
    pub source_url: Option<String>,
    pub sha256: String,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    /// Changes since the previous batch.
    Delta,
    /// The domain's full state, for new or far-behind edges.
    Snapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchMeta {
    #[schema(value_type = String)]
    pub domain: DomainCode,
    pub seq: u64,
    pub id: String,
    pub kind: BatchKind,
    pub created_at: DateTime<Utc>,
    pub people_added: u64,
    pub people_removed: u64,
    pub descriptors: u64,
    /// Hex sha256 of the batch content.
    pub content_hash: String,
    /// The model pack of the batch's descriptors.
    #[serde(default = "legacy_pack")]
    pub pack: String,
}
