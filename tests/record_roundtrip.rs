//! Recorder-level round trip: what goes in comes back out, exactly.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil::model::{
    AlarmEvent, AlarmState, Characteristic, Condition, ConnectionChange, DeviceInfo, EventBody, Marker, MarkerKind,
    OperatorAction, OutputEvent, Priority, Quantity, Sample, SessionTime, SourceEvent,
};
use vigil::record::{
    COMPACT_BATCH_ROWS, FileKind, RecordMsg, RecordOptions, RecordedNotification, Recorder, Recording, synthetic,
};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&Utc)
}

/// A small session with every kind of row, including awkward values (NaN,
/// nulls, a vendor UUID, a bad stream line).
fn handmade() -> (Vec<SourceEvent>, Vec<Sample>, Vec<OutputEvent>) {
    let chest: vigil::model::DeviceLabel = "chest".into();
    let t = SessionTime::from_millis;
    let events = vec![
        SourceEvent {
            at: t(0),
            device: Some(chest.clone()),
            body: EventBody::Connected {
                name: Some("Polar H10 1234".into()),
                address: Some("A0:9E:1A:00:00:01".into()),
                services: vec![0x180D],
            },
        },
        SourceEvent {
            at: t(5),
            device: Some(chest.clone()),
            body: EventBody::DeviceInfo(DeviceInfo {
                manufacturer: Some("Polar".into()),
                model: Some("H10".into()),
                firmware: Some("3.1.1".into()),
            }),
        },
        SourceEvent::notification(
            t(1000),
            chest.clone(),
            Characteristic::HeartRateMeasurement,
            &[0x16, 0x3C, 0x11, 0x04],
        ),
        SourceEvent::notification(
            t(1500),
            chest.clone(),
            Characteristic::parse("6e400003-b5a3-f393-e0a9-e50e24dcca9e").unwrap(),
            &[],
        ),
        SourceEvent::notification(
            t(2000),
            chest.clone(),
            Characteristic::TemperatureMeasurement,
            &[0x06, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B, 0x04],
        ),
        SourceEvent::notification(t(2001), chest.clone(), Characteristic::Sig16(0x2a99), &[0xAB; 40]),
    ];
    let samples = vec![
        Sample {
            at: t(1000),
            device: chest.clone(),
            quantity: Quantity::HeartRateBpm,
            value: 60.0,
            contact: Some(true),
            device_time_ns: None,
        },
        Sample {
            at: t(1000),
            device: chest.clone(),
            quantity: Quantity::RrIntervalMs,
            value: 1041.0 * 1000.0 / 1024.0,
            contact: Some(false),
            device_time_ns: None,
        },
        Sample {
            at: t(2000),
            device: chest.clone(),
            quantity: Quantity::BodyTemperatureC,
            value: 37.6,
            contact: None,
            device_time_ns: Some(1_354_708_227_000_000_000),
        },
        Sample {
            at: t(2000),
            device: "manual".into(),
            quantity: Quantity::SystolicMmhg,
            value: f64::NAN,
            contact: None,
            device_time_ns: None,
        },
    ];
    let output = vec![
        OutputEvent::Connection {
            at: t(0),
            device: chest.clone(),
            change: ConnectionChange::Connected {
                name: Some("Polar H10 1234".into()),
                address: None,
                services: vec![0x180D, 0x180F],
            },
        },
        OutputEvent::Operator {
            at: t(1200),
            action: OperatorAction::Marker(Marker {
                label: "dose 120 mg".into(),
                kind: Some(MarkerKind::Dose),
                amount_mg: Some(120.0),
            }),
        },
        OutputEvent::Operator {
            at: t(1300),
            action: OperatorAction::Ack { alarm: Some(Condition::HrHigh), device: Some("chest".into()) },
        },
        OutputEvent::Operator {
            at: t(1301),
            action: OperatorAction::Limit { condition: Condition::HrHigh, priority: Priority::Medium, value: 125.0 },
        },
        OutputEvent::Operator {
            at: t(1302),
            action: OperatorAction::Manual { quantity: Quantity::SystolicMmhg, value: 150.0 },
        },
        OutputEvent::Operator { at: t(1303), action: OperatorAction::AudioPause },
        OutputEvent::Operator { at: t(1304), action: OperatorAction::Baseline { device: None } },
        OutputEvent::Alarm(AlarmEvent {
            at: t(61_000),
            condition: Condition::HrHigh,
            device: Some(chest.clone()),
            priority: Priority::Low,
            state: AlarmState::Active,
            value: Some(104.0),
        }),
        OutputEvent::Alarm(AlarmEvent {
            at: t(62_000),
            condition: Condition::TechRecording,
            device: None,
            priority: Priority::High,
            state: AlarmState::Latched,
            value: None,
        }),
        OutputEvent::DecodeError {
            at: t(63_000),
            device: Some(chest.clone()),
            characteristic: Some(Characteristic::HeartRateMeasurement),
            line: None,
            message: "too short".into(),
        },
        OutputEvent::DecodeError {
            at: t(63_500),
            device: None,
            characteristic: None,
            line: Some(17),
            message: "not JSON".into(),
        },
        OutputEvent::Gap { at: t(64_000), duration: Duration::from_nanos(2_500_000_123) },
        OutputEvent::Connection {
            at: t(65_000),
            device: chest.clone(),
            change: ConnectionChange::Disconnected { reason: Some("timeout".into()) },
        },
    ];
    (events, samples, output)
}

