//! vigil against a broker no one here wrote (issue 20): Mosquitto run from
//! the shipped docs/mosquitto.conf and docs/mosquitto.acl, reached through
//! vigil's own `connect::options` (rustls with ring) and rumqttc v5. TLS
//! with the site's CA, passwords, and the per-room ACL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mosquitto;
mod tools;

use std::time::Duration;

use mosquitto::{Mosquitto, STATION};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event};
use tokio::sync::mpsc;
use vigil::mqtt::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security, options};

const SITE: &str = "ward";
/// How long a test waits for something the broker should send at once.
const PROMPTLY: Duration = Duration::from_secs(10);

fn users() -> [(&'static str, &'static str); 3] {
    [(STATION, "station-pw-7Kq"), ("r1", "r1-pw-Xv2"), ("r2", "r2-pw-Jd9")]
}

fn topic(room: &str, kind: &str) -> String {
    format!("vigil/v1/{SITE}/{room}/{kind}")
}

/// A connected client whose incoming packets arrive on a channel.
struct Client {
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Packet>,
}

/// Connect as `id` with `security`; the broker's answer to the connection
/// (or the TLS handshake's failure).
async fn connect(url: &BrokerUrl, id: &str, security: &Security) -> Result<Client, ConnectionError> {
    let (client, mut events) = AsyncClient::new(options(url, id, DEFAULT_KEEP_ALIVE, security).unwrap(), 64);
    tokio::time::timeout(PROMPTLY, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = events.poll().await? {
                return Ok::<(), ConnectionError>(());
            }
        }
    })
    .await
    .expect("no answer from the broker")?;
    let (tx, incoming) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(packet) = event
                && tx.send(packet).is_err()
            {
                break;
            }
        }
    });
    Ok(Client { client, incoming })
}

impl Client {
    /// The next incoming packet that `pick` accepts; others are dropped
    /// unless they are publishes, which fail the test through `pick`'s
    /// caller (see [`Self::publishes_until`]).
    async fn next<T>(&mut self, mut pick: impl FnMut(&Packet) -> Option<T>) -> T {
        tokio::time::timeout(PROMPTLY, async {
            loop {
                let packet = self.incoming.recv().await.expect("the connection ended");
                if let Some(found) = pick(&packet) {
                    return found;
                }
            }
        })
        .await
        .expect("the broker did not send what was expected")
    }

    async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        self.next(|p| match p {
            Packet::SubAck(ack) => Some(ack.return_codes[0]),
            _ => None,
        })
        .await
    }

    /// Publish at QoS 1 and return the broker's PUBACK reason.
    async fn publish(&mut self, topic: &str, payload: &str) -> PubAckReason {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec()).await.unwrap();
        self.next(|p| match p {
            Packet::PubAck(ack) => Some(ack.reason),
            _ => None,
        })
        .await
    }

    /// Every (topic, payload) delivered up to and including one on `last`.
    async fn publishes_until(&mut self, last: &str) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        loop {
            let (topic, payload) = self
                .next(|p| match p {
                    Packet::Publish(p) => Some((
                        String::from_utf8_lossy(&p.topic).into_owned(),
                        String::from_utf8_lossy(&p.payload).into_owned(),
                    )),
                    _ => None,
                })
                .await;
            let done = topic == last;
            seen.push((topic, payload));
            if done {
                return seen;
            }
        }
    }
}

fn accepted(reason: PubAckReason) -> bool {
    matches!(reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers)
}

#[tokio::test]
async fn tls_with_the_sites_ca_connects_and_a_foreign_ca_is_refused() {
    if !tools::mosquitto("mqtt_mosquitto::tls") {
        return;
    }
    let broker = Mosquitto::start(&users());
    let url = broker.tls_url();
    assert!(url.tls);
    connect(&url, "r1-bedside", &broker.security("r1")).await.expect("TLS with the generated CA");

    // With the client certificate as well (for sites with require_certificate).
    let (cert, key) = broker.client_cert();
    let with_cert = Security { client_cert: Some(cert), client_key: Some(key), ..broker.security("r1") };
    connect(&url, "r1-bedside-cert", &with_cert).await.expect("TLS with a client certificate");

    let foreign = Security { ca_file: Some(broker.other_ca_file()), ..broker.security("r1") };
    match connect(&url, "r1-foreign", &foreign).await {
        Err(ConnectionError::Tls(e)) => assert!(e.to_string().to_lowercase().contains("certificate"), "{e}"),
        Err(e) => panic!("refused, but not by TLS: {e}"),
        Ok(_) => panic!("a server certificate from an untrusted CA was accepted"),
    }
    assert!(broker.running());
}

