//! Staleness has one owner (issue 19, Must show 1): with
//! `[alarms.tech_stale] min_s = 20`, a sensor that stops keeps its value on
//! the dashboard until 20 s of silence, then shows `--` in the same tick
//! that `tech.stale` is raised — never before, never after.
//!
//! The pipeline is driven as a session drives it (batches, then the clock
//! advanced in small ticks), and the dashboard is the real `render` on
//! ratatui's `TestBackend`, drawn from the pipeline's own snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::Duration;

use chrono::{FixedOffset, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use vigil::alarms::{AlarmEngine, DeviceTiming};
use vigil::config::Config;
use vigil::dashboard::{ViewState, render};
use vigil::devices::DeviceSetup;
use vigil::model::{
    AlarmState, Characteristic, Condition, DeviceLabel, EventBody, OutputEvent, Payload, Quantity, SessionTime,
    SourceEvent,
};
use vigil::pipeline::{Pipeline, SnapshotBase};
use vigil::snapshot::{Mode, ReadingStatus, Snapshot};

/// The configuration of the example, read as a user's file is.
fn min_twenty() -> Config {
    let text = "[alarms.tech_stale]\nmin_s = 20\n";
    Config::from_toml_str(text, Path::new("stale.toml")).unwrap()
}

fn base() -> SnapshotBase {
    SnapshotBase {
        start_utc: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
        participant: Some("P-019".into()),
        record_dir: None,
        mode: Mode::Live,
    }
}

/// A chest strap beating at 72 bpm every `every_ms` from 0 until `last_s`,
/// then silent; `profile` is its declared interval (`None`: learned).
fn stopped_sensor(config: &Config, profile: Option<Duration>, every_ms: u64, last_s: u64) -> Pipeline {
    let mut p = Pipeline::new(AlarmEngine::new(config.alarms.clone()));
    let chest = DeviceLabel::from("chest");
    let timing = DeviceTiming { expected_interval: profile, intermittent: false };
    p.set_device(&chest, DeviceSetup { timing, ..DeviceSetup::default() });
    let events: Vec<SourceEvent> = (0..=last_s * 1000 / every_ms)
        .map(|k| {
            SourceEvent::notification(
                SessionTime::from_millis(k * every_ms),
                chest.clone(),
                Characteristic::HeartRateMeasurement,
                &[0x06, 72],
            )
        })
        .collect();
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    p.process(&events, SessionTime::from_secs(last_s), &mut samples, &mut out);
    assert!(!out.iter().any(is_stale_alarm), "stale while beating: {out:?}");
    p
}

fn is_stale_alarm(e: &OutputEvent) -> bool {
    matches!(e, OutputEvent::Alarm(a) if a.condition == Condition::TechStale && a.state == AlarmState::Active)
}

fn heart_rate_status(s: &Snapshot) -> ReadingStatus {
    let chest = s.devices.iter().find(|d| &*d.label == "chest").unwrap();
    chest.readings.iter().find(|r| r.quantity == Quantity::HeartRateBpm).unwrap().status
}

/// Advance the session clock in 100 ms ticks from `from_ms`: the first
/// tick whose snapshot shows the heart rate stale, and the first tick that
/// raised `tech.stale` with the time it was stamped.
fn first_stale_ticks(p: &mut Pipeline, from_ms: u64) -> (u64, (u64, u64)) {
    let mut out = Vec::new();
    let (mut screen, mut alarm) = (None, None);
    let mut now_ms = from_ms;
    while screen.is_none() || alarm.is_none() {
        now_ms += 100;
        assert!(now_ms < from_ms + 120_000, "nothing went stale in two minutes");
        out.clear();
        p.advance_to(SessionTime::from_millis(now_ms), &mut out);
        if alarm.is_none()
            && let Some(OutputEvent::Alarm(a)) = out.iter().find(|e| is_stale_alarm(e))
        {
            alarm = Some((now_ms, a.at.as_millis()));
        }
        if screen.is_none() && heart_rate_status(&p.snapshot(&base())) == ReadingStatus::Stale {
            screen = Some(now_ms);
        }
    }
    (screen.unwrap(), alarm.unwrap())
}

/// The scenario: whatever sets the limit (the configured minimum, a
/// profile's interval, a learned one), the reading turns stale in the tick
/// `tech.stale` is raised, and `tech.stale` is stamped at the limit.
#[test]
fn the_reading_turns_stale_in_the_tick_tech_stale_is_raised() {
    let twenty = min_twenty();
    // (profile interval, beat every ms, last beat s, expected limit s)
    let cases = [
        // min_s = 20 over 3 × 1 s.
        (Some(Duration::from_secs(1)), 1_000, 30, 20),
        // Learned 2 s: 3 × 2 s = 6 s, still under min_s.
        (None, 2_000, 30, 20),
        // A slow profile: 3 × 10 s = 30 s is over min_s.
        (Some(Duration::from_secs(10)), 10_000, 60, 30),
        // Learned 9 s from the beats themselves: 27 s.
        (None, 9_000, 90, 27),
    ];
    for (profile, every_ms, last_s, limit_s) in cases {
        let mut p = stopped_sensor(&twenty, profile, every_ms, last_s);
        let last_ms = last_s * 1000 / every_ms * every_ms;
        let (screen, (raised, stamped)) = first_stale_ticks(&mut p, last_s * 1000);
        let expected = last_ms + limit_s * 1000;
        assert_eq!(stamped, expected, "{profile:?} every {every_ms} ms: tech.stale stamped");
        assert_eq!(raised, expected, "{profile:?} every {every_ms} ms: tech.stale raised");
        assert_eq!(screen, expected, "{profile:?} every {every_ms} ms: the screen's `--`");
    }
}

/// With the defaults the limit is still 5 s (3 × the 1 s default interval
/// is under `min_s`), for the screen and the alarm alike.
#[test]
fn with_the_defaults_both_go_stale_after_five_seconds() {
    let mut p = stopped_sensor(&Config::default(), None, 1_000, 30);
    let (screen, (raised, stamped)) = first_stale_ticks(&mut p, 30_000);
    assert_eq!((screen, raised, stamped), (35_000, 35_000, 35_000));
}

/// At random: any `[alarms.tech_stale]`, a profile's interval or a learned
/// one, beats at any pace with silences of any length, the clock advanced
/// at any moment. After every step the snapshot's heart rate is stale
/// exactly while `tech.stale` is raised for its device.
#[test]
fn screen_and_alarm_agree_through_random_silences() {
    let chest = DeviceLabel::from("chest");
    for seed in 0..150 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut config = Config::default();
        config.alarms.tech_stale.min = Duration::from_millis(rng.random_range(1_000..30_000));
        config.alarms.tech_stale.interval_factor = rng.random_range(1.0..4.0);
        let profile = rng.random_bool(0.5).then(|| Duration::from_millis(rng.random_range(200..12_000)));
        let mut p = Pipeline::new(AlarmEngine::new(config.alarms.clone()));
        let timing = DeviceTiming { expected_interval: profile, intermittent: false };
        p.set_device(&chest, DeviceSetup { timing, ..DeviceSetup::default() });
        let (mut samples, mut out) = (Vec::new(), Vec::new());
        let mut t_ms = 0;
        let mut went_stale = false;
        for step in 0..300 {
            let event = (step == 0 || rng.random_bool(0.5)).then(|| {
                SourceEvent::notification(
                    SessionTime::from_millis(t_ms),
                    chest.clone(),
                    Characteristic::HeartRateMeasurement,
                    &[0x06, 72],
                )
            });
            p.process(event.as_slice(), SessionTime::from_millis(t_ms), &mut samples, &mut out);
            let snapshot = p.snapshot(&base());
            let screen = heart_rate_status(&snapshot) == ReadingStatus::Stale;
            let alarm = snapshot.alarms.iter().any(|a| a.condition == Condition::TechStale);
            assert_eq!(screen, alarm, "seed {seed} step {step} at {t_ms} ms: the screen and the alarm disagree");
            went_stale |= alarm;
            t_ms += if rng.random_bool(0.1) { rng.random_range(5_000..90_000) } else { rng.random_range(1..3_000) };
        }
        assert!(went_stale, "seed {seed}: never went stale");
    }
}

