//! MQTT settings (`[mqtt]` in the config file, `FACEREC_MQTT_*` in the
//! environment): which broker, how to authenticate, the topic prefix, this
//! device's id and, on an edge, the hub keys it trusts.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::chunks::{MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, PUSH_MAX_CHUNKS};
use super::topics::{Topics, valid_device_id};

pub const DEFAULT_EMBEDDED_LISTEN: &str = "127.0.0.1:1883";

/// `[mqtt]` as written in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttFileConfig {
    /// `embedded`, `off`, or `mqtt://host:port` / `mqtts://host:port`.
    pub broker: Option<String>,
    pub embedded_listen: Option<SocketAddr>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM file of the CA(s) that sign an `mqtts://` broker's certificate
    /// (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    pub topic_prefix: Option<String>,
    pub device_id: Option<String>,
    /// Hex ed25519 keys whose batches an edge accepts.
    #[serde(default)]
    pub hub_public_keys: Vec<String>,
    /// Hub: an edge further behind than this many batches gets a snapshot.
    pub snapshot_after: Option<u64>,
    /// Hub: bytes per chunk message (1 KiB–128 KiB; default 128 KiB).
    pub chunk_bytes: Option<usize>,
    /// Hub: a batch of more chunks than this is sent only as edges ask for
    /// it, segment by segment (default 1024, i.e. 128 MiB).
    pub push_max_chunks: Option<usize>,
}

/// Where the node's MQTT connection goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BrokerChoice {
    /// No sync at all.
    Off,
    /// Run rumqttd in this process on `listen` and connect to it.
    Embedded {
        listen: SocketAddr,
    },
    External {
        host: String,
        port: u16,
        tls: bool,
    },
}

/// Effective MQTT settings.
#[derive(Debug, Clone, Serialize)]
pub struct MqttConfig {
    pub broker: BrokerChoice,
    pub username: Option<String>,
    #[serde(skip)]
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub topic_prefix: String,
    pub device_id: String,
    #[serde(serialize_with = "keys_as_hex")]
    pub hub_public_keys: Vec<VerifyingKey>,
    pub snapshot_after: u64,
    pub chunk_bytes: usize,
    pub push_max_chunks: usize,
}

fn keys_as_hex<S: serde::Serializer>(keys: &[VerifyingKey], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(keys.iter().map(|k| hex::encode(k.to_bytes())))
}

impl MqttConfig {
    pub fn topics(&self) -> Topics {
        Topics::new(&self.topic_prefix).expect("validated when resolved")
    }

    pub fn enabled(&self) -> bool {
        self.broker != BrokerChoice::Off
    }

    /// `(host, port, tls)` to connect to.
    pub fn endpoint(&self) -> Option<(String, u16, bool)> {
        match &self.broker {
            BrokerChoice::Off => None,
            BrokerChoice::Embedded { listen } => {
                Some((listen.ip().to_string(), listen.port(), false))
            }
            BrokerChoice::External { host, port, tls } => Some((host.clone(), *port, *tls)),
        }
    }
}

