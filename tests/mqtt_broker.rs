//! The embedded broker (rumqttd) speaks the MQTT 5 that vigil relies on:
//! a retained message reaches a later subscriber, and a client's Last Will
//! is delivered when its connection dies.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use vigil::mqtt::broker::EmbeddedBroker;
use vigil::mqtt::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security, options};

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn client(addr: SocketAddr, id: &str, will: Option<LastWill>) -> (AsyncClient, EventLoop) {
    let mut opts = options(&BrokerUrl::local(addr.port()), id, DEFAULT_KEEP_ALIVE, &Security::default()).unwrap();
    if let Some(will) = will {
        opts.set_last_will(will);
    }
    AsyncClient::new(opts, 16)
}

/// The next publish `events` delivers on `topic`, within 5 s.
async fn next_publish(events: &mut EventLoop, topic: &str) -> (Vec<u8>, bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap()
                && p.topic == topic.as_bytes()
            {
                return (p.payload.to_vec(), p.retain);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("nothing arrived on {topic}"))
}

#[tokio::test]
async fn a_retained_message_reaches_a_later_subscriber() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let (publisher, mut pub_events) = client(broker.addr(), "bedside", None);
    publisher.publish("vigil/v1/s/r1/status", QoS::AtLeastOnce, true, b"online".to_vec()).await.unwrap();
    // Drive the publisher until its PUBACK: the message is then the broker's.
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = pub_events.poll().await.unwrap() {
                break;
            }
        }
    })
    .await
    .unwrap();

    let (station, mut events) = client(broker.addr(), "station", None);
    station.subscribe("vigil/v1/s/+/+", QoS::AtLeastOnce).await.unwrap();
    let (payload, retained) = next_publish(&mut events, "vigil/v1/s/r1/status").await;
    assert_eq!(payload, b"online");
    assert!(retained, "a retained message is delivered with its retain flag to a new subscriber");
}

#[tokio::test]
async fn a_dead_connection_sends_its_last_will() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let (station, mut events) = client(broker.addr(), "station", None);
    station.subscribe("vigil/v1/s/+/+", QoS::AtLeastOnce).await.unwrap();
    // Wait for the SUBACK before the bedside goes away.
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }
    })
    .await
    .unwrap();

    let will = LastWill::new("vigil/v1/s/r2/status", b"offline".to_vec(), QoS::AtLeastOnce, true, None);
    let (_bedside, mut bedside_events) = client(broker.addr(), "bedside-2", Some(will));
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = bedside_events.poll().await.unwrap() {
                break;
            }
        }
    })
    .await
    .unwrap();
    // Dropping the event loop closes its socket without DISCONNECT: the
    // broker must publish the Will.
    drop(bedside_events);
    let (payload, _) = next_publish(&mut events, "vigil/v1/s/r2/status").await;
    assert_eq!(payload, b"offline");
}
