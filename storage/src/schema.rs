//! Table definitions and the schema version stored in the file.
//!
//! Records are JSON so that fields can be added without a migration (serde
//! defaults); keys are tuples so that every per-domain scan is one range.

use redb::TableDefinition;

/// Bump when the layout of a table changes incompatibly, and add a migration
/// in `store::migrate`.
pub const SCHEMA_VERSION: u64 = 1;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
pub(crate) const META_NEXT_IMAGE_ID: &str = "next_image_id";
pub(crate) const META_NEXT_EMBEDDING_ID: &str = "next_embedding_id";
/// Global counter bumped by every change to any domain's embeddings.
pub(crate) const META_EMBEDDING_REVISION: &str = "embedding_revision";

/// domain code → Domain (JSON)
pub(crate) const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
/// domain code → Vec<DatasetLink> (JSON), sorted by priority
pub(crate) const DOMAIN_DATASETS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("domain_datasets");
/// (domain, person id) → Person (JSON)
pub(crate) const PEOPLE: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("people");
/// (domain, status, person id) → () : people by status
pub(crate) const PEOPLE_BY_STATUS: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("people_by_status");
/// (domain, image id) → Image (JSON)
pub(crate) const IMAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("images");
/// (domain, person id, image id) → () : a person's images
pub(crate) const IMAGES_BY_PERSON: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("images_by_person");
/// (domain, sha256 hex) → image id : deduplication
pub(crate) const IMAGES_BY_SHA: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("images_by_sha");
/// (domain, seq) → BatchMeta (JSON)
pub(crate) const BATCHES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("batches");
/// (domain, embedding id) → Embedding (binary, see `store::embeddings`)
pub(crate) const EMBEDDINGS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("embeddings");
/// (domain, person id, embedding id) → () : a person's embeddings
/// domain code → the global embedding revision of its last change. An index
/// dump records it, so a dump of any other state is recognised as stale.
pub(crate) const EMBEDDING_REVISIONS: TableDefinition<&str, u64> =
    TableDefinition::new("embedding_revisions");
pub(crate) const EMBEDDINGS_BY_PERSON: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("embeddings_by_person");
/// domain code → the model pack of every embedding it holds. A domain with
/// embeddings and no row holds `LEGACY_PACK`'s (stored before packs were).
pub(crate) const EMBEDDING_PACKS: TableDefinition<&str, &str> =
    TableDefinition::new("embedding_packs");

/// (domain, person) → (): people erased since the domain's last batch; the
/// next batch carries their removal.
pub(crate) const PENDING_REMOVALS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("pending_removals");
