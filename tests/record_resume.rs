//! `--resume`: a session stopped (cleanly or by SIGKILL) and resumed carries
//! on as the same session. Its marker, baseline, limit change and
//! acknowledgement are restored, a new alarm still rings, the recording has
//! two segments on one timeline, and `summary` / `replay` read it whole.
//!
//! The sessions are scripted streams (`monitor --stream`), so every alarm is
//! known in advance:
//!
//! run 1 (session time = stream time), heart rate at 1 Hz
//! - 0–299 s: 90 bpm (the automatic baseline is 90), 300–399 s: 70 bpm;
//!   310 s: dose marker; 395 s: `hr.high` low limit 100 → 110; 399.5 s:
//!   `baseline`, the mean of the last 5 min: (200 × 90 + 100 × 70) / 300 ≈ 83.3.
//! - 400 s on: 150 bpm: `hr.high` high at 415 s, `hr.rise` low at 460 s;
//!   480 s: acknowledge all; 150 bpm goes on to the end.
//!
//! run 2 (the resume; session time = end of run 1 + stream time)
//! - 0–99 s: 150 bpm: both alarms were acknowledged and still hold: silent.
//! - 100–159 s: 80 bpm: both clear. (Had the acknowledgement been lost,
//!   `hr.high`, a high-priority alarm, would latch instead of clearing.)
//! - 160–249 s: 105 bpm: above the default `hr.high` limit (100), below the
//!   restored one (110): no alarm; 22 above the baseline: no `hr.rise`.
//! - 250–339 s: 115 bpm: new `hr.high` (low) and `hr.rise`: 31.7 above the
//!   operator's restored baseline; it would not fire against the automatic
//!   one (90) nor against one re-learnt from run 2 (~120).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil::clock::Clock;
use vigil::model::{OperatorAction, OutputEvent, SessionTime, SourceEvent};
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording, synthetic};
use vigil::session::{self, Resume, SessionPlan};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).env("VIGIL_LOG", "/dev/null").output().unwrap()
}

fn vigil_ok(args: &[&str]) -> String {
    let out = vigil(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vigil {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Alarm lines as (at_ms, alarm, priority, state).
fn alarms(lines: &[Value]) -> Vec<(u64, String, String, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "alarm")
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_owned();
            (l["at_ms"].as_u64().unwrap(), s("alarm"), s("priority"), s("state"))
        })
        .collect()
}

