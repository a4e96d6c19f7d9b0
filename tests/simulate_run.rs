//! Pacing and scenario-file errors.

// Helpers outside `#[test]` functions are test code too (clippy.toml only
// allows unwrap/expect inside the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use vigil::clock::{Clock, Speed};
use vigil::model::{Batch, SessionTime, SourceEvent};
use vigil::sources::simulate::{self, SimError};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().with_timezone(&Utc)
}

async fn collect(clock: Clock, until: SessionTime) -> Vec<SourceEvent> {
    let scenario = simulate::load("multi-sensor").unwrap();
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let task = tokio::spawn(async move { simulate::run(&scenario, 9, clock, tx).await });
    let mut events = Vec::new();
    while let Some(batch) = rx.recv().await {
        events.extend(batch.events.into_iter().filter(|e| e.at < until));
        if batch.until >= until {
            break;
        }
    }
    drop(rx);
    // The simulator notices that nobody listens any more and stops.
    assert!(matches!(task.await.unwrap(), Err(SimError::ChannelClosed { .. })));
    events
}

/// At a finite speed (1000×: 8 s of session in 8 ms), `run` paces the same
/// events that `batches` generates unpaced and `--speed max` sends. On
/// tokio's paused clock the pacing costs no real time and its waits are
/// exact.
#[tokio::test(start_paused = true)]
async fn paced_run_delivers_exactly_the_unpaced_events() {
    let until = SessionTime::from_secs(8);
    let expected: Vec<SourceEvent> = simulate::load("multi-sensor")
        .unwrap()
        .batches(9)
        .take_while(|b| b.until <= until)
        .flat_map(|b| b.events)
        .collect();
    assert!(expected.len() > 30, "a few seconds of five sensors");
    let started = tokio::time::Instant::now();
    let paced = collect(Clock::virtual_at(Speed::Times(1000.0), start()), until).await;
    // 8 ms to the batch at 8 s, and to the next one (9 ms), whose send
    // tells the simulator that nobody listens; tokio's timer rounds each
    // wait up to its millisecond.
    let took = started.elapsed();
    assert!((Duration::from_millis(8)..=Duration::from_millis(10)).contains(&took), "{took:?}");
    assert_eq!(paced, expected);
    let max = collect(Clock::virtual_at(Speed::Max, start()), until).await;
    assert_eq!(max, expected);
}

#[tokio::test]
async fn speed_max_runs_to_the_end_and_closes_the_channel() {
    let scenario = simulate::load("tachycardia-episode").unwrap();
    let (tx, mut rx) = mpsc::channel::<Batch>(16);
    let task =
        tokio::spawn(async move { simulate::run(&scenario, 1, Clock::virtual_at(Speed::Max, start()), tx).await });
    let mut batches = 0;
    let mut last = SessionTime::ZERO;
    while let Some(b) = rx.recv().await {
        batches += 1;
        last = b.until;
    }
    assert_eq!(batches, 600);
    assert_eq!(last, SessionTime::from_secs(600));
    assert_eq!(task.await.unwrap(), Ok(()));
}

fn error_of(text: &str) -> String {
    simulate::parse("bad.toml", text).unwrap_err().to_string()
}

const DEVICE: &str = "[[devices]]\nlabel = \"chest\"\nprofile = \"polar-h10\"\nname = \"Polar H10 1\"\naddress = \"A0:9E:1A:00:00:01\"\n";

