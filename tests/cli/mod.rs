//! Running the `vigil` binary as a user does, for the tests of its
//! offline commands (analyze, export, summary).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `vigil ARGS`, its log kept out of the way.
pub fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).env("VIGIL_LOG", "/dev/null").output().unwrap()
}

/// `vigil ARGS`, which must succeed: its stdout.
pub fn vigil_ok(args: &[&str]) -> String {
    let out = vigil(args);
    assert!(out.status.success(), "vigil {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The one recording directory under `root`.
pub fn only_dir(root: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "one recording: {dirs:?}");
    dirs.remove(0)
}

/// Record `scenario` headless at `--speed max` under `root/participant`:
/// the recording's directory.
pub fn record(scenario: &str, participant: &str, root: &Path) -> PathBuf {
    let dir = root.join(participant);
    let dir_s = dir.to_str().unwrap();
    vigil_ok(&[
        "simulate",
        scenario,
        "--speed",
        "max",
        "--headless",
        "--participant",
        participant,
        "--record-dir",
        dir_s,
    ]);
    only_dir(&dir)
}

/// Run the NDJSON `stream` headless at `--speed max`, recorded under
/// `root`: the recording's directory.
pub fn record_stream(stream: &Path, root: &Path) -> PathBuf {
    let (stream, root_s) = (stream.to_str().unwrap(), root.to_str().unwrap());
    vigil_ok(&["monitor", "--stream", stream, "--speed", "max", "--headless", "--record-dir", root_s]);
    only_dir(root)
}
