use super::*;
use crate::model::{Characteristic, SessionTime};

/// A gathered message's sample buffer comes back emptied, and what it
/// held is in the recording.
#[test]
fn gathered_sample_buffers_come_back_empty() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let mut rec = Recorder::start(&opts, Utc::now(), serde_json::Value::Null).unwrap();
    let returns = rec.take_sample_returns().unwrap();
    assert!(rec.take_sample_returns().is_none(), "handed out once");
    let sample = |ms| Sample {
        at: SessionTime::from_millis(ms),
        device: "chest".into(),
        quantity: crate::model::Quantity::HeartRateBpm,
        value: 60.0,
        contact: None,
        device_time_ns: None,
    };
    let mut samples = Vec::with_capacity(64);
    samples.extend([sample(0), sample(1000)]);
    let sent = samples.as_ptr();
    rec.sender().blocking_send(RecordMsg::Gathered { batches: vec![], samples, output: vec![] }).unwrap();
    let back = returns.recv_timeout(Duration::from_secs(30)).expect("the buffer comes back");
    assert_eq!((back.as_ptr(), back.len(), back.capacity()), (sent, 0, 64));
    let info = rec.finish().unwrap();
    let recording = crate::record::Recording::open(&info.dir).unwrap();
    assert_eq!(recording.samples().unwrap().len(), 2);
}

/// Replay and summary ask for the same file several times; it is read
/// (decoded) once.
#[test]
fn a_recording_reads_each_file_once() {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, Utc::now(), serde_json::Value::Null).unwrap();
    let ev = SourceEvent::notification(
        SessionTime::from_millis(5),
        "chest".into(),
        Characteristic::HeartRateMeasurement,
        &[0x16, 0x3C, 0x11, 0x04],
    );
    rec.sender().blocking_send(RecordMsg::Batch { events: vec![ev], samples: vec![], output: vec![] }).unwrap();
    let dir = rec.finish().unwrap().dir;
    let recording = crate::record::Recording::open(&dir).unwrap();
    assert_eq!(recording.notifications().unwrap().len(), 1);
    std::fs::remove_file(dir.join(FileKind::Notifications.file_name(0))).unwrap();
    assert_eq!(recording.notifications().unwrap().len(), 1, "read again from the first read");
    let reopened = crate::record::Recording::open(&dir);
    assert!(reopened.is_err(), "a new Recording reads the files as they are now");
}

/// A full disk: every write fails. The writer reports `Failed`, keeps
/// draining and never panics.
#[test]
fn a_write_failure_sets_health_and_keeps_draining() {
    let dir = tempfile::tempdir().unwrap();
    let meta = SessionMeta {
        format: meta::FORMAT.to_owned(),
        format_version: meta::FORMAT_VERSION,
        id: "x".to_owned(),
        start_utc: Utc::now(),
        end_utc: None,
        participant: None,
        protocol: None,
        visit: None,
        notes: Vec::new(),
        scenario: None,
        seed: None,
        software: Software::this(),
        devices: Default::default(),
        config: serde_json::Value::Null,
        segments: vec![Segment {
            index: 0,
            start_utc: Utc::now(),
            end_utc: None,
            clean_shutdown: false,
            recovered: false,
            config: serde_json::Value::Null,
        }],
        clean_shutdown: false,
    };
    let full = |kind: FileKind| {
        let f = fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        LiveFile::on(f, Path::new("/dev/full"), kind, &meta).unwrap()
    };
    let files = FileKind::ALL.into_iter().map(full).collect();
    let (health_tx, mut health) = watch::channel(RecorderHealth::Ok);
    let writer = Writer::new(dir.path().to_owned(), meta, 0, 0, files, health_tx, None);
    let (tx, rx) = mpsc::channel(4);
    let thread = std::thread::spawn(move || writer.run(rx));
    for i in 0..100u64 {
        let ev = SourceEvent::notification(
            SessionTime::from_millis(i),
            "chest".into(),
            Characteristic::HeartRateMeasurement,
            &[0x16, 0x3C, 0x11, 0x04],
        );
        let batch = RecordMsg::Batch { events: vec![ev], samples: vec![], output: vec![] };
        tx.blocking_send(batch).unwrap();
    }
    tx.blocking_send(RecordMsg::Finish).unwrap();
    let result = thread.join().unwrap();
    assert!(matches!(result, Err(RecordError::Failed(_))), "{result:?}");
    match &*health.borrow_and_update() {
        RecorderHealth::Failed { message, not_recorded } => {
            assert!(message.contains("/dev/full"), "{message}");
            assert_eq!(not_recorded.notifications, 100, "every notification was lost");
        }
        RecorderHealth::Ok => panic!("not failed"),
    }
}
