//! The real dashboard `render` on ratatui's `TestBackend`, in the states
//! issue 6 lists. Text goes to insta snapshots (`tests/snapshots/`);
//! colours and flashing, which the text does not show, are checked on cell
//! styles. Wall-clock time and the flash phase come from `ViewState`, so
//! every run draws the same frame.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use vigil::config::Direction;
use vigil::dashboard::keys::Action;
use vigil::dashboard::{Overlay, ViewState, render};
use vigil::history::Trend;
use vigil::model::{
    AlarmState, AlarmStatus, Condition, DeviceLabel, Marker, MarkerKind, OperatorAction, Priority, Quantity,
    SessionTime,
};
use vigil::snapshot::{
    Counters, DeviceView, EcgStatus, EcgStrip, Limit, LimitRule, Mode, Reading, ReadingStatus, ReplayControl, Snapshot,
    UiCommand,
};

/// 1:23:45 into the session.
const NOW_S: u64 = 5025;

fn wall_clock() -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 23, 45)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(3600).unwrap_or_else(|| panic!("offset")))
}

fn view() -> ViewState {
    ViewState::new(false, false, wall_clock())
}

/// A deterministic wavy series: one point every `step_s` over the last
/// `span_s` seconds before `now_s`.
fn recent(now_s: u64, span_s: u64, step_s: u64, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..=span_s / step_s).map(|i| now_s - span_s + i * step_s).map(|t| (t as f64, f(t as f64))).collect()
}

fn trend(until_s: u64, f: impl Fn(f64) -> f64) -> Vec<vigil::history::TrendBucket> {
    let mut t = Trend::default();
    for s in 0..until_s {
        t.push(SessionTime::from_secs(s), f(s as f64));
    }
    t.buckets().to_vec()
}

fn hr(t: f64) -> f64 {
    72.0 + 6.0 * (t / 40.0).sin() + 20.0 * (t / 3000.0).sin().max(0.0)
}

fn temp(t: f64) -> f64 {
    36.8 + 0.6 * (t / 4000.0).sin().max(0.0) + 0.05 * (t / 30.0).sin()
}

fn reading(quantity: Quantity, last: f64, age_s: u64, status: ReadingStatus) -> Reading {
    Reading {
        quantity,
        last: Some(last),
        age: Some(Duration::from_secs(age_s)),
        status,
        recent: Vec::new(),
        trend: Vec::new(),
        rmssd_ms: None,
    }
}

fn chest(now_s: u64) -> DeviceView {
    let mut hr_reading = reading(Quantity::HeartRateBpm, 76.0, 1, ReadingStatus::Live);
    hr_reading.recent = recent(now_s, 1800, 1, hr);
    hr_reading.trend = trend(now_s, hr);
    hr_reading.rmssd_ms = Some(42.3);
    DeviceView {
        label: "chest".into(),
        name: Some("Polar H10".into()),
        address: Some("A0:9E:1A:00:00:01".into()),
        connected: true,
        rssi: Some(-61),
        battery_pct: Some(84.0),
        contact: Some(true),
        decode_errors: 0,
        readings: vec![hr_reading],
        ecg: None,
    }
}

fn thermo(now_s: u64) -> DeviceView {
    let mut t = reading(Quantity::BodyTemperatureC, 37.4, 2, ReadingStatus::Live);
    t.recent = recent(now_s, 1800, 2, temp);
    t.trend = trend(now_s, temp);
    DeviceView {
        label: "thermo".into(),
        name: None,
        address: Some("C0:00:00:00:00:02".into()),
        connected: true,
        rssi: Some(-70),
        battery_pct: Some(90.0),
        contact: None,
        decode_errors: 0,
        readings: vec![t],
        ecg: None,
    }
}

