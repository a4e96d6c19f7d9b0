//! `vigil central --demo 8` end to end in tmux at 120×40: eight rooms on
//! screen, an alarm raised in a room shows in the cross-room list with
//! that room's name, and an acknowledgement from the station is sent,
//! refused by a bedside that did not allow remote acknowledgement, and the
//! refusal shown at the station.
//!
//! Waiting for another program to draw is the one place a test polls;
//! no assertion depends on how long it took.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod tmux;
mod tools;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use tmux::Tmux;

#[test]
fn demo_ward_of_eight_rooms_with_an_alarm_and_a_refused_ack() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cmd = format!("{} central --demo 8 --port {port}; sleep 30", env!("CARGO_BIN_EXE_vigil"));
    let Some(t) = Tmux::start(&cmd, 120, 40, &[("VIGIL_LOG", "/dev/null")]) else { return };
    let (_, screen) = t.wait_line("8 rooms", |l| l.contains("8 rooms"), Duration::from_secs(30));
    let (_, screen) = if (1..=8).all(|i| screen.contains(&format!("room-{i} · DEMO-0{i}"))) {
        (String::new(), screen)
    } else {
        t.wait_line("room-8 tile", |l| l.contains("room-8 · DEMO-08"), Duration::from_secs(30))
    };
    for i in 1..=8 {
        assert!(screen.contains(&format!("room-{i} · DEMO-0{i}")), "room-{i} missing:\n{screen}");
    }
    // The tachycardia scenario's hr.high (about 40 s in), in the list with
    // its room.
    let is_row = |l: &str| l.trim_start().starts_with("HIGH") && l.contains("hr.high") && l.contains("room-");
    let (row, _) = t.wait_line("a HIGH hr.high row", is_row, Duration::from_secs(120));
    let room: String = row.split_whitespace().nth(1).unwrap().to_owned();
    let index: usize = room.strip_prefix("room-").unwrap().parse().unwrap();
    for _ in 1..index {
        t.send_keys(&["Right"]);
    }
    t.send_keys(&["a"]);
    // The demo bedsides do not allow remote acknowledgement: the bedside
    // records `ack_refused`, the station says so, and the alarm stays
    // unacknowledged. The status line says "ack sent" until the refusal
    // replaces it, which can come before the next capture, so either line
    // shows the ack left the station; the refusal must follow.
    let sent = format!("ack sent: {room} hr.high");
    let refused = format!("{room}: hr.high ack refused by the bedside");
    t.wait_line("ack sent or refused", |l| l.contains(&sent) || l.contains(&refused), Duration::from_secs(10));
    t.wait_line("ack refused", |l| l.contains(&refused), Duration::from_secs(10));
    let screen = t.capture();
    let still = screen.lines().find(|l| is_row(l) && l.contains(&room)).unwrap_or_else(|| panic!("{screen}"));
    assert!(!still.contains("acknowledged"), "a refused ack left the alarm acknowledged: {still}");
    t.send_keys(&["q"]);
    t.wait_line("quit prompt", |l| l.contains("Quit the central station?"), Duration::from_secs(10));
    t.send_keys(&["y"]);
    // The station ends and gives the terminal back (`sleep 30` holds the pane).
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.capture().contains(" vigil central ·") {
        assert!(Instant::now() < deadline, "still running after quit:\n{}", t.capture());
        std::thread::sleep(Duration::from_millis(200));
    }
}
