//! Real `vigil` processes for central-station tests: a headless station
//! whose lines are read as they come, and simulated bedsides publishing to
//! the same broker; and the kill/freeze check that runs against the
//! embedded broker and against Mosquitto alike.
//!
//! A login goes to the child through the environment, never its argv.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A broker user name and password.
pub type Login<'a> = Option<(&'a str, &'a str)>;

fn login_env(command: &mut Command, login: Login<'_>) {
    command.env_remove("VIGIL_MQTT_USERNAME").env_remove("VIGIL_MQTT_PASSWORD");
    if let Some((user, password)) = login {
        command.env("VIGIL_MQTT_USERNAME", user).env("VIGIL_MQTT_PASSWORD", password);
    }
}

/// `vigil central --headless` as a child; its stdout lines arrive on the
/// receiver.
pub struct StationProcess {
    child: Child,
    lines: mpsc::Receiver<Value>,
    _log: tempfile::TempDir,
}

impl StationProcess {
    pub fn start(url: &str, site: &str, login: Login<'_>) -> Self {
        let log = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command
            .args(["central", "--broker", url, "--headless", "--site", site])
            .env("VIGIL_LOG", log.path().join("vigil.log"))
            .stdout(Stdio::piped());
        login_env(&mut command, login);
        let mut child = command.spawn().unwrap();
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
    pub fn until(&self, within: Duration, want: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
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

    /// Every line that came within `within`.
    pub fn lines_for(&self, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            seen.push(line);
        }
        seen
    }
}

impl Drop for StationProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real bedside: `vigil simulate tachycardia-episode --speed 8` publishing
/// `room`, headless and not recording.
pub struct BedsideProcess(Child);

impl BedsideProcess {
    pub fn start(url: &str, site: &str, room: &str, seed: u64, login: Login<'_>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command
            .args(["simulate", "tachycardia-episode", "--speed", "8", "--headless", "--no-record", "--seed"])
            .arg(seed.to_string())
            .args(["--publish", url, "--site", site, "--room", room])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        login_env(&mut command, login);
        Self(command.spawn().unwrap())
    }

    pub fn signal(&self, signal: &str) {
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

pub fn is_room(line: &Value, room: &str, state: &str) -> bool {
    line["type"] == "room" && line["room"] == room && line["state"] == state
}

fn room_went_away(line: &Value, room: &str) -> bool {
    is_room(line, room, "comm_lost") || is_room(line, room, "offline")
}

/// The bedsides' default keep-alive: the broker sends a frozen bedside's
/// Will after 1.5 × this.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Issue 20, Must show 2: of three real bedsides (rooms `frozen`, `killed`
/// and `steady`, each logged in as `login(room)`), one killed (`kill -9`)
/// and one frozen (`kill -STOP`, a half-open connection) are shown gone
/// with `tech.comm_lost` within 1.5 × the keep-alive while the third stays
/// online; the frozen one, resumed, is online again, and every room's
/// alarms reach the station in seq order with no gap and no repeat.
pub fn killed_and_frozen_bedsides<'a>(
    url: &str,
    site: &str,
    station_login: Login<'a>,
    login: impl Fn(&'static str) -> Login<'a>,
) {
    let station = StationProcess::start(url, site, station_login);
    let frozen = BedsideProcess::start(url, site, "frozen", 1, login("frozen"));
    let killed = BedsideProcess::start(url, site, "killed", 2, login("killed"));
    let _steady = BedsideProcess::start(url, site, "steady", 3, login("steady"));
    let mut seen = Vec::new();
    let mut online = BTreeSet::new();
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
    let stopped = Instant::now();
    // The first line that shows each room gone, and when it came.
    let mut gone = BTreeMap::new();
    while gone.len() < 2 {
        let lines =
            station.until(Duration::from_secs(10), |l| room_went_away(l, "frozen") || room_went_away(l, "killed"));
        let room = lines.last().unwrap()["room"].as_str().unwrap().to_owned();
        gone.entry(room).or_insert_with(|| stopped.elapsed());
        seen.extend(lines);
    }
    for (room, after) in &gone {
        assert!(*after <= KEEP_ALIVE * 3 / 2, "{room} shown gone only after {after:?}");
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
        assert_contiguous(&seen, room);
    }
}

/// `room`'s alarm lines (but the station's `tech.comm_lost`) carry seq
/// 1, 2, 3, … in order: none lost, none repeated.
pub fn assert_contiguous(lines: &[Value], room: &str) {
    let seqs: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "alarm" && l["room"] == room && l["alarm"] != "tech.comm_lost")
        .map(|l| l["seq"].as_u64().unwrap_or_else(|| panic!("a bedside's alarm line without seq: {l}")))
        .collect();
    let contiguous: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, contiguous, "{room}'s alarms in seq order, none lost or repeated");
}
