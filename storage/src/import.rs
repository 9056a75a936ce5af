//! Import of the design's domain configuration file:
//!
//! ```json
//! {"domains": {"slovenia": {"display_name": "Slovenia", "countries": ["SI"],
//!   "occupations": ["actor"], "search_priority": 3,
//!   "inherit_from": ["croatia", "serbia"], "filter": "sitelinks >= 50"}}}
//! ```
//!
//! The import is additive and idempotent: domains in the file are created or
//! brought in line with it, domains not in it are left alone, and a second
//! run of the same file changes nothing. It is one transaction: a file with
//! one bad entry changes nothing at all.

use std::collections::BTreeMap;

use chrono::Utc;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::code::DomainCode;
use crate::error::{StorageError, StorageResult};
use crate::model::{DatasetLink, Domain, DomainPatch, NewDomain, PluginSettings, SearchMode};
use crate::schema::{DOMAIN_DATASETS, DOMAINS};
use crate::store::Store;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfigFile {
    pub domains: BTreeMap<String, DomainConfigEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfigEntry {
    pub display_name: Option<String>,
    pub default_country: Option<String>,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub occupations: Vec<String>,
    #[serde(default)]
    pub search_priority: i32,
    pub search_mode: Option<SearchMode>,
    /// Datasets in priority order: the first is searched right after the
    /// domain's own data.
    #[serde(default)]
    pub inherit_from: Vec<String>,
    pub filter: Option<String>,
    #[serde(default)]
    pub plugins: PluginSettings,
    /// Model pack of a domain created by the import (an existing domain
    /// keeps its own: only re-embedding changes a pack).
    pub pack: Option<String>,
    pub is_active: Option<bool>,
}

impl DomainConfigFile {
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Domains whose inherited datasets changed.
    pub datasets_changed: Vec<String>,
    pub dry_run: bool,
}

impl ImportReport {
    pub fn changed_anything(&self) -> bool {
        !(self.created.is_empty() && self.updated.is_empty() && self.datasets_changed.is_empty())
    }
}

impl DomainConfigEntry {
    fn to_new(&self, code: &str) -> NewDomain {
        let countries = if self.countries.is_empty() {
            None
        } else {
            Some(self.countries.clone())
        };
        NewDomain {
            domain_code: code.to_string(),
            display_name: self.display_name.clone(),
            default_country: self
                .default_country
                .clone()
                .or_else(|| self.countries.iter().find(|c| c.as_str() != "*").cloned()),
            default_occupations: self.occupations.clone(),
            countries,
            search_priority: self.search_priority,
            search_mode: self.search_mode.unwrap_or_default(),
            filter: self.filter.clone(),
            plugins: self.plugins.clone(),
            pack: self.pack.clone(),
            is_active: self.is_active.unwrap_or(true),
        }
    }

    /// The patch that makes an existing domain match this entry.
    fn to_patch(&self, code: &str) -> StorageResult<DomainPatch> {
        let target = self.to_new(code).into_domain(Utc::now())?;
        Ok(DomainPatch {
            display_name: Some(target.display_name),
            default_country: Some(target.default_country.unwrap_or_default()),
            default_occupations: Some(target.default_occupations),
            countries: Some(target.countries),
            search_priority: Some(target.search_priority),
            search_mode: Some(target.search_mode),
            filter: Some(target.filter.unwrap_or_default()),
            plugins: Some(target.plugins),
            is_active: Some(target.is_active),
        })
    }
}

impl Store {
    pub fn import_domains(
        &self,
        file: &DomainConfigFile,
        dry_run: bool,
    ) -> StorageResult<ImportReport> {
        let mut report = ImportReport {
            dry_run,
            ..Default::default()
        };
        let now = Utc::now();
        let txn = self.db.begin_write()?;
        // Domains first, datasets second: an entry may inherit a domain that
        // appears later in the file.
        {
            let mut table = txn.open_table(DOMAINS)?;
            for (code, entry) in &file.domains {
                DomainCode::parse(code)?;
                let existing: Option<Domain> = match table.get(code.as_str())? {
                    Some(v) => Some(crate::store::decode_domain(code, v.value())?),
                    None => None,
                };
                match existing {
                    None => {
                        let domain = entry.to_new(code).into_domain(now)?;
                        table.insert(
                            code.as_str(),
                            crate::store::encode_domain(&domain).as_slice(),
                        )?;
                        report.created.push(code.clone());
                    }
                    Some(mut domain) => {
                        if entry.to_patch(code)?.apply(&mut domain)? {
                            domain.updated_at = now;
                            table.insert(
                                code.as_str(),
                                crate::store::encode_domain(&domain).as_slice(),
                            )?;
                            report.updated.push(code.clone());
                        } else {
                            report.unchanged.push(code.clone());
                        }
                    }
                }
            }
        }
        for (code, entry) in &file.domains {
            let parsed = DomainCode::parse(code)?;
            let links = entry
                .inherit_from
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    Ok(DatasetLink {
                        domain: DomainCode::parse(d)?,
                        priority: i as u32 + 1,
                    })
                })
                .collect::<StorageResult<Vec<_>>>()
                .map_err(|e| StorageError::InvalidDatasets {
                    domain: code.clone(),
                    reason: e.to_string(),
                })?;
            let current: Vec<DatasetLink> = {
                let table = txn.open_table(DOMAIN_DATASETS)?;
                match table.get(code.as_str())? {
                    Some(v) => crate::store::decode_links(code, v.value())?,
                    None => vec![],
                }
            };
            if current != links {
                crate::store::put_datasets(&txn, &parsed, links)?;
                report.datasets_changed.push(code.clone());
            }
        }
        if dry_run {
            txn.abort()?;
            return Ok(report);
        }
        // Folders of domains that already existed are re-created if missing:
        // cheap, and it repairs a data root restored without empty folders.
        for code in file.domains.keys() {
            self.layout()
                .create_domain_dirs(&DomainCode::parse(code)?)?;
        }
        txn.commit()?;
        Ok(report)
    }
}