/// Where the two may part, they part safely: after a reconnection with no
/// new data, or a suspend (a `gap`, which moves the alarm's timers so that
/// no burst of alarms follows), the old value stays hidden although
/// `tech.stale` waits. Through any of these at random, no value is ever
/// shown while `tech.stale` is raised.
#[test]
fn no_value_is_shown_while_tech_stale_is_raised() {
    let chest = DeviceLabel::from("chest");
    for seed in 0..150 {
        let mut rng = ChaCha8Rng::seed_from_u64(500 + seed);
        let mut config = Config::default();
        config.alarms.tech_stale.min = Duration::from_millis(rng.random_range(1_000..30_000));
        let mut p = Pipeline::new(AlarmEngine::new(config.alarms.clone()));
        let (mut samples, mut out) = (Vec::new(), Vec::new());
        let mut t_ms = 0;
        let mut went_stale = false;
        for step in 0..300 {
            let at = SessionTime::from_millis(t_ms);
            let kind = if step == 0 { 0 } else { rng.random_range(0..20u32) };
            let body = match kind {
                0..=8 => Some(EventBody::Notification {
                    characteristic: Characteristic::HeartRateMeasurement,
                    payload: Payload::from_slice(&[0x06, 72]),
                }),
                9 => Some(EventBody::Connected { name: None, address: None, services: Vec::new() }),
                10 => Some(EventBody::Disconnected { reason: None }),
                11 => Some(EventBody::Gap { duration: Duration::from_millis(rng.random_range(0..60_000)) }),
                _ => None,
            };
            let events: Vec<SourceEvent> =
                body.into_iter().map(|body| SourceEvent { at, device: Some(chest.clone()), body }).collect();
            p.process(&events, at, &mut samples, &mut out);
            let snapshot = p.snapshot(&base());
            let status = heart_rate_status(&snapshot);
            if snapshot.alarms.iter().any(|a| a.condition == Condition::TechStale) {
                went_stale = true;
                assert!(!status.shows_value(), "seed {seed} step {step} at {t_ms} ms: {status:?} under tech.stale");
            }
            t_ms += if rng.random_bool(0.1) { rng.random_range(5_000..90_000) } else { rng.random_range(1..3_000) };
        }
        assert!(went_stale, "seed {seed}: never went stale");
    }
}