fn cuff(now_s: u64) -> DeviceView {
    let mut sys = reading(Quantity::SystolicMmhg, 128.0, 180, ReadingStatus::Intermittent);
    let mut dia = reading(Quantity::DiastolicMmhg, 82.0, 180, ReadingStatus::Intermittent);
    sys.recent = vec![((now_s - 1080) as f64, 131.0), ((now_s - 180) as f64, 128.0)];
    dia.recent = vec![((now_s - 1080) as f64, 85.0), ((now_s - 180) as f64, 82.0)];
    let pulse = reading(Quantity::PulseRateBpm, 75.0, 180, ReadingStatus::Intermittent);
    DeviceView {
        label: "cuff".into(),
        name: None,
        address: None,
        connected: true,
        rssi: None,
        battery_pct: Some(70.0),
        contact: None,
        decode_errors: 2,
        readings: vec![sys, dia, pulse],
        ecg: None,
    }
}

fn limits() -> Vec<Limit> {
    let hr = |priority, threshold, onset_s| Limit {
        condition: Condition::HrHigh,
        priority,
        rule: LimitRule::Threshold {
            direction: Direction::Above,
            threshold,
            unit: "bpm",
            onset: Duration::from_secs(onset_s),
        },
    };
    vec![
        hr(Priority::Low, 100.0, 60),
        hr(Priority::Medium, 120.0, 30),
        hr(Priority::High, 140.0, 15),
        Limit {
            condition: Condition::TempHigh,
            priority: Priority::Low,
            rule: LimitRule::Threshold {
                direction: Direction::AtLeast,
                threshold: 38.0,
                unit: "°C",
                onset: Duration::from_secs(60),
            },
        },
        Limit {
            condition: Condition::BpHigh,
            priority: Priority::Medium,
            rule: LimitRule::BloodPressure { systolic_above_mmhg: 160.0, diastolic_above_mmhg: 100.0 },
        },
    ]
}

/// A normal session with three devices, 1:23:45 in, dosed at 0:38:35.
fn normal() -> Snapshot {
    let dose_at = SessionTime::from_secs(NOW_S - 2710);
    Snapshot {
        now: SessionTime::from_secs(NOW_S),
        start_utc: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
        participant: Some("P-017".into()),
        record_dir: Some(PathBuf::from("recordings/20261127T080000Z-P-017-1a2b3c4d")),
        mode: Mode::Live,
        devices: vec![chest(NOW_S), thermo(NOW_S), cuff(NOW_S)],
        alarms: Vec::new(),
        audio_paused_until: None,
        markers: vec![(
            dose_at,
            Marker { label: "dose 120 mg".into(), kind: Some(MarkerKind::Dose), amount_mg: Some(120.0) },
        )],
        last_dose_at: Some(dose_at),
        counters: Counters {
            samples: 20_000,
            notifications: 15_000,
            decode_errors: 2,
            bad_lines: 0,
            recorder_drops: 0,
            ..Counters::default()
        },
        limits: limits(),
        window: Duration::from_secs(600),
        stalled: false,
        finished: false,
    }
}

fn alarm(
    condition: Condition,
    device: Option<&str>,
    priority: Priority,
    state: AlarmState,
    value: Option<f64>,
) -> AlarmStatus {
    let unacked = matches!(state, AlarmState::Active | AlarmState::Escalated | AlarmState::Latched);
    AlarmStatus {
        condition,
        device: device.map(DeviceLabel::from),
        priority,
        state,
        since: SessionTime::from_secs(NOW_S - 42),
        changed: SessionTime::from_secs(NOW_S - 20),
        value,
        audible: unacked,
    }
}

fn high_alarm() -> Snapshot {
    let mut s = normal();
    let r = &mut s.devices[0].readings[0];
    r.last = Some(152.0);
    for (i, p) in r.recent.iter_mut().rev().take(90).enumerate() {
        p.1 = 152.0 - i as f64 * 0.8;
    }
    s.alarms = vec![
        alarm(Condition::HrHigh, Some("chest"), Priority::High, AlarmState::Escalated, Some(152.0)),
        alarm(Condition::HrRise, Some("chest"), Priority::Low, AlarmState::Active, Some(74.0)),
    ];
    s
}

