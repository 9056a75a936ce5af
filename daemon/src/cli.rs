//! The command line: `facerecd <command>`. Settings shared by every command
//! can come from flags, environment variables or the config file, in that
//! order of precedence.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "facerecd",
    version,
    about = "facerec: on-premise, multi-tenant celebrity face recognition",
    long_about = "facerec keeps each client's (domain's) training data and search index apart \
while sharing one infrastructure.\n\n\
Run `facerecd hub` on the central training server and `facerecd edge` on each venue appliance. \
The other commands work on a data root directly (stop the node first, or use the HTTP API).\n\n\
Settings come from flags, then environment variables, then the config file (--config), \
then defaults; docs/configuration.md lists them all."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command understands.
#[derive(Debug, Args)]
pub struct Settings {
    /// TOML config file.
    #[arg(
        long,
        short = 'c',
        env = "FACEREC_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Folder holding the registry (facerec.redb) and every domain's data [default: ./data].
    #[arg(long, env = "FACEREC_DATA_ROOT", global = true, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "FACEREC_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// This node's own domain (required for an edge).
    #[arg(long, env = "PRIMARY_DOMAIN", global = true, value_name = "CODE")]
    pub primary_domain: Option<String>,
    /// Domains this node may serve besides its primary one (comma-separated).
    /// On a hub, unset means every domain.
    #[arg(
        long,
        env = "ALLOWED_DOMAINS",
        global = true,
        value_delimiter = ',',
        value_name = "CODES"
    )]
    pub allowed_domains: Option<Vec<String>>,
    /// Countries used for candidate generation when a domain names none (comma-separated ISO codes).
    #[arg(
        long,
        env = "DEFAULT_TRAINING_COUNTRIES",
        global = true,
        value_delimiter = ',',
        value_name = "CODES"
    )]
    pub default_training_countries: Option<Vec<String>>,
    /// Public host names; a request to `{domain}.{host}` is narrowed to that domain (comma-separated).
    #[arg(
        long,
        env = "FACEREC_PUBLIC_HOSTS",
        global = true,
        value_delimiter = ',',
        value_name = "HOSTS"
    )]
    pub public_hosts: Option<Vec<String>>,
    /// Domain configuration JSON imported (idempotently) at start.
    #[arg(long, env = "FACEREC_DOMAINS_FILE", global = true, value_name = "FILE")]
    pub domains_file: Option<PathBuf>,
    /// Folder of the ONNX models and their SHA256SUMS [default: ./models, else the build's models/].
    #[arg(long, env = "FACEREC_MODELS_DIR", global = true, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Folder of WASM candidate plugins [default: DATA_ROOT/plugins].
    #[arg(long, env = "FACEREC_PLUGINS_DIR", global = true, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// MQTT broker for batch sync: `embedded` (run one in this process),
    /// `off`, or `mqtt://host:port` / `mqtts://host:port` [hub: embedded; edge: mqtt://127.0.0.1:1883].
    #[arg(long, env = "FACEREC_MQTT_BROKER", global = true, value_name = "URL")]
    pub mqtt_broker: Option<String>,
    /// MQTT username (external brokers).
    #[arg(
        long,
        env = "FACEREC_MQTT_USERNAME",
        global = true,
        value_name = "NAME"
    )]
    pub mqtt_username: Option<String>,
    /// MQTT password (prefer the environment or the config file to a flag).
    #[arg(
        long,
        env = "FACEREC_MQTT_PASSWORD",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub mqtt_password: Option<String>,
    /// This node's MQTT client id and device id; unique per device [default: {role}-{hostname}].
    #[arg(long, env = "FACEREC_DEVICE_ID", global = true, value_name = "ID")]
    pub device_id: Option<String>,
    /// Hex ed25519 keys whose batches an edge accepts (comma-separated; `facerecd batch public-key` on the hub prints its key).
    #[arg(
        long,
        env = "FACEREC_HUB_PUBLIC_KEYS",
        global = true,
        value_delimiter = ',',
        value_name = "KEYS"
    )]
    pub hub_public_keys: Option<Vec<String>>,
    /// An edge's camera: `v4l2:/dev/video0`, `http://…/stream.mjpg`, `replay:DIR[@FPS]` (loops) or `replay-once:DIR[@FPS]`; repeat for more (replaces `[[camera]]` in the config file).
    #[arg(
        long = "camera",
        env = "FACEREC_CAMERAS",
        global = true,
        value_delimiter = ',',
        value_name = "SPEC"
    )]
    pub cameras: Option<Vec<String>>,
    /// Log format on stderr.
    #[arg(long, env = "FACEREC_LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Settings {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_root: self.data_root.clone(),
            listen: self.listen,
            primary_domain: self.primary_domain.clone(),
            allowed_domains: self.allowed_domains.clone(),
            default_training_countries: self.default_training_countries.clone(),
            public_hosts: self.public_hosts.clone(),
            domains_file: self.domains_file.clone(),
            models_dir: self.models_dir.clone(),
            plugins_dir: self.plugins_dir.clone(),
            mqtt: facerec_sync::config::MqttOverrides {
                broker: self.mqtt_broker.clone(),
                username: self.mqtt_username.clone(),
                password: self.mqtt_password.clone(),
                device_id: self.device_id.clone(),
                hub_public_keys: self.hub_public_keys.clone(),
            },
            cameras: self.cameras.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Move an install with the old hard-coded Serbian paths (`trainingPassSerbia`,
    /// `storage/name_mapping.json`, `recognized_faces_prod/…`) into the
    /// per-domain layout of DATA_ROOT and register its domains, people and
    /// images. Idempotent and resumable; a legacy file is removed only after
    /// its copy is verified and recorded. Writes a report under DATA_ROOT/migration/.
    Legacy {
        /// The legacy install's root (may be DATA_ROOT itself).
        #[arg(long, value_name = "OLD_ROOT")]
        from: PathBuf,
        /// Show what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Stop after this many files; run again to continue.
        #[arg(long, value_name = "N")]
        max_files: Option<usize>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the central training server: domain registry, training, batches.
    Hub,
    /// Run a venue appliance serving only PRIMARY_DOMAIN (and ALLOWED_DOMAINS).
    Edge,
    /// Run only the embedded MQTT broker (rumqttd), e.g. on its own host.
    Broker {
        #[arg(long, default_value = facerec_sync::config::DEFAULT_EMBEDDED_LISTEN)]
        listen: SocketAddr,
    },
    /// Inspect and change the domain registry of a data root.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// Create API tokens and hash them for the config file.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show or check the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Detect, embed and compare faces in image files (JSON on stdout).
    Faces(FacesArgs),
    /// Training on a hub's data root: candidates, photos, processing, review, erasure.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Build, verify and inspect signed per-domain batches.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// List the installed WASM plugins, or install the bundled ones.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Measure accuracy and speed; prints a table (use a release build).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the whole system on loopback on the bundled sample photos (broker, hub, two edges) and check that the domains stay apart.
    Demo {
        /// Keep the demo's data here (default: a temporary folder, removed after).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Bring an older install into this data root.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Measure detection, verification and open-set identification of every
    /// model pack on labelled photos; prints one table (use a release build).
    Eval(EvalArgs),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// A labelled photo folder: one sub-folder of photos per person, or
    /// photos with identities.csv (file,identity) and optional pairs.csv
    /// (file_x,file_y,same). Repeatable; identities of two folders never merge.
    #[arg(long = "labelled", value_name = "DIR", required = true)]
    pub labelled: Vec<PathBuf>,
    /// A folder of images without any human face (repeatable): every box found there is a false detection.
    #[arg(long = "no-faces", value_name = "DIR")]
    pub no_faces: Vec<PathBuf>,
    /// Model packs to evaluate (comma-separated) [default: every pack].
    #[arg(long, value_delimiter = ',')]
    pub packs: Vec<String>,
    /// Smallest face to find, in pixels.
    #[arg(long, default_value_t = 40.0)]
    pub min_face: f32,
    /// Detector score threshold [default: the detector's].
    #[arg(long)]
    pub score_threshold: Option<f32>,
    /// Print the report as JSON (with FAR/FRR over thresholds).
    #[arg(long)]
    pub json: bool,
    /// A face-size sweep: the same photos shrunk so that each face is this
    /// many pixels (comma-separated, e.g. 24,32,48,64), one evaluation per size.
    #[arg(long, value_delimiter = ',', value_name = "PX")]
    pub face_sizes: Vec<u32>,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// The live pipeline over annotated clips: wrong names, identity
    /// switches, time to name (docs/evaluation.md).
    Video {
        /// The people to enrol: one sub-folder of photos per person, named
        /// as the clips' truth names them.
        #[arg(long, value_name = "DIR")]
        gallery: PathBuf,
        /// A folder of frames with truth.csv, or an .mjpeg file with
        /// <stem>.truth.csv beside it.
        #[arg(required = true, value_name = "CLIP")]
        clips: Vec<PathBuf>,
        /// The model pack [default: the default pack].
        #[arg(long)]
        pack: Option<String>,
        /// Camera settings to evaluate: a TOML file holding a camera's
        /// `[settings]` table's keys (docs/configuration.md).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Builds an annotated clip from labelled photos: hard cuts between
    /// enrolled people, pans, occlusion, strangers; writes `gallery/` and
    /// `clip/` (frames and truth.csv) under OUT.
    Montage {
        /// Labelled photos, one sub-folder per person.
        #[arg(long, value_name = "DIR")]
        photos: PathBuf,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// People to enrol and show.
        #[arg(long, default_value_t = 6)]
        people: usize,
    },
}

#[derive(Debug, clap::Args)]
pub struct FacesArgs {
    /// Model pack whose chip, embedder and threshold to use [default: the default pack, sface-v1].
    #[arg(long, global = true, value_name = "PACK")]
    pub pack: Option<String>,
    #[command(subcommand)]
    pub command: FacesCommand,
}

#[derive(Debug, Subcommand)]
pub enum FacesCommand {
    /// Every face in an image: box, five landmarks, detector score, and why the quality gate would refuse it.
    Detect {
        image: PathBuf,
        /// Smallest face to find, in pixels.
        #[arg(long, default_value_t = 20.0)]
        min_face: f32,
    },
    /// Every face in an image with its 128-d descriptor.
    Embed {
        image: PathBuf,
        #[arg(long, default_value_t = 20.0)]
        min_face: f32,
    },
    /// The largest faces of two images compared with the pack's metric and threshold: are they the same person?
    Compare { a: PathBuf, b: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Run the domain's source and filter plugins and store new candidates.
    Candidates {
        #[arg(long)]
        domain: String,
        /// Country (ISO 3166-1 alpha-2 or Wikidata item) [default: the domain's].
        #[arg(long)]
        country: Option<String>,
        /// Occupation [default: the domain's].
        #[arg(long)]
        occupation: Option<String>,
        /// Candidates per source.
        #[arg(long)]
        limit: Option<u32>,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy photos into the domain's training folder: DIR holds one folder per
    /// person (named by the person id), or files named like novak_djokovic_20240101120000_1.jpg.
    Ingest {
        #[arg(long)]
        domain: String,
        dir: PathBuf,
    },
    /// Download the photos proposed for the domain's candidates (allowlisted URLs only).
    Download {
        #[arg(long)]
        domain: String,
    },
    /// Detect, check and embed every new image of the domain; accepted faces go to staging.
    Process {
        #[arg(long)]
        domain: String,
        /// Worker threads [default: all cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Detect and embed every production photo of the domain again, with the
    /// domain's pack or PACK (which then becomes the domain's), replace its
    /// descriptors at once and publish them to edges as a snapshot. Resumable:
    /// run it again after an interruption. Makes migrated photos searchable.
    Reembed {
        #[arg(long)]
        domain: String,
        /// Model pack (dlib-v1, sface-v1) [default: the domain's].
        #[arg(long)]
        pack: Option<String>,
        /// Stop after this many photos; run again to continue.
        #[arg(long)]
        max_photos: Option<usize>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// People with faces in staging, and why their other images were refused.
    Staging {
        #[arg(long)]
        domain: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve people's staged faces into production (they go out with the next batch).
    Approve {
        #[arg(long)]
        domain: String,
        #[arg(required = true)]
        people: Vec<String>,
    },
    /// Reject people and their staged faces.
    Reject {
        #[arg(long)]
        domain: String,
        #[arg(long, default_value = "rejected on review")]
        reason: String,
        #[arg(required = true)]
        people: Vec<String>,
    },
    /// Erase a person: images, descriptors and files; the next batch removes them from edges.
    Erase {
        #[arg(long)]
        domain: String,
        person: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Package everything approved or erased since the last batch as the next one, signed.
    Build {
        #[arg(long)]
        domain: String,
    },
    /// Write a signed snapshot of everything the domain has published, for new or far-behind edges.
    Snapshot {
        #[arg(long)]
        domain: String,
    },
    /// Verify a batch directory (recognized_faces_batched/{domain}/batch_NNNN) against hub public keys.
    Verify {
        dir: PathBuf,
        /// Trusted hub public key, 64 hex digits (repeatable) [default: this data root's hub key].
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
    /// Print the hub's public key (edges trust it), creating the key pair if needed.
    PublicKey,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin in the plugins folder: kind, size, sha256.
    List,
    /// Start a plugin project: a Rust crate with a working example and the
    /// SDK this binary implements (no checkout of facerec needed).
    New {
        /// The plugin's name (1-64 of a-z, 0-9, '-', '_'); also its crate name.
        name: String,
        #[arg(long, value_enum)]
        kind: PluginKindArg,
        /// Where to create it [default: ./NAME]. Inside a cargo workspace it
        /// becomes a member (add it to the workspace's `members`).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Use this SDK folder instead of writing the bundled SDK beside the
        /// project (or at the workspace root).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Check a built plugin (a component of this host's contract version)
    /// and copy it into the plugins folder.
    Install {
        /// The `.wasm` file, e.g. target/wasm32-wasip2/release/hello_source.wasm.
        file: PathBuf,
        /// The name to install it under [default: the file name, with '_' as '-'].
        #[arg(long)]
        name: Option<String>,
    },
    /// Write the plugins bundled with this build into the plugins folder (missing ones only).
    InstallBundled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PluginKindArg {
    Source,
    Filter,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Camera streams through ffmpeg: N cameras of one stream (by default a 1080p25 H.264 file made by ffmpeg), frames read and CPU per frame against ffmpeg's own decode of the same stream. About 2 × --seconds.
    Streams {
        /// A camera short form (rtsp://…, file:…); default: a generated 1080p25 H.264 file.
        #[arg(long)]
        source: Option<String>,
        /// Cameras reading it at once.
        #[arg(long, default_value_t = 1)]
        camera_count: usize,
        /// Seconds of reading.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Smallest face wanted, in the stream's pixels (sets the analysis copy's size).
        #[arg(long, default_value_t = 40.0)]
        min_face: f32,
    },
    /// Latency of decoding, detection, alignment and embedding, on one and two threads.
    Vision {
        /// Folder with couple.jpg and selfie-many-people.jpg.
        #[arg(long, default_value = "../shared/data/faces")]
        faces: PathBuf,
        /// Repetitions of each measurement per thread.
        #[arg(long, default_value_t = 30)]
        iterations: usize,
    },
    /// Batch sync over the embedded broker: a new edge's snapshot and a delta, publish to searchable, and edge memory.
    Sync {
        /// Descriptors in the snapshot a new edge receives.
        #[arg(long, default_value_t = 75_000)]
        descriptors: usize,
        /// People (5 descriptors each) in the delta sent afterwards.
        #[arg(long, default_value_t = 100)]
        delta_people: usize,
        /// Keep the seeded hub (its data, batch and snapshot) in this folder
        /// and reuse it when a later run asks for as many descriptors: at a
        /// million, seeding and the hub's graph take over half an hour.
        #[arg(long, value_name = "DIR")]
        keep_hub: Option<std::path::PathBuf>,
    },
    /// The live pipeline on replayed frames (fps, CPU, frame-to-event latency) and /api/recognize on a 2 MP photo, alone and with 16 clients.
    Live {
        /// Seconds per pipeline configuration (0 skips the pipeline rows).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Descriptors in the camera's domain.
        #[arg(long, default_value_t = 7_500)]
        gallery: usize,
        /// Descriptors in the domain /api/recognize searches.
        #[arg(long, default_value_t = 75_000)]
        recognize_gallery: usize,
        /// Requests per /api/recognize row.
        #[arg(long, default_value_t = 64)]
        requests: usize,
        /// Model pack of the galleries (dlib-v1, sface-v1) [default: sface-v1].
        #[arg(long)]
        pack: Option<String>,
    },
    /// Search-index build time, memory, latency and recall@1 against brute force, on synthetic descriptors.
    Index {
        /// Gallery sizes (vectors), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [7_500usize, 75_000, 1_000_000])]
        sizes: Vec<usize>,
        /// Queries per size.
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        /// HNSW search breadths, comma-separated: one row per size and breadth.
        #[arg(long, value_delimiter = ',', default_values_t = [32usize, 64])]
        ef: Vec<usize>,
        /// Also compare one mixed 75,000 gallery with ten domains of 7,500.
        #[arg(long)]
        mixed: bool,
        /// How people's descriptors spread: `faces` (on a low-dimensional
        /// subspace, as face descriptors do) or `isotropic` (every one of the
        /// 128 dimensions alike: no structure, the worst case for HNSW).
        #[arg(long, value_enum, default_value_t = GalleryShape::Faces)]
        shape: GalleryShape,
    },
    /// Plugin call overhead: instantiate and call the bundled plugins with 1,000 candidates.
    Plugins {
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// List domains with their people, images and datasets.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one domain as JSON.
    Show { code: String },
    /// Import a domain configuration JSON file ({"domains": {...}}); idempotent.
    Import {
        file: PathBuf,
        /// Report what would change without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create a domain.
    Create(CreateDomainArgs),
    /// Delete a domain (refused while it holds people, unless --purge).
    Delete {
        code: String,
        /// Also delete its people, images, batches and folders.
        #[arg(long)]
        purge: bool,
    },
    /// Show a domain's inherited datasets, or replace them with --set.
    Datasets {
        code: String,
        /// New datasets in priority order, comma-separated (empty to clear).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        set: Option<Vec<String>>,
    },
}

#[derive(Debug, Args)]
pub struct CreateDomainArgs {
    /// Domain code: a-z, 0-9 and _, starting with a letter, 2-50 characters.
    pub code: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Default country for candidate generation (ISO 3166-1 alpha-2, e.g. RS).
    #[arg(long)]
    pub country: Option<String>,
    /// Countries whose people belong here (comma-separated; * for any).
    #[arg(long, value_delimiter = ',')]
    pub countries: Option<Vec<String>>,
    /// Default occupations for candidate generation (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub occupations: Vec<String>,
    /// Candidate filter expression, e.g. "sitelinks >= 50".
    #[arg(long)]
    pub filter: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub search_priority: i32,
    /// Model pack of the domain's descriptors (dlib-v1, sface-v1) [default: sface-v1].
    #[arg(long)]
    pub pack: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Generate a new random token and print the config entry for it.
    New {
        /// A name for logs, e.g. the client's organisation.
        #[arg(long)]
        name: String,
        /// A domain the token may use (repeat for several; * for all).
        #[arg(long = "domain", required_unless_present = "admin")]
        domains: Vec<String>,
        /// May manage the registry (implies every domain).
        #[arg(long)]
        admin: bool,
    },
    /// Print the sha256 of a token (read from stdin when not given).
    Hash { token: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML.
    Show,
    /// Validate the configuration and exit 0 if it is usable.
    Check,
}

/// How the people of a synthetic gallery spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GalleryShape {
    /// People's centres vary along a few dozen directions only. Face
    /// descriptors are like this: their intrinsic dimension is measured at
    /// about a dozen for 128-d face embeddings (Gong, Boddeti & Jain, "On
    /// the Intrinsic Dimensionality of Image Representations", CVPR 2019);
    /// 32 directions leave a wide margin.
    Faces,
    /// Centres spread equally over all 128 dimensions: no structure at all,
    /// so every other person is about equally far from a query. No real
    /// gallery is like this; it is the worst case for any graph index.
    Isotropic,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn every_subcommand_parses_and_no_option_shadows_a_daemon_flag() {
        Cli::command().debug_assert();
        // `--camera` is a daemon flag: a bench option named like its field
        // would panic at parse time, not at build time.
        let cli =
            Cli::try_parse_from(["facerecd", "bench", "streams", "--camera-count", "4"]).unwrap();
        match cli.command {
            Command::Bench(BenchCommand::Streams { camera_count, .. }) => {
                assert_eq!(camera_count, 4)
            }
            _ => panic!("not bench streams"),
        }
    }
}
