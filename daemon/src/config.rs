//! Node configuration: a TOML file, overridden by environment variables,
//! overridden by command-line flags (clap reads both; see [`crate::cli`]).
//!
//! Every setting is documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use facerec_storage::DomainCode;
use serde::{Deserialize, Serialize};

use facerec_plugin_host::PluginLimits;

use facerec_api::auth::TokenConfig;
use facerec_live::CameraConfig;
use facerec_node::Role;
use facerec_sync::config::{MqttConfig, MqttFileConfig, MqttOverrides};

/// The config file as written (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_root: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub primary_domain: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub default_training_countries: Option<Vec<String>>,
    pub public_hosts: Option<Vec<String>>,
    pub domains_file: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub plugins_dir: Option<PathBuf>,
    /// Per-call limits of WASM plugins (see docs/configuration.md).
    #[serde(default)]
    pub plugin_limits: PluginLimits,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Batch sync over MQTT (see docs/mqtt.md).
    #[serde(default)]
    pub mqtt: MqttFileConfig,
    /// An edge's cameras (see docs/live.md).
    #[serde(default)]
    pub camera: Vec<CameraConfig>,
    /// How the search index is queried.
    #[serde(default)]
    pub search: SearchFileConfig,
    /// Recognition events kept for readers that reconnect.
    #[serde(default)]
    pub events: EventsFileConfig,
    /// Bounds of the HTTP server.
    #[serde(default)]
    pub server: ServerFileConfig,
}

/// `[server]`: how long a client may take to send a request's headers, and
/// how many connections may be open at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFileConfig {
    pub header_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
}

/// `[events]`: how many recent events of each camera an edge keeps for SSE
/// readers that reconnect with `Last-Event-ID` (0: none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsFileConfig {
    pub history: Option<usize>,
}

/// `[search]`: the HNSW search breadth. Larger finds the true nearest
/// person more often and costs time (README's index table: at a million
/// descriptors ef 64 → recall 0.986 / p99 0.46 ms, 96 → 0.994 / 0.47 ms).
/// Unset, it is 64, and 96 on a domain past 250,000 descriptors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchFileConfig {
    pub ef: Option<usize>,
}

/// Search breadth when `[search] ef` is not set…
pub const DEFAULT_SEARCH_EF: usize = 64;
/// …and on a graph past 250,000 points (README's index table).
pub const DEFAULT_SEARCH_EF_LARGE: usize = 96;
const SEARCH_EF_RANGE: std::ops::RangeInclusive<usize> = 10..=2048;

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {} is invalid", path.display()))
    }
}

/// Settings given on the command line or in the environment; `None` falls
/// back to the file, then to the default.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_root: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub primary_domain: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub default_training_countries: Option<Vec<String>>,
    pub public_hosts: Option<Vec<String>>,
    pub domains_file: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub plugins_dir: Option<PathBuf>,
    pub mqtt: MqttOverrides,
    /// `--camera SPEC` (short form); replaces the file's cameras.
    pub cameras: Option<Vec<String>>,
}

/// The effective, validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub data_root: PathBuf,
    pub listen: SocketAddr,
    pub primary_domain: Option<DomainCode>,
    pub allowed_domains: Vec<DomainCode>,
    pub default_training_countries: Vec<String>,
    /// Host names under which `{domain}.{host}` selects a client's domain.
    pub public_hosts: Vec<String>,
    /// A domain configuration JSON imported at start (idempotent).
    pub domains_file: Option<PathBuf>,
    /// ONNX models and their SHA256SUMS.
    pub models_dir: PathBuf,
    /// Candidate plugins (`{name}.wasm`); the hub installs the bundled ones
    /// here when missing.
    pub plugins_dir: PathBuf,
    pub plugin_limits: PluginLimits,
    pub tokens: Vec<TokenConfig>,
    /// An edge's cameras, validated.
    pub cameras: Vec<CameraConfig>,
    /// HNSW search breadth (`[search] ef`).
    pub search_ef: usize,
    /// The breadth on graphs past 250,000 points: 96 unless `[search] ef`
    /// is set, which then applies everywhere (0).
    pub search_ef_large: usize,
    /// Events kept per camera for resuming readers (`[events] history`).
    pub event_history: usize,
    /// `[server]` bounds.
    #[serde(skip)]
    pub http_limits: facerec_api::http_server::ServeLimits,
    /// `[mqtt]` as written and overridden; its defaults depend on the role,
    /// so it is resolved by [`Config::mqtt`].
    #[serde(skip)]
    pub mqtt_file: MqttFileConfig,
    #[serde(skip)]
    pub mqtt_overrides: MqttOverrides,
}

