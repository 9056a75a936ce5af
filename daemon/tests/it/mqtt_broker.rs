//! The embedded broker relays a chunk of the maximum size between two real
//! rumqttc clients (rumqttc's default 10 KiB limit would drop it).

use std::time::Duration;

use facerec_sync::chunks::MAX_CHUNK_BYTES;
use facerec_sync::{broker, client};
use rumqttc::{AsyncClient, Event, Packet, QoS};

#[tokio::test]
async fn a_maximum_size_chunk_passes_through_the_embedded_broker() {
    let port = crate::sync_fixtures::free_port();
    broker::start(format!("127.0.0.1:{port}").parse().unwrap()).unwrap();

    let (sub, mut sub_loop) = AsyncClient::new(client::options("edge-test", "127.0.0.1", port), 10);
    sub.subscribe("facerec/v1/domains/serbia/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    // Wait for the subscription to be acknowledged.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = sub_loop.poll().await.unwrap() {
            break;
        }
    }
    let (publisher, mut pub_loop) =
        AsyncClient::new(client::options("hub-test", "127.0.0.1", port), 10);
    tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    let payload: Vec<u8> = (0..MAX_CHUNK_BYTES).map(|i| (i % 251) as u8).collect();
    publisher
        .publish(
            "facerec/v1/domains/serbia/batches/1/chunks/0",
            QoS::AtLeastOnce,
            false,
            payload.clone(),
        )
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = sub_loop.poll().await.unwrap() {
                return p;
            }
        }
    })
    .await
    .expect("the chunk arrives");
    assert_eq!(got.payload.len(), MAX_CHUNK_BYTES);
    assert_eq!(&got.payload[..], &payload[..]);
}