fn stale() -> Snapshot {
    let mut s = normal();
    let r = &mut s.devices[1].readings[0];
    r.last = Some(38.7);
    r.age = Some(Duration::from_secs(25));
    r.status = ReadingStatus::Stale;
    s.alarms = vec![alarm(Condition::TechStale, Some("thermo"), Priority::Low, AlarmState::Active, None)];
    s
}

fn no_contact() -> Snapshot {
    let mut s = normal();
    let d = &mut s.devices[0];
    d.contact = Some(false);
    d.readings[0].last = Some(187.0);
    d.readings[0].status = ReadingStatus::NoContact;
    s.alarms = vec![alarm(Condition::TechNoContact, Some("chest"), Priority::Medium, AlarmState::Active, None)];
    s
}

fn acknowledged_and_latched() -> Snapshot {
    let mut s = normal();
    s.alarms = vec![
        alarm(Condition::HrHigh, Some("chest"), Priority::High, AlarmState::Latched, Some(145.0)),
        alarm(Condition::TempHigh, Some("thermo"), Priority::Medium, AlarmState::Acknowledged, Some(38.6)),
    ];
    s
}

fn audio_paused() -> Snapshot {
    let mut s = high_alarm();
    for a in &mut s.alarms {
        a.audible = false;
    }
    s.audio_paused_until = Some(SessionTime::from_secs(NOW_S + 105));
    s
}

fn replay_paused_snapshot() -> Snapshot {
    let mut s = normal();
    s.mode = Mode::Replay { paused: true, speed: 60.0 };
    s.record_dir = None;
    s
}

fn draw(snapshot: &Snapshot, view: &ViewState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render(f, snapshot, view)).unwrap();
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

// ---- text snapshots ----------------------------------------------------

#[test]
fn normal_session_with_three_devices() {
    let t = draw(&normal(), &view(), 80, 24);
    insta::assert_snapshot!("normal_80x24", t.backend());
}

#[test]
fn active_high_priority_alarm() {
    let t = draw(&high_alarm(), &view(), 80, 24);
    insta::assert_snapshot!("high_alarm_80x24", t.backend());
}

#[test]
fn stale_sensor_shows_dashes() {
    let t = draw(&stale(), &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("STALE"), "{screen}");
    // Neither as text nor in large digits ("8" then "7" in the font).
    assert!(!screen.contains("38.7"), "{screen}");
    assert!(!screen.contains("┏━┓ ╺━┓"), "last stale value drawn large:\n{screen}");
    insta::assert_snapshot!("stale_sensor_80x24", t.backend());
}

