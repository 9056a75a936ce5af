//! Batches: what a domain approved or erased since its last batch, packaged
//! as the next `seq`, content-hashed and signed with the hub's ed25519 key.
//!
//! On disk (under the data root):
//! - `recognized_faces_batched/{domain}/batch_{seq:04}/descriptors.json` —
//!   the content: people added (with their descriptors) and people removed;
//! - `recognized_faces_batched/{domain}/batch_{seq:04}/batch_metadata.json`
//!   and `training_batches/{domain}_{id}.json` — the signed manifest.
//!
//! The signature covers `facerec-batch/2`, domain, seq, id, kind, the model
//! pack of its descriptors and the content's sha256, one per line;
//! verifying recomputes the hash. Batches of format 1 (before packs were
//! recorded, all of dlib's descriptors) still verify, as pack `dlib-v1`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use facerec_storage::{BatchKind, DomainCode, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: &str = "facerec-batch/2";
/// The format before packs; its batches hold `LEGACY_PACK` descriptors.
const FORMAT_1: &str = "facerec-batch/1";

fn legacy_pack() -> String {
    facerec_storage::LEGACY_PACK.to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchEmbedding {
    pub id: u64,
    pub image_id: Option<u64>,
    /// Base64 of the little-endian `f32`s: half the size of a JSON number
    /// list, which matters for a 75,000-descriptor snapshot sent over MQTT.
    #[serde(with = "vector_base64")]
    pub vector: Vec<f32>,
}

mod vector_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let bytes = super::base64_field::decode(d)?;
        if bytes.len() % 4 != 0 {
            return Err(D::Error::custom(
                "a vector's byte length is not a multiple of 4",
            ));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

/// Decodes a base64 string field whether the input lends it (a slice) or
/// not (a reader, as a spooled snapshot is read).
mod base64_field {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::Deserializer;
    use serde::de::{Error, Visitor};

    struct Base64;

    impl Visitor<'_> for Base64 {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a base64 string")
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<Vec<u8>, E> {
            STANDARD.decode(text).map_err(E::custom)
        }
    }

    pub fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_str(Base64)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchPerson {
    pub person: String,
    pub display_name: String,
    pub wikidata_id: Option<String>,
    pub embeddings: Vec<BatchEmbedding>,
}

/// `descriptors.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchContent {
    pub domain: String,
    pub seq: u64,
    pub added: Vec<BatchPerson>,
    pub removed: Vec<String>,
    /// A snapshot's search graph, built once on the hub so that no edge
    /// builds its own (absent in deltas, and in snapshots of older hubs;
    /// older edges ignore it). Covered by `content_sha256` like the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<ShippedIndex>,
}

/// The search graph of a snapshot's descriptors, in the order `added`
/// lists them (people, then each one's descriptors).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShippedIndex {
    /// `facerec-graph/1`; an edge uses only a format it knows.
    pub format: String,
    /// Hex sha256 of the descriptors it was built over, in order.
    pub vectors_sha256: String,
    /// Base64 of the graph's links (`index/src/graph_file.rs`, without the
    /// vectors, which the snapshot carries already).
    #[serde(with = "bytes_base64")]
    pub graph: Vec<u8>,
}

pub const GRAPH_FORMAT: &str = "facerec-graph/1";

impl ShippedIndex {
    /// Builds the graph of `content`'s descriptors (on all cores; about as
    /// long as an edge would take, once for every edge).
    pub fn of(content: &BatchContent) -> Option<Self> {
        let vectors = content
            .added
            .iter()
            .flat_map(|p| p.embeddings.iter().map(|e| e.vector.as_slice()));
        let all: Vec<&[f32]> = vectors.collect();
        if all.is_empty() {
            return None;
        }
        let graph = facerec_index::ShippedGraph::build(all.iter().copied());
        Some(Self {
            format: GRAPH_FORMAT.into(),
            vectors_sha256: graph.vectors_sha256,
            graph: graph.links,
        })
    }

    /// What the index crate takes, if this build reads its format.
    pub fn usable(self) -> Option<facerec_index::ShippedGraph> {
        (self.format == GRAPH_FORMAT).then_some(facerec_index::ShippedGraph {
            links: self.graph,
            vectors_sha256: self.vectors_sha256,
        })
    }
}

