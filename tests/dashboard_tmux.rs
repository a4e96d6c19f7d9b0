//! The tmux helpers themselves, and the dashboard driven as a person
//! would: `vigil simulate` in tmux, keys typed with `send-keys`, the
//! screen read with `capture-pane`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod tmux;
mod tools;

use std::time::{Duration, Instant};

use tmux::{POLL, Tmux};

#[test]
fn helpers_drive_a_program_in_tmux() {
    let Some(t) =
        Tmux::start("printf 'ready\\n'; read line; echo \"got:$line\"; sleep 30", 40, 12, &[("NO_COLOR", "1")])
    else {
        return;
    };
    t.wait_for("ready", Duration::from_secs(10)).unwrap();
    t.send_keys(&["hello", "Enter"]);
    let screen = t.wait_for("got:hello", Duration::from_secs(10)).unwrap();
    assert!(screen.lines().count() <= 12, "{screen}");
}

/// The issue-6 end-to-end run: `vigil simulate` (default scenario, which
/// alarms within its first minute) on the dashboard, wait for the alarm,
/// acknowledge it with `a`, see the acknowledgement on screen, quit with
/// confirmation, and find the acknowledgement in the recording.
#[test]
fn simulate_alarm_is_acknowledged_from_the_keyboard() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} simulate --speed 4 --record-dir {} 2>{}/stderr; sleep 5",
        env!("CARGO_BIN_EXE_vigil"),
        dir.path().display(),
        dir.path().display()
    );
    let Some(t) = Tmux::start(&cmd, 100, 30, &[("VIGIL_LOG", "/dev/null")]) else { return };
    // The alarm banner's priority marker and the condition.
    let screen = t.wait_for("▲", Duration::from_secs(60)).unwrap();
    assert!(screen.contains("hr.high"), "{screen}");
    t.send_keys(&["a"]);
    // The pipeline's row, not just the dashboard's own "acknowledged …"
    // notice in the status bar.
    let row = |l: &str| l.contains("hr.high") && l.contains("acknowledged") && l.trim_end().ends_with("yes");
    t.wait_for_line("an acknowledged hr.high row", row, Duration::from_secs(10)).unwrap();
    t.send_keys(&["q"]);
    t.wait_for("Quit vigil?", Duration::from_secs(10)).unwrap();
    t.send_keys(&["y"]);
    // The recording is finished when the lock file is gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    let rec = loop {
        let dirs: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        if let [rec] = &dirs[..]
            && !rec.join("lock").exists()
            && rec.join("session.json").exists()
        {
            break rec.clone();
        }
        assert!(
            Instant::now() < deadline,
            "recording not finished: {:?}",
            std::fs::read_to_string(dir.path().join("stderr"))
        );
        std::thread::sleep(POLL);
    };
    let recording = vigil::record::Recording::open(&rec).unwrap();
    let actions = recording.operator_actions().unwrap();
    assert!(
        actions.iter().any(|(_, a)| matches!(a, vigil::model::OperatorAction::Ack { .. })),
        "no acknowledgement recorded: {actions:?}"
    );
}
