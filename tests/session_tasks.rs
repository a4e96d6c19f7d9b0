//! What a supervised task's end means for the session: a source that fails
//! as a whole ends the session with its error, but only after everything it
//! sent is monitored, printed and recorded, and the recording finished.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::model::{Batch, DeviceLabel, EventBody, OutputEvent, SessionTime, SourceEvent};
use vigil::record::{RecordOptions, Recording};
use vigil::session::{self, SessionPlan, SourceFactory};
use vigil::snapshot::Mode;

#[test]
fn a_failing_source_ends_the_session_with_its_error_after_the_recording_is_finished() {
    let chest = DeviceLabel::from("chest");
    let connected = SourceEvent {
        at: SessionTime::from_millis(500),
        device: Some(chest),
        body: EventBody::Connected { name: None, address: None, services: vec![0x180D] },
    };
    let source: SourceFactory = Box::new(move |tx, _clock, _devices| {
        Box::pin(async move {
            tx.send(Batch { events: vec![connected], until: SessionTime::from_millis(1_000) }).await?;
            Err(anyhow::anyhow!("the Bluetooth adapter went away"))
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let out = common::Shared::default();
    let plan = SessionPlan {
        clock: Clock::virtual_at(Speed::Max, chrono::Utc::now()),
        source,
        mode: Mode::Simulated,
        config: Config::default(),
        participant: None,
        devices: Vec::new(),
        dashboard: None,
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
    let error = rt.block_on(session::run(plan)).unwrap_err();

    assert_eq!(error.to_string(), "the Bluetooth adapter went away");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.first().map(|l| l["type"].clone()), Some("connection".into()), "{text}");
    assert_eq!(lines.last().map(|l| l["type"].clone()), Some("summary".into()), "{text}");
    let recorded = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let recording = Recording::open(&recorded).unwrap();
    assert!(recording.meta.clean_shutdown, "the recording is finished, not left for `vigil recover`");
    assert!(
        recording.events().unwrap().iter().any(|e| matches!(e, OutputEvent::Connection { .. })),
        "what the source sent before failing is recorded"
    );
}