mod bytes_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        super::base64_field::decode(d)
    }
}

/// `batch_metadata.json` and `training_batches/{domain}_{id}.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BatchManifest {
    pub format: String,
    pub domain: String,
    pub seq: u64,
    pub id: String,
    pub kind: BatchKind,
    pub created_at: chrono::DateTime<Utc>,
    pub people_added: u64,
    pub people_removed: u64,
    pub descriptors: u64,
    /// The model pack that made every descriptor in the batch; an edge
    /// applies only batches of the pack its copy of the domain holds (a
    /// snapshot may switch it) and of a pack its build runs.
    #[serde(default = "legacy_pack")]
    pub pack: String,
    /// Hex sha256 of `descriptors.json`.
    pub content_sha256: String,
    /// Hex ed25519 public key that signed it.
    pub public_key: String,
    /// Hex ed25519 signature of [`BatchManifest::signed_message`].
    pub signature: String,
}

impl BatchManifest {
    pub fn signed_message(&self) -> String {
        let kind = match self.kind {
            BatchKind::Delta => "delta",
            BatchKind::Snapshot => "snapshot",
        };
        if self.format == FORMAT_1 {
            return format!(
                "{FORMAT_1}\n{}\n{}\n{}\n{kind}\n{}\n",
                self.domain, self.seq, self.id, self.content_sha256
            );
        }
        format!(
            "{}\n{}\n{}\n{}\n{kind}\n{}\n{}\n",
            self.format, self.domain, self.seq, self.id, self.pack, self.content_sha256
        )
    }
}

pub fn batch_dir(store: &Store, domain: &DomainCode, seq: u64) -> PathBuf {
    store
        .layout()
        .batched(domain)
        .join(format!("batch_{seq:04}"))
}

pub fn snapshot_dir(store: &Store, domain: &DomainCode, seq: u64) -> PathBuf {
    store
        .layout()
        .batched(domain)
        .join(format!("snapshot_{seq:04}"))
}

pub fn sign(
    key: &SigningKey,
    content: &BatchContent,
    kind: BatchKind,
    pack: &str,
) -> anyhow::Result<(Vec<u8>, BatchManifest)> {
    let bytes = serde_json::to_vec(content)?;
    let mut manifest = BatchManifest {
        format: FORMAT.into(),
        domain: content.domain.clone(),
        seq: content.seq,
        id: format!("{:04}", content.seq),
        kind,
        created_at: Utc::now(),
        people_added: content.added.len() as u64,
        people_removed: content.removed.len() as u64,
        descriptors: content
            .added
            .iter()
            .map(|p| p.embeddings.len() as u64)
            .sum(),
        pack: pack.to_string(),
        content_sha256: hex::encode(Sha256::digest(&bytes)),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: String::new(),
    };
    manifest.signature = hex::encode(key.sign(manifest.signed_message().as_bytes()).to_bytes());
    Ok((bytes, manifest))
}

/// Checks a manifest's format and its signature against `trusted` — before
/// an edge buffers any of its content.
pub fn verify_manifest(manifest: &BatchManifest, trusted: &[VerifyingKey]) -> anyhow::Result<()> {
    if manifest.format != FORMAT && manifest.format != FORMAT_1 {
        bail!("unknown batch format {:?}", manifest.format);
    }
    if manifest.format == FORMAT_1 && manifest.pack != facerec_storage::LEGACY_PACK {
        bail!(
            "a {FORMAT_1} batch names pack {:?}, which that format cannot carry",
            manifest.pack
        );
    }
    let message = manifest.signed_message();
    if !super::keys::signed_by_any(message.as_bytes(), &manifest.signature, trusted)? {
        bail!(
            "batch {} of '{}': the signature does not verify with any trusted hub key",
            manifest.seq,
            manifest.domain
        );
    }
    Ok(())
}

/// Verifies a batch: the manifest's signature against `trusted`, and the
/// content against the manifest's hash. Returns the content.
pub fn verify(
    manifest: &BatchManifest,
    content_bytes: &[u8],
    trusted: &[VerifyingKey],
) -> anyhow::Result<BatchContent> {
    verify_manifest(manifest, trusted)?;
    check_hash(manifest, &hex::encode(Sha256::digest(content_bytes)))?;
    let content: BatchContent =
        serde_json::from_slice(content_bytes).context("the batch content is not valid JSON")?;
    check_names(manifest, &content)?;
    Ok(content)
}