#[test]
fn no_contact_shows_dashes() {
    let t = draw(&no_contact(), &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(!screen.contains("187"), "{screen}");
    assert!(screen.contains("NO CONTACT"), "{screen}");
    insta::assert_snapshot!("no_contact_80x24", t.backend());
}

#[test]
fn acknowledged_and_latched_alarms() {
    let t = draw(&acknowledged_and_latched(), &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("latched") && screen.contains("acknowledged"), "{screen}");
    insta::assert_snapshot!("ack_and_latched_80x24", t.backend());
}

#[test]
fn audio_pause_countdown() {
    let t = draw(&audio_paused(), &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("AUDIO PAUSED 1:45"), "{screen}");
    insta::assert_snapshot!("audio_paused_80x24", t.backend());
}

#[test]
fn help_overlay() {
    let mut v = view();
    v.overlay = Overlay::Help;
    let t = draw(&normal(), &v, 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("--alarm-command"), "{screen}");
    assert!(screen.contains("tmux"), "{screen}");
    insta::assert_snapshot!("help_80x24", t.backend());
}

#[test]
fn replay_paused() {
    let mut v = view();
    v.replay = true;
    let t = draw(&replay_paused_snapshot(), &v, 80, 24);
    insta::assert_snapshot!("replay_paused_80x24", t.backend());
}

#[test]
fn small_terminal_40x12() {
    let t = draw(&high_alarm(), &view(), 40, 12);
    let screen = text(t.backend().buffer());
    // Charts go first; the alarm and every device's value stay.
    assert!(screen.contains("hr.high"), "{screen}");
    for d in ["chest", "thermo", "cuff"] {
        assert!(screen.contains(d), "{d} missing:\n{screen}");
    }
    insta::assert_snapshot!("high_alarm_40x12", t.backend());
}

#[test]
fn stalled_banner() {
    let mut v = view();
    v.stalled_for = Some(Duration::from_secs(5));
    let t = draw(&normal(), &v, 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("STALLED"), "{screen}");
    // Numbers of unknown age are blanked.
    assert!(!screen.contains("37.4") && !screen.contains("128/82"), "{screen}");
    insta::assert_snapshot!("stalled_80x24", t.backend());
    // The pipeline's own tech.stalled flag shows too.
    let mut s = normal();
    s.stalled = true;
    let t = draw(&s, &view(), 80, 24);
    assert!(text(t.backend().buffer()).contains("tech.stalled"));
}

#[test]
fn prompt_with_error_and_limits_view() {
    let s = normal();
    let mut v = view();
    v.apply(Action::BeginManual, &s);
    for c in "95/150".chars() {
        v.apply(Action::PromptChar(c), &s);
    }
    assert!(v.apply(Action::PromptSubmit, &s).is_empty());
    let t = draw(&s, &v, 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("systolic comes first"), "{screen}");
    insta::assert_snapshot!("manual_prompt_error_80x24", t.backend());

    let mut v = view();
    v.apply(Action::ToggleLimits, &s);
    let t = draw(&s, &v, 80, 24);
    insta::assert_snapshot!("limits_80x24", t.backend());
}

#[test]
fn large_terminal_four_devices() {
    let mut s = high_alarm();
    let mut ox = chest(NOW_S);
    ox.label = "finger".into();
    ox.name = Some("Nonin 3150".into());
    ox.contact = None;
    ox.readings[0].quantity = Quantity::Spo2Pct;
    ox.readings[0].last = Some(97.0);
    ox.readings[0].rmssd_ms = None;
    for p in &mut ox.readings[0].recent {
        p.1 = 97.0 + (p.0 / 50.0).sin();
    }
    ox.readings[0].trend.clear();
    s.devices.push(ox);
    let t = draw(&s, &view(), 160, 48);
    insta::assert_snapshot!("high_alarm_160x48", t.backend());
}

// ---- ECG strips ----------------------------------------------------------

/// 10 s of a synthetic ECG at 130 Hz ending at `now_s`, 72 bpm: a slow
/// sine (baseline wander) plus P, QRS and T bumps, µV.
fn ecg_samples(now_s: u64) -> Vec<vigil::history::EcgPoint> {
    let bump = |t: f64, at: f64, width: f64, height: f64| height * (-((t - at) / width).powi(2)).exp();
    let period_ns = 1e9 / 130.0;
    let end_ns = now_s as f64 * 1e9;
    (0..1300u32)
        .map(|i| {
            let at_ns = end_ns - f64::from(1299 - i) * period_ns;
            let t = at_ns / 1e9;
            let beat = t.rem_euclid(60.0 / 72.0);
            let uv = 80.0 * (t * 0.3).sin()
                + bump(beat, 0.15, 0.025, 150.0)
                + bump(beat, 0.30, 0.008, -150.0)
                + bump(beat, 0.32, 0.010, 1_300.0)
                + bump(beat, 0.34, 0.008, -300.0)
                + bump(beat, 0.55, 0.045, 300.0);
            vigil::history::EcgPoint { at_ns: at_ns.round() as i64, uv: uv.round() as i32 }
        })
        .collect()
}

fn with_ecg(mut s: Snapshot, status: EcgStatus) -> Snapshot {
    let samples = if status.shows_strip() { ecg_samples(NOW_S) } else { Vec::new() };
    s.devices[0].ecg = Some(EcgStrip { status, rate_hz: 130.0, samples });
    s
}

#[test]
fn ecg_strip_live_at_80x24() {
    let s = with_ecg(normal(), EcgStatus::Live);
    let t = draw(&s, &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("chest · ECG 130 Hz · 25 mm/s · scale ⡇ 1 mV"), "{screen}");
    insta::assert_snapshot!("ecg_live_80x24", t.backend());
}

#[test]
fn ecg_strip_live_at_120x40_is_taller() {
    let s = with_ecg(normal(), EcgStatus::Live);
    let t = draw(&s, &view(), 120, 40);
    let screen = text(t.backend().buffer());
    let label = screen.lines().position(|l| l.contains("ECG 130 Hz")).expect("a strip");
    // Rows of trace between the label and the charts' frame.
    let trace_rows = screen.lines().skip(label + 1).take_while(|l| !l.contains('┌')).count();
    assert_eq!(trace_rows, 4, "{screen}");
    insta::assert_snapshot!("ecg_live_120x40", t.backend());
}

#[test]
fn ecg_stale_shows_dashes_and_no_strip() {
    let mut s = with_ecg(normal(), EcgStatus::Silent);
    s.alarms = vec![alarm(Condition::TechEcg, Some("chest"), Priority::Medium, AlarmState::Active, None)];
    let t = draw(&s, &view(), 80, 24);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("chest · ECG --  silent"), "{screen}");
    assert!(!screen.contains("ECG 130 Hz"), "{screen}");
    insta::assert_snapshot!("ecg_stale_80x24", t.backend());
    let refused = with_ecg(normal(), EcgStatus::Refused(Some("invalid state".into())));
    let screen = text(draw(&refused, &view(), 80, 24).backend().buffer());
    assert!(screen.contains("ECG --  start refused: invalid state"), "{screen}");
}

