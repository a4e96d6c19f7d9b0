//! The `vigil` program publishing to Mosquitto (run from the shipped
//! docs/mosquitto.conf and ACL), watched by a plain `mosquitto_sub`
//! (issue 20, must-show 1 and 3): what a run publishes is what docs/mqtt.md
//! says, a broker outage mid-session neither pauses the bedside nor loses
//! an alarm transition, and the password shows up in no process list or
//! log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alarm_lists;
mod mosquitto;
mod tools;

use alarm_lists::{final_alarms, state_alarms};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mosquitto::{Mosquitto, STATION, Seen};
use serde_json::Value;

const R1_PASSWORD: &str = "r1-Secret-5hQz";

fn users() -> [(&'static str, &'static str); 2] {
    [(STATION, "station-Secret-9pLw"), ("r1", R1_PASSWORD)]
}

/// A running `vigil simulate ... --headless --publish`; its headless lines
/// are read as they come.
struct Bedside {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Bedside {
    /// Run `vigil simulate SCENARIO --speed SPEED --headless --publish URL
    /// --site ward --room r1`, logged in as r1 (user name from the
    /// environment; the password from the environment or a file).
    fn start(broker: &Mosquitto, scenario: &str, speed: &str, password_file: Option<&Path>) -> Self {
        let log = broker.dir().join("vigil.log");
        let url = broker.plain_url().to_string();
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command
            .args(["simulate", scenario, "--speed", speed, "--headless", "--publish", &url, "--site", "ward"])
            .args(["--room", "r1"])
            .env("VIGIL_MQTT_USERNAME", "r1")
            .env_remove("VIGIL_MQTT_PASSWORD")
            .env("VIGIL_LOG", &log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(broker.dir().join("vigil.stderr")).unwrap());
        match password_file {
            Some(file) => {
                command.arg("--password-file").arg(file);
            }
            None => {
                command.env("VIGIL_MQTT_PASSWORD", R1_PASSWORD);
            }
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                assert!(!line.contains(R1_PASSWORD), "the password in vigil's output");
                sink.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        });
        Self { child, lines, reader: Some(reader) }
    }