pub const DEFAULT_DATA_ROOT: &str = "./data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// The hub's WASM plugin runtime over `plugins_dir`, with the
    /// configured limits (node start-up and the CLI share it).
    pub fn plugin_host(&self) -> anyhow::Result<facerec_plugin_host::PluginHost> {
        facerec_plugin_host::PluginHost::new(self.plugins_dir.clone(), self.plugin_limits.clone())
            .context("cannot start the plugin runtime")
    }

    pub fn resolve(file: FileConfig, over: Overrides) -> anyhow::Result<Self> {
        let parse_codes = |what: &str, list: Vec<String>| -> anyhow::Result<Vec<DomainCode>> {
            list.iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| DomainCode::parse(s).with_context(|| format!("{what} lists {s:?}")))
                .collect()
        };
        let primary_domain = over
            .primary_domain
            .or(file.primary_domain)
            .filter(|s| !s.trim().is_empty())
            .map(|s| DomainCode::parse(s.trim()).context("PRIMARY_DOMAIN is invalid"))
            .transpose()?;
        let allowed_domains = parse_codes(
            "ALLOWED_DOMAINS",
            over.allowed_domains
                .or(file.allowed_domains)
                .unwrap_or_default(),
        )?;
        let public_hosts: Vec<String> = over
            .public_hosts
            .or(file.public_hosts)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        for token in &file.tokens {
            token.validate()?;
        }
        let mut names: Vec<&str> = file.tokens.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!("token name {:?} is used twice in the config", w[0]);
        }
        let data_root = over
            .data_root
            .or(file.data_root)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_ROOT));
        let plugins_dir = over
            .plugins_dir
            .or(file.plugins_dir)
            .unwrap_or_else(|| data_root.join("plugins"));
        let cameras = match over.cameras {
            Some(specs) => specs
                .iter()
                .enumerate()
                .map(|(i, s)| CameraConfig::from_short(i + 1, s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--camera: {e}"))?,
            None => file.camera,
        };
        for c in &cameras {
            c.validate()
                .map_err(|e| anyhow::anyhow!("[[camera]]: {e}"))?;
        }
        let search_ef = file.search.ef.unwrap_or(DEFAULT_SEARCH_EF);
        if !SEARCH_EF_RANGE.contains(&search_ef) {
            anyhow::bail!(
                "[search] ef = {search_ef}: must be between {} and {} (the index fetches 10 neighbours per query)",
                SEARCH_EF_RANGE.start(),
                SEARCH_EF_RANGE.end()
            );
        }
        let event_history = file
            .events
            .history
            .unwrap_or(facerec_live::events::DEFAULT_HISTORY);
        if event_history > 100_000 {
            anyhow::bail!("[events] history = {event_history}: at most 100000 per camera");
        }
        let defaults = facerec_api::http_server::ServeLimits::default();
        let http_limits = facerec_api::http_server::ServeLimits {
            header_timeout: file
                .server
                .header_timeout_ms
                .map_or(defaults.header_timeout, std::time::Duration::from_millis),
            max_connections: file
                .server
                .max_connections
                .unwrap_or(defaults.max_connections),
        };
        if !(100..=600_000).contains(&http_limits.header_timeout.as_millis())
            || !(1..=1_000_000).contains(&http_limits.max_connections)
        {
            anyhow::bail!(
                "[server]: header_timeout_ms must be 100–600000 and max_connections 1–1000000"
            );
        }
        Ok(Self {
            cameras,
            search_ef,
            search_ef_large: if file.search.ef.is_some() {
                0
            } else {
                DEFAULT_SEARCH_EF_LARGE
            },
            event_history,
            http_limits,
            data_root,
            plugins_dir,
            plugin_limits: file.plugin_limits,
            listen: over
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            primary_domain,
            allowed_domains,
            default_training_countries: over
                .default_training_countries
                .or(file.default_training_countries)
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            public_hosts,
            domains_file: over.domains_file.or(file.domains_file),
            models_dir: over
                .models_dir
                .or(file.models_dir)
                .unwrap_or_else(facerec_vision::default_models_dir),
            tokens: file.tokens,
            mqtt_file: file.mqtt,
            mqtt_overrides: over.mqtt,
        })
    }

    /// The MQTT settings for `role`: a hub embeds a broker by default, an
    /// edge connects to one on this host; the device id defaults to the
    /// role and the host name.
    pub fn mqtt(&self, role: Role) -> anyhow::Result<MqttConfig> {
        let (broker, default_id) = match role {
            Role::Hub => ("embedded", format!("hub-{}", host_name())),
            Role::Edge => ("mqtt://127.0.0.1:1883", format!("edge-{}", host_name())),
        };
        MqttConfig::resolve(
            self.mqtt_file.clone(),
            self.mqtt_overrides.clone(),
            broker,
            &default_id,
        )
        .context("invalid MQTT settings")
    }
}

/// This machine's name, reduced to what a device id allows.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    if cleaned.is_empty() {
        "node".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_over_file_and_defaults_fill_the_rest() {
        let file: FileConfig = toml::from_str(
            r#"
            data_root = "/srv/facerec"
            primary_domain = "serbia"
            allowed_domains = ["croatia"]
            "#,
        )
        .unwrap();
        let over = Overrides {
            primary_domain: Some("slovenia".into()),
            allowed_domains: Some(vec!["croatia".into(), " serbia".into(), "".into()]),
            ..Default::default()
        };
        let cfg = Config::resolve(file, over).unwrap();
        assert_eq!(cfg.data_root, PathBuf::from("/srv/facerec"));
        assert_eq!(cfg.primary_domain.unwrap().as_str(), "slovenia");
        assert_eq!(cfg.allowed_domains.len(), 2);
        assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let over = Overrides {
            allowed_domains: Some(vec!["../etc".into()]),
            ..Default::default()
        };
        let err = format!(
            "{:#}",
            Config::resolve(FileConfig::default(), over).unwrap_err()
        );
        assert!(
            err.contains("ALLOWED_DOMAINS") && err.contains("../etc"),
            "{err}"
        );
        let file: FileConfig = toml::from_str("[search]\nef = 5").unwrap();
        let err = format!(
            "{:#}",
            Config::resolve(file, Overrides::default()).unwrap_err()
        );
        assert!(err.contains("[search] ef = 5"), "{err}");
        let file: FileConfig = toml::from_str("[search]\nef = 128").unwrap();
        let cfg = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(cfg.search_ef, 128);
        assert_eq!(cfg.search_ef_large, 0, "a set breadth applies everywhere");
        let cfg = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!((cfg.search_ef, cfg.search_ef_large), (64, 96));
        let err = toml::from_str::<FileConfig>("data_rot = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("data_rot"), "{err}");
    }
}