/// Without room for a trace the strip says so rather than vanish; the
/// values and alarms keep their rows.
#[test]
fn ecg_strip_gives_way_on_a_small_terminal() {
    let s = with_ecg(high_alarm(), EcgStatus::Live);
    let t = draw(&s, &view(), 80, 14);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("hr.high"), "{screen}");
    for h in 1..24 {
        draw(&s, &view(), 80, h);
        draw(&s, &view(), 30, h);
    }
}

#[test]
fn ecg_strip_at_160x48_with_four_devices() {
    let mut s = with_ecg(high_alarm(), EcgStatus::Live);
    let mut second = chest(NOW_S);
    second.label = "chest2".into();
    second.ecg = Some(EcgStrip { status: EcgStatus::Disconnected, rate_hz: 130.0, samples: Vec::new() });
    second.connected = false;
    s.devices.push(second);
    let t = draw(&s, &view(), 160, 48);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("chest2 · ECG --  disconnected"), "{screen}");
    assert!(screen.contains("chest · ECG 130 Hz"), "{screen}");
}

// ---- never panic, whatever the size -----------------------------------

#[test]
fn every_small_size_renders_without_panic() {
    let states = [high_alarm(), stale()];
    let mut views = vec![view()];
    for overlay in [Overlay::Help, Overlay::Limits, Overlay::ConfirmQuit] {
        let mut v = view();
        v.overlay = overlay;
        views.push(v);
    }
    let mut v = view();
    v.apply(Action::BeginDose, &states[0]);
    v.stalled_for = Some(Duration::from_secs(3));
    views.push(v);
    let mut empty = normal();
    empty.devices.clear();
    // Every height up to 14 and the widths where layouts switch (tile
    // sizes, chart/trend split, list format), plus the extremes.
    let widths = [1, 2, 3, 5, 13, 17, 18, 21, 22, 39, 40, 59, 60, 71, 72, 80];
    let heights = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14];
    let sizes = || widths.iter().flat_map(move |&w| heights.map(move |h| (w, h))).chain([(200, 3), (3, 60)]);
    for s in states.iter().chain([&empty]) {
        for (w, h) in sizes() {
            draw(s, &views[0], w, h);
        }
    }
    for v in &views[1..] {
        for (w, h) in sizes().step_by(3) {
            draw(&states[0], v, w, h);
        }
    }
}