/// [`verify`] for content in a file (a spooled batch, which can be far
/// larger than the memory it may take): hashed, then parsed as it is read.
pub fn verify_file(
    manifest: &BatchManifest,
    content: &Path,
    trusted: &[VerifyingKey],
) -> anyhow::Result<BatchContent> {
    verify_manifest(manifest, trusted)?;
    let open = || {
        std::fs::File::open(content).with_context(|| format!("cannot read {}", content.display()))
    };
    let mut hasher = Sha256::new();
    std::io::copy(
        &mut std::io::BufReader::with_capacity(1 << 20, open()?),
        &mut hasher,
    )
    .with_context(|| format!("cannot read {}", content.display()))?;
    check_hash(manifest, &hex::encode(hasher.finalize()))?;
    let parsed: BatchContent =
        serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, open()?))
            .context("the batch content is not valid JSON")?;
    check_names(manifest, &parsed)?;
    Ok(parsed)
}

fn check_hash(manifest: &BatchManifest, actual: &str) -> anyhow::Result<()> {
    if actual != manifest.content_sha256 {
        bail!(
            "batch {} of '{}': content sha256 {actual} differs from the signed {}",
            manifest.seq,
            manifest.domain,
            manifest.content_sha256
        );
    }
    Ok(())
}

fn check_names(manifest: &BatchManifest, content: &BatchContent) -> anyhow::Result<()> {
    if content.domain != manifest.domain || content.seq != manifest.seq {
        bail!("the batch content names another domain or seq than its manifest");
    }
    Ok(())
}

/// The manifest of a batch (or snapshot) directory and the path of its
/// content.
pub fn read_manifest(dir: &Path) -> anyhow::Result<(BatchManifest, PathBuf)> {
    let manifest_path = dir.join("batch_metadata.json");
    let manifest: BatchManifest = serde_json::from_slice(
        &std::fs::read(&manifest_path)
            .with_context(|| format!("cannot read {}", manifest_path.display()))?,
    )
    .with_context(|| format!("{} is not a batch manifest", manifest_path.display()))?;
    Ok((manifest, dir.join("descriptors.json")))
}

/// Reads a batch (or snapshot) directory: its manifest and content bytes.
pub fn read_dir(dir: &Path) -> anyhow::Result<(BatchManifest, Vec<u8>)> {
    let (manifest, content_path) = read_manifest(dir)?;
    let content = std::fs::read(&content_path)
        .with_context(|| format!("cannot read {}", content_path.display()))?;
    Ok((manifest, content))
}

/// Reads and verifies `batch_{seq}` from its directory.
pub fn verify_dir(dir: &Path, trusted: &[VerifyingKey]) -> anyhow::Result<BatchContent> {
    let (manifest, content) = read_dir(dir)?;
    verify(&manifest, &content, trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> BatchContent {
        BatchContent {
            domain: "serbia".into(),
            seq: 3,
            added: vec![],
            removed: vec!["ana".into()],
            index: None,
        }
    }

    #[test]
    fn the_pack_is_signed_and_format_1_batches_still_verify_as_dlib() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let trusted = [key.verifying_key()];
        let (_, manifest) = sign(&key, &content(), BatchKind::Delta, "sface-v1").unwrap();
        verify_manifest(&manifest, &trusted).unwrap();
        assert_eq!(manifest.format, FORMAT);

        // Relabelling the descriptors' pack breaks the signature.
        let forged = BatchManifest {
            pack: "dlib-v1".into(),
            ..manifest.clone()
        };
        let err = verify_manifest(&forged, &trusted).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");

        // A batch signed before packs existed: its message has no pack line,
        // and it can only be dlib's.
        let mut old = BatchManifest {
            format: FORMAT_1.into(),
            pack: facerec_storage::LEGACY_PACK.into(),
            ..manifest
        };
        old.signature = hex::encode(key.sign(old.signed_message().as_bytes()).to_bytes());
        assert!(!old.signed_message().contains("dlib-v1"));
        verify_manifest(&old, &trusted).unwrap();
        let claimed = BatchManifest {
            pack: "sface-v1".into(),
            ..old
        };
        assert!(verify_manifest(&claimed, &trusted).is_err());
    }
}
