//! The central station through Mosquitto, run from the shipped
//! docs/mosquitto.conf and ACL, every client logged in as its own user
//! (issue 20, must-show 2 and 3): a killed and a frozen bedside are shown
//! gone while the others go on, and a 30 s broker outage mid-session
//! pauses neither the bedside's alarms, its dashboard nor its recording,
//! while every alarm transition of the outage reaches the station after
//! the reconnect, in order, once.
//!
//! Waiting for other programs is the one place these tests poll; the
//! bounds they assert are the issue's, not how long something took here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod mosquitto;
mod stations;
mod tmux;
mod tools;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use mosquitto::{Mosquitto, STATION};
use serde_json::Value;
use stations::{StationProcess, assert_contiguous, is_room};
use tmux::Tmux;
use vigil::model::OutputEvent;
use vigil::record::Recording;

const SITE: &str = "ward";

const USERS: [(&str, &str); 5] = [
    (STATION, "station-Pw-4kq8"),
    ("frozen", "frozen-Pw-77ab"),
    ("killed", "killed-Pw-2cd9"),
    ("steady", "steady-Pw-x3n1"),
    ("r1", "r1-Pw-Zt6w"),
];

/// Must show 2 through Mosquitto: the broker, not the station, notices the
/// frozen bedside's half-open connection (1.5 × its keep-alive) and sends
/// its Will.
#[test]
fn a_killed_and_a_frozen_bedside_through_mosquitto() {
    if !tools::mosquitto("central_mosquitto::killed_and_frozen") {
        return;
    }
    let broker = Mosquitto::start(&USERS);
    let url = broker.plain_url().to_string();
    stations::killed_and_frozen_bedsides(&url, SITE, Some((STATION, broker.password(STATION))), |room| {
        Some((room, broker.password(room)))
    });
}

/// The session clock of the bedside's dashboard header (`T+H:MM:SS`).
fn session_clock(screen: &str) -> Option<Duration> {
    let text = screen.lines().next()?.split("T+").nth(1)?.split_whitespace().next()?;
    let parts: Vec<u64> = text.split(':').map(str::parse).collect::<Result<_, _>>().ok()?;
    let [h, m, s] = parts[..] else { return None };
    Some(Duration::from_secs(h * 3600 + m * 60 + s))
}

/// Bytes written under `dir`, every file of every recording.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// What the dashboard and the recording show at one moment of the outage.
#[derive(Debug)]
struct Moment {
    clock: Duration,
    recorded: u64,
}

fn moment(t: &Tmux, records: &Path) -> Moment {
    let screen = t.capture();
    let clock = session_clock(&screen).unwrap_or_else(|| panic!("no session clock on the dashboard:\n{screen}"));
    Moment { clock, recorded: bytes_under(records) }
}