// ---- colours and flashing on cell styles -------------------------------

/// The row holding the alarm banner (the one with "▲").
fn banner_row(buf: &Buffer) -> u16 {
    (0..buf.area.height)
        .find(|&y| (0..buf.area.width).any(|x| buf[(x, y)].symbol() == "▲"))
        .unwrap_or_else(|| panic!("no banner"))
}

/// The style of the banner's first text cell.
fn banner_cell(snapshot: &Snapshot, no_color: bool, flash_ms: u64) -> ratatui::buffer::Cell {
    let mut v = ViewState::new(no_color, false, wall_clock());
    v.flash_clock = Duration::from_millis(flash_ms);
    let t = draw(snapshot, &v, 80, 24);
    let buf = t.backend().buffer().clone();
    let y = banner_row(&buf);
    buf[(2, y)].clone()
}

fn with_top(priority: Priority, condition: Condition, state: AlarmState) -> Snapshot {
    let mut s = normal();
    s.alarms = vec![alarm(condition, Some("chest"), priority, state, Some(130.0))];
    s
}

#[test]
fn high_priority_flashes_red_at_2_hz() {
    let s = with_top(Priority::High, Condition::HrHigh, AlarmState::Active);
    let on = banner_cell(&s, false, 0);
    let off = banner_cell(&s, false, 250);
    assert_eq!(on.bg, Color::Red);
    assert_eq!(on.fg, Color::White);
    assert!(on.modifier.contains(Modifier::BOLD));
    assert_eq!(off.bg, Color::Reset);
    assert_eq!(off.fg, Color::Red);
    // 500 ms later it is lit again: a 2 Hz cycle.
    assert_eq!(banner_cell(&s, false, 500).bg, Color::Red);
    // The whole banner row is filled, not just the text.
    let v = view();
    let t = draw(&s, &v, 80, 24);
    let buf = t.backend().buffer();
    let y = banner_row(buf);
    assert!((0..80).all(|x| buf[(x, y)].bg == Color::Red));
}

#[test]
fn medium_priority_flashes_yellow_slowly() {
    let s = with_top(Priority::Medium, Condition::HrHigh, AlarmState::Active);
    assert_eq!(banner_cell(&s, false, 0).bg, Color::Yellow);
    // Still lit after 250 ms (unlike high), dark after 1 s.
    assert_eq!(banner_cell(&s, false, 250).bg, Color::Yellow);
    let off = banner_cell(&s, false, 1000);
    assert_eq!(off.bg, Color::Reset);
    assert_eq!(off.fg, Color::Yellow);
}

#[test]
fn low_priority_is_steady_cyan_and_technical_is_labelled() {
    let s = with_top(Priority::Low, Condition::HrHigh, AlarmState::Active);
    for ms in [0, 250, 1000, 1250] {
        assert_eq!(banner_cell(&s, false, ms).bg, Color::Cyan, "at {ms} ms");
    }
    let tech = with_top(Priority::Medium, Condition::TechDisconnected, AlarmState::Active);
    let t = draw(&tech, &view(), 80, 24);
    assert!(text(t.backend().buffer()).contains("TECHNICAL MEDIUM"));
}

