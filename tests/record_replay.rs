//! The replay source gives back what the live session's sources gave.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use vigil::clock::{Clock, Speed};
use vigil::model::{Batch, EventBody, OutputEvent, SessionTime, SourceEvent};
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording, synthetic};
use vigil::snapshot::ReplayControl;
use vigil::sources::replay;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&Utc)
}

/// Record `seconds` of the synthetic session; return the recording and the
/// source events the live sources produced (plus the gaps, which a live
/// pipeline reports from its own clock and a replay feeds back).
fn record(seconds: u64) -> (tempfile::TempDir, Recording, Vec<SourceEvent>) {
    // On a plain thread: the recorder's API blocks, which async tests must not.
    std::thread::spawn(move || record_blocking(seconds)).join().unwrap()
}

fn record_blocking(seconds: u64) -> (tempfile::TempDir, Recording, Vec<SourceEvent>) {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).unwrap();
    let mut expected = Vec::new();
    for s in synthetic::session(2, seconds, 3) {
        expected.extend(s.events.iter().cloned());
        for o in &s.output {
            if let OutputEvent::Gap { at, duration } = o {
                expected.push(SourceEvent { at: *at, device: None, body: EventBody::Gap { duration: *duration } });
            }
        }
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    let dir = rec.finish().unwrap().dir;
    let rank = |e: &SourceEvent| match e.body {
        EventBody::Connected { .. } | EventBody::DeviceInfo(_) => 0,
        EventBody::Notification { .. } => 2,
        EventBody::Disconnected { .. } => 3,
        _ => 1,
    };
    expected.sort_by_key(|e| (e.at, rank(e)));
    (root, Recording::open(&dir).unwrap(), expected)
}

fn flatten(batches: impl IntoIterator<Item = Batch>) -> Vec<SourceEvent> {
    let mut out = Vec::new();
    let mut last_until = SessionTime::ZERO;
    for b in batches {
        assert!(b.until >= last_until, "watermarks go forward");
        for e in &b.events {
            assert!(e.at >= last_until, "nothing earlier than a previous watermark");
            assert!(e.at <= b.until);
        }
        last_until = b.until;
        out.extend(b.events);
    }
    out
}

#[test]
fn unpaced_batches_give_back_the_source_events_in_order() {
    let (_root, recording, expected) = record(7300);
    let batches: Vec<Batch> = replay::batches(&recording).unwrap().collect();
    assert!(batches.iter().all(|b| b.events.len() <= replay::MAX_BATCH_EVENTS));
    assert_eq!(batches.last().unwrap().until, recording.end().unwrap());
    let got = flatten(batches);
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    // The dose marker and the gap are in there.
    assert!(got.iter().any(|e| matches!(e.body, EventBody::Operator(_))));
    assert!(
        got.iter().any(|e| matches!(e.body, EventBody::Gap { duration } if duration == Duration::from_millis(2500)))
    );
}

#[tokio::test]
async fn paced_run_at_max_speed_matches_the_unpaced_batches() {
    let (_root, recording, expected) = record(700);
    let (tx, mut rx) = mpsc::channel(4);
    let (_ctl_tx, ctl_rx) = mpsc::channel(4);
    let clock = Clock::virtual_at(Speed::Max, recording.meta.start_utc);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(b) = rx.recv().await {
            all.push(b);
        }
        all
    });
    let stats = replay::run(&recording, clock, tx, ctl_rx).await.unwrap();
    let got = flatten(collect.await.unwrap());
    assert!(stats.complete);
    assert_eq!(stats.events as usize, got.len());
    assert_eq!(got, expected);
}

/// Pacing runs on tokio's paused clock here: no real waiting, and the
/// virtual time a replay took is exact.
async fn replay_time(speed: f64, controls: &[ReplayControl]) -> Duration {
    let (_root, recording, _) = record(100);
    let (tx, mut rx) = mpsc::channel(1024);
    let (ctl_tx, ctl_rx) = mpsc::channel(8);
    for c in controls {
        ctl_tx.send(*c).await.unwrap();
    }
    let clock = Clock::virtual_at(Speed::Times(speed), recording.meta.start_utc);
    let t0 = tokio::time::Instant::now();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let stats = replay::run(&recording, clock, tx, ctl_rx).await.unwrap();
    drain.await.unwrap();
    assert!(stats.complete);
    t0.elapsed()
}

#[tokio::test(start_paused = true)]
async fn faster_halves_the_replay_time() {
    let normal = replay_time(10.0, &[]).await;
    let faster = replay_time(10.0, &[ReplayControl::Faster]).await;
    assert!(normal > Duration::from_secs(9) && normal < Duration::from_secs(11), "{normal:?}");
    assert!(faster > Duration::from_millis(4500) && faster < Duration::from_millis(5500), "{faster:?}");
    let slower = replay_time(10.0, &[ReplayControl::Slower]).await;
    assert!(slower > Duration::from_secs(19), "{slower:?}");
}

#[tokio::test(start_paused = true)]
async fn pause_waits_for_the_next_toggle() {
    let (_root, recording, _) = record(20);
    let (tx, mut rx) = mpsc::channel(1024);
    let (ctl_tx, ctl_rx) = mpsc::channel(8);
    ctl_tx.send(ReplayControl::TogglePause).await.unwrap();
    let clock = Clock::virtual_at(Speed::Times(1.0), recording.meta.start_utc);
    let run = tokio::spawn(async move { replay::run(&recording, clock, tx, ctl_rx).await.unwrap() });
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(rx.try_recv().is_err(), "nothing while paused");
    ctl_tx.send(ReplayControl::TogglePause).await.unwrap();
    let t0 = tokio::time::Instant::now();
    while rx.recv().await.is_some() {}
    let stats = run.await.unwrap();
    assert!(stats.complete);
    let took = t0.elapsed();
    assert!(took > Duration::from_secs(18) && took < Duration::from_secs(21), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn next_mark_jumps_to_the_dose_marker() {
    let (_root, recording, _) = record(700);
    let (tx, mut rx) = mpsc::channel::<Batch>(1024);
    let (ctl_tx, ctl_rx) = mpsc::channel(8);
    ctl_tx.send(ReplayControl::NextMark).await.unwrap();
    let clock = Clock::virtual_at(Speed::Times(1.0), recording.meta.start_utc);
    let t0 = tokio::time::Instant::now();
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while let Some(b) = rx.recv().await {
            n += b.events.len();
        }
        n
    });
    let stats = replay::run(&recording, clock, tx, ctl_rx).await.unwrap();
    assert_eq!(drain.await.unwrap() as u64, stats.events);
    let took = t0.elapsed();
    // The marker is at 600 s of 700: only the last 100 s are paced.
    assert!(took > Duration::from_secs(99) && took < Duration::from_secs(101), "{took:?}");
}
