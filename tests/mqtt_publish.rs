//! The bedside publisher (`--publish`, docs/mqtt.md) against the embedded
//! broker, read by a rumqttc v5 subscriber standing in for the station:
//! what a run publishes, an outage between bedside and broker, a queue
//! overflow, and remote acknowledgements.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alarm_lists;
mod common;

use alarm_lists::{final_alarms, state_alarms};
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

async fn collect(mut events: EventLoop, got: Arc<Mutex<Vec<Got>>>, subscribed: tokio::sync::oneshot::Sender<()>) {
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

fn plan(
    clock: Clock,
    source: SourceFactory,
    devices: Vec<(vigil::model::DeviceLabel, vigil::devices::DeviceSetup)>,
    out: &common::Shared,
    publish: PublishOptions,
) -> SessionPlan {
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

/// A source the test drives: each batch it is sent goes to the session;
/// dropping the sender ends the input.
fn driven_source() -> (mpsc::Sender<Batch>, SourceFactory) {
    let (tx, mut rx) = mpsc::channel::<Batch>(16);
    let source: SourceFactory = Box::new(move |out, _clock, devices| {
        Box::pin(async move {
            devices.admit("chest").unwrap();
            while let Some(b) = rx.recv().await {
                out.send(b).await?;
            }
            Ok(())
        })
    });
    (tx, source)
}

fn link_event(at_s: u64, connected: bool) -> Batch {
    let at = SessionTime::from_secs(at_s);
    let body = if connected {
        EventBody::Connected { name: None, address: None, services: vec![0x180D] }
    } else {
        EventBody::Disconnected { reason: Some("test".into()) }
    };
    Batch { events: vec![SourceEvent { at, device: Some("chest".into()), body }], until: at }
}

/// Disconnect and reconnect the sensor once at `at_s`: `tech.disconnected`
/// raised and cleared, two transitions and two events.
async fn blip(tx: &mpsc::Sender<Batch>, at_s: u64) {
    tx.send(link_event(at_s, false)).await.unwrap();
    tx.send(link_event(at_s + 5, true)).await.unwrap();
}

/// A loopback TCP proxy between bedside and broker that the test can cut
/// (every connection closed, new ones refused) and restore.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
}

impl Proxy {
    async fn start(to: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_rx) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if *cut_rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_during_an_outage_arrive_in_order_after_it() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = Station::start(broker.addr(), "station").await;
    let proxy = Proxy::start(broker.addr()).await;
    let (tx, source) = driven_source();
    let out = common::Shared::default();
    let clock = Clock::virtual_at(Speed::Max, chrono::Utc::now());
    let bedside = tokio::spawn(session::run(plan(clock, source, Vec::new(), &out, publish_to(proxy.addr, "r2"))));

    tx.send(link_event(0, true)).await.unwrap();
    blip(&tx, 10).await;
    let printed_now = || alarm_lines(&lines(&out)).len();
    let all_arrived = |g: &[Got], n: usize| {
        let alarms: Vec<Got> = g.iter().filter(|g| g.topic.ends_with("/alarms")).cloned().collect();
        first_arrivals(&alarms).len() == n
    };
    // Let the session take the batches before counting what it printed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n0 = printed_now();
    assert!(n0 >= 2, "the first blip raised and cleared tech.disconnected");
    station.wait_for(Duration::from_secs(5), "the first transitions", |g| all_arrived(g, n0)).await;

    proxy.set_cut(true);
    // The broker notices the dead link and publishes the Will.
    station
        .wait_for(Duration::from_secs(5), "the Last Will", |g| {
            g.iter().any(|g| g.topic == "vigil/v1/s/r2/status" && g.json["state"] == "offline")
        })
        .await;
    for k in 0..4 {
        blip(&tx, 20 + 10 * k).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(printed_now() >= n0 + 8, "four more blips during the outage");
    assert_eq!(station.on("alarms").len(), n0, "nothing passes while the link is cut");
    proxy.set_cut(false);
    blip(&tx, 70).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = printed_now();
    station.wait_for(Duration::from_secs(15), "every transition after the outage", |g| all_arrived(g, n)).await;
    drop(tx);
    let outcome = bedside.await.unwrap().unwrap();
    assert_eq!(outcome.reason, session::EndReason::EndOfInput);
    station
        .wait_for(Duration::from_secs(5), "status stopped", |g| {
            g.iter().any(|g| g.topic == "vigil/v1/s/r2/status" && g.json["state"] == "stopped")
        })
        .await;

    let printed = alarm_lines(&lines(&out));
    assert_eq!(printed.len(), n);
    assert_every_transition_arrived(&printed, &station.on("alarms"));
    // Status went online again after the outage: retained topics are
    // republished on reconnect.
    let states: Vec<String> =
        station.on("status").iter().map(|g| g.json["state"].as_str().unwrap().to_owned()).collect();
    let offline = states.iter().position(|s| s == "offline").unwrap();
    assert_eq!(states[offline + 1], "online", "{states:?}");
    // Events too: every connection change, in order.
    let events: Vec<Value> = station.on("events").iter().map(|g| g.json["line"].clone()).collect();
    let printed_events: Vec<Value> = lines(&out).into_iter().filter(|l| l["type"] == "connection").collect();
    let mut seen = Vec::new();
    for e in events {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    assert_eq!(seen, printed_events);
    let summary = lines(&out).into_iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(summary["network_dropped"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_overflow_raises_tech_network_and_is_counted() {
    // No broker at all: everything queues.
    let nowhere = free_addr();
    let (tx, source) = driven_source();
    let out = common::Shared::default();
    let clock = Clock::virtual_at(Speed::Max, chrono::Utc::now());
    let publish = publish_to(nowhere, "r3").with_queue_capacity(4);
    let bedside = tokio::spawn(session::run(plan(clock, source, Vec::new(), &out, publish)));
    tx.send(link_event(0, true)).await.unwrap();
    for k in 0..5 {
        blip(&tx, 10 + 10 * k).await;
    }
    // Time for the publisher to take the messages and report the overflow,
    // then one more event for the session to notice it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    blip(&tx, 100).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(tx);
    bedside.await.unwrap().unwrap();

    let lines = lines(&out);
    let network: Vec<&Value> = lines.iter().filter(|l| l["alarm"] == "tech.network").collect();
    assert!(!network.is_empty(), "tech.network is raised: {lines:?}");
    assert_eq!(network[0]["state"], "active");
    assert_eq!(network[0]["priority"], "medium");
    assert!(network[0].get("device").is_none(), "session-wide");
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert!(summary["network_dropped"].as_u64().unwrap() >= 1, "{summary}");
}

/// A session whose sensor is disconnected (`tech.disconnected` active),
/// then a station's ack for it; returns the headless lines.
async fn remote_ack(room: &str, allow: bool, record: Option<&std::path::Path>) -> (Vec<Value>, SessionOutcome, Value) {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = Station::start(broker.addr(), "station").await;
    let (tx, source) = driven_source();
    let out = common::Shared::default();
    let clock = Clock::virtual_at(Speed::Max, chrono::Utc::now());
    let mut publish = publish_to(broker.addr(), room);
    publish.allow_remote_ack = allow;
    let mut plan = plan(clock, source, Vec::new(), &out, publish);
    plan.record = record.map(|dir| vigil::record::RecordOptions {
        root: dir.to_owned(),
        participant: None,
        resume: None,
        ..Default::default()
    });
    let bedside = tokio::spawn(session::run(plan));
    tx.send(link_event(0, true)).await.unwrap();
    tx.send(link_event(10, false)).await.unwrap();
    station
        .wait_for(Duration::from_secs(5), "the alarm", |g| {
            g.iter().any(|g| g.topic.ends_with("/alarms") && g.json["alarm"] == "tech.disconnected")
        })
        .await;
    // The bedside subscribed to `ack` before it published anything.
    let ack = serde_json::json!({"v": 1, "alarm": "tech.disconnected", "device": "chest", "station": "nurses-1"});
    station
        .client
        .publish(format!("vigil/v1/s/{room}/ack"), QoS::AtLeastOnce, false, serde_json::to_vec(&ack).unwrap())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !lines(&out).iter().any(|l| l["type"] == "operator") {
        assert!(tokio::time::Instant::now() < deadline, "the ack never reached the session: {:?}", lines(&out));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(tx);
    let outcome = bedside.await.unwrap().unwrap();
    station
        .wait_for(Duration::from_secs(5), "status stopped", |g| {
            g.iter().any(|g| g.topic.ends_with("/status") && g.json["state"] == "stopped")
        })
        .await;
    let state = station.on("alarm_state").last().unwrap().json.clone();
    (lines(&out), outcome, state)
}

/// The state of `tech.disconnected` in an `alarm_state` payload.
fn disconnected_state(state: &Value) -> Value {
    state["alarms"].as_array().unwrap().iter().find(|a| a["alarm"] == "tech.disconnected").unwrap()["state"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_ack_is_refused_without_the_flag() {
    let (lines, _, state) = remote_ack("r4", false, None).await;
    let op: Vec<&Value> = lines.iter().filter(|l| l["type"] == "operator").collect();
    assert_eq!(op.len(), 1, "{lines:?}");
    assert_eq!(op[0]["action"], "ack_refused");
    assert_eq!(op[0]["station"], "nurses-1");
    assert_eq!(op[0]["alarm"], "tech.disconnected");
    assert_eq!(disconnected_state(&state), "active", "nothing was acknowledged: {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_ack_is_obeyed_with_the_flag_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, outcome, state) = remote_ack("r5", true, Some(dir.path())).await;
    let op: Vec<&Value> = lines.iter().filter(|l| l["type"] == "operator").collect();
    assert_eq!(op.len(), 1, "{lines:?}");
    assert_eq!(op[0]["action"], "remote_ack");
    assert_eq!(op[0]["station"], "nurses-1");
    // An ack has no transition of its own; the retained picture shows it.
    assert_eq!(disconnected_state(&state), "acknowledged", "{state}");
    let recording = vigil::record::Recording::open(outcome.recording.as_deref().unwrap()).unwrap();
    let recorded = recording.events().unwrap();
    assert!(
        recorded.iter().any(|e| matches!(e, vigil::model::OutputEvent::Operator {
            action: vigil::model::OperatorAction::RemoteAck { station, .. }, ..
        } if station == "nurses-1")),
        "recorded in events.arrow with the station: {recorded:?}"
    );
}

#[test]
fn plain_mqtt_to_another_machine_is_refused_on_the_command_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["simulate", "--headless", "--no-record", "--publish", "mqtt://10.1.2.3:1883", "--room", "r1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--publish") && err.contains("mqtts://"), "{err}");
}
