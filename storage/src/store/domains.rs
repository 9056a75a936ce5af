//! Domains and the datasets they inherit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::Utc;
use redb::{ReadableTable, WriteTransaction};

use super::Store;
use super::codec::{decode, encode};
use super::rows::read_domain;
use crate::code::DomainCode;
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

/// Every domain's datasets, for order and cycle questions.
#[derive(Debug, Clone, Default)]
pub struct DatasetGraph {
    links: BTreeMap<DomainCode, Vec<DatasetLink>>,
}

impl DatasetGraph {
    /// The domains a query for `start` searches, in order: `start` itself,
    /// then its datasets by priority, then theirs (breadth first), each once.
    pub fn search_order(&self, start: &DomainCode) -> Vec<DomainCode> {
        let mut seen = BTreeSet::from([start.clone()]);
        let mut order = vec![start.clone()];
        let mut queue = VecDeque::from([start.clone()]);
        while let Some(d) = queue.pop_front() {
            for link in self.links.get(&d).into_iter().flatten() {
                if seen.insert(link.domain.clone()) {
                    order.push(link.domain.clone());
                    queue.push_back(link.domain.clone());
                }
            }
        }
        order
    }

    /// A path `start → … → start` if `start` can reach itself.
    fn cycle_through(&self, start: &DomainCode) -> Option<Vec<DomainCode>> {
        fn walk(
            g: &DatasetGraph,
            target: &DomainCode,
            at: &DomainCode,
            path: &mut Vec<DomainCode>,
            visited: &mut BTreeSet<DomainCode>,
        ) -> bool {
            for link in g.links.get(at).into_iter().flatten() {
                path.push(link.domain.clone());
                if &link.domain == target {
                    return true;
                }
                if visited.insert(link.domain.clone())
                    && walk(g, target, &link.domain, path, visited)
                {
                    return true;
                }
                path.pop();
            }
            false
        }
        let mut path = vec![start.clone()];
        walk(self, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
    }

    /// Domains that list `target` as a dataset.
    pub fn inheritors_of(&self, target: &DomainCode) -> Vec<DomainCode> {
        self.links
            .iter()
            .filter(|(_, links)| links.iter().any(|l| &l.domain == target))
            .map(|(d, _)| d.clone())
            .collect()
    }
}

fn load_graph(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> StorageResult<DatasetGraph> {
    let mut links = BTreeMap::new();
    for item in table.iter()? {
        let (k, v) = item?;
        let code = DomainCode::parse(k.value())?;
        let list: Vec<DatasetLink> = decode("domain_datasets", k.value(), v.value())?;
        links.insert(code, list);
    }
    Ok(DatasetGraph { links })
}

impl Store {
    /// Creates a domain and its folders. Fails with `DomainExists` if the code
    /// is taken — concurrent creates of one code see exactly one success.
    pub fn create_domain(&self, new: NewDomain) -> StorageResult<Domain> {
        let domain = new.into_domain(Utc::now())?;
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(DOMAINS)?;
            if table.get(domain.domain_code.as_str())?.is_some() {
                return Err(StorageError::DomainExists(domain.domain_code.to_string()));
            }
            table.insert(domain.domain_code.as_str(), encode(&domain).as_slice())?;
        }
        // Folders first, commit second: a failed mkdir leaves no registry row
        // pointing at missing folders; a failed commit leaves empty folders only.
        self.layout.create_domain_dirs(&domain.domain_code)?;
        txn.commit()?;
        Ok(domain)
    }

    pub fn get_domain(&self, code: &DomainCode) -> StorageResult<Option<Domain>> {
        let txn = self.db.begin_read()?;
        read_domain(&txn.open_table(DOMAINS)?, code)
    }

    /// Like [`get_domain`](Self::get_domain) but a missing domain is an error.
    pub fn domain(&self, code: &DomainCode) -> StorageResult<Domain> {
        self.get_domain(code)?
            .ok_or_else(|| StorageError::UnknownDomain(code.to_string()))
    }

    /// All domains, ordered by `search_priority` then code.
    pub fn list_domains(&self) -> StorageResult<Vec<Domain>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOMAINS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            let (k, v) = item?;
            out.push(decode::<Domain>("domains", k.value(), v.value())?);
        }
        out.sort_by(|a, b| {
            (a.search_priority, &a.domain_code).cmp(&(b.search_priority, &b.domain_code))
        });
        Ok(out)
    }

    pub fn update_domain(&self, code: &DomainCode, patch: DomainPatch) -> StorageResult<Domain> {
        let txn = self.db.begin_write()?;
        let domain = {
            let mut table = txn.open_table(DOMAINS)?;
            let mut domain = read_domain(&table, code)?
                .ok_or_else(|| StorageError::UnknownDomain(code.to_string()))?;
            if patch.apply(&mut domain)? {
                domain.updated_at = Utc::now();
                table.insert(code.as_str(), encode(&domain).as_slice())?;
            }
            domain
        };
        txn.commit()?;
        Ok(domain)
    }

    /// Deletes a domain. Refused while it holds people (unless `purge`, which
    /// also removes its people, images, batches and folders) and while
    /// another domain inherits it.
    pub fn delete_domain(&self, code: &DomainCode, purge: bool) -> StorageResult<()> {
        let txn = self.db.begin_write()?;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            if domains.get(code.as_str())?.is_none() {
                return Err(StorageError::UnknownDomain(code.to_string()));
            }
            let mut datasets = txn.open_table(DOMAIN_DATASETS)?;
            let inheritors = load_graph(&datasets)?.inheritors_of(code);
            if !inheritors.is_empty() {
                let names: Vec<String> = inheritors.iter().map(|d| d.to_string()).collect();
                return Err(StorageError::Conflict(format!(
                    "domain '{code}' is inherited by {}; remove it from their datasets first",
                    names.join(", ")
                )));
            }
            let people = count_people_in(&txn, code)?;
            if people > 0 && !purge {
                return Err(StorageError::Conflict(format!(
                    "domain '{code}' still holds {people} people; delete them or pass purge=true"
                )));
            }
            purge_rows(&txn, code)?;
            datasets.remove(code.as_str())?;
            domains.remove(code.as_str())?;
        }
        txn.commit()?;
        if purge {
            self.layout.remove_domain_dirs(code)?;
        } else {
            self.layout.remove_empty_domain_dirs(code);
        }
        Ok(())
    }

    /// The datasets `code` inherits, by priority.
    pub fn datasets(&self, code: &DomainCode) -> StorageResult<Vec<DatasetLink>> {
        let txn = self.db.begin_read()?;
        if read_domain(&txn.open_table(DOMAINS)?, code)?.is_none() {
            return Err(StorageError::UnknownDomain(code.to_string()));
        }
        let table = txn.open_table(DOMAIN_DATASETS)?;
        match table.get(code.as_str())? {
            Some(v) => decode("domain_datasets", code, v.value()),
            None => Ok(vec![]),
        }
    }

    /// Replaces the datasets of `code`. Rejects unknown domains, the domain
    /// itself, duplicates (of domain or priority) and cycles.
    pub fn set_datasets(
        &self,
        code: &DomainCode,
        links: Vec<DatasetLink>,
    ) -> StorageResult<Vec<DatasetLink>> {
        let txn = self.db.begin_write()?;
        let stored = put_datasets(&txn, code, links)?;
        // What a domain inherits is part of its definition: its version
        // (updated_at) moves with it.
        {
            let mut domains = txn.open_table(DOMAINS)?;
            if let Some(mut domain) = read_domain(&domains, code)? {
                domain.updated_at = Utc::now();
                domains.insert(code.as_str(), super::encode_domain(&domain).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(stored)
    }

    pub fn dataset_graph(&self) -> StorageResult<DatasetGraph> {
        let txn = self.db.begin_read()?;
        load_graph(&txn.open_table(DOMAIN_DATASETS)?)
    }

    /// The domains a query for `code` searches, own first.
    pub fn search_order(&self, code: &DomainCode) -> StorageResult<Vec<DomainCode>> {
        self.domain(code)?;
        Ok(self.dataset_graph()?.search_order(code))
    }

    /// `GET /api/domains` rows for the given domains.
    pub fn domain_summary(&self, domain: &Domain) -> StorageResult<DomainSummary> {
        let stats = self.domain_stats(&domain.domain_code)?;
        Ok(DomainSummary {
            code: domain.domain_code.to_string(),
            name: domain.display_name.clone(),
            total_people: stats.total_people,
            total_images: stats.total_images,
            is_active: domain.is_active,
        })
    }

    pub fn domain_stats(&self, code: &DomainCode) -> StorageResult<DomainStats> {
        let txn = self.db.begin_read()?;
        if read_domain(&txn.open_table(DOMAINS)?, code)?.is_none() {
            return Err(StorageError::UnknownDomain(code.to_string()));
        }
        let mut stats = DomainStats {
            domain: code.to_string(),
            ..Default::default()
        };
        let by_status = txn.open_table(PEOPLE_BY_STATUS)?;
        for item in by_status.range((code.as_str(), "", "")..)? {
            let (k, _) = item?;
            let (d, status, _) = k.value();
            if d != code.as_str() {
                break;
            }
            if status != PersonStatus::Deleted.as_str() {
                stats.total_people += 1;
            }
        }
        let images = txn.open_table(IMAGES)?;
        for item in images.range((code.as_str(), 0u64)..)? {
            let (k, v) = item?;
            let (d, id) = k.value();
            if d != code.as_str() {
                break;
            }
            let image: Image = decode("images", format!("{d}/{id}"), v.value())?;
            if image.status == ImageStatus::Deleted {
                continue;
            }
            stats.total_images += 1;
            match image.source {
                ImageSource::Wikimedia => stats.images_from_wikimedia += 1,
                ImageSource::Serp => stats.images_from_serp += 1,
                _ => {}
            }
        }
        let batches = txn.open_table(BATCHES)?;
        for item in batches.range((code.as_str(), 0u64)..)? {
            let (k, v) = item?;
            let (d, seq) = k.value();
            if d != code.as_str() {
                break;
            }
            let batch: BatchMeta = decode("batches", format!("{d}/{seq}"), v.value())?;
            stats.production_batches += 1;
            stats.last_batch_at = stats.last_batch_at.max(Some(batch.created_at));
        }
        Ok(stats)
    }
}

/// Validates and stores `links` for `code` inside `txn`.
pub(crate) fn put_datasets(
    txn: &WriteTransaction,
    code: &DomainCode,
    mut links: Vec<DatasetLink>,
) -> StorageResult<Vec<DatasetLink>> {
    let bad = |reason: String| StorageError::InvalidDatasets {
        domain: code.to_string(),
        reason,
    };
    let domains = txn.open_table(DOMAINS)?;
    if read_domain(&domains, code)?.is_none() {
        return Err(StorageError::UnknownDomain(code.to_string()));
    }
    let mut seen_domains = BTreeSet::new();
    let mut seen_priorities = BTreeSet::new();
    for link in &links {
        if &link.domain == code {
            return Err(bad(format!(
                "'{code}' cannot inherit itself (its own data is always searched first)"
            )));
        }
        if !seen_domains.insert(&link.domain) {
            return Err(bad(format!("'{}' is listed twice", link.domain)));
        }
        if !seen_priorities.insert(link.priority) {
            return Err(bad(format!("priority {} is given twice", link.priority)));
        }
        if read_domain(&domains, &link.domain)?.is_none() {
            return Err(bad(format!(
                "dataset domain '{}' does not exist",
                link.domain
            )));
        }
    }
    links.sort_by_key(|l| l.priority);
    let mut table = txn.open_table(DOMAIN_DATASETS)?;
    let mut graph = load_graph(&table)?;
    graph.links.insert(code.clone(), links.clone());
    if let Some(cycle) = graph.cycle_through(code) {
        let path: Vec<String> = cycle.iter().map(|d| d.to_string()).collect();
        return Err(bad(format!(
            "this would create a cycle: {}",
            path.join(" → ")
        )));
    }
    if links.is_empty() {
        table.remove(code.as_str())?;
    } else {
        table.insert(code.as_str(), encode(&links).as_slice())?;
    }
    Ok(links)
}

fn count_people_in(txn: &WriteTransaction, code: &DomainCode) -> StorageResult<u64> {
    let table = txn.open_table(PEOPLE)?;
    let mut n = 0;
    for item in table.range((code.as_str(), "")..)? {
        let (k, _) = item?;
        if k.value().0 != code.as_str() {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Removes every row that belongs to `code` (people, images, embeddings, batches).
fn purge_rows(txn: &WriteTransaction, code: &DomainCode) -> StorageResult<()> {
    let d = code.as_str();
    txn.open_table(EMBEDDING_PACKS)?.remove(d)?;
    {
        let mut t = txn.open_table(PEOPLE)?;
        let keys: Vec<String> = collect_keys(t.range((d, "")..)?, |k: (&str, &str)| {
            (k.0 == d).then(|| k.1.to_string())
        })?;
        for p in keys {
            t.remove((d, p.as_str()))?;
        }
    }
    {
        let mut t = txn.open_table(PEOPLE_BY_STATUS)?;
        let keys: Vec<(String, String)> =
            collect_keys(t.range((d, "", "")..)?, |k: (&str, &str, &str)| {
                (k.0 == d).then(|| (k.1.to_string(), k.2.to_string()))
            })?;
        for (s, p) in keys {
            t.remove((d, s.as_str(), p.as_str()))?;
        }
    }
    {
        let mut t = txn.open_table(IMAGES)?;
        let keys: Vec<u64> = collect_keys(t.range((d, 0u64)..)?, |k: (&str, u64)| {
            (k.0 == d).then_some(k.1)
        })?;
        for id in keys {
            t.remove((d, id))?;
        }
    }
    {
        let mut t = txn.open_table(IMAGES_BY_PERSON)?;
        let keys: Vec<(String, u64)> =
            collect_keys(t.range((d, "", 0u64)..)?, |k: (&str, &str, u64)| {
                (k.0 == d).then(|| (k.1.to_string(), k.2))
            })?;
        for (p, id) in keys {
            t.remove((d, p.as_str(), id))?;
        }
    }
    {
        let mut t = txn.open_table(IMAGES_BY_SHA)?;
        let keys: Vec<String> = collect_keys(t.range((d, "")..)?, |k: (&str, &str)| {
            (k.0 == d).then(|| k.1.to_string())
        })?;
        for sha in keys {
            t.remove((d, sha.as_str()))?;
        }
    }
    {
        let mut t = txn.open_table(EMBEDDINGS)?;
        let keys: Vec<u64> = collect_keys(t.range((d, 0u64)..)?, |k: (&str, u64)| {
            (k.0 == d).then_some(k.1)
        })?;
        for id in keys {
            t.remove((d, id))?;
        }
    }
    super::rows::bump_revision(txn, d)?;
    {
        let mut t = txn.open_table(EMBEDDINGS_BY_PERSON)?;
        let keys: Vec<(String, u64)> =
            collect_keys(t.range((d, "", 0u64)..)?, |k: (&str, &str, u64)| {
                (k.0 == d).then(|| (k.1.to_string(), k.2))
            })?;
        for (p, id) in keys {
            t.remove((d, p.as_str(), id))?;
        }
    }
    {
        let mut t = txn.open_table(BATCHES)?;
        let keys: Vec<u64> = collect_keys(t.range((d, 0u64)..)?, |k: (&str, u64)| {
            (k.0 == d).then_some(k.1)
        })?;
        for seq in keys {
            t.remove((d, seq))?;
        }
    }
    Ok(())
}

/// Collects the keys of a range scan while `split` says they are still the
/// domain's (it returns `None` at the first key of another domain).
fn collect_keys<'a, K, V, T>(
    range: redb::Range<'a, K, V>,
    split: impl Fn(K::SelfType<'_>) -> Option<T>,
) -> StorageResult<Vec<T>>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    let mut out = Vec::new();
    for item in range {
        let (k, _) = item?;
        match split(k.value()) {
            Some(rest) => out.push(rest),
            None => break,
        }
    }
    Ok(out)
}
