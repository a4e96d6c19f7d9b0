//! Health data stays owner-only: every file vigil writes is 0600 and every
//! directory it makes 0700, whatever the umask. Each command runs under
//! `umask 000`, the most open a user can set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Run `vigil ARGS` under `umask 000` with `env`; it must succeed.
fn vigil_umask_000(args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = common::vigil_under_sh("umask 000", args);
    cmd.env_remove("VIGIL_LOG").env_remove("XDG_STATE_HOME");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every path under `root` (and `root` itself) with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        found.push((path.clone(), meta.is_dir(), meta.permissions().mode() & 0o7777));
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found
}

fn assert_owner_only(root: &Path) {
    let found = modes(root);
    assert!(found.iter().any(|(_, dir, _)| !dir), "{root:?} holds no file");
    let open: Vec<_> = found
        .iter()
        .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(p, _, m)| (p, format!("{m:o}")))
        .collect();
    assert!(open.is_empty(), "not owner-only: {open:?}");
}

#[test]
fn recordings_exports_reports_and_logs_are_owner_only_under_umask_000() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let recordings = base.join("recordings");
    let log_dir = base.join("logs");
    let state = base.join("state");
    let log = log_dir.join("deep/vigil.log");
    vigil_umask_000(
        &[
            "simulate",
            "tachycardia-episode",
            "--speed",
            "max",
            "--headless",
            "--record-dir",
            recordings.to_str().unwrap(),
        ],
        &[("VIGIL_LOG", &log)],
    );
    // The default log place, `$XDG_STATE_HOME/vigil/vigil.log`.
    vigil_umask_000(
        &["simulate", "tachycardia-episode", "--speed", "max", "--headless", "--no-record"],
        &[("XDG_STATE_HOME", &state)],
    );
    let recording = std::fs::read_dir(&recordings).unwrap().next().unwrap().unwrap().path();
    let rec = recording.to_str().unwrap();
    let csv = base.join("exports/csv");
    let parquet = base.join("exports/parquet");
    vigil_umask_000(&["export", rec, "--format", "csv", "--out", csv.to_str().unwrap()], &[]);
    vigil_umask_000(&["export", rec, "--format", "parquet", "--out", parquet.to_str().unwrap()], &[]);
    let svg = base.join("report.svg");
    vigil_umask_000(&["report", rec, "--out", svg.to_str().unwrap()], &[]);

    assert!(log.exists() && state.join("vigil/vigil.log").exists() && svg.exists());
    for root in [&recordings, &log_dir, &state, &base.join("exports"), &svg] {
        assert_owner_only(root);
    }
}

/// A report drawn over an existing, world-readable file does not inherit
/// its mode.
#[test]
fn a_report_over_an_open_file_becomes_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let recordings = tmp.path().join("r");
    vigil_umask_000(
        &[
            "simulate",
            "tachycardia-episode",
            "--speed",
            "max",
            "--headless",
            "--record-dir",
            recordings.to_str().unwrap(),
        ],
        &[("VIGIL_LOG", Path::new("/dev/null"))],
    );
    let recording = std::fs::read_dir(&recordings).unwrap().next().unwrap().unwrap().path();
    let svg = tmp.path().join("old.svg");
    std::fs::write(&svg, "old").unwrap();
    std::fs::set_permissions(&svg, std::fs::Permissions::from_mode(0o666)).unwrap();
    vigil_umask_000(&["report", recording.to_str().unwrap(), "--out", svg.to_str().unwrap()], &[]);
    assert_owner_only(&svg);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
}