/// The recording's alarm transitions as (alarm, device, priority, state).
fn recorded_transitions(dir: &Path) -> Vec<(String, String, String, String)> {
    let recording = Recording::open(dir).unwrap();
    assert!(recording.meta.segments.iter().all(|s| s.clean_shutdown), "the session ended cleanly");
    recording
        .events()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            OutputEvent::Alarm(a) => Some((
                a.condition.as_str().to_owned(),
                a.device.map(|d| d.as_str().to_owned()).unwrap_or_default(),
                a.priority.as_str().to_owned(),
                a.state.as_str().to_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn as_transition(line: &Value) -> (String, String, String, String) {
    let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
    (text("alarm"), text("device"), text("priority"), text("state"))
}

/// Must show 3: `flaky-sensor` at 10× (a transition every few seconds from
/// 7 s in) on the bedside's dashboard, recording and publishing; the
/// broker stops for 30 s once the first transition reached the station.
#[test]
fn a_30_s_broker_outage_pauses_no_bedside_and_the_station_gets_every_transition_once() {
    if !tools::mosquitto("central_mosquitto::outage") {
        return;
    }
    let mut broker = Mosquitto::start(&USERS);
    let url = broker.plain_url().to_string();
    let station = StationProcess::start(&url, SITE, Some((STATION, broker.password(STATION))));

    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    let password_file = dir.path().join("r1.pass");
    std::fs::write(&password_file, format!("{}\n", broker.password("r1"))).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cmd = format!(
        "{} simulate flaky-sensor --speed 10 --record-dir {} --publish {url} --site {SITE} --room r1 \
         --password-file {} 2>{}/stderr; sleep 60",
        env!("CARGO_BIN_EXE_vigil"),
        records.display(),
        password_file.display(),
        dir.path().display()
    );
    let log = dir.path().join("vigil.log");
    let env = [("VIGIL_LOG", log.to_str().unwrap()), ("VIGIL_MQTT_USERNAME", "r1")];
    let Some(t) = Tmux::start(&cmd, 120, 36, &env) else { return };

    // The first transition (tech.no_contact at 1:10 of the scenario, 7 s
    // in) reaches the station through the broker; then the broker stops.
    let mut seen = station.until(Duration::from_secs(60), |l| l["type"] == "alarm" && l["room"] == "r1");
    broker.stop();
    let down = Instant::now();
    let before = moment(&t, &records);
    seen.extend(station.until(Duration::from_secs(10), |l| l["alarm"] == "tech.broker" && l["state"] == "active"));
    let mut moments = vec![before];
    for at in [15, 30] {
        std::thread::sleep((down + Duration::from_secs(at)).saturating_duration_since(Instant::now()));
        moments.push(moment(&t, &records));
    }
    // Nothing of r1 reached the station while the broker was down.
    let during = station.lines_for(Duration::ZERO);
    assert!(during.iter().all(|l| l["room"] != "r1"), "r1 lines while the broker was down: {during:#?}");
    broker.start_again();

    // The dashboard's clock and the recording went on through the outage:
    // 15 s of wall time is 150 s of session at 10×; allow for a busy machine.
    for pair in moments.windows(2) {
        assert!(pair[1].clock >= pair[0].clock + Duration::from_secs(60), "the dashboard paused: {moments:?}");
        assert!(pair[1].recorded > pair[0].recorded, "the recording paused: {moments:?}");
    }

    // The scenario ends (10 min of session, 60 s here); the operator
    // quits, and the bedside says `stopped`.
    t.wait_for("ENDED", Duration::from_secs(90)).unwrap();
    t.send_keys(&["q"]);
    t.wait_for("Quit vigil?", Duration::from_secs(10)).unwrap();
    t.send_keys(&["y"]);
    seen.extend(station.until(Duration::from_secs(30), |l| is_room(l, "r1", "stopped")));
    seen.extend(station.lines_for(Duration::from_secs(2)));
    let recording = std::fs::read_dir(&records).unwrap().next().unwrap().unwrap().path();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Recording::open(&recording).is_ok_and(|r| r.meta.segments.iter().all(|s| s.clean_shutdown)) {
        assert!(Instant::now() < deadline, "the recording was not closed after quitting");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The station cleared its own alarm, and has r1's transitions as
    // recorded at the bedside: seq 1, 2, 3, … each once, in order,
    // including those of the outage.
    assert!(seen.iter().any(|l| l["alarm"] == "tech.broker" && l["state"] == "cleared"), "{seen:#?}");
    assert_contiguous(&seen, "r1");
    let at_station: Vec<_> = seen
        .iter()
        .filter(|l| l["type"] == "alarm" && l["room"] == "r1" && l["alarm"] != "tech.comm_lost")
        .map(as_transition)
        .collect();
    let recorded = recorded_transitions(&recording);
    assert_eq!(at_station, recorded, "the station's transitions are the bedside's");
    let before_outage = seen.iter().position(|l| l["alarm"] == "tech.broker").unwrap();
    let first_batch = seen[..before_outage].iter().filter(|l| l["type"] == "alarm" && l["room"] == "r1").count();
    assert!(recorded.len() >= first_batch + 5, "the outage held several transitions: {recorded:?}");
}
