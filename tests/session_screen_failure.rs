//! The screen failing must not stop monitoring: a session whose dashboard
//! dies at once goes on headless to the end of its input, and the alarms it
//! raises after the failure reach the output and the recording.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::record::{RecordOptions, Recording};
use vigil::session::{self, EndReason, SessionPlan};
use vigil::snapshot::Mode;

#[test]
fn a_failed_dashboard_leaves_monitoring_running_headless() {
    let (source, devices) = common::scenario_source("tachycardia-episode");
    let broken_screen: session::DashboardFactory =
        Box::new(|_snapshots, _commands| Box::pin(async { Err(anyhow::anyhow!("terminal went away")) }));
    let dir = tempfile::tempdir().unwrap();
    let out = common::Shared::default();
    let plan = SessionPlan {
        // Paced (600× real time, one second for the ten-minute scenario)
        // so the failure is seen while the session still has alarms to
        // raise.
        clock: Clock::virtual_at(Speed::Times(600.0), chrono::Utc::now()),
        source,
        mode: Mode::Simulated,
        config: Config::default(),
        participant: None,
        devices,
        dashboard: Some(broken_screen),
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(out.clone())),
        record: Some(RecordOptions {
            root: dir.path().to_owned(),
            participant: None,
            resume: None,
            ..Default::default()
        }),
        resume: None,
        publish: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outcome = rt.block_on(session::run(plan)).unwrap();

    assert_eq!(outcome.reason, EndReason::EndOfInput, "the session must run to the end of its input");
    assert!(outcome.end >= vigil::model::SessionTime::from_secs(600), "ended early at {:?}", outcome.end);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // DESIGN's headless types have no general error: a failed task is
    // reported on a `decode_error` line whose message names it.
    let failed = lines
        .iter()
        .position(|l| l["message"].as_str().is_some_and(|m| m.starts_with("dashboard failed")))
        .unwrap_or_else(|| panic!("the failure is reported in the output: {text}"));
    // When the failure is noticed depends on the machine; the tachycardia's
    // latch at 4:06 always comes after it.
    let alarm_after = lines[failed..].iter().any(|l| l["alarm"] == "hr.high" && l["device"] == "chest");
    assert!(alarm_after, "alarms raised after the failure reach the headless output: {text}");
    let recording = Recording::open(outcome.recording.as_deref().unwrap()).unwrap();
    let recorded = recording.events().unwrap();
    assert!(
        recorded.iter().any(|e| matches!(e, vigil::model::OutputEvent::Alarm(a)
            if a.condition == vigil::model::Condition::HrHigh && a.state == vigil::model::AlarmState::Active)),
        "the alarm is recorded"
    );
}
