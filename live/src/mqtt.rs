//! Forwards recognition events to MQTT: `{prefix}/devices/{id}/events`,
//! QoS 1, not retained (docs/mqtt.md).
//!
//! Publishing never waits on the broker: while it is away rumqttc queues a
//! bounded number of messages, and events beyond that are dropped and
//! counted rather than stalling the cameras.

use std::sync::Arc;

use rumqttc::{AsyncClient, QoS};
use tokio::sync::broadcast::error::RecvError;

use super::events::EventBus;
use facerec_node::metrics::Metrics;

pub fn forward(client: AsyncClient, topic: String, bus: &EventBus, metrics: Arc<Metrics>) {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        let dropped = metrics.live.events_dropped.with_label_values(&["mqtt"]);
        let mut warned = false;
        loop {
            match events.recv().await {
                Ok(event) => {
                    let payload = serde_json::to_vec(&event.event).expect("events serialise");
                    match client.try_publish(&topic, QoS::AtLeastOnce, false, payload) {
                        Ok(()) => warned = false,
                        Err(e) => {
                            dropped.inc();
                            if !warned {
                                tracing::warn!(%topic, "recognition events are being dropped: {e}");
                                warned = true;
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => dropped.inc_by(n),
                Err(RecvError::Closed) => return,
            }
        }
    });
}