fn same_samples(a: &[Sample], b: &[Sample]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.at, &x.device, x.quantity, x.contact, x.device_time_ns),
            (y.at, &y.device, y.quantity, y.contact, y.device_time_ns)
        );
        assert_eq!(x.value.to_bits(), y.value.to_bits(), "{x:?} vs {y:?}");
    }
}

/// Samples as `samples.arrow` records them: `t` in whole microseconds,
/// rounded down (the session starts on a whole second, so rounding the
/// session time rounds `t`).
fn as_recorded(samples: &[Sample]) -> Vec<Sample> {
    let mut recorded = samples.to_vec();
    for s in &mut recorded {
        s.at = SessionTime(s.at.as_nanos() / 1000 * 1000);
    }
    recorded
}

/// The rows of a compacted samples file: grouped by device (by name), then
/// time; equal keys in their recorded order.
/// Compaction's order: each batch of `COMPACT_BATCH_ROWS` recorded rows
/// sorted by (device, t), equal keys as recorded.
fn by_device(samples: &[Sample]) -> Vec<Sample> {
    samples
        .chunks(COMPACT_BATCH_ROWS)
        .flat_map(|batch| {
            let mut sorted = batch.to_vec();
            sorted.sort_by(|a, b| (&*a.device, a.at).cmp(&(&*b.device, b.at)));
            sorted
        })
        .collect()
}

fn notifications_of(events: &[SourceEvent]) -> Vec<RecordedNotification> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Notification { characteristic, payload } => Some(RecordedNotification {
                at: e.at,
                device: e.device.clone().unwrap(),
                characteristic: *characteristic,
                payload: payload.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn what_is_written_is_read_back_exactly() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        root: root.path().join("recordings"),
        participant: Some("P01".into()),
        resume: None,
        ..Default::default()
    };
    let config = serde_json::json!({"alarms": {"hr.high": {"low": 100}}});
    let rec = Recorder::start(&opts, start(), config.clone()).unwrap();
    let dir = rec.dir().to_owned();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("20260301T090000Z-P01-"), "{name}");
    assert!(dir.join("lock").exists());

    let (events, samples, output) = handmade();
    let tx = rec.sender();
    // Split across messages so several live batches are written.
    tx.blocking_send(RecordMsg::Batch {
        events: events[..3].to_vec(),
        samples: samples[..2].to_vec(),
        output: output[..5].to_vec(),
    })
    .unwrap();
    tx.blocking_send(RecordMsg::Batch {
        events: events[3..].to_vec(),
        samples: samples[2..].to_vec(),
        output: output[5..].to_vec(),
    })
    .unwrap();
    drop(tx);
    let info = rec.finish().unwrap();
    assert_eq!((info.notifications, info.samples, info.events), (4, 4, output.len()));
    assert!(!dir.join("lock").exists());

    // Permissions: health data.
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for f in ["session.json", "notifications.arrow", "samples.arrow", "events.arrow"] {
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }

    let r = Recording::open(&dir).unwrap();
    assert!(r.complete());
    assert_eq!(r.meta.participant.as_deref(), Some("P01"));
    assert_eq!(r.meta.config, config);
    assert!(r.meta.clean_shutdown);
    let chest = &r.meta.devices["chest"];
    assert_eq!(chest.address.as_deref(), Some("A0:9E:1A:00:00:01"));
    assert_eq!(chest.info.model.as_deref(), Some("H10"));
    assert_eq!(chest.info.firmware.as_deref(), Some("3.1.1"));
    assert_eq!(r.meta.end_utc, Some(start() + chrono::Duration::seconds(65)));

    assert_eq!(r.notifications().unwrap(), notifications_of(&events));
    same_samples(&r.samples().unwrap(), &by_device(&samples));
    assert_eq!(r.events().unwrap(), output);
    assert_eq!(r.operator_actions().unwrap().len(), 6);
    // Compacted: one dictionary-encoded, zstd batch per file.
    for kind in FileKind::ALL {
        let files = r.read(kind).unwrap();
        assert_eq!(files[0].batches.len(), 1, "{kind:?}");
        assert!(files[0].complete);
    }
}