/// Parses `embedded`, `off` or an `mqtt(s)://host[:port]` URL.
pub fn parse_broker(text: &str, embedded_listen: SocketAddr) -> anyhow::Result<BrokerChoice> {
    match text.trim() {
        "off" | "none" => return Ok(BrokerChoice::Off),
        "embedded" => {
            return Ok(BrokerChoice::Embedded {
                listen: embedded_listen,
            });
        }
        _ => {}
    }
    let url = url::Url::parse(text.trim())
        .with_context(|| format!("MQTT broker {text:?} is not `embedded`, `off` or a URL"))?;
    let tls = match url.scheme() {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        other => bail!("MQTT broker URL scheme {other:?} is not mqtt:// or mqtts://"),
    };
    let host = url
        .host_str()
        .with_context(|| format!("MQTT broker URL {text:?} names no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    Ok(BrokerChoice::External { host, port, tls })
}

pub use crate::keys::parse_public_key;

/// Environment / flag overrides of `[mqtt]`.
#[derive(Debug, Clone, Default)]
pub struct MqttOverrides {
    pub broker: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub device_id: Option<String>,
    pub hub_public_keys: Option<Vec<String>>,
}

impl MqttConfig {
    /// `default_broker` is the role's: a hub embeds one, an edge connects to
    /// one on this host; `default_device_id` names the node.
    pub fn resolve(
        file: MqttFileConfig,
        over: MqttOverrides,
        default_broker: &str,
        default_device_id: &str,
    ) -> anyhow::Result<Self> {
        let listen = file
            .embedded_listen
            .unwrap_or_else(|| DEFAULT_EMBEDDED_LISTEN.parse().expect("valid default"));
        let broker_text = over
            .broker
            .or(file.broker)
            .unwrap_or_else(|| default_broker.to_string());
        let broker = parse_broker(&broker_text, listen)?;
        let topic_prefix = file
            .topic_prefix
            .unwrap_or_else(|| super::topics::DEFAULT_PREFIX.to_string());
        Topics::new(&topic_prefix).map_err(anyhow::Error::msg)?;
        let device_id = over
            .device_id
            .or(file.device_id)
            .unwrap_or_else(|| default_device_id.to_string());
        if !valid_device_id(&device_id) {
            bail!(
                "device id {device_id:?} must be 1–64 characters of letters, digits, '-', '_' or '.'"
            );
        }
        let hub_public_keys = over
            .hub_public_keys
            .unwrap_or(file.hub_public_keys)
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| parse_public_key(k))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let chunk_bytes = file.chunk_bytes.unwrap_or(MAX_CHUNK_BYTES);
        if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk_bytes) {
            bail!(
                "[mqtt] chunk_bytes = {chunk_bytes} is outside {MIN_CHUNK_BYTES}–{MAX_CHUNK_BYTES}"
            );
        }
        Ok(Self {
            broker,
            username: over.username.or(file.username),
            password: over.password.or(file.password),
            ca_file: file.ca_file,
            topic_prefix,
            device_id,
            hub_public_keys,
            snapshot_after: file.snapshot_after.unwrap_or(20),
            chunk_bytes,
            push_max_chunks: file.push_max_chunks.unwrap_or(PUSH_MAX_CHUNKS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_choices_parse_and_bad_ones_say_why() {
        let listen: SocketAddr = "127.0.0.1:1883".parse().unwrap();
        assert_eq!(parse_broker("off", listen).unwrap(), BrokerChoice::Off);
        assert_eq!(
            parse_broker("embedded", listen).unwrap(),
            BrokerChoice::Embedded { listen }
        );
        assert_eq!(
            parse_broker("mqtts://broker.example.org", listen).unwrap(),
            BrokerChoice::External {
                host: "broker.example.org".into(),
                port: 8883,
                tls: true
            }
        );
        assert_eq!(
            parse_broker("mqtt://10.0.0.5:1884", listen).unwrap(),
            BrokerChoice::External {
                host: "10.0.0.5".into(),
                port: 1884,
                tls: false
            }
        );
        let err = parse_broker("http://x", listen).unwrap_err().to_string();
        assert!(err.contains("http"), "{err}");
        assert!(parse_broker("localhost:1883", listen).is_err());
    }

    #[test]
    fn keys_and_device_ids_are_checked() {
        assert!(parse_public_key("zz").is_err());
        assert!(parse_public_key("abcd").is_err());
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert_eq!(parse_public_key(&hex::encode(key.to_bytes())).unwrap(), key);
        let over = MqttOverrides {
            device_id: Some("edge/1".into()),
            ..Default::default()
        };
        let err = MqttConfig::resolve(Default::default(), over, "off", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("edge/1"), "{err}");
    }
}
