//! What a format-3 `session.json` says of a session: `--protocol`,
//! `--visit` and `--note` as given, a simulated session's scenario and seed,
//! each device's profile (declared by the scenario, or matched by name on
//! connection); bad values of the flags refused before anything is made.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod records;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil(args: &[&str], record_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).arg("--record-dir").arg(record_dir).output().unwrap()
}

fn only_recording(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

fn session_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("session.json")).unwrap()).unwrap()
}

#[test]
fn a_simulated_session_records_protocol_visit_notes_scenario_seed_and_profiles() {
    let root = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2/scenario.toml");
    let args = [
        "simulate",
        scenario.to_str().unwrap(),
        "--speed",
        "max",
        "--headless",
        "--seed",
        "7",
        "--protocol",
        "MDMA-PTSD.01",
        "--visit",
        "2",
        "--note",
        "music: playlist B",
        "--note",
        "window open",
    ];
    let out = vigil(&args, root.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta = session_json(&only_recording(root.path()));
    assert_eq!(meta["format_version"], 3);
    assert_eq!(meta["protocol"], "MDMA-PTSD.01");
    assert_eq!(meta["visit"], "2");
    assert_eq!(meta["notes"], serde_json::json!(["music: playlist B", "window open"]));
    assert_eq!(meta["scenario"], "format2-fixture");
    assert_eq!(meta["seed"], 7);
    for (device, profile) in [("chest", "generic-hr"), ("core", "health-thermometer"), ("finger", "pulse-oximeter")] {
        assert_eq!(meta["devices"][device]["profile"], profile, "{device}: {}", meta["devices"]);
    }
    // The summary says what the session was, in text and JSON.
    let rec = only_recording(root.path());
    let text = cli::vigil(&["summary", rec.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("session     protocol MDMA-PTSD.01  visit 2  scenario format2-fixture  seed 7"), "{text}");
    assert!(text.contains("note        music: playlist B\nnote        window open"), "{text}");
    let json = cli::vigil(&["summary", rec.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (json["protocol"].as_str(), json["visit"].as_str(), json["seed"].as_u64()),
        (Some("MDMA-PTSD.01"), Some("2"), Some(7))
    );
    // The export's sessions table carries protocol and visit.
    let out = root.path().join("csv");
    let export = cli::vigil(&["export", rec.to_str().unwrap(), "--format", "csv", "--out", out.to_str().unwrap()]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let sessions = std::fs::read_to_string(out.join("sessions.csv")).unwrap();
    let (header, row) = (sessions.lines().next().unwrap(), sessions.lines().nth(1).unwrap());
    let at = |name: &str| header.split(',').position(|h| h == name).unwrap();
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!((fields[at("protocol")], fields[at("visit")]), ("MDMA-PTSD.01", "2"), "{sessions}");
}

#[test]
fn a_live_session_has_no_scenario_and_its_devices_the_profile_their_name_matches() {
    let root = tempfile::tempdir().unwrap();
    let stream = root.path().join("in.jsonl");
    std::fs::write(
        &stream,
        concat!(
            r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}"#,
            "\n",
            r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "163c1104"}"#,
            "\n",
            r#"{"at_ms": 2000, "device": "box", "event": "connected", "name": "no such sensor"}"#,
            "\n",
        ),
    )
    .unwrap();
    let recordings = root.path().join("rec");
    let out = vigil(&["monitor", "--stream", stream.to_str().unwrap(), "--speed", "max", "--headless"], &recordings);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta = session_json(&only_recording(&recordings));
    assert_eq!(meta["scenario"], serde_json::Value::Null);
    assert_eq!(meta["seed"], serde_json::Value::Null);
    assert_eq!(meta["protocol"], serde_json::Value::Null);
    assert_eq!(meta["notes"], serde_json::json!([]));
    assert_eq!(meta["devices"]["chest"]["profile"], "polar-h10");
    assert_eq!(meta["devices"]["box"]["name"], "no such sensor");
    assert_eq!(meta["devices"]["box"].get("profile"), None, "no profile matched: {}", meta["devices"]);
}

#[test]
fn a_bad_protocol_visit_or_note_is_refused_naming_the_flag() {
    let cases: [(&[&str], &str); 4] = [
        (&["--protocol", "my study"], "--protocol"),
        (&["--visit", "../2"], "--visit"),
        (&["--note", ""], "--note"),
        (&["--note", "two\nlines"], "--note"),
    ];
    for (flags, named) in cases {
        let root = tempfile::tempdir().unwrap();
        let mut args = vec!["simulate", "flaky-sensor", "--speed", "max", "--headless"];
        args.extend_from_slice(flags);
        let out = vigil(&args, root.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} accepted");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "{flags:?}: nothing recorded");
    }
}

/// Compaction and `vigil recover` keep a marker's typed columns: an
/// unfinished format-3 recording with a dose reads back, once recovered,
/// the same events as it did finished, from a file that still has them.
#[test]
fn recover_keeps_the_typed_marker_columns() {
    use arrow_array::cast::AsArray;
    use vigil::record::{FileKind, RecordMsg, RecordOptions, Recorder, Recording, read_arrow_file, synthetic};
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: Some("R3".into()), ..Default::default() };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null).unwrap();
    for s in synthetic::session(2, 660, 4) {
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    let finished = rec.finish().unwrap().dir;
    let events = Recording::open(&finished).unwrap().events().unwrap();
    assert!(events.iter().any(|e| matches!(e, vigil::model::OutputEvent::Operator { .. })), "the dose at 600 s");

    let (_root, dir) = records::unfinished(&finished, 7);
    vigil::record::recover(&dir).unwrap();
    assert_eq!(Recording::open(&dir).unwrap().events().unwrap(), events);
    let file = read_arrow_file(&dir.join(FileKind::Events.file_name(0))).unwrap();
    assert!(file.complete);
    let kinds: Vec<String> = file
        .batches
        .iter()
        .flat_map(|b| {
            let col = arrow_cast_to_strings(b.column_by_name("dose_kind").expect("dose_kind kept"));
            col.into_iter().flatten()
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "initial"), "{kinds:?}");

    fn arrow_cast_to_strings(col: &arrow_array::ArrayRef) -> Vec<Option<String>> {
        let d = col.as_dictionary::<arrow_array::types::Int32Type>();
        let values = d.values().as_string::<i32>();
        d.keys().iter().map(|k| k.map(|k| values.value(usize::try_from(k).unwrap()).to_owned())).collect()
    }
}
