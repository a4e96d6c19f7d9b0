//! The ECG strip and `tech.ecg` share one verdict (`verdict::judge_ecg` on
//! the alarm engine's `EcgWatch`), as `tests/stale_verdict.rs` shows for
//! readings: a strap whose ECG stops keeps its strip until `[alarms.tech_ecg]
//! after_s` of silence, then shows `ECG --` in the same tick `tech.ecg` is
//! raised, while its heart rate stays live.
//!
//! The pipeline is driven as a session drives it, with real PMD payloads
//! (`EcgFrame::encode_into`: a sine and beats at 130 Hz, 73 samples a
//! frame), and the dashboard is the real `render` on a `TestBackend`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::Duration;

use chrono::{FixedOffset, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::dashboard::{ViewState, render};
use vigil::gatt::pmd::{DATA_CHARACTERISTIC, EcgFrame};
use vigil::model::{
    AlarmState, Characteristic, Condition, DeviceLabel, EventBody, OutputEvent, Payload, SessionTime, SourceEvent,
};
use vigil::pipeline::{Pipeline, SnapshotBase};
use vigil::snapshot::{EcgStatus, Mode, ReadingStatus, Snapshot};
use vigil::sources::stream::{ParsedLine, parse_line};

/// Samples per frame, and the strap's period, ns.
const FRAME: u64 = 73;
const PERIOD_NS: f64 = 1e9 / 130.0;

fn base() -> SnapshotBase {
    SnapshotBase {
        start_utc: Utc.with_ymd_and_hms(2026, 12, 8, 8, 0, 0).unwrap(),
        participant: None,
        record_dir: None,
        mode: Mode::Live,
    }
}

/// PMD frame `k` of a strap: a 1 Hz sine and a beat every 0.8 s, µV.
fn frame(k: u64) -> Payload {
    let first = k * FRAME;
    let samples_uv = (first..first + FRAME)
        .map(|i| {
            let t = i as f64 * PERIOD_NS / 1e9;
            let beat = (t % 0.8 - 0.3) / 0.012;
            (200.0 * (t * std::f64::consts::TAU).sin() + 1_200.0 * (-beat * beat).exp()).round() as i32
        })
        .collect();
    let timestamp_ns = 1_000_000_000_000 + ((first + FRAME - 1) as f64 * PERIOD_NS) as u64;
    let mut payload = Payload::new();
    EcgFrame { timestamp_ns, samples_uv }.encode_into(&mut payload);
    payload
}

/// When frame `k` arrives, ms: one frame every 73 / 130 s.
fn frame_at_ms(k: u64) -> u64 {
    ((k + 1) as f64 * FRAME as f64 * PERIOD_NS / 1e6).round() as u64
}

fn ecg(at_ms: u64, k: u64) -> SourceEvent {
    SourceEvent::notification(SessionTime::from_millis(at_ms), "chest".into(), DATA_CHARACTERISTIC, &frame(k))
}

fn heart_rate(at_ms: u64) -> SourceEvent {
    SourceEvent::notification(
        SessionTime::from_millis(at_ms),
        "chest".into(),
        Characteristic::HeartRateMeasurement,
        &[0x06, 72],
    )
}

fn body(at_ms: u64, body: EventBody) -> SourceEvent {
    SourceEvent { at: SessionTime::from_millis(at_ms), device: Some(DeviceLabel::from("chest")), body }
}

fn ecg_status(s: &Snapshot) -> Option<EcgStatus> {
    s.devices.iter().find(|d| &*d.label == "chest").and_then(|d| d.ecg.as_ref()).map(|e| e.status.clone())
}

fn heart_rate_status(s: &Snapshot) -> ReadingStatus {
    s.devices.iter().find(|d| &*d.label == "chest").unwrap().readings[0].status
}

fn tech_ecg_raised(e: &OutputEvent) -> bool {
    matches!(e, OutputEvent::Alarm(a) if a.condition == Condition::TechEcg && a.state == AlarmState::Active)
}

fn screen(s: &Snapshot) -> String {
    let wall = FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2026, 12, 8, 9, 0, 0).unwrap();
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| render(f, s, &ViewState::new(false, false, wall))).unwrap();
    t.backend().buffer().content.iter().map(ratatui::buffer::Cell::symbol).collect()
}

