//! The bedside publisher (`--publish`, docs/mqtt.md) against the embedded
//! broker, read by a rumqttc v5 subscriber standing in for the station:
//! what a run publishes, an outage between bedside and broker, a queue
//! overflow, and remote acknowledgements.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::model::{Batch, EventBody, SessionTime, SourceEvent};
use vigil::mqtt::broker::EmbeddedBroker;
use vigil::mqtt::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security, options};
use vigil::mqtt::publish::PublishOptions;
use vigil::session::{self, SessionOutcome, SessionPlan, SourceFactory};
use vigil::snapshot::Mode;

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// One message as the station received it.
#[derive(Debug, Clone)]
struct Got {
    topic: String,
    json: Value,
    retain: bool,
    content_type: Option<String>,
    expiry: Option<u32>,
}

/// A station: a subscriber to every room of site `s`, collecting what
/// arrives.
struct Station {
    client: AsyncClient,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Station {
    async fn start(addr: SocketAddr, id: &str) -> Self {
        let opts = options(&BrokerUrl::local(addr.port()), id, DEFAULT_KEEP_ALIVE, &Security::default()).unwrap();
        let (client, events) = AsyncClient::new(opts, 64);
        client.subscribe("vigil/v1/s/+/+", QoS::AtLeastOnce).await.unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        tokio::spawn(collect(events, got.clone(), subscribed_tx));
        tokio::time::timeout(Duration::from_secs(5), subscribed).await.unwrap().unwrap();
        Self { client, got }
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn on(&self, kind: &str) -> Vec<Got> {
        self.all().into_iter().filter(|g| g.topic.ends_with(&format!("/{kind}"))).collect()
    }

    /// Wait (up to `within`) until `done` holds for what arrived.
    async fn wait_for(&self, within: Duration, what: &str, done: impl Fn(&[Got]) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(&self.all()) {
            assert!(tokio::time::Instant::now() < deadline, "the station never saw {what}: {:#?}", self.all());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn collect(
    mut events: EventLoop,
    got: Arc<Mutex<Vec<Got>>>,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tx) = subscribed.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let props = p.properties.clone().unwrap_or_default();
                got.lock().unwrap().push(Got {
                    topic: String::from_utf8(p.topic.to_vec()).unwrap(),
                    json: serde_json::from_slice(&p.payload).unwrap(),
                    retain: p.retain,
                    content_type: props.content_type,
                    expiry: props.message_expiry_interval,
                });
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn publish_to(addr: SocketAddr, room: &str) -> PublishOptions {
    PublishOptions::new(BrokerUrl::local(addr.port()), "s", room)
}

fn plan(clock: Clock, source: SourceFactory, devices: Vec<(vigil::model::DeviceLabel, vigil::devices::DeviceSetup)>, out: &common::Shared, publish: PublishOptions) -> SessionPlan {
    SessionPlan {
        clock,
        source,
        mode: Mode::Simulated,
        config: Config::default(),
        participant: None,
        devices,
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(out.clone())),
        record: None,
        resume: None,
        publish: Some(publish),
    }
}

fn lines(out: &common::Shared) -> Vec<Value> {
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn alarm_lines(lines: &[Value]) -> Vec<Value> {
    lines.iter().filter(|l| l["type"] == "alarm").cloned().collect()
}

/// The bedside's own final alarm list from its headless alarm lines: the
/// last state of each (alarm, device), cleared ones left out.
fn final_alarms(alarms: &[Value]) -> BTreeMap<(String, String), (String, String)> {
    let mut last = BTreeMap::new();
    for a in alarms {
        let key = (a["alarm"].as_str().unwrap().to_owned(), a["device"].as_str().unwrap_or("").to_owned());
        if a["state"] == "cleared" {
            last.remove(&key);
        } else {
            last.insert(key, (a["state"].as_str().unwrap().to_owned(), a["priority"].as_str().unwrap().to_owned()));
        }
    }
    last
}

fn state_alarms(state: &Value) -> BTreeMap<(String, String), (String, String)> {
    state["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                (a["alarm"].as_str().unwrap().to_owned(), a["device"].as_str().unwrap_or("").to_owned()),
                (a["state"].as_str().unwrap().to_owned(), a["priority"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

/// Transitions by first arrival of each seq: duplicates (a resend after a
/// reconnect) are what the station drops.
fn first_arrivals(alarms: &[Got]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    alarms.iter().filter(|g| seen.insert(g.json["seq"].as_u64().unwrap())).map(|g| g.json.clone()).collect()
}

/// Each transition the bedside printed arrived, in order, seq 1..n.
fn assert_every_transition_arrived(printed: &[Value], received: &[Got]) {
    let firsts = first_arrivals(received);
    let seqs: Vec<u64> = firsts.iter().map(|t| t["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=printed.len() as u64).collect();
    assert_eq!(seqs, want, "seq from 1, no gap, in order");
    for (t, line) in firsts.iter().zip(printed) {
        assert_ne!(t["state"], "pending");
        for field in ["alarm", "priority", "state", "at_ms"] {
            assert_eq!(t[field], line[field], "{field} of seq {}", t["seq"]);
        }
        assert_eq!(t["device"], line["device"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_publishes_status_vitals_alarms_and_the_final_alarm_state() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = Station::start(broker.addr(), "station").await;
    let (source, devices) = common::scenario_source("tachycardia-episode");
    let labels: Vec<String> = devices.iter().map(|(l, _)| l.as_str().to_owned()).collect();
    let out = common::Shared::default();
    let clock = Clock::virtual_at(Speed::Max, chrono::Utc::now());
    let outcome: SessionOutcome =
        session::run(plan(clock, source, devices, &out, publish_to(broker.addr(), "r1"))).await.unwrap();
    assert_eq!(outcome.reason, session::EndReason::EndOfInput);

    station
        .wait_for(Duration::from_secs(5), "status stopped", |g| {
            g.iter().any(|g| g.topic == "vigil/v1/s/r1/status" && g.json["state"] == "stopped")
        })
        .await;
    let printed = alarm_lines(&lines(&out));
    assert!(printed.len() >= 2, "the scenario raises alarms: {printed:?}");
    let received = station.on("alarms");
    assert_every_transition_arrived(&printed, &received);
    assert!(received.iter().all(|g| !g.retain && g.content_type.as_deref() == Some("application/json")));

    let status = station.on("status");
    assert_eq!(status[0].json["state"], "online");
    assert_eq!(status[0].json["v"], 1);
    let session_id = status[0].json["session"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&session_id).is_ok(), "a session that does not record has a fresh UUID");
    assert_eq!(status[0].json["devices"], serde_json::json!(labels));
    let vitals = station.on("vitals");
    assert!(!vitals.is_empty(), "vitals are published");
    assert_eq!(vitals[0].expiry, Some(10));
    assert!(vitals.iter().all(|v| v.json["session"] == session_id.as_str()));

    // The last alarm_state is the bedside's own final list, with the last seq.
    let states = station.on("alarm_state");
    let last = &states.last().unwrap().json;
    assert_eq!(last["seq"].as_u64().unwrap(), printed.len() as u64);
    assert_eq!(state_alarms(last), final_alarms(&printed));

    // Retained: a station that subscribes now learns the room's state.
    let late = Station::start(broker.addr(), "late-station").await;
    late.wait_for(Duration::from_secs(5), "retained status and alarm_state", |g| {
        g.iter().any(|g| g.topic.ends_with("/status") && g.retain && g.json["state"] == "stopped")
            && g.iter().any(|g| g.topic.ends_with("/alarm_state") && g.retain)
            && g.iter().any(|g| g.topic.ends_with("/vitals") && g.retain)
    })
    .await;
    let summary = lines(&out).into_iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(summary["network_dropped"], 0);
}
