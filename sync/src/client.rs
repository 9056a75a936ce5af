//! The node's MQTT connection (rumqttc) with the settings facerec needs:
//! rumqttc's 10 KiB default packet limit raised to fit a chunk; a persistent
//! session (stable client id, clean session off) so QoS 1 messages wait at
//! the broker while a node is away; manual acks; TLS (rustls) and
//! username/password for external brokers; and a reconnect backoff, which
//! rumqttc's own loop lacks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, Publish, TlsConfiguration,
    Transport,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::mpsc;

use super::broker::MAX_MESSAGE_BYTES;
use super::config::MqttConfig;

/// Options for a plain-TCP connection with facerec's limits and session.
pub fn options(client_id: &str, host: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_max_packet_size(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES);
    o.set_clean_session(false);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Options for `config`'s broker: TLS and credentials when configured, the
/// Last Will when given, acks left to the caller.
pub fn connect_options(
    config: &MqttConfig,
    client_id: &str,
    last_will: Option<LastWill>,
) -> anyhow::Result<MqttOptions> {
    let (host, port, tls) = config
        .endpoint()
        .context("MQTT is off: no broker to connect to")?;
    let mut o = options(client_id, &host, port);
    o.set_manual_acks(true);
    if let (Some(user), password) = (&config.username, &config.password) {
        o.set_credentials(user.clone(), password.clone().unwrap_or_default());
    }
    if let Some(will) = last_will {
        o.set_last_will(will);
    }
    if tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config(config)?),
        )));
    }
    Ok(o)
}

fn tls_config(config: &MqttConfig) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read CA certificates from {}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("{} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("a certificate in {} is invalid", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                anyhow::bail!(
                    "no system CA certificates found for mqtts://: set ca_file in [mqtt]"
                );
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Delay before reconnect attempt `n` (0-based): doubling from 250 ms, capped
/// at 30 s — rumqttc's own loop retries immediately.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << attempt.min(7));
    Duration::from_millis(ms.min(30_000))
}

/// What the connection tells its owner.
#[derive(Debug)]
pub enum LinkEvent {
    /// (Re)connected: subscribe again (a restarted broker forgot us) and
    /// announce state.
    Connected {
        session_present: bool,
    },
    Message(Publish),
    Disconnected(String),
}

/// Drives rumqttc's event loop on a task, reconnecting with [`backoff`],
/// and forwards what matters. The channel is unbounded because the broker's
/// in-flight window bounds it: unacknowledged messages stop arriving.
pub fn spawn_link(mut eventloop: EventLoop, tx: mpsc::UnboundedSender<LinkEvent>) {
    tokio::spawn(async move {
        let mut attempt = 0u32;
        let mut connected = false;
        loop {
            let event = eventloop.poll().await;
            let forwarded = match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    attempt = 0;
                    connected = true;
                    tx.send(LinkEvent::Connected {
                        session_present: ack.session_present,
                    })
                }
                Ok(Event::Incoming(Packet::Publish(p))) => tx.send(LinkEvent::Message(p)),
                Ok(_) => Ok(()),
                Err(e) => {
                    if connected {
                        tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                    } else if attempt.is_power_of_two() || attempt == 0 {
                        // The first failures and then ever more rarely:
                        // the reason (refused, TLS, credentials) matters.
                        tracing::warn!(error = %e, attempt, retry_in = ?backoff(attempt), "cannot connect to the MQTT broker");
                    } else {
                        tracing::debug!(error = %e, attempt, "cannot connect to the MQTT broker");
                    }
                    connected = false;
                    let sent = tx.send(LinkEvent::Disconnected(e.to_string()));
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt = attempt.saturating_add(1);
                    sent
                }
            };
            if forwarded.is_err() {
                return; // the owner is gone
            }
        }
    });
}

/// Connects (lazily: the link task dials) and returns the client and the
/// event stream.
pub fn connect(options: MqttOptions) -> (AsyncClient, mpsc::UnboundedReceiver<LinkEvent>) {
    let (client, eventloop) = AsyncClient::new(options, 256);
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_link(eventloop, tx);
    (client, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(6), Duration::from_millis(16_000));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