#[test]
fn scenario_errors_name_file_line_and_key() {
    let head = "name = \"x\"\ndescription = \"d\"\nduration = \"10m\"\n";
    // Unknown key (line 4).
    let e = error_of(&format!("{head}colour = 1\n{DEVICE}"));
    assert!(e.starts_with("bad.toml:4: ") && e.contains("colour"), "{e}");
    // Bad time spelling, with the offending text.
    let e = error_of(&format!("name = \"x\"\ndescription = \"d\"\nduration = \"ten minutes\"\n{DEVICE}"));
    assert!(e.starts_with("bad.toml:3: ") && e.contains("ten minutes"), "{e}");
    // Unknown profile: the device's key, and the profiles there are.
    let e = error_of(&format!("{head}{}", DEVICE.replace("polar-h10", "polar-h11")));
    assert!(e.contains("devices[0].profile") && e.contains("polar-h11") && e.contains("generic-hr"), "{e}");
    // An event naming a device that does not exist (the event starts on line 10).
    let e = error_of(&format!(
        "{head}{DEVICE}\n[[events]]\nat = \"1m\"\nkind = \"dropout\"\ndevice = \"chset\"\nduration = \"5s\"\n"
    ));
    assert!(e.starts_with("bad.toml:10: events[0].device: ") && e.contains("chset") && e.contains("chest"), "{e}");
    // A key that does not belong to the kind.
    let e = error_of(&format!(
        "{head}{DEVICE}[[events]]\nat = \"1m\"\nkind = \"marker\"\nlabel = \"x\"\ndevice = \"chest\"\n"
    ));
    assert!(e.contains("events[0].device") && e.contains("does not apply"), "{e}");
    // An event after the end.
    let e = error_of(&format!("{head}{DEVICE}[[events]]\nat = \"11m\"\nkind = \"marker\"\nlabel = \"late\"\n"));
    assert!(e.contains("events[0].at"), "{e}");
    // A "malformed" payload that is in fact well formed.
    let e = error_of(&format!(
        "{head}{DEVICE}[[events]]\nat = \"1m\"\nkind = \"malformed\"\ndevice = \"chest\"\ncharacteristic = \"2a37\"\npayload = \"063c\"\n"
    ));
    assert!(e.contains("events[0].payload") && e.contains("well-formed"), "{e}");
    // NaN on a strap, which has no FLOAT.
    let e = error_of(&format!("{head}{DEVICE}[[events]]\nat = \"1m\"\nkind = \"invalid\"\ndevice = \"chest\"\n"));
    assert!(e.contains("events[0].device") && e.contains("FLOAT"), "{e}");
    // Keyframes out of order.
    let e =
        error_of(&format!("{head}{DEVICE}[physiology.heart_rate_bpm]\nkeyframes = [[\"0:05\", 80], [\"0:01\", 90]]\n"));
    assert!(e.contains("physiology.heart_rate_bpm.keyframes") && e.contains("increase"), "{e}");
    // An operator action in the scenario takes model.rs's serde form.
    let e = error_of(&format!(
        "{head}{DEVICE}[[events]]\nat = \"1m\"\nkind = \"action\"\naction = {{ action = \"snooze\" }}\n"
    ));
    assert!(e.contains("events[0].action") && e.contains("snooze"), "{e}");
    let ok = simulate::parse(
        "ok.toml",
        &format!(
            "{head}{DEVICE}[[events]]\nat = \"1m\"\nkind = \"action\"\naction = {{ action = \"ack\", alarm = \"hr.high\" }}\n"
        ),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn load_explains_an_unknown_scenario() {
    let e = simulate::load("no-such-scenario").unwrap_err().to_string();
    assert!(e.contains("no-such-scenario") && e.contains("mdma-session"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, format!("name = \"mine\"\ndescription = \"d\"\nduration = 60\n{DEVICE}")).unwrap();
    let s = simulate::load(path.to_str().unwrap()).unwrap();
    assert_eq!(s.name, "mine");
    assert_eq!(s.batches(1).count(), 60);
}

/// The session spawns sources on a multi-threaded runtime.
#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let scenario = simulate::load("flaky-sensor").unwrap();
    let (tx, _rx) = mpsc::channel::<Batch>(1);
    let fut = simulate::run(&scenario, 1, Clock::virtual_at(Speed::Max, start()), tx);
    assert_send(&fut);
}
