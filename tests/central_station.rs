//! `vigil central --headless` as a child process against an embedded
//! broker, fed by a test publisher speaking the payload types: alarm lines
//! name their room, a bedside's Last Will is `comm_lost` at once, and bad
//! payloads are survived.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use serde_json::{Value, json};
use vigil::mqtt::broker::EmbeddedBroker;
use vigil::mqtt::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security, options};
use vigil::mqtt::payload::{AlarmTransition, RoomState, Status, VERSION};

const SITE: &str = "test-site";

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The station as a child; its stdout lines arrive on the receiver.
struct StationProcess {
    child: Child,
    lines: mpsc::Receiver<Value>,
    _log: tempfile::TempDir,
}

impl StationProcess {
    fn start(addr: SocketAddr) -> Self {
        let log = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["central", "--broker", &format!("mqtt://{addr}"), "--headless", "--site", SITE])
            .env("VIGIL_LOG", log.path().join("vigil.log"))
            .env_remove("VIGIL_MQTT_USERNAME")
            .env_remove("VIGIL_MQTT_PASSWORD")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, _log: log }
    }

    /// The first line matching `want` within `within`; the lines before it
    /// are returned too.
    fn until(&self, within: Duration, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = want(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no such line within {within:?}; saw {seen:#?}"),
            }
        }
    }
}

impl Drop for StationProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

fn is_room(line: &Value, room: &str, state: &str) -> bool {
    line["type"] == "room" && line["room"] == room && line["state"] == state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_lines_name_their_room_and_a_last_will_is_comm_lost() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = StationProcess::start(broker.addr());
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
    let station = StationProcess::start(broker.addr());
    // Connected and holding its socket open, but sending no vitals.
    let (client, _task) = bedside(broker.addr(), "room-2").await;
    client.publish(topic("room-2", "status"), QoS::AtLeastOnce, true, status(RoomState::Online)).await.unwrap();
    station.until(Duration::from_secs(10), |l| is_room(l, "room-2", "online"));
    let started = std::time::Instant::now();
    station.until(Duration::from_secs(10), |l| is_room(l, "room-2", "comm_lost"));
    assert!(started.elapsed() >= Duration::from_secs(4), "not before max(5 s, 3 × interval) of silence");
}

/// A real bedside: `vigil simulate` publishing `room` to the broker at `addr`.
struct BedsideProcess(Child);

impl BedsideProcess {
    fn start(addr: SocketAddr, room: &str, seed: u64) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["simulate", "tachycardia-episode", "--speed", "8", "--headless", "--no-record", "--seed"])
            .arg(seed.to_string())
            .args(["--publish", &format!("mqtt://{addr}"), "--site", SITE, "--room", room])
            .env_remove("VIGIL_MQTT_USERNAME")
            .env_remove("VIGIL_MQTT_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.0.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for BedsideProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn room_went_away(line: &Value, room: &str) -> bool {
    is_room(line, room, "comm_lost") || is_room(line, room, "offline")
}

/// Issue 20, Must show 2: of three real bedsides, one killed (`kill -9`)
/// and one frozen (`kill -STOP`, a half-open connection) are shown as gone
/// within 8 s while the third stays online; the frozen one, resumed, is
/// online again, and every room's alarms reach the station in seq order
/// with no gap and no repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_a_frozen_bedside_are_comm_lost_and_the_frozen_one_comes_back() {
    let broker = EmbeddedBroker::start(free_addr()).unwrap();
    let station = StationProcess::start(broker.addr());
    let frozen = BedsideProcess::start(broker.addr(), "frozen", 1);
    let killed = BedsideProcess::start(broker.addr(), "killed", 2);
    let _steady = BedsideProcess::start(broker.addr(), "steady", 3);
    let mut seen = Vec::new();
    let mut online = std::collections::BTreeSet::new();
    while online.len() < 3 {
        let lines = station.until(Duration::from_secs(20), |l| l["type"] == "room" && l["state"] == "online");
        online.insert(lines.last().unwrap()["room"].as_str().unwrap().to_owned());
        seen.extend(lines);
    }
    // At --speed 8 the PSVT (0:20) raises hr.high within ~8 s; freeze
    // once the frozen room has raised one, so its queue has a past.
    seen.extend(station.until(Duration::from_secs(40), |l| l["type"] == "alarm" && l["room"] == "frozen"));

    frozen.signal("-STOP");
    killed.signal("-KILL");
    let stopped = std::time::Instant::now();
    // The first line that shows each room gone, and when it came.
    let mut gone = std::collections::BTreeMap::new();
    while gone.len() < 2 {
        let lines =
            station.until(Duration::from_secs(10), |l| room_went_away(l, "frozen") || room_went_away(l, "killed"));
        let room = lines.last().unwrap()["room"].as_str().unwrap().to_owned();
        gone.entry(room).or_insert_with(|| stopped.elapsed());
        seen.extend(lines);
    }
    for (room, after) in &gone {
        assert!(*after <= Duration::from_secs(8), "{room} shown gone only after {after:?}");
    }

    frozen.signal("-CONT");
    seen.extend(station.until(Duration::from_secs(20), |l| is_room(l, "frozen", "online")));
    // The resumed bedside delivers what it queued while frozen, and goes
    // on: the PSVT breaks at 4:00 (30 s at --speed 8), and its high
    // hr.high alarms latch.
    seen.extend(
        station.until(Duration::from_secs(60), |l| {
            l["type"] == "alarm" && l["room"] == "frozen" && l["state"] == "latched"
        }),
    );

    assert!(!seen.iter().any(|l| room_went_away(l, "steady")), "the steady room never went away: {seen:#?}");
    // The station's own technical alarm (no bedside seq) for each room gone.
    for room in ["frozen", "killed"] {
        let comm_lost = |l: &&Value| l["room"] == room && l["alarm"] == "tech.comm_lost" && l["state"] == "active";
        assert!(seen.iter().any(|l| comm_lost(&l)), "{room} raised tech.comm_lost");
    }
    for room in ["frozen", "killed", "steady"] {
        let seqs: Vec<u64> = seen
            .iter()
            .filter(|l| l["type"] == "alarm" && l["room"] == room && l["alarm"] != "tech.comm_lost")
            .map(|l| l["seq"].as_u64().unwrap_or_else(|| panic!("a bedside's alarm line without seq: {l}")))
            .collect();
        let contiguous: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, contiguous, "{room}'s alarms in seq order, none lost or repeated");
    }
}
