//! A recorder killed with SIGKILL loses at most the last second, its files
//! still read, `recover` refuses while it lives and finalises it after.
//!
//! The writer is this test binary itself, re-run as a child with the ignored
//! test `child_writer`, which records a synthetic session paced in real time.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tools;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil::clock::Clock;
use vigil::model::{EventBody, SessionTime};
use vigil::record::{RecordError, RecordMsg, RecordOptions, Recorder, Recording, recover, synthetic};

const ROOT_ENV: &str = "VIGIL_KILL_TEST_ROOT";
/// Kill once the child reports this much session time sent.
const KILL_AFTER: SessionTime = SessionTime::from_millis(3000);

/// The child: records until killed. Ignored, so it runs only when asked.
#[test]
#[ignore = "run by killed_recorder_loses_at_most_the_last_second as its child"]
fn child_writer() {
    let Ok(root) = std::env::var(ROOT_ENV) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let clock = Clock::real();
    let opts = RecordOptions {
        root: PathBuf::from(root),
        participant: Some("K01".into()),
        resume: None,
        ..Default::default()
    };
    let rec = Recorder::start(&opts, clock.start_utc(), serde_json::Value::Null).unwrap();
    // Leading newline: libtest has printed "test child_writer ... " already.
    println!("\ndir {}", rec.dir().display());
    let tx = rec.sender();
    for second in synthetic::session(2, 3600, 11) {
        // One message per instant, sent when it is due.
        let mut times: Vec<SessionTime> = second.events.iter().map(|e| e.at).collect();
        times.dedup();
        for at in times {
            rt.block_on(clock.sleep_until(at));
            let msg = RecordMsg::Batch {
                events: second.events.iter().filter(|e| e.at == at).cloned().collect(),
                samples: second.samples.iter().filter(|s| s.at == at).cloned().collect(),
                output: second.output.iter().filter(|o| o.at() == at).cloned().collect(),
            };
            tx.blocking_send(msg).unwrap();
            println!("sent {}", at.as_millis());
        }
    }
}

fn dir_of_line(line: &str) -> Option<PathBuf> {
    line.strip_prefix("dir ").map(PathBuf::from)
}

#[test]
fn killed_recorder_loses_at_most_the_last_second() {
    let root = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--ignored", "--nocapture", "--test-threads=1"])
        .env(ROOT_ENV, root.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut dir = None;
    let mut last_sent = SessionTime::ZERO;
    let mut refused = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(d) = dir_of_line(&line) {
            dir = Some(d);
        } else if let Some(ms) = line.strip_prefix("sent ") {
            last_sent = SessionTime::from_millis(ms.parse().unwrap());
            if refused.is_none() && last_sent >= SessionTime::from_millis(1000) {
                // While the child lives, recover must refuse.
                refused = Some(recover(dir.as_deref().unwrap()));
            }
            if last_sent >= KILL_AFTER {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines the child printed before dying still count as sent.
    for line in lines.map_while(Result::ok) {
        if let Some(ms) = line.strip_prefix("sent ") {
            last_sent = SessionTime::from_millis(ms.parse().unwrap());
        }
    }
    let dir = dir.expect("the child named its directory");
    match refused {
        Some(Err(RecordError::Locked { pid, .. })) => assert_eq!(pid, child.id().to_string()),
        other => panic!("recover while live should refuse: {other:?}"),
    }
    assert!(dir.join("lock").exists(), "a killed recorder leaves its lock file");

    // The unfinished recording opens and holds all but at most the last second.
    let unfinished = Recording::open(&dir).unwrap();
    assert!(!unfinished.complete());
    assert!(!unfinished.meta.clean_shutdown);
    let got = unfinished.notifications().unwrap();
    let expected: Vec<_> = synthetic::session(2, 10, 11)
        .flat_map(|s| s.events)
        .filter_map(|e| match e.body {
            EventBody::Notification { characteristic, payload } => {
                Some((e.at, e.device.unwrap(), characteristic, payload))
            }
            _ => None,
        })
        .filter(|(at, ..)| *at <= last_sent)
        .collect();
    let must_have = last_sent.saturating_sub(Duration::from_secs(1));
    let must = expected.iter().filter(|(at, ..)| *at <= must_have).count();
    assert!(
        got.len() >= must,
        "{} notifications read, {must} sent more than a second before the kill at {last_sent}",
        got.len()
    );
    eprintln!(
        "killed at {last_sent}: {} notifications read, {} sent, {must} sent ≥ 1 s before",
        got.len(),
        expected.len()
    );
    assert!(got.len() <= expected.len());
    for (g, (at, device, c, payload)) in got.iter().zip(&expected) {
        assert_eq!((&g.at, &g.device, &g.characteristic, &g.payload), (at, device, c, payload));
    }
    let samples = unfinished.samples().unwrap();
    assert!(samples.iter().filter(|s| s.at <= must_have).count() >= must * 3 / 2);
    py_reads_unfinished(&dir, got.len());

    // recover finalises it: footers, same rows, lock gone; a second run has
    // nothing to do.
    let report = recover(&dir).unwrap();
    assert_eq!(report.finalised.len(), 3, "{report}");
    assert!(!dir.join("lock").exists());
    let recovered = Recording::open(&dir).unwrap();
    assert!(recovered.complete());
    assert!(recovered.meta.segments[0].recovered);
    assert!(recovered.meta.end_utc.is_some());
    assert_eq!(recovered.notifications().unwrap(), got);
    assert!(recover(&dir).unwrap().nothing_to_do());
}

/// pyarrow reads the unfinished notifications file as the stream after the
/// magic (`tests/tools`: fails under CI without `VIGIL_PYTHON`).
fn py_reads_unfinished(dir: &Path, rows: usize) {
    let Some(python) = tools::python("the pyarrow check of the unfinished file") else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_recording.py");
    let out =
        Command::new(python).arg(&script).arg("--unfinished").arg(dir.join("notifications.arrow")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"].as_u64().unwrap() as usize, rows, "{json}");
}
