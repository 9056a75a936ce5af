//! The embedded MQTT broker (rumqttd) for single-host installs and the demo:
//! one plain-TCP listener, messages up to a chunk plus headroom. Any external
//! broker (mosquitto, EMQX) can replace it by configuration.

use std::collections::HashMap;
use std::net::SocketAddr;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::chunks::MAX_CHUNK_BYTES;

/// Largest message the embedded broker relays: a chunk, its topic and the
/// MQTT headers, with room to spare.
pub const MAX_MESSAGE_BYTES: usize = MAX_CHUNK_BYTES + 16 * 1024;

fn config(listen: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_MESSAGE_BYTES,
        max_inflight_count: 200,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "facerec-embedded".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 64 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    }
}

/// Starts the broker on its own thread (rumqttd's `start` blocks) and
/// returns once it accepts connections on `listen`.
///
/// Readiness is probed with a real MQTT session (CONNECT, CONNACK): a bare
/// TCP connect makes rumqttd log an error for a client that vanished
/// mid-handshake on every start.
pub fn start(listen: SocketAddr) -> anyhow::Result<()> {
    let mut broker = Broker::new(config(listen));
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })?;
    for _ in 0..200 {
        if answers_mqtt(listen) {
            tracing::info!(%listen, "embedded MQTT broker listening");
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    anyhow::bail!("the embedded MQTT broker did not start listening on {listen}")
}

/// Whether an MQTT 3.1.1 broker on `addr` accepts a session.
fn answers_mqtt(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    const CLIENT: &[u8] = b"facerec-ready-probe";
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(500)));
    // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 10 s.
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10];
    body.extend_from_slice(&(CLIENT.len() as u16).to_be_bytes());
    body.extend_from_slice(CLIENT);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    let mut connack = [0u8; 4];
    let ok = s.write_all(&packet).is_ok()
        && s.read_exact(&mut connack).is_ok()
        && connack[0] == 0x20
        && connack[3] == 0;
    // Closed without DISCONNECT: rumqttd notes that at info level, while
    // a DISCONNECT racing its router's registration logs an error.
    ok
}