/// Run `events`, then tick the clock in 100 ms steps from `from_ms`: the
/// first tick whose snapshot does not show the strip, and the first tick
/// that raised `tech.ecg` with its stamp. Heart rate keeps coming.
fn first_ticks(p: &mut Pipeline, from_ms: u64) -> (u64, (u64, u64)) {
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    let (mut strip_gone, mut raised) = (None, None);
    let mut now = from_ms;
    while strip_gone.is_none() || raised.is_none() {
        now += 100;
        assert!(now < from_ms + 60_000, "nothing happened in a minute");
        out.clear();
        let beats: Vec<SourceEvent> =
            (now - from_ms).is_multiple_of(1000).then(|| heart_rate(now)).into_iter().collect();
        p.process(&beats, SessionTime::from_millis(now), &mut samples, &mut out);
        if raised.is_none()
            && let Some(OutputEvent::Alarm(a)) = out.iter().find(|e| tech_ecg_raised(e))
        {
            raised = Some((now, a.at.as_millis()));
        }
        let snapshot = p.snapshot(&base());
        assert_eq!(heart_rate_status(&snapshot), ReadingStatus::Live, "the heart rate is unaffected at {now} ms");
        if strip_gone.is_none() && ecg_status(&snapshot) != Some(EcgStatus::Live) {
            strip_gone = Some(now);
        }
    }
    (strip_gone.unwrap(), raised.unwrap())
}

fn streaming(config: &Config, frames: u64) -> (Pipeline, u64) {
    let mut p = Pipeline::new(AlarmEngine::new(config.alarms.clone()));
    let mut events: Vec<SourceEvent> = (0..frames).map(|k| ecg(frame_at_ms(k), k)).collect();
    events.extend((0..=frame_at_ms(frames - 1) / 1000).map(|s| heart_rate(s * 1000)));
    events.sort_by_key(|e| e.at);
    let last = frame_at_ms(frames - 1);
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    p.process(&events, SessionTime::from_millis(last), &mut samples, &mut out);
    assert!(!out.iter().any(tech_ecg_raised), "tech.ecg while streaming: {out:?}");
    assert!(samples.iter().all(|s| s.quantity == vigil::model::Quantity::HeartRateBpm), "ECG makes no vital samples");
    (p, last)
}

#[test]
fn the_strip_shows_dashes_in_the_tick_tech_ecg_is_raised() {
    for (config, after_ms) in [
        (Config::default(), 5_000),
        (Config::from_toml_str("[alarms.tech_ecg]\nafter_s = 3\n", Path::new("ecg.toml")).unwrap(), 3_000),
    ] {
        let (mut p, last) = streaming(&config, 20);
        let live = p.snapshot(&base());
        assert_eq!(ecg_status(&live), Some(EcgStatus::Live));
        let strip = &live.devices[0].ecg.as_ref().unwrap().samples;
        assert!(strip.len() > 1_000, "the last ~10 s of ECG: {}", strip.len());
        let text = screen(&live);
        assert!(text.contains("chest · ECG 130 Hz · 25 mm/s"), "{text}");
        let (gone, (raised, stamped)) = first_ticks(&mut p, last);
        assert_eq!(stamped, last + after_ms, "tech.ecg stamped after_s after the last frame");
        // The ticks fall on the stamp (after_s is whole ticks after the
        // first one).
        assert_eq!((raised, gone), (stamped, stamped), "the alarm and the strip's `--` in one tick");
        let text = screen(&p.snapshot(&base()));
        assert!(text.contains("chest · ECG --  silent") && !text.contains("ECG 130 Hz"), "{text}");
        assert!(text.contains("tech.ecg"), "{text}");
    }
}

/// After a reconnection the strip stays hidden (the old trace is not the
/// strap's ECG now), `tech.ecg` follows after_s later if ECG does not come
/// back; while disconnected only `tech.disconnected` is raised.
#[test]
fn ecg_that_does_not_return_after_a_reconnection_alarms() {
    let (mut p, last) = streaming(&Config::default(), 10);
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    p.process(
        &[body(last + 100, EventBody::Disconnected { reason: None })],
        SessionTime::from_millis(last + 8_000),
        &mut samples,
        &mut out,
    );
    assert_eq!(ecg_status(&p.snapshot(&base())), Some(EcgStatus::Disconnected));
    assert!(!out.iter().any(tech_ecg_raised), "a disconnection is tech.disconnected's: {out:?}");
    let back = last + 8_000;
    out.clear();
    let connected = EventBody::Connected { name: None, address: None, services: Vec::new() };
    p.process(&[body(back, connected), heart_rate(back)], SessionTime::from_millis(back), &mut samples, &mut out);
    assert_eq!(ecg_status(&p.snapshot(&base())), Some(EcgStatus::Silent), "the old trace stays hidden");
    let (_, (raised, stamped)) = first_ticks(&mut p, back);
    assert_eq!((raised, stamped), (back + 5_000, back + 5_000));
    // ECG is back: the alarm clears with the first frame and the strip shows.
    out.clear();
    p.process(&[ecg(back + 5_300, 100)], SessionTime::from_millis(back + 5_300), &mut samples, &mut out);
    assert!(out.iter().any(|e| matches!(e, OutputEvent::Alarm(a) if a.condition == Condition::TechEcg && a.state == AlarmState::Cleared)), "{out:?}");
    assert_eq!(ecg_status(&p.snapshot(&base())), Some(EcgStatus::Live));
}

