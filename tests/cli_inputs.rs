//! Hostile command lines and streams against the `vigil` binary: every bad
//! flag is a usage error at parse time (never a panic, never a session
//! that ends at once as if clean), and what an error echoes is cut short
//! and escaped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).env("VIGIL_LOG", "/dev/null").output().unwrap()
}

/// A usage error: exit 2 (clap's), one error, no panic, nothing on stdout.
fn refused(args: &[&str]) -> String {
    let out = vigil(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?} → {:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    err
}

#[test]
fn speed_extremes_are_usage_errors() {
    for speed in ["1e308", "1e-300", "0.001", "1000001", "inf", "-1", "0", "NaN"] {
        let flag = format!("--speed={speed}");
        let err = refused(&["simulate", &flag, "--headless", "--no-record"]);
        assert!(err.contains("0.01") && err.contains("1000000"), "{speed}: {err}");
        refused(&["monitor", "--stream", "-", &flag, "--headless", "--no-record"]);
        refused(&["replay", "no-such-recording", &flag, "--headless"]);
    }
}

#[test]
fn speed_bounds_themselves_run() {
    for speed in ["0.01", "1e6", "max", "1000000x"] {
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["monitor", "--stream", "-", "--speed", speed, "--headless", "--no-record"])
            .env("VIGIL_LOG", "/dev/null")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{speed}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn scan_timeout_is_checked_at_parse_time() {
    for timeout in ["0", "-1", "1e308", "nan", "inf", "3601", "soon"] {
        let err = refused(&["scan", &format!("--timeout={timeout}")]);
        assert!(err.contains("--timeout"), "{timeout}: {err}");
    }
}

#[test]
fn command_line_values_are_echoed_cut_and_escaped() {
    let long = "y".repeat(5000);
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J";
    let cases: Vec<Vec<String>> = vec![
        vec!["simulate".into(), "--speed".into(), long.clone()],
        vec!["simulate".into(), "--speed".into(), hostile.into()],
        vec!["scan".into(), "--timeout".into(), long.clone()],
        vec!["simulate".into(), format!("--{long}")],
        vec!["simulate".into(), format!("--{hostile}")],
        vec!["monitor".into(), "--stream".into(), format!("tcp://{long}"), "--no-record".into()],
        vec!["monitor".into(), "--stream".into(), format!("tcp://{hostile}"), "--no-record".into()],
        vec!["monitor".into(), "--device".into(), format!("{long}=x"), "--no-record".into()],
        vec!["monitor".into(), "--device".into(), format!("{hostile}=x"), "--no-record".into()],
        vec!["simulate".into(), "--participant".into(), long.clone(), "--headless".into()],
        vec!["simulate".into(), "--participant".into(), hostile.into(), "--headless".into()],
        vec!["decode".into(), "2a37".into(), long.clone()],
        vec!["decode".into(), hostile.into(), "00".into()],
        vec!["simulate".into(), long.clone(), "--headless".into(), "--no-record".into()],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = vigil(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", &err);
        assert!(err.len() < 700, "{} bytes for {:?}…: {err}", err.len(), &args[..2]);
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "raw escape echoed: {err:?}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `tcp://127.0.0.1:0` lets the system pick a port; the sender has to
/// learn which, so vigil says it on stderr.
#[test]
fn a_stream_on_port_zero_says_which_port_it_bound() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--stream", "tcp://127.0.0.1:0", "--headless", "--no-record"])
        .env("VIGIL_LOG", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    // Bounded: a vigil that never says it fails here instead of hanging.
    let line = rx.recv_timeout(Duration::from_secs(10));
    let port = line.as_deref().ok().and_then(|l| l.strip_prefix("vigil: listening on tcp://127.0.0.1:"));
    let port: Option<u16> = port.and_then(|p| p.trim().parse().ok()).filter(|p| *p != 0);
    if let Some(port) = port {
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"{\"device\": \"chest\", \"event\": \"connected\"}\n").unwrap();
        drop(client);
    }
    // The headless output shows the client's line arrived, then SIGTERM
    // ends the session (the kill command: no signal crate in the tests).
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    if port.is_some() {
        stdout.read_line(&mut first).unwrap();
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(port.is_some(), "first stderr line: {line:?}");
    assert!(first.contains("\"connected\"") && first.contains("chest"), "{first}");
    assert!(status.success(), "{status:?}");
}

/// Configuration and scenario files quote their keys back cut and escaped,
/// with the list of keys that were expected intact.
#[test]
fn file_keys_are_echoed_cut_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let key = format!("x\\u001b]0;pwned\\u0007{}", "k".repeat(5000));
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("[alarms]\n\"{key}\" = 1\n")).unwrap();
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, format!("name = \"x\"\n\"{key}\" = 1\n")).unwrap();
    for args in [
        vec!["simulate", "--config", config.to_str().unwrap(), "--headless", "--no-record"],
        vec!["simulate", scenario.to_str().unwrap(), "--headless", "--no-record"],
    ] {
        let out = vigil(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.len() < 700 && err.contains("expected one of"), "{} bytes: {err}", err.len());
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "raw escape echoed: {err:?}");
    }
}
