//! `vigil central --headless` as a child process against an embedded
//! broker, fed by a test publisher speaking the payload types: alarm lines
//! name their room, a bedside's Last Will is `comm_lost` at once, and bad
//! payloads are survived.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod stations;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use serde_json::{Value, json};
use vigil::mqtt::broker::EmbeddedBroker;
use vigil::mqtt::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security, options};
use vigil::mqtt::payload::{AlarmTransition, RoomState, Status, VERSION};

use stations::{StationProcess, is_room};

const SITE: &str = "test-site";

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn topic(room: &str, kind: &str) -> String {
    format!("vigil/v1/{SITE}/{room}/{kind}")
}

fn status(state: RoomState) -> Vec<u8> {
    serde_json::to_vec(&Status {
        v: VERSION,
        state,
        session: "sess-1".into(),
        participant: Some("P-042".into()),
        started: "2026-12-07T16:00:00.000Z".into(),
        vigil_version: "test".into(),
        devices: vec!["hr".into()],
    })
    .unwrap()
}

fn transition(seq: u64, state: &str) -> Vec<u8> {
    serde_json::to_vec(&AlarmTransition {
        v: VERSION,
        seq,
        session: "sess-1".into(),
        at: format!("2026-12-07T16:00:0{seq}.000Z"),
        at_ms: seq * 1000,
        alarm: "hr.high".into(),
        device: Some("hr".into()),
        priority: "high".into(),
        state: state.into(),
        value: Some(151.0),
    })
    .unwrap()
}

/// A bedside test client whose Last Will marks `room` offline; connected
/// (ConnAck seen) on return, its event loop driven by a task.
async fn bedside(addr: SocketAddr, room: &str) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let mut opts =
        options(&BrokerUrl::local(addr.port()), &format!("bedside-{room}"), DEFAULT_KEEP_ALIVE, &Security::default())
            .unwrap();
    opts.set_last_will(LastWill::new(topic(room, "status"), status(RoomState::Offline), QoS::AtLeastOnce, true, None));
    let (client, mut events): (AsyncClient, EventLoop) = AsyncClient::new(opts, 64);
    let (up_tx, up_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut up = Some(up_tx);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(tx) = up.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("test bedside lost its broker: {e}"),
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), up_rx).await.unwrap().unwrap();
    (client, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_lines_name_their_room_and_a_last_will_is_comm_lost() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = StationProcess::start(&format!("mqtt://{}", broker.addr()), SITE, None);
    let (client, task) = bedside(broker.addr(), "room-7").await;
    client.publish(topic("room-7", "status"), QoS::AtLeastOnce, true, status(RoomState::Online)).await.unwrap();
    // Retained: the station sees it whenever its subscription lands.
    station.until(Duration::from_secs(10), |l| is_room(l, "room-7", "online"));

    // A bad payload and a foreign version are survived.
    client.publish(topic("room-7", "alarms"), QoS::AtLeastOnce, false, b"{not json".to_vec()).await.unwrap();
    let v2 = json!({"v": 2, "seq": 1});
    client.publish(topic("room-7", "alarms"), QoS::AtLeastOnce, false, v2.to_string()).await.unwrap();
    for (seq, state) in [(1, "active"), (1, "active"), (2, "acknowledged")] {
        client.publish(topic("room-7", "alarms"), QoS::AtLeastOnce, false, transition(seq, state)).await.unwrap();
    }
    let seen = station.until(Duration::from_secs(5), |l| l["type"] == "alarm" && l["seq"] == 2);
    let alarms: Vec<&Value> = seen.iter().filter(|l| l["type"] == "alarm").collect();
    assert_eq!(alarms.len(), 2, "seq 1 once, then seq 2: {seen:#?}");
    assert_eq!(
        alarms[0],
        &json!({"type":"alarm","room":"room-7","alarm":"hr.high","device":"hr","priority":"high",
                "state":"active","seq":1,"at":"2026-12-07T16:00:01.000Z"})
    );
    assert_eq!(alarms[1]["state"], "acknowledged");

    // The bedside's socket dies without DISCONNECT: its Will is comm_lost.
    task.abort();
    let _ = task.await;
    drop(client);
    let seen = station.until(Duration::from_secs(5), |l| is_room(l, "room-7", "comm_lost"));
    assert!(
        seen.iter().any(|l| l["type"] == "alarm" && l["alarm"] == "tech.comm_lost" && l["room"] == "room-7"),
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_room_is_comm_lost() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = StationProcess::start(&format!("mqtt://{}", broker.addr()), SITE, None);
    // Connected and holding its socket open, but sending no vitals.
    let (client, _task) = bedside(broker.addr(), "room-2").await;
    client.publish(topic("room-2", "status"), QoS::AtLeastOnce, true, status(RoomState::Online)).await.unwrap();
    station.until(Duration::from_secs(10), |l| is_room(l, "room-2", "online"));
    let started = std::time::Instant::now();
    station.until(Duration::from_secs(10), |l| is_room(l, "room-2", "comm_lost"));
    assert!(started.elapsed() >= Duration::from_secs(4), "not before max(5 s, 3 × interval) of silence");
}

/// Issue 20, Must show 2, through the embedded broker (`central_mosquitto`
/// runs the same through Mosquitto).
#[test]
fn a_killed_and_a_frozen_bedside_are_comm_lost_and_the_frozen_one_comes_back() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let url = format!("mqtt://{}", broker.addr());
    stations::killed_and_frozen_bedsides(&url, SITE, None, |_| None);
}
