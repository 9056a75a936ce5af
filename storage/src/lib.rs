//! facerec's storage: the single source of truth on every node.
//!
//! One redb file under the data root holds the registry — domains and the
//! datasets they inherit, people, images and batch metadata — and
//! [`Layout`] derives every on-disk folder of a domain from its code, so no
//! path is ever typed by hand or taken from a client.
//!
//! Architecture invariant: every change to stored state is one redb write
//! transaction; a failed call leaves the database as it was.

mod code;
mod error;
pub mod files;
mod import;
mod layout;
mod model;
mod schema;
mod store;

pub use code::{DomainCode, PersonId};
pub use error::{StorageError, StorageResult};
pub use import::{DomainConfigEntry, DomainConfigFile, ImportReport};
pub use layout::Layout;
pub use model::{
    BatchKind, BatchMeta, DatasetLink, Domain, DomainPatch, DomainStats, DomainSummary, Image,
    ImageSource, ImageStatus, LEGACY_PACK, NEW_DOMAIN_PACK, NewDomain, NewImage, NewPerson, Person,
    PersonStatus, PluginRef, PluginSettings, SearchMode, validate_pack,
};
pub use schema::SCHEMA_VERSION;
pub use store::{
    AppliedBatch, DatasetGraph, EMBEDDING_DIM, Embedding, EmbeddingSet, IncomingBatch,
    NewEmbedding, Opener, PendingChanges, Store, SyncedPerson,
};
