//! A recording is one recording: a file copied in from another recording, a
//! segment listed twice, or a file deleted are refused, never read as if
//! they belonged, and `recover` fabricates nothing. Something other than a
//! regular file in a file's place (a FIFO, a symlink to `/dev/zero`) is an
//! error at once, not a hang or gigabytes of memory.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod records;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use records::vigil;
use vigil::record::{ReadError, Recording, recover};

static FINISHED: LazyLock<(tempfile::TempDir, PathBuf)> = LazyLock::new(|| records::simulated("tachycardia-episode"));
static OTHER: LazyLock<(tempfile::TempDir, PathBuf)> = LazyLock::new(|| records::simulated("flaky-sensor"));

/// `vigil ARGS DIR` must fail within a few seconds, naming `file`.
fn fails_fast_naming(args: &[&str], dir: &Path, file: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // A bounded real wait: the point is that the child does not hang.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("vigil {args:?} hung on {}", file.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "vigil {args:?} should fail");
    assert!(stderr.contains(&*file.to_string_lossy()), "the error names {}:\n{stderr}", file.display());
    stderr
}

#[test]
fn a_file_copied_from_another_recording_is_refused() {
    let (_root, dir) = records::copy(&FINISHED.1);
    let samples = dir.join("samples.arrow");
    std::fs::copy(OTHER.1.join("samples.arrow"), &samples).unwrap();
    let err = Recording::open(&dir).unwrap_err();
    assert!(matches!(err, ReadError::Identity { ref file, .. } if *file == samples), "{err}");
    let other_id = OTHER.1.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.to_string().contains(&other_id), "{err}");
    for args in [&["summary"][..], &["replay", "--headless", "--speed", "max"], &["recover"]] {
        let stderr = fails_fast_naming(args, &dir, &samples);
        assert!(stderr.contains("not part of this recording"), "{stderr}");
    }
}

#[test]
fn a_segment_listed_twice_is_refused() {
    let (_root, dir) = records::copy(&FINISHED.1);
    let meta_path = dir.join("session.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let seg = meta["segments"][0].clone();
    meta["segments"].as_array_mut().unwrap().push(seg);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let err = Recording::open(&dir).unwrap_err().to_string();
    assert!(
        err.contains("session.json") && err.contains("listed twice") && err.contains("notifications.arrow"),
        "{err}"
    );
    fails_fast_naming(&["summary"], &dir, &meta_path);
    fails_fast_naming(&["recover"], &dir, &meta_path);
}

/// A deleted file stays missing: recover reports it and fails instead of
/// making an empty one, and summary never calls the recording complete.
#[test]
fn a_deleted_file_is_not_recovered_into_an_empty_one() {
    let (_root, dir) = records::unfinished(&FINISHED.1, 100);
    let events = dir.join("events.arrow");
    std::fs::remove_file(&events).unwrap();
    let report = recover(&dir).unwrap();
    assert_eq!(report.missing, std::slice::from_ref(&events));
    assert!(!events.exists(), "recover created {}", events.display());
    assert!(report.to_string().contains("missing"), "{report}");

    let (_root, dir) = records::unfinished(&FINISHED.1, 100);
    let events = dir.join("events.arrow");
    std::fs::remove_file(&events).unwrap();
    let out = vigil(&["recover"], &dir);
    assert!(!out.status.success(), "recover of a recording with a file gone exits non-zero");
    assert!(!events.exists());
    let stderr = fails_fast_naming(&["summary"], &dir, &events);
    assert!(!stderr.contains("complete"), "{stderr}");
}

#[test]
fn a_fifo_in_place_of_a_file_is_an_error_not_a_hang() {
    for name in ["samples.arrow", "session.json"] {
        let (_root, dir) = records::copy(&FINISHED.1);
        let path = dir.join(name);
        std::fs::remove_file(&path).unwrap();
        let made = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success());
        let stderr = fails_fast_naming(&["summary"], &dir, &path);
        assert!(stderr.contains("FIFO"), "{stderr}");
        fails_fast_naming(&["recover"], &dir, &path);
        let left: Vec<String> =
            records::entries(&dir).into_iter().filter(|n| n.contains("tmp") || n == "lock").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn a_symlink_to_dev_zero_is_an_error_not_endless_reading() {
    for name in ["notifications.arrow", "session.json"] {
        let (_root, dir) = records::unfinished(&FINISHED.1, 100);
        let path = dir.join(name);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let stderr = fails_fast_naming(&["summary"], &dir, &path);
        assert!(stderr.contains("a device"), "{stderr}");
        fails_fast_naming(&["recover"], &dir, &path);
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "left in place");
    }
}

/// A session.json of absurd size is refused before it is read whole.
#[test]
fn an_oversized_session_json_is_refused() {
    let (_root, dir) = records::copy(&FINISHED.1);
    let path = dir.join("session.json");
    let f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.set_len(64 << 20).unwrap(); // sparse: no disk used
    let err = Recording::open(&dir).unwrap_err().to_string();
    assert!(err.contains("session.json") && err.contains("larger than"), "{err}");
}

/// Files of vigil before the identity metadata (none in their schema) still
/// read; files of this one carry it, compacted or live.
#[test]
fn files_carry_the_recording_id_and_older_files_without_it_still_read() {
    let r = Recording::open(&FINISHED.1).unwrap();
    for kind in vigil::record::FileKind::ALL {
        let file = &r.read(kind).unwrap()[0];
        let metadata = file.schema.as_ref().unwrap().metadata();
        assert_eq!(metadata.get("vigil.recording_id"), Some(&r.meta.id), "{kind:?}");
        assert_eq!(metadata.get("vigil.format_version").map(String::as_str), Some("3"), "{kind:?}");
        // Units only where the quantities are.
        let unit = metadata.get("vigil.unit.heart_rate_bpm").map(String::as_str);
        assert_eq!(unit, (kind == vigil::record::FileKind::Samples).then_some("bpm"), "{kind:?}");
    }
    let samples = r.read(vigil::record::FileKind::Samples).unwrap()[0].schema.clone().unwrap();
    for q in vigil::model::Quantity::ALL {
        let key = format!("vigil.unit.{}", q.as_str());
        assert_eq!(samples.metadata().get(&key).map(String::as_str), Some(q.unit()), "{key}");
    }
    // An older file: the same rows written without metadata.
    let (_root, dir) = records::copy(&FINISHED.1);
    let path = dir.join("events.arrow");
    let file = vigil::record::read_arrow_file(&path).unwrap();
    let mut out = Vec::new();
    let plain: Vec<_> =
        file.batches.iter().map(|b| records::plain_strings(b, vigil::record::FileKind::Events)).collect();
    let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &vigil::record::FileKind::Events.schema()).unwrap();
    for b in &plain {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    std::fs::write(&path, out).unwrap();
    let events = Recording::open(&dir).unwrap().events().unwrap();
    assert_eq!(events, r.events().unwrap());
}