#[test]
fn acknowledged_alarm_stops_flashing() {
    let s = with_top(Priority::High, Condition::HrHigh, AlarmState::Acknowledged);
    let a = banner_cell(&s, false, 0);
    let b = banner_cell(&s, false, 250);
    assert_eq!(a, b);
    assert_eq!(a.bg, Color::Reset);
    assert_eq!(a.fg, Color::Red);
    // A latched alarm has not been acknowledged: it still flashes.
    let s = with_top(Priority::High, Condition::HrHigh, AlarmState::Latched);
    assert_ne!(banner_cell(&s, false, 0), banner_cell(&s, false, 250));
}

#[test]
fn no_color_flashes_by_reverse_video_and_uses_no_colour_anywhere() {
    let s = with_top(Priority::High, Condition::HrHigh, AlarmState::Active);
    let on = banner_cell(&s, true, 0);
    let off = banner_cell(&s, true, 250);
    assert!(on.modifier.contains(Modifier::REVERSED | Modifier::BOLD));
    assert!(!off.modifier.contains(Modifier::REVERSED));
    assert!(off.modifier.contains(Modifier::BOLD));
    let medium = with_top(Priority::Medium, Condition::HrHigh, AlarmState::Active);
    assert!(banner_cell(&medium, true, 250).modifier.contains(Modifier::REVERSED));
    assert!(!banner_cell(&medium, true, 1000).modifier.contains(Modifier::REVERSED));

    for snapshot in [high_alarm(), stale(), no_contact(), audio_paused(), acknowledged_and_latched()] {
        let mut v = ViewState::new(true, false, wall_clock());
        v.stalled_for = Some(Duration::from_secs(3));
        for flash_ms in [0, 250] {
            v.flash_clock = Duration::from_millis(flash_ms);
            let t = draw(&snapshot, &v, 160, 48);
            let buf = t.backend().buffer();
            for cell in &buf.content {
                assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "colour under NO_COLOR");
            }
        }
    }
}

#[test]
fn stale_and_alarmed_values_are_coloured() {
    // The HR value of a device with a high alarm is drawn red.
    let t = draw(&high_alarm(), &view(), 80, 24);
    let buf = t.backend().buffer();
    let red_glyphs = buf.content.iter().filter(|c| c.fg == Color::Red && c.symbol() == "┏").count();
    assert!(red_glyphs > 0);
}

// ---- actions -----------------------------------------------------------

#[test]
fn keys_turn_into_the_right_commands() {
    let s = acknowledged_and_latched();
    let mut v = view();
    // `a` acknowledges the banner's alarm: the latched one.
    assert_eq!(
        v.apply(Action::AckTop, &s),
        vec![UiCommand::Operator(OperatorAction::Ack { alarm: Some(Condition::HrHigh), device: Some("chest".into()) })]
    );
    assert_eq!(
        v.apply(Action::AckAll, &s),
        vec![UiCommand::Operator(OperatorAction::Ack { alarm: None, device: None })]
    );
    // Dose: d, type, Enter.
    v.apply(Action::BeginDose, &s);
    for c in "120".chars() {
        v.apply(Action::PromptChar(c), &s);
    }
    let sent = v.apply(Action::PromptSubmit, &s);
    assert!(matches!(&sent[..], [UiCommand::Operator(OperatorAction::Marker(m))] if m.amount_mg == Some(120.0)));
    assert!(v.prompt.is_none());
    // Window steps 10 -> 30 -> 30, then down to 5.
    assert_eq!(v.apply(Action::WiderWindow, &s), vec![UiCommand::SetWindow(Duration::from_secs(1800))]);
    assert_eq!(v.apply(Action::WiderWindow, &s), vec![UiCommand::SetWindow(Duration::from_secs(1800))]);
    v.apply(Action::NarrowerWindow, &s);
    assert_eq!(v.apply(Action::NarrowerWindow, &s), vec![UiCommand::SetWindow(Duration::from_secs(300))]);
    // Device selection wraps.
    v.apply(Action::PrevDevice, &s);
    assert_eq!(v.selected, 2);
    // Quit needs confirmation.
    assert!(v.apply(Action::RequestQuit, &s).is_empty());
    assert_eq!(v.overlay, Overlay::ConfirmQuit);
    assert!(v.apply(Action::CancelQuit, &s).is_empty());
    v.apply(Action::RequestQuit, &s);
    assert_eq!(v.apply(Action::ConfirmQuit, &s), vec![UiCommand::Quit]);
    // Replay keys do nothing live, and work in replay.
    assert!(v.apply(Action::ReplayTogglePause, &s).is_empty());
    let mut r = ViewState::new(false, true, wall_clock());
    assert_eq!(r.apply(Action::ReplayFaster, &s), vec![UiCommand::Replay(ReplayControl::Faster)]);
}