#[tokio::test]
async fn a_wrong_or_missing_password_is_refused() {
    if !tools::mosquitto("mqtt_mosquitto::password") {
        return;
    }
    let broker = Mosquitto::start(&users());
    for url in [broker.tls_url(), broker.plain_url()] {
        let right = Security { ca_file: url.tls.then(|| broker.ca_file()), ..broker.security("r1") };
        let wrong = Security { password: Some("r2-pw-Jd9".to_owned()), ..right.clone() };
        match connect(&url, "r1-wrong", &wrong).await {
            Err(ConnectionError::ConnectionRefused(code)) => {
                assert!(
                    matches!(code, ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
                    "{code:?}"
                );
            }
            Err(e) => panic!("{url}: refused for another reason: {e}"),
            Ok(_) => panic!("{url}: a wrong password was accepted"),
        }
        let anonymous = Security { username: None, password: None, ..right.clone() };
        assert!(
            matches!(connect(&url, "anon", &anonymous).await, Err(ConnectionError::ConnectionRefused(_))),
            "{url}: an anonymous client was accepted"
        );
        connect(&url, "r1-right", &right).await.expect("the right password");
    }
}

#[tokio::test]
async fn a_bedside_cannot_publish_to_another_room() {
    if !tools::mosquitto("mqtt_mosquitto::room_acl") {
        return;
    }
    let broker = Mosquitto::start(&users());
    let url = broker.tls_url();
    let mut station = connect(&url, "station", &broker.security(STATION)).await.unwrap();
    assert!(matches!(station.subscribe(&format!("vigil/v1/{SITE}/+/+")).await, SubscribeReasonCode::Success(_)));

    let mut r1 = connect(&url, "r1-bedside", &broker.security("r1")).await.unwrap();
    for kind in ["status", "vitals", "alarms", "alarm_state", "events"] {
        assert!(accepted(r1.publish(&topic("r1", kind), "own").await), "r1 may write its own {kind}");
        assert_eq!(r1.publish(&topic("r2", kind), "forged").await, PubAckReason::NotAuthorized, "r1 wrote r2's {kind}");
    }
    // Not even its own room's `ack`: that is the station's to write.
    assert_eq!(r1.publish(&topic("r1", "ack"), "forged").await, PubAckReason::NotAuthorized);
    assert!(accepted(r1.publish(&topic("r1", "events"), "end").await));

    // The broker delivers in order: once "end" is here, anything forged
    // would have been too.
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(_, payload): &(String, String)| payload != "end") {
        seen.extend(station.publishes_until(&topic("r1", "events")).await);
    }
    let forged: Vec<_> = seen.iter().filter(|(_, payload)| payload == "forged").collect();
    assert!(forged.is_empty(), "the station saw forged messages: {forged:?}");
    let own: Vec<_> = seen.iter().filter(|(_, payload)| payload == "own").map(|(t, _)| t.clone()).collect();
    let kinds = ["status", "vitals", "alarms", "alarm_state", "events"];
    assert_eq!(own, kinds.map(|k| topic("r1", k)).to_vec(), "the station sees r1's own messages, in order");
}

#[tokio::test]
async fn the_station_writes_ack_and_nothing_else() {
    if !tools::mosquitto("mqtt_mosquitto::station_acl") {
        return;
    }
    let broker = Mosquitto::start(&users());
    let url = broker.tls_url();
    let mut r1 = connect(&url, "r1-bedside", &broker.security("r1")).await.unwrap();
    assert!(matches!(r1.subscribe(&topic("r1", "ack")).await, SubscribeReasonCode::Success(_)));
    // A second station session watches everything, as `vigil central` does.
    let mut watcher = connect(&url, "station-watch", &broker.security(STATION)).await.unwrap();
    assert!(matches!(watcher.subscribe("vigil/v1/#").await, SubscribeReasonCode::Success(_)));

    let mut station = connect(&url, "station", &broker.security(STATION)).await.unwrap();
    for kind in ["status", "vitals", "alarms", "alarm_state", "events"] {
        assert_eq!(station.publish(&topic("r1", kind), "forged").await, PubAckReason::NotAuthorized, "{kind}");
    }
    assert_eq!(station.publish("vigil/v1/elsewhere", "forged").await, PubAckReason::NotAuthorized);
    assert!(accepted(station.publish(&topic("r1", "ack"), "ack").await));

    let seen = watcher.publishes_until(&topic("r1", "ack")).await;
    assert_eq!(seen, vec![(topic("r1", "ack"), "ack".to_owned())], "only the ack went through");
    let seen = r1.publishes_until(&topic("r1", "ack")).await;
    assert_eq!(seen, vec![(topic("r1", "ack"), "ack".to_owned())], "the bedside got its ack");
}

#[tokio::test]
async fn a_bedside_cannot_read_another_rooms_ack() {
    if !tools::mosquitto("mqtt_mosquitto::ack_acl") {
        return;
    }
    let broker = Mosquitto::start(&users());
    let url = broker.tls_url();
    let mut r1 = connect(&url, "r1-bedside", &broker.security("r1")).await.unwrap();
    // Whatever the SUBACK says for a filter that reaches other rooms, what
    // counts is what is delivered.
    r1.subscribe(&topic("r2", "ack")).await;
    r1.subscribe(&format!("vigil/v1/{SITE}/+/ack")).await;
    r1.subscribe("vigil/v1/#").await;
    let mut station = connect(&url, "station", &broker.security(STATION)).await.unwrap();
    assert!(accepted(station.publish(&topic("r2", "ack"), "for r2").await));
    assert!(accepted(station.publish(&topic("r1", "ack"), "for r1").await));

    let seen = r1.publishes_until(&topic("r1", "ack")).await;
    assert!(seen.iter().all(|(t, _)| *t == topic("r1", "ack")), "r1 read another room's ack: {seen:?}");
    assert_eq!(seen[0].1, "for r1");
}

#[test]
fn plain_mqtt_to_another_machine_is_refused() {
    for url in ["mqtt://192.0.2.10:1883", "mqtt://broker.example.org", "mqtt://[2001:db8::5]:1883"] {
        let e = url.parse::<BrokerUrl>().expect_err(url);
        assert!(e.contains("mqtts://"), "the error says what to use instead: {e}");
    }
    assert!("mqtts://192.0.2.10:8883".parse::<BrokerUrl>().is_ok());
}