// ---- the dashboard ---------------------------------------------------------

fn view() -> ViewState {
    let wall = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 49).unwrap();
    ViewState::new(false, false, wall.with_timezone(&FixedOffset::east_opt(3600).unwrap()))
}

fn draw(snapshot: &Snapshot) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, snapshot, &view())).unwrap();
    terminal
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The cells of the first occurrence of `word` on the screen.
fn cells_of<'a>(buf: &'a Buffer, word: &str) -> Vec<&'a ratatui::buffer::Cell> {
    let width = usize::from(buf.area.width);
    let n = word.chars().count();
    for y in 0..usize::from(buf.area.height) {
        let row = &buf.content[y * width..(y + 1) * width];
        for x in 0..=width - n {
            if row[x..x + n].iter().map(ratatui::buffer::Cell::symbol).eq(word.chars().map(|c| c.to_string())) {
                return row[x..x + n].iter().collect();
            }
        }
    }
    Vec::new()
}

/// The pipeline's snapshot at 19.9 s and at 20 s of silence, drawn: the
/// value, then `--` with STALE and `tech.stale` in the banner, on the
/// same frame.
#[test]
fn the_dashboard_keeps_the_value_until_twenty_seconds_then_shows_dashes() {
    let mut p = stopped_sensor(&min_twenty(), Some(Duration::from_secs(1)), 1_000, 30);
    let mut out = Vec::new();

    p.advance_to(SessionTime::from_millis(49_900), &mut out);
    assert!(!out.iter().any(is_stale_alarm), "{out:?}");
    let before = draw(&p.snapshot(&base()));
    let screen = text(before.backend().buffer());
    assert!(!screen.contains("STALE") && !screen.contains("tech.stale"), "{screen}");
    // 72 in the large font ("7" then "2").
    assert!(screen.contains("╺━┓ ┏━┓"), "the value is not drawn:\n{screen}");
    insta::assert_snapshot!("stale_min20_at_19_9_s", before.backend());

    p.advance_to(SessionTime::from_secs(50), &mut out);
    assert!(out.iter().any(is_stale_alarm), "{out:?}");
    let after = draw(&p.snapshot(&base()));
    let screen = text(after.backend().buffer());
    assert!(screen.contains("STALE · last 20 s ago"), "{screen}");
    assert!(screen.contains("tech.stale"), "{screen}");
    assert!(!screen.contains("╺━┓ ┏━┓"), "the stale value is still drawn large:\n{screen}");
    insta::assert_snapshot!("stale_min20_at_20_s", after.backend());
}

/// How the stale reading looks, which the text does not show: STALE in
/// bold red, the age after it dim, and the `--` in the tile's plain bold
/// (no alarm colour of a physiological alarm on a value nobody knows).
#[test]
fn the_stale_reading_is_coloured_as_a_fault() {
    let mut p = stopped_sensor(&min_twenty(), Some(Duration::from_secs(1)), 1_000, 30);
    p.advance_to(SessionTime::from_secs(50), &mut Vec::new());
    let t = draw(&p.snapshot(&base()));
    let buf = t.backend().buffer();
    let stale = cells_of(buf, "STALE");
    assert_eq!(stale.len(), 5, "no STALE on screen:\n{}", text(buf));
    for cell in stale {
        assert_eq!(cell.fg, Color::Red);
        assert!(cell.modifier.contains(Modifier::BOLD));
    }
    let age = cells_of(buf, "last 20 s ago");
    assert!(!age.is_empty(), "{}", text(buf));
    assert!(age.iter().all(|c| c.fg == Color::DarkGray));
    // The large `--` is two "╺━╸" glyphs: bold, in no alarm colour.
    let dashes = cells_of(buf, "╺━╸ ╺━╸");
    assert!(!dashes.is_empty(), "no large `--`:\n{}", text(buf));
    for cell in dashes.iter().filter(|c| c.symbol() != " ") {
        assert!(cell.modifier.contains(Modifier::BOLD));
        assert_eq!(cell.fg, Color::Reset);
    }
}
