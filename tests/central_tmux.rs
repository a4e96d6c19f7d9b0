//! `vigil central --demo 8` end to end in tmux at 120×40: eight rooms on
//! screen, an alarm raised in a room shows in the cross-room list with
//! that room's name, and an acknowledgement from the station is sent but
//! refused by a bedside that did not allow remote acknowledgement.
//!
//! Waiting for another program to draw is the one place a test polls;
//! no assertion depends on how long it took.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod tools;

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Option<Self> {
        if !tools::tmux("the central station tmux test") {
            return None;
        }
        let tmux = Tmux { socket: format!("vigil-central-test-{}", std::process::id()) };
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.run(&["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, "-e", "VIGIL_LOG=/dev/null", command]);
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().unwrap()
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Poll until a line satisfies `pred`; that line and the screen.
    fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool, timeout: Duration) -> (String, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if let Some(line) = screen.lines().find(|l| pred(l)) {
                return (line.to_owned(), screen);
            }
            assert!(Instant::now() < deadline, "`{what}` did not appear within {timeout:?}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn demo_ward_of_eight_rooms_with_an_alarm_and_a_refused_ack() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cmd = format!("{} central --demo 8 --port {port}; sleep 30", env!("CARGO_BIN_EXE_vigil"));
    let Some(t) = Tmux::start(&cmd, 120, 40) else { return };
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
        t.keys(&["Right"]);
    }
    t.keys(&["a"]);
    t.wait_line("ack sent", |l| l.contains(&format!("ack sent: {room} hr.high")), Duration::from_secs(10));
    // The demo bedsides do not allow remote acknowledgement: the alarm
    // stays unacknowledged (the bedside records `ack_refused`).
    std::thread::sleep(Duration::from_secs(3));
    let screen = t.capture();
    let still = screen.lines().find(|l| is_row(l) && l.contains(&room)).unwrap_or_else(|| panic!("{screen}"));
    assert!(!still.contains("acknowledged"), "a refused ack left the alarm acknowledged: {still}");
    t.keys(&["q"]);
    t.wait_line("quit prompt", |l| l.contains("Quit the central station?"), Duration::from_secs(10));
    t.keys(&["y"]);
    // The station ends and gives the terminal back (`sleep 30` holds the pane).
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.capture().contains(" vigil central ·") {
        assert!(Instant::now() < deadline, "still running after quit:\n{}", t.capture());
        std::thread::sleep(Duration::from_millis(200));
    }
}