    fn alarm_lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().iter().filter(|l| l["type"] == "alarm").cloned().collect()
    }

    /// Wait for the run to end; every headless line.
    fn finish(mut self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "vigil did not finish");
            std::thread::sleep(Duration::from_millis(50));
        };
        self.reader.take().unwrap().join().unwrap();
        assert!(status.success(), "vigil simulate failed ({status})");
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Bedside {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Nothing of the password in `ps` (taken while the bedside runs), in
/// vigil's log file or its stderr, or in the broker's log.
fn assert_password_hidden(broker: &Mosquitto, bedside_running: bool) {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    if bedside_running {
        assert!(ps.contains("--publish"), "ps lists the running bedside: {ps}");
    }
    assert!(!ps.contains(R1_PASSWORD), "the password is in ps: {ps}");
    for file in ["vigil.log", "vigil.stderr", "mosquitto.log"] {
        let text = std::fs::read_to_string(broker.dir().join(file)).unwrap_or_default();
        assert!(!text.contains(R1_PASSWORD), "the password is in {file}");
    }
}

/// Transitions in order of first arrival (a resend after a reconnect is a
/// duplicate the station drops by seq), as JSON.
fn first_arrivals(seen: &[Seen]) -> Vec<Value> {
    let mut seqs = std::collections::HashSet::new();
    seen.iter()
        .filter(|s| s.kind() == "alarms")
        .map(Seen::json)
        .filter(|t| seqs.insert(t["seq"].as_u64().unwrap()))
        .collect()
}

/// The bedside's printed transitions arrived, seq 1..n with no gap, in
/// order, each the same alarm, device, priority and state.
fn assert_transitions_match(printed: &[Value], seen: &[Seen]) {
    let arrived = first_arrivals(seen);
    let seqs: Vec<u64> = arrived.iter().map(|t| t["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=printed.len() as u64).collect::<Vec<_>>(), "seq from 1, contiguous, in order");
    for (t, line) in arrived.iter().zip(printed) {
        for field in ["alarm", "device", "priority", "state"] {
            assert_eq!(t[field], line[field], "{field} of seq {}", t["seq"]);
        }
    }
}

fn stopped(seen: &[Seen]) -> bool {
    seen.iter().any(|s| s.kind() == "status" && s.json()["state"] == "stopped")
}

/// Must-show 1: a simulated MDMA session published to Mosquitto is what a
/// plain subscriber sees as docs/mqtt.md describes it.
#[test]
fn a_published_session_is_seen_by_mosquitto_sub_as_documented() {
    if !tools::mosquitto("mqtt_mosquitto_bedside::published_session") {
        return;
    }
    let broker = Mosquitto::start(&users());
    let sub = broker.sub(STATION, "vigil/v1/ward/r1/+", "vigil/v1/ward/r1/ack");
    let password_file = broker.dir().join("r1.pass");
    std::fs::write(&password_file, format!("{R1_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let bedside = Bedside::start(&broker, "mdma-session", "max", Some(&password_file));
    sub.wait_for(Duration::from_secs(30), "status online", |s| s.iter().any(|s| s.kind() == "status"));
    assert_password_hidden(&broker, true);
    let lines = bedside.finish();
    let seen = sub.wait_for(Duration::from_secs(15), "status stopped", stopped);
    let seen: Vec<Seen> = seen.into_iter().filter(|s| s.payload != "probe").collect();

    let printed: Vec<Value> = lines.iter().filter(|l| l["type"] == "alarm").cloned().collect();
    assert!(!printed.is_empty(), "mdma-session raises alarms");
    let summary = lines.iter().find(|l| l["type"] == "summary").expect("a summary line");
    assert_eq!(summary["network_dropped"], 0);

    for s in &seen {
        assert_eq!(s.content_type, "application/json", "{s:?}");
        assert_eq!(s.json()["v"], 1, "{s:?}");
    }
    let status: Vec<&Seen> = seen.iter().filter(|s| s.kind() == "status").collect();
    assert_eq!(status[0].json()["state"], "online");
    assert_eq!(status.last().unwrap().json()["state"], "stopped");
    assert!(status.iter().all(|s| s.qos == 1), "status at QoS 1");
    let vitals: Vec<&Seen> = seen.iter().filter(|s| s.kind() == "vitals").collect();
    assert!(!vitals.is_empty(), "vitals are published");
    assert!(vitals.iter().all(|v| v.qos == 0 && v.expiry.is_some_and(|e| e > 0 && e <= 10)), "{vitals:?}");
    let alarms: Vec<&Seen> = seen.iter().filter(|s| s.kind() == "alarms").collect();
    assert!(alarms.iter().all(|a| a.qos == 1 && !a.retain), "alarms at QoS 1, not retained");
    assert_transitions_match(&printed, &seen);
    let state = seen.iter().rfind(|s| s.kind() == "alarm_state").expect("alarm_state").json();
    assert_eq!(state["seq"].as_u64().unwrap(), printed.len() as u64, "the last alarm_state includes every transition");
    assert_eq!(state_alarms(&state), final_alarms(&printed), "alarm_state is the bedside's own list at the end");

    // Retained: a subscriber that comes now gets status, vitals and
    // alarm_state at once, with the retain flag (vitals expire after 10 s).
    let late = broker.sub(STATION, "vigil/v1/ward/+/+", "vigil/v1/ward/r1/ack");
    let retained = late.wait_for(Duration::from_secs(10), "the retained topics", |s| {
        ["status", "vitals", "alarm_state"].iter().all(|k| s.iter().any(|s| s.kind() == *k && s.retain))
    });
    let last_state = retained.iter().find(|s| s.kind() == "alarm_state").unwrap().json();
    assert_eq!(state_alarms(&last_state), final_alarms(&printed));
    assert!(retained.iter().all(|s| s.kind() != "alarms"), "alarm transitions are not retained");
    assert_password_hidden(&broker, false);
}

/// Must-show 3: the broker stops mid-session and comes back. The bedside's
/// headless output goes on meanwhile, and every transition of the outage
/// reaches the subscriber after the reconnect, in order, none lost.
#[test]
fn a_broker_outage_pauses_nothing_and_loses_no_transition() {
    if !tools::mosquitto("mqtt_mosquitto_bedside::outage") {
        return;
    }
    let mut broker = Mosquitto::start(&users());
    let sub = broker.sub(STATION, "vigil/v1/ward/r1/+", "vigil/v1/ward/r1/ack");
    // tachycardia-episode at 60×: two hr.high go active about 0.7 s in,
    // both latch about 4.1 s in, the run ends at 10 s.
    let bedside = Bedside::start(&broker, "tachycardia-episode", "60", None);
    sub.wait_for(Duration::from_secs(30), "the first two transitions", |s| first_arrivals(s).len() >= 2);
    assert_password_hidden(&broker, true);
    broker.stop();
    let printed_before = bedside.alarm_lines().len();

    // The broker stays down until the bedside has printed the next
    // transitions: were the bedside waiting on the network, they would
    // never come and this fails.
    let deadline = Instant::now() + Duration::from_secs(30);
    while bedside.alarm_lines().len() < printed_before + 2 {
        assert!(Instant::now() < deadline, "the bedside's headless output paused while the broker was down");
        std::thread::sleep(Duration::from_millis(20));
    }
    let during_outage = bedside.alarm_lines()[printed_before..].to_vec();
    assert!(first_arrivals(&sub.seen()).len() <= printed_before, "nothing arrived while the broker was down");
    broker.start_again();

    let lines = bedside.finish();
    let seen = sub.wait_for(Duration::from_secs(20), "status stopped", stopped);
    let printed: Vec<Value> = lines.iter().filter(|l| l["type"] == "alarm").cloned().collect();
    assert_transitions_match(&printed, &seen);
    let arrived = first_arrivals(&seen);
    for line in &during_outage {
        assert!(
            arrived
                .iter()
                .any(|t| t["alarm"] == line["alarm"] && t["device"] == line["device"] && t["state"] == line["state"]),
            "a transition of the outage never arrived: {line}"
        );
    }
    let summary = lines.iter().find(|l| l["type"] == "summary").expect("a summary line");
    assert_eq!(summary["network_dropped"], 0, "nothing overflowed the queue");
    let state = seen.iter().rfind(|s| s.kind() == "alarm_state").unwrap().json();
    assert_eq!(state_alarms(&state), final_alarms(&printed));
    assert_password_hidden(&broker, false);
}
