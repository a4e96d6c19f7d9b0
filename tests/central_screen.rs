//! The station's real `render` on ratatui's `TestBackend`: insta snapshots
//! at 80×24 and 160×48, and alarm colours checked on cell styles (the
//! snapshot text has none). Times are fixed, so every run draws the same.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use serde_json::json;

use vigil::central::rooms::{Now, Ward};
use vigil::central::screen::{Scene, View, render};

const SITE: &str = "ward-b";

fn at(base: Instant, ms: u64) -> Now {
    let wall = DateTime::parse_from_rfc3339("2026-12-07T16:00:00Z").unwrap().with_timezone(&Utc);
    Now { at: base + Duration::from_millis(ms), wall: wall + chrono::Duration::milliseconds(ms as i64) }
}

fn send(ward: &mut Ward, room: &str, kind: &str, body: &serde_json::Value, now: Now) {
    ward.handle(&format!("vigil/v1/{SITE}/{room}/{kind}"), body.to_string().as_bytes(), false, now).unwrap();
}

fn status(participant: &str) -> serde_json::Value {
    json!({"v":1,"state":"online","session":"s","participant":participant,"started":"2026-12-07T15:00:00.000Z",
           "vigil_version":"0.1.0","devices":["hr","temp"]})
}

fn vitals(hr: Option<f64>, temp: f64) -> serde_json::Value {
    let r = |v: Option<f64>| json!({"value":v,"age_ms":300,"contact":true,"stale":false,"status":"live"});
    json!({"v":1,"session":"s","at":"2026-12-07T16:00:00.000Z","at_ms":1000,"interval_ms":1000,"since_dose_ms":3_723_000,
           "devices":[{"device":"hr","connected":true,"readings":{"heart_rate_bpm":r(hr)}},
                      {"device":"temp","connected":true,"readings":{"body_temperature_c":r(Some(temp)),"skin_temperature_c":r(Some(temp-2.5))}},
                      {"device":"ox","connected":true,"readings":{"spo2_pct":r(Some(97.0))}}]})
}

fn transition(seq: u64, alarm: &str, device: &str, priority: &str, onset: &str) -> serde_json::Value {
    json!({"v":1,"seq":seq,"session":"s","at":onset,"at_ms":seq,"alarm":alarm,"device":device,
           "priority":priority,"state":"active","value":150.0})
}

/// Six rooms at 16:05:00: room-3 with a high alarm, room-5 lost (its Last
/// Will), room-2 with a medium alarm, room-6 with no heart-rate value.
fn ward() -> (Ward, Instant) {
    let base = Instant::now();
    let mut ward = Ward::new(SITE);
    ward.broker_connected(at(base, 0));
    for i in 1..=6u32 {
        let room = format!("room-{i}");
        send(&mut ward, &room, "status", &status(&format!("P-{i:03}")), at(base, 0));
        for s in 0..300u64 {
            let hr = 70.0 + f64::from(i) + 8.0 * (s as f64 / 30.0).sin();
            let hr = if i == 6 && s > 200 { None } else { Some(hr) };
            send(&mut ward, &room, "vitals", &vitals(hr, 36.6 + 0.002 * s as f64), at(base, s * 1000));
        }
    }
    send(
        &mut ward,
        "room-3",
        "alarms",
        &transition(1, "hr.high", "hr", "high", "2026-12-07T16:04:10.000Z"),
        at(base, 299_000),
    );
    send(
        &mut ward,
        "room-2",
        "alarms",
        &transition(1, "temp.high", "temp", "medium", "2026-12-07T16:03:00.000Z"),
        at(base, 299_000),
    );
    send(
        &mut ward,
        "room-5",
        "status",
        &json!({"v":1,"state":"offline","session":"s","started":"2026-12-07T15:00:00.000Z",
           "vigil_version":"0.1.0","devices":[]}),
        at(base, 299_500),
    );
    (ward, base)
}

fn draw(ward: &Ward, base: Instant, view: &View, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let scene = Scene {
        ward,
        station: "desk-1",
        broker: "mqtt://127.0.0.1:1883",
        now: base + Duration::from_millis(300_000),
        clock: "16:05:00",
        alarm_command_failing: false,
    };
    terminal.draw(|f| render(f, &scene, view)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The cell where `needle` starts on screen.
fn find(buffer: &Buffer, needle: &str) -> (u16, u16) {
    let t = text(buffer);
    for (y, line) in t.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return (u16::try_from(x).unwrap(), u16::try_from(y).unwrap());
        }
    }
    panic!("`{needle}` not on screen:\n{t}")
}

#[test]
fn ward_80x24() {
    let (ward, base) = ward();
    let b = draw(&ward, base, &View::default(), 80, 24);
    insta::assert_snapshot!(text(&b));
}

#[test]
fn ward_160x48() {
    let (ward, base) = ward();
    let b = draw(&ward, base, &View { selected: 2, ..View::default() }, 160, 48);
    insta::assert_snapshot!(text(&b));
}

#[test]
fn detail_160x48() {
    let (ward, base) = ward();
    let b = draw(&ward, base, &View { selected: 2, detail: true, ..View::default() }, 160, 48);
    insta::assert_snapshot!(text(&b));
}

#[test]
fn broker_lost_80x24() {
    let (mut ward, base) = ward();
    ward.broker_down(at(base, 299_900));
    let b = draw(&ward, base, &View::default(), 80, 24);
    let t = text(&b);
    assert!(!t.contains("72 bpm") && !t.contains("hr.high"), "nothing of the rooms shown as current:\n{t}");
    insta::assert_snapshot!(t);
}

#[test]
fn alarm_colours_are_on_the_cells() {
    let (ward, base) = ward();
    // Flash phase lit (0 ms): high is filled red, medium filled yellow.
    let b = draw(&ward, base, &View::default(), 160, 48);
    let (x, y) = find(&b, "HIGH    room-3");
    assert_eq!(b[(x + 1, y)].fg, Color::Red);
    let (x, y) = find(&b, "MEDIUM  room-2");
    assert_eq!(b[(x + 1, y)].fg, Color::Yellow);
    let (x, y) = find(&b, "COMM LOST");
    assert_eq!(b[(x, y)].bg, Color::Yellow, "comm lost flashes as a medium alarm");
    // room-3's tile border is red.
    let (x, y) = find(&b, "room-3 · P-003");
    assert_eq!(b[(x - 1, y)].fg, Color::Red);
    // Unlit phase of a high alarm (250 ms): red text on no fill.
    let b = draw(&ward, base, &View { flash: Duration::from_millis(250), ..View::default() }, 160, 48);
    let (x, y) = find(&b, "hr.high  ");
    assert_eq!((b[(x, y)].fg, b[(x, y)].bg), (Color::Red, Color::Reset));
    // NO_COLOR: no colour anywhere.
    let b = draw(&ward, base, &View { no_color: true, ..View::default() }, 160, 48);
    assert!(b.content().iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
}

#[test]
fn a_lost_room_shows_no_number() {
    let (ward, base) = ward();
    let b = draw(&ward, base, &View::default(), 160, 48);
    let (x, y) = find(&b, "room-5 · P-005");
    let tile: String =
        (y + 1..y + 4).map(|yy| (x..x + 30).map(|xx| b[(xx, yy)].symbol()).collect::<String>()).collect();
    assert!(tile.contains("HR  -- bpm") && tile.contains("T -- °C"), "{tile}");
}