/// A stream's `ecg` line with `started: false` (as the BLE source sends a
/// refused start) raises `tech.ecg` at once and shows the strap's reason.
#[test]
fn a_refused_start_from_a_stream_line_alarms_at_once_with_its_reason() {
    let line = r#"{"at_ms": 1200, "device": "chest", "event": "ecg", "started": false, "reason": "invalid state"}"#;
    let ParsedLine::Event { at, device, body } = parse_line(1, line).unwrap() else { panic!("blank") };
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    let events = [heart_rate(1_000), SourceEvent { at: at.unwrap(), device: device.map(DeviceLabel::from), body }];
    p.process(&events, SessionTime::from_millis(1_200), &mut samples, &mut out);
    let raised: Vec<_> = out.iter().filter(|e| tech_ecg_raised(e)).map(OutputEvent::at).collect();
    assert_eq!(raised, vec![SessionTime::from_millis(1_200)], "{out:?}");
    let snapshot = p.snapshot(&base());
    assert_eq!(ecg_status(&snapshot), Some(EcgStatus::Refused(Some("invalid state".into()))));
    let text = screen(&snapshot);
    assert!(text.contains("ECG --  start refused: invalid state"), "{text}");
}

/// A session without ECG has no strip and no ECG memory; with ECG the
/// memory stops growing once the ring is full, whatever the session length.
#[test]
fn ecg_memory_is_bounded_and_nothing_without_ecg() {
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    let beats: Vec<SourceEvent> = (0..600).map(|s| heart_rate(s * 1000)).collect();
    p.process(&beats, SessionTime::from_secs(600), &mut samples, &mut out);
    let without = p.history().heap_bytes();
    assert_eq!(ecg_status(&p.snapshot(&base())), None, "no ECG expected, no strip");
    p.process(&[ecg(600_100, 0)], SessionTime::from_millis(600_100), &mut samples, &mut out);
    let with_ring = p.history().heap_bytes();
    assert_eq!(with_ring - without, vigil::history::ECG_RING * 16, "one ring of 16-byte points");
    // An hour of frames, in batches as a session sends them.
    for chunk in (1..6_411u64).collect::<Vec<_>>().chunks(200) {
        let events: Vec<SourceEvent> = chunk.iter().map(|&k| ecg(600_100 + frame_at_ms(k), k)).collect();
        let until = events.last().unwrap().at;
        p.process(&events, until, &mut samples, &mut out);
    }
    assert_eq!(p.history().heap_bytes(), with_ring, "memory grew with the session");
    assert!(!out.iter().any(tech_ecg_raised));
}

/// At random (frames, heart rate, silences, disconnections, refusals,
/// suspends): the strip is never drawn while `tech.ecg` is raised.
#[test]
fn no_strip_is_drawn_while_tech_ecg_is_raised() {
    for seed in 0..100 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
        let (mut samples, mut out) = (Vec::new(), Vec::new());
        let (mut t_ms, mut k, mut raised_seen) = (0u64, 0u64, false);
        for step in 0..300 {
            let event = match rng.random_range(0..20u32) {
                0..=9 => Some(ecg(t_ms, k)),
                10..=13 => Some(heart_rate(t_ms)),
                14 => Some(body(t_ms, EventBody::Disconnected { reason: None })),
                15 => Some(body(t_ms, EventBody::Connected { name: None, address: None, services: Vec::new() })),
                16 => Some(body(t_ms, EventBody::EcgStatus { started: rng.random_bool(0.5), reason: None })),
                17 => Some(body(t_ms, EventBody::Gap { duration: Duration::from_millis(rng.random_range(0..20_000)) })),
                _ => None,
            };
            k += 1;
            p.process(event.as_slice(), SessionTime::from_millis(t_ms), &mut samples, &mut out);
            let snapshot = p.snapshot(&base());
            if snapshot.alarms.iter().any(|a| a.condition == Condition::TechEcg) {
                raised_seen = true;
                assert_ne!(ecg_status(&snapshot), Some(EcgStatus::Live), "seed {seed} step {step} at {t_ms} ms");
            }
            t_ms += if rng.random_bool(0.1) { rng.random_range(3_000..20_000) } else { rng.random_range(1..1_500) };
        }
        assert!(raised_seen, "seed {seed}: tech.ecg never raised");
    }
}