#[test]
fn selection_moves_charts_and_marks_the_tile() {
    let s = normal();
    let mut v = view();
    v.apply(Action::NextDevice, &s);
    let t = draw(&s, &v, 80, 24);
    let screen = text(t.backend().buffer());
    // The selected tile has the double border, and its chart comes first.
    let first_chart = screen.lines().find(|l| l.contains("last 10 min")).unwrap();
    assert!(first_chart.contains("thermo"), "{screen}");
    assert!(screen.lines().any(|l| l.starts_with('║') || l.contains("╔ thermo") || l.contains("╔═")), "{screen}");
}

#[test]
fn medium_tiles_keep_value_age_and_link_lines() {
    // Two devices at 40×12 get bordered three-line tiles (found live: a
    // squeezed layout once gave the age line zero height).
    let mut s = normal();
    s.devices.truncate(2);
    let t = draw(&s, &view(), 40, 12);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("HR 76 bpm"), "{screen}");
    assert!(screen.contains("age 1 s"), "{screen}");
    assert!(screen.contains("contact ✓"), "{screen}");
    // Labels stay whole in narrow titles.
    assert!(screen.contains("thermo"), "{screen}");
}

/// A chest strap that loses skin contact reports 0 bpm: the recent-window
/// chart leaves those samples out, as the session trend does, instead of
/// drawing a drop to the floor and stretching the axis to -4 bpm.
#[test]
fn no_contact_samples_stay_out_of_the_recent_chart() {
    use vigil::alarms::{AlarmConfig, AlarmEngine};
    use vigil::devices::DeviceSetup;
    use vigil::model::{Characteristic, SourceEvent};
    use vigil::pipeline::{Pipeline, SnapshotBase};

    let chest = DeviceLabel::from("chest");
    let mut pipeline = Pipeline::new(AlarmEngine::new(AlarmConfig::default()));
    pipeline.set_device(&chest, DeviceSetup::default());
    // Flags 0x06: contact supported and detected; 0x04: supported, lost.
    let events: Vec<SourceEvent> = (0..400u64)
        .map(|s| {
            let (flags, bpm) = if (300..360).contains(&s) { (0x04, 0) } else { (0x06, 70 + (s % 3) as u8) };
            SourceEvent::notification(
                SessionTime::from_secs(s),
                chest.clone(),
                Characteristic::HeartRateMeasurement,
                &[flags, bpm],
            )
        })
        .collect();
    let (mut samples, mut output) = (Vec::new(), Vec::new());
    pipeline.process(&events, SessionTime::from_secs(399), &mut samples, &mut output);
    let base = SnapshotBase {
        start_utc: wall_clock().with_timezone(&Utc),
        participant: None,
        record_dir: None,
        mode: Mode::Live,
    };
    let snapshot = pipeline.snapshot(&base);
    let hr = snapshot.devices[0].readings.iter().find(|r| r.quantity == Quantity::HeartRateBpm).unwrap();
    assert!(hr.recent.len() >= 300, "{}", hr.recent.len());
    assert!(hr.recent.iter().all(|&(_, bpm)| bpm >= 70.0), "a no-contact 0 bpm is charted");
    let screen = text(draw(&snapshot, &view(), 120, 30).backend().buffer());
    assert!(!screen.contains("-4") && !screen.contains("-3"), "{screen}");
}