#[test]
fn a_long_session_round_trips_through_compaction() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap();
    let dir = rec.dir().to_owned();
    let tx = rec.sender();
    let (mut events, mut samples, mut output) = (Vec::new(), Vec::new(), Vec::new());
    for s in synthetic::session(4, 4000, 7) {
        events.extend(s.events.iter().cloned());
        samples.extend(s.samples.iter().cloned());
        output.extend(s.output.iter().cloned());
        tx.blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output }).unwrap();
    }
    drop(tx);
    let info = rec.finish().unwrap();
    assert_eq!(info.samples, 4 * 3 * 4000);
    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.notifications().unwrap(), notifications_of(&events));
    same_samples(&r.samples().unwrap(), &by_device(&samples));
    assert_eq!(r.events().unwrap(), output);
}

/// Compaction sorts samples by device and time: no row may be lost,
/// duplicated or changed, each device's rows must come out in time order,
/// and rows with equal (device, t) must keep their recorded order. `mdma-session`
/// through the real pipeline has what makes this hard: RR beats recorded
/// after later heart-rate rows (stamped back in time) and several samples
/// at one instant.
#[test]
fn compacted_samples_are_the_live_rows_sorted_by_device_and_time() {
    let scenario = vigil::sources::simulate::load("mdma-session").unwrap();
    let mut pipeline =
        vigil::pipeline::Pipeline::new(vigil::alarms::AlarmEngine::new(vigil::config::Config::default().alarms));
    for (label, profile) in scenario.device_profiles() {
        pipeline.set_device(&label, vigil::app::device_setup(&profile));
    }
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap();
    let mut live = Vec::new();
    for batch in scenario.batches(3) {
        let (mut samples, mut output) = (Vec::new(), Vec::new());
        pipeline.process(&batch.events, batch.until, &mut samples, &mut output);
        live.extend(samples.iter().cloned());
        rec.sender().blocking_send(RecordMsg::Batch { events: batch.events, samples, output }).unwrap();
    }
    let dir = rec.finish().unwrap().dir;
    let compacted = Recording::open(&dir).unwrap().samples().unwrap();
    assert!(live.windows(2).any(|w| w[1].at < w[0].at), "the live rows should not already be in time order");
    // RR beats are stamped back by their 1/1024 s intervals: times that
    // are not whole microseconds, which the file rounds down.
    assert!(live.iter().any(|s| s.at.as_nanos() % 1000 != 0), "no sub-microsecond times to round");
    let live = as_recorded(&live);

    // Nothing lost, duplicated or altered: the same multiset of rows.
    let key =
        |s: &Sample| (s.device.to_string(), s.quantity.as_str(), s.at, s.value.to_bits(), s.contact, s.device_time_ns);
    let mut a: Vec<_> = live.iter().map(key).collect();
    let mut b: Vec<_> = compacted.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    // Within each batch: grouped by device, each in time order.
    assert!(compacted.len() > 2 * COMPACT_BATCH_ROWS, "a session of several batches");
    for w in compacted.chunks(COMPACT_BATCH_ROWS).flat_map(|b| b.windows(2)) {
        assert!(w[0].device < w[1].device || (w[0].device == w[1].device && w[0].at <= w[1].at), "{w:?}");
    }
    // And exactly the stable order: equal keys as recorded.
    same_samples(&compacted, &by_device(&live));
}

