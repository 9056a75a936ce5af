//! rumqttc options that fit facerec: rumqttc's 10 KiB default packet limit
//! is raised to fit a chunk, sessions are persistent (stable client id, clean
//! session off) so unacknowledged QoS 1 messages survive a reconnect.

use std::time::Duration;

use rumqttc::MqttOptions;

use super::broker::MAX_MESSAGE_BYTES;

pub fn options(client_id: &str, host: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_max_packet_size(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES);
    o.set_clean_session(false);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Delay before reconnect attempt `n` (0-based): doubling from 250 ms, capped
/// at 30 s — rumqttc's own loop retries immediately.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << attempt.min(7));
    Duration::from_millis(ms.min(30_000))
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