fn only_recording(root: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn hr_line(at_s: u64, bpm: u8) -> Value {
    json!({"at_ms": at_s * 1000, "device": "chest", "characteristic": "2a37", "payload": format!("06{bpm:02x}")})
}

/// Run 1's stream, heart rate to `end_s`.
fn first_stream(end_s: u64) -> String {
    let mut out = vec![json!({"at_ms": 0, "device": "chest", "event": "connected", "name": "Polar H10 1234"})];
    for s in 0..end_s {
        out.push(hr_line(
            s,
            if s < 300 {
                90
            } else if s < 400 {
                70
            } else {
                150
            },
        ));
        match s {
            310 => out.push(json!({"at_ms": 310_500, "action": "marker", "label": "dose 120 mg", "kind": "dose", "amount_mg": 120.0})),
            399 => out.push(json!({"at_ms": 399_500, "action": "baseline"})),
            395 => out.push(
                json!({"at_ms": 395_500, "action": "limit", "condition": "hr.high", "priority": "low", "value": 110}),
            ),
            480 => out.push(json!({"at_ms": 480_500, "action": "ack"})),
            _ => {}
        }
    }
    out.iter().map(|v| format!("{v}\n")).collect()
}

/// Run 2's stream (times from the resumed run's start).
fn second_stream() -> String {
    let mut out = vec![json!({"at_ms": 0, "device": "chest", "event": "connected", "name": "Polar H10 1234"})];
    for s in 0..340 {
        let bpm = match s {
            0..100 => 150,
            100..160 => 80,
            160..250 => 105,
            _ => 115,
        };
        out.push(hr_line(s, bpm));
    }
    out.iter().map(|v| format!("{v}\n")).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Resume `rec` with run 2 and check everything the resume must restore.
/// `base_ms` is the session time run 2 starts at (the end of run 1).
fn resume_and_check(root: &Path, rec: &Path, base_ms: u64, run1: &[Value]) {
    let stream2 = write(root, "run2.ndjson", &second_stream());
    let rec_s = rec.to_str().unwrap();
    let out = vigil_ok(&["monitor", "--stream", &stream2, "--speed", "max", "--headless", "--resume", rec_s]);
    let run2 = lines(&out);
    let rel = |ms: u64| ms - base_ms;
    let got: Vec<_> = alarms(&run2).into_iter().map(|(at, a, p, s)| (rel(at), a, p, s)).collect();
    // Acknowledged before the stop and still holding: no `active` again.
    // 80 bpm from 100 s: both clear; an unacknowledged hr.high would latch.
    // 105 bpm from 160 s: nothing (the restored hr.high limit is 110).
    // 115 bpm from 250 s: new alarms, 60 s onset → 310 s.
    let s = |v: &str| v.to_owned();
    assert_eq!(
        got,
        vec![
            (100_000, s("hr.high"), s("high"), s("cleared")),
            (100_000, s("hr.rise"), s("low"), s("cleared")),
            (310_000, s("hr.high"), s("low"), s("active")),
            (310_000, s("hr.rise"), s("low"), s("active")),
        ],
        "run 2 alarms (ms after the resume)"
    );
    // Restored actions are not printed again (they are in events.arrow).
    assert!(run2.iter().all(|l| l["type"] != "operator"), "{run2:?}");

    let r = Recording::open(rec).unwrap();
    assert_eq!(r.meta.segments.len(), 2);
    assert!(r.meta.clean_shutdown);
    assert!(r.complete());
    assert_eq!(r.meta.participant.as_deref(), Some("R01"), "the participant carries over");
    // One timeline: segment 1 starts where segment 0 ended.
    let seg1 = &r.meta.segments[1];
    let seg1_at = (seg1.start_utc - r.meta.start_utc).num_milliseconds();
    assert_eq!(u64::try_from(seg1_at).unwrap(), base_ms);
    // Every operator action once: restoring did not record them again.
    let actions = r.operator_actions().unwrap();
    assert_eq!(actions.len(), 4, "{actions:?}");

    // summary reads both segments: the marker at its original time.
    let summary: Value = serde_json::from_str(&vigil_ok(&["summary", rec_s, "--json"])).unwrap();
    assert_eq!(summary["segments"], 2);
    let markers = summary["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert_eq!(markers[0]["at_s"], 310.5);
    assert_eq!(markers[0]["label"], "dose 120 mg");
    assert!(summary["duration_s"].as_f64().unwrap() >= (base_ms + 339_000) as f64 / 1000.0, "{summary}");

    // replay runs the whole session: run 1's lines, then run 2's.
    let replayed = lines(&vigil_ok(&["replay", rec_s, "--speed", "max", "--headless"]));
    let not_summary = |v: &[Value]| v.iter().filter(|l| l["type"] != "summary").cloned().collect::<Vec<_>>();
    let live: Vec<Value> = not_summary(run1).into_iter().chain(not_summary(&run2)).collect();
    assert_eq!(alarms(&not_summary(&replayed)), alarms(&live));
    assert_eq!(
        not_summary(&replayed).iter().filter(|l| l["type"] == "operator").count(),
        4,
        "replay applies every recorded action once"
    );
}

fn first_run_alarms_are_as_scripted(run1: &[Value]) {
    let a = alarms(run1);
    assert!(a.contains(&(415_000, "hr.high".into(), "high".into(), "active".into())), "{a:?}");
    assert!(a.contains(&(460_000, "hr.rise".into(), "low".into(), "active".into())), "{a:?}");
}

#[test]
fn a_cleanly_stopped_session_resumes_with_its_marker_baseline_limit_and_ack() {
    let root = tempfile::tempdir().unwrap();
    let records = root.path().join("recordings");
    let stream1 = write(root.path(), "run1.ndjson", &first_stream(600));
    let out = vigil_ok(&[
        "monitor",
        "--stream",
        &stream1,
        "--speed",
        "max",
        "--headless",
        "--participant",
        "R01",
        "--record-dir",
        records.to_str().unwrap(),
    ]);
    let run1 = lines(&out);
    first_run_alarms_are_as_scripted(&run1);
    let rec = only_recording(&records);
    let end_ms = Recording::open(&rec).unwrap().end().unwrap().as_millis();
    assert_eq!(end_ms, 599_000);
    resume_and_check(root.path(), &rec, end_ms, &run1);
}

#[test]
fn a_killed_session_resumes_with_its_marker_baseline_limit_and_ack() {
    let root = tempfile::tempdir().unwrap();
    let records = root.path().join("recordings");
    std::fs::create_dir(&records).unwrap();
    // 60× real time: the acknowledgement at 480 s comes after 8 s; the
    // stream would go on for 45 min of session time.
    let stream1 = write(root.path(), "run1.ndjson", &first_stream(3000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--stream", &stream1, "--speed", "60", "--headless", "--participant", "R01"])
        .args(["--record-dir", records.to_str().unwrap()])
        .env("VIGIL_LOG", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the acknowledgement is on disk (the recorder hands rows to
    // the OS within a second): wait for that, not for a time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rec = loop {
        assert!(Instant::now() < deadline, "the acknowledgement never reached the recording");
        if let Ok(Some(dir)) = std::fs::read_dir(&records).map(|mut d| d.next().map(|e| e.unwrap().path()))
            && let Ok(r) = Recording::open(&dir)
            && r.operator_actions().is_ok_and(|a| a.iter().any(|(_, a)| matches!(a, OperatorAction::Ack { .. })))
        {
            break dir;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let run1: Vec<Value> = stdout.lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect();
    first_run_alarms_are_as_scripted(&run1);
    assert!(!Recording::open(&rec).unwrap().complete(), "killed: the files have no footer");

    // Run 2 continues from the last recorded instant.
    let end_ms = Recording::open(&rec).unwrap().end().unwrap().as_millis();
    assert!(end_ms >= 480_500, "{end_ms}");
    resume_and_check_killed(root.path(), &rec, end_ms);
}

/// After a kill, run 1's lines past the last recorded second are unknown, so
/// replay is compared with the recording's own alarm rows instead.
fn resume_and_check_killed(root: &Path, rec: &Path, base_ms: u64) {
    let before = Recording::open(rec).unwrap().events().unwrap();
    let run1: Vec<Value> = before
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Alarm(a) => Some(json!({
                "type": "alarm", "at_ms": a.at.as_millis(), "alarm": a.condition.as_str(),
                "priority": a.priority.as_str(), "state": a.state.as_str(),
            })),
            _ => None,
        })
        .collect();
    resume_and_check(root, rec, base_ms, &run1);
    let r = Recording::open(rec).unwrap();
    assert!(r.meta.segments[0].recovered, "the crashed segment was finalised by the resume");
}

fn failing(args: &[&str]) -> String {
    let out = vigil(args);
    assert!(!out.status.success(), "vigil {args:?} should fail");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let root = tempfile::tempdir().unwrap();
    let records = root.path().join("recordings");
    let stream = write(root.path(), "short.ndjson", &first_stream(5));
    let rs = records.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["monitor", "--stream", stream.as_str(), "--speed", "max", "--headless"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    let call = |args: Vec<String>| failing(&args.iter().map(String::as_str).collect::<Vec<_>>());
    vigil_ok(&run(&["--participant", "R01", "--record-dir", rs]).iter().map(String::as_str).collect::<Vec<_>>());
    let rec = only_recording(&records);
    let rec_s = rec.to_str().unwrap();

    // Not a recording.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = call(run(&["--resume", empty.to_str().unwrap()]));
    assert!(err.contains(empty.to_str().unwrap()) && err.contains("session.json"), "{err}");
    assert!(!empty.join("lock").exists(), "nothing written");

    // Another participant.
    let err = call(run(&["--resume", rec_s, "--participant", "R02"]));
    assert!(err.contains(rec_s) && err.contains("R01") && err.contains("R02"), "{err}");

    // --no-record: a resume records, by definition.
    let err = call(run(&["--resume", rec_s, "--no-record"]));
    assert!(err.contains(rec_s) && err.contains("--no-record"), "{err}");

    // Locked by a live recorder: a session waiting on its stdin.
    let mut live = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--stream", "-", "--headless", "--resume", rec_s])
        .env("VIGIL_LOG", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Recording::open(&rec).is_ok_and(|r| r.meta.segments.len() == 2) {
        assert!(Instant::now() < deadline, "the live resume never started its segment");
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = call(run(&["--resume", rec_s]));
    assert!(err.contains(rec_s) && err.contains("locked by a live recorder"), "{err}");
    // End the live one (end of its input) and it finishes its segment.
    let mut stdin = live.stdin.take().unwrap();
    writeln!(stdin, "{}", hr_line(0, 70)).unwrap();
    drop(stdin);
    assert!(live.wait().unwrap().success());
    let r = Recording::open(&rec).unwrap();
    assert_eq!(r.meta.segments.len(), 2);
    assert!(r.meta.clean_shutdown);
    // The refused attempts left nothing behind: no third segment, no lock.
    assert!(!rec.join("lock").exists());
    assert!(!rec.join("events.2.arrow").exists());
}

/// A recording made an hour ago whose session ran 700 s with a dose marker
/// at 600 s; returns its directory.
fn hour_old_recording(root: &Path) -> PathBuf {
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let opts = RecordOptions { root: root.to_owned(), participant: None, resume: None, ..Default::default() };
    let config = serde_json::to_value(vigil::config::Config::default()).unwrap();
    let rec = Recorder::start(&opts, start, config).unwrap();
    let dir = rec.dir().to_owned();
    for s in synthetic::session(1, 700, 1) {
        let msg = RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output };
        rec.sender().blocking_send(msg).unwrap();
    }
    rec.finish().unwrap();
    dir
}

/// Under the real clock a resumed session's time is wall time since the
/// recording's start: the hour vigil was not running shows as one `gap`,
/// and the new segment's rows sit an hour into the session.
#[test]
fn a_real_time_resume_reports_the_time_away_as_a_gap() {
    let root = tempfile::tempdir().unwrap();
    let dir = hour_old_recording(root.path());
    let previous_end = Recording::open(&dir).unwrap().end().unwrap();
    let resume = Resume::open(&dir, None).unwrap();
    assert_eq!(resume.previous_end, previous_end);

    let batch = |at_ms: u64| vigil::model::Batch {
        events: vec![SourceEvent::notification(
            SessionTime::from_millis(at_ms),
            "chest".into(),
            vigil::model::Characteristic::HeartRateMeasurement,
            &[0x06, 70],
        )],
        until: SessionTime::from_millis(at_ms),
    };
    let out = common::Shared::default();
    let plan = SessionPlan {
        clock: Clock::real(),
        source: common::batches_source(vec![batch(0), batch(100)]),
        mode: vigil::snapshot::Mode::Live,
        config: vigil::config::Config::default(),
        participant: None,
        devices: Vec::new(),
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(out.clone())),
        record: Some(RecordOptions {
            root: root.path().to_owned(),
            participant: None,
            resume: Some(dir.clone()),
            ..Default::default()
        }),
        resume: Some(resume),
        publish: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(session::run(plan)).unwrap();
    let printed = lines(&String::from_utf8(out.0.lock().unwrap().clone()).unwrap());

    let hour = SessionTime::from_secs(3600);
    let gaps: Vec<_> = printed.iter().filter(|l| l["type"] == "gap").collect();
    assert_eq!(gaps.len(), 1, "{printed:?}");
    let gap_at = gaps[0]["at_ms"].as_u64().unwrap();
    // The run started between "an hour ago" and now (plus test slack).
    assert!((hour.as_millis()..hour.as_millis() + 60_000).contains(&gap_at), "{gap_at}");
    let gap_ms = gaps[0]["duration_ms"].as_u64().unwrap();
    assert_eq!(gap_ms, gap_at - previous_end.as_millis());
    // No burst of alarms for the hour away: the sensor was fine before it.
    assert!(printed.iter().all(|l| l["type"] != "alarm"), "{printed:?}");

    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.meta.segments.len(), 2);
    let seg1_ms = (r.meta.segments[1].start_utc - r.meta.start_utc).num_milliseconds();
    assert_eq!(u64::try_from(seg1_ms).unwrap(), gap_at, "the segment starts where the gap ends");
    let events = r.events().unwrap();
    assert!(events.iter().any(|e| matches!(e, OutputEvent::Gap { at, .. } if at.as_millis() == gap_at)));
    let last_sample = r.samples().unwrap().last().unwrap().at;
    assert!(last_sample.as_millis() >= gap_at, "the new rows are on the session's timeline: {last_sample}");
}

/// The dashboard's first picture of a resumed session already has the
/// restored dose marker at its original time (so "time since dose" is right).
#[test]
fn a_resumed_dashboard_shows_the_restored_marker() {
    let root = tempfile::tempdir().unwrap();
    let dir = hour_old_recording(root.path());
    let (tx, rx) = std::sync::mpsc::channel();
    let dashboard: session::DashboardFactory = Box::new(move |snapshots, _commands| {
        Box::pin(async move {
            tx.send(snapshots.borrow().clone()).unwrap();
            Ok(())
        })
    });
    let resume = Resume::open(&dir, None).unwrap();
    let previous_end = resume.previous_end;
    let plan = SessionPlan {
        clock: Clock::virtual_at(vigil::clock::Speed::Max, chrono::Utc::now()),
        source: common::batches_source(Vec::new()),
        mode: vigil::snapshot::Mode::Live,
        config: vigil::config::Config::default(),
        participant: None,
        devices: Vec::new(),
        dashboard: Some(dashboard),
        alarm_command: None,
        replay_control: None,
        headless_out: None,
        record: Some(RecordOptions {
            root: root.path().to_owned(),
            participant: None,
            resume: Some(dir.clone()),
            ..Default::default()
        }),
        resume: Some(resume),
        publish: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(session::run(plan)).unwrap();
    let snap = rx.recv().unwrap();
    let recorded: Vec<_> = Recording::open(&dir)
        .unwrap()
        .operator_actions()
        .unwrap()
        .into_iter()
        .filter_map(|(at, a)| match a {
            OperatorAction::Marker(m) => Some((at, m)),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(snap.markers, recorded);
    assert_eq!(snap.last_dose_at, Some(recorded[0].0));
    // A virtual clock continues where the recording ended.
    assert_eq!(snap.now, previous_end);
}

/// A recording whose resumed segment crashed ends where that segment's rows
/// end, not where the earlier, finished segment did (`session.json`'s
/// `end_utc` is still the earlier one's): a second resume must start there.
#[test]
fn a_crashed_later_segment_ends_at_its_last_row() {
    let root = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, start, serde_json::Value::Null).unwrap();
    let dir = rec.dir().to_owned();
    for s in synthetic::session(1, 100, 1) {
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    rec.finish().unwrap();
    let first_end = Recording::open(&dir).unwrap().end().unwrap();
    let first_rows = Recording::open(&dir).unwrap().notifications().unwrap().len();
    assert!(first_end < SessionTime::from_secs(100), "{first_end}");

    // Segment 1 on the same timeline, from 200 s, left running: its rows
    // reach the file but the segment never finishes (as after a crash).
    let opts = RecordOptions { resume: Some(dir.clone()), ..opts };
    let rec = Recorder::start_at(&opts, start, SessionTime::from_secs(200), serde_json::Value::Null).unwrap();
    let later = SourceEvent::notification(
        SessionTime::from_secs(250),
        "chest".into(),
        vigil::model::Characteristic::HeartRateMeasurement,
        &[0x06, 70],
    );
    rec.sender().blocking_send(RecordMsg::Batch { events: vec![later], samples: vec![], output: vec![] }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Recording::open(&dir).unwrap().notifications().unwrap().len() == first_rows {
        assert!(Instant::now() < deadline, "segment 1's row never reached the file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.meta.segments.len(), 2);
    assert_eq!(r.meta.segments[1].end_utc, None);
    assert_eq!(r.end().unwrap(), SessionTime::from_secs(250));
    // The recorder thread is left to the end of the test process: finishing
    // it would make the segment clean.
    std::mem::forget(rec);
}

/// A version-1 recording (`samples.arrow`'s `t` in nanoseconds) resumed by
/// this vigil gets a segment in version 3's schema, and `session.json` says
/// version 3 from then on. (Reading and compacting version-1 files is
/// `compact::tests`'s; a resumed version 2 is `record_format2`'s.)
#[test]
fn a_resumed_version_1_recording_is_marked_version_3() {
    let root = tempfile::tempdir().unwrap();
    let dir = hour_old_recording(root.path());
    let meta_path = dir.join("session.json");
    let mut meta: Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["format_version"] = json!(1);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let start = Recording::open(&dir).unwrap().meta.start_utc;
    assert_eq!(Recording::open(&dir).unwrap().meta.format_version, 1);

    let opts = RecordOptions {
        root: root.path().to_owned(),
        participant: None,
        resume: Some(dir.clone()),
        ..Default::default()
    };
    let rec = Recorder::start_at(&opts, start, SessionTime::from_secs(800), serde_json::Value::Null).unwrap();
    rec.finish().unwrap();
    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.meta.format_version, vigil::record::FORMAT_VERSION);
    assert_eq!(vigil::record::FORMAT_VERSION, 3);
    assert_eq!(r.meta.segments.len(), 2);
}