#[test]
fn resume_adds_a_segment_that_reads_as_one_recording() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        root: root.path().to_owned(),
        participant: Some("P02".into()),
        resume: None,
        ..Default::default()
    };
    let rec = Recorder::start(&opts, start(), serde_json::json!({"v": 1})).unwrap();
    let dir = rec.dir().to_owned();
    let first: Vec<_> = synthetic::session(1, 700, 1).collect();
    for s in &first {
        rec.sender()
            .blocking_send(RecordMsg::Batch {
                events: s.events.clone(),
                samples: s.samples.clone(),
                output: s.output.clone(),
            })
            .unwrap();
    }
    rec.finish().unwrap();

    // The second run starts an hour later (its own session time zero).
    let later = start() + chrono::Duration::hours(1);
    let opts = RecordOptions { resume: Some(dir.clone()), ..opts };
    let rec = Recorder::start(&opts, later, serde_json::json!({"v": 2})).unwrap();
    assert_eq!(rec.dir(), dir);
    let second: Vec<_> = synthetic::session(1, 10, 2).collect();
    for s in &second {
        rec.sender()
            .blocking_send(RecordMsg::Batch {
                events: s.events.clone(),
                samples: s.samples.clone(),
                output: s.output.clone(),
            })
            .unwrap();
    }
    rec.finish().unwrap();

    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.meta.segments.len(), 2);
    assert_eq!(r.meta.segments[1].config, serde_json::json!({"v": 2}));
    assert!(dir.join("samples.1.arrow").exists());
    let samples = r.samples().unwrap();
    let n0: usize = first.iter().map(|s| s.samples.len()).sum();
    let n1: usize = second.iter().map(|s| s.samples.len()).sum();
    assert_eq!(samples.len(), n0 + n1);
    // Segment 1's times continue an hour after the recording's start.
    assert_eq!(samples[n0].at, SessionTime::from_secs(3600));
    let markers = r.operator_actions().unwrap();
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].0, SessionTime::from_secs(600));
}

#[test]
fn names_are_refused_as_participant_codes() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        root: root.path().to_owned(),
        participant: Some("Jane Doe".into()),
        resume: None,
        ..Default::default()
    };
    let err = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap_err();
    assert!(err.to_string().contains("pseudonym"), "{err}");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn recover_and_resume_refuse_what_is_not_a_recording() {
    let d = tempfile::tempdir().unwrap();
    let err = vigil::record::recover(d.path()).unwrap_err().to_string();
    assert!(err.contains("session.json"), "{err}");
    let opts = RecordOptions {
        root: d.path().to_owned(),
        participant: None,
        resume: Some(d.path().to_owned()),
        ..Default::default()
    };
    let err = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap_err().to_string();
    assert!(err.contains("session.json"), "{err}");
    assert!(!d.path().join("lock").exists(), "nothing written");
}

/// Within one device, compaction orders by time, and rows at the same time
/// keep the order they were recorded in.
#[test]
fn compaction_orders_a_device_by_time_keeping_equal_times_as_recorded() {
    let row = |device: &str, quantity: Quantity, ms: u64, value: f64| Sample {
        at: SessionTime::from_millis(ms),
        device: device.into(),
        quantity,
        value,
        contact: None,
        device_time_ns: None,
    };
    let recorded = vec![
        row("core", Quantity::BodyTemperatureC, 500, 37.0),
        row("chest", Quantity::RrIntervalMs, 2000, 1.0),
        row("chest", Quantity::HeartRateBpm, 2000, 60.0),
        row("chest", Quantity::RrIntervalMs, 1000, 2.0),
        row("chest", Quantity::RrIntervalMs, 1000, 3.0),
        row("chest", Quantity::HeartRateBpm, 1000, 61.0),
    ];
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap();
    rec.sender().blocking_send(RecordMsg::Batch { events: vec![], samples: recorded.clone(), output: vec![] }).unwrap();
    let dir = rec.finish().unwrap().dir;
    let values: Vec<f64> = Recording::open(&dir).unwrap().samples().unwrap().iter().map(|s| s.value).collect();
    // chest at 1 s (as recorded), chest at 2 s (as recorded), core.
    assert_eq!(values, [2.0, 3.0, 61.0, 1.0, 60.0, 37.0]);
}
