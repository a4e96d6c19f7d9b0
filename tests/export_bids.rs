//! The BIDS export of simulated recordings: the tree's layout, modes and
//! contents, and the BIDS validator (PyPI `bids-validator-deno`) finds no
//! error in it.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod ecgstream;
mod tools;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{only_dir, vigil};
use serde_json::Value;
use vigil::model::OperatorAction;
use vigil::record::{Recording, bids};

/// Run vigil, which must succeed; its stderr (where export lists the files).
fn vigil_stderr(args: &[&str]) -> String {
    let out = vigil(args);
    assert!(out.status.success(), "vigil {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

/// Record `scenario` at `--speed max` as `participant` (none: anonymous)
/// under `root/name` (a participant may have several); the recording's
/// directory.
fn record(scenario: &str, participant: Option<&str>, root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let mut args = vec!["simulate", scenario, "--speed", "max", "--headless", "--record-dir", dir.to_str().unwrap()];
    if let Some(p) = participant {
        args.extend(["--participant", p]);
    }
    vigil_stderr(&args);
    only_dir(&dir)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn tsv(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

/// Four recordings of two participants: P01 (flaky-sensor, then
/// tachycardia-episode) and `P-02` (multi-sensor, then mdma-session).
struct Cohort {
    _root: tempfile::TempDir,
    recordings: Vec<Recording>,
}

fn cohort() -> Cohort {
    let root = tempfile::tempdir().unwrap();
    let dirs = [
        record("flaky-sensor", Some("P01"), root.path(), "a"),
        record("tachycardia-episode", Some("P01"), root.path(), "b"),
        record("multi-sensor", Some("P-02"), root.path(), "c"),
        record("mdma-session", Some("P-02"), root.path(), "d"),
    ];
    let recordings = dirs.iter().map(|d| Recording::open(d).unwrap()).collect();
    Cohort { _root: root, recordings }
}

#[test]
fn the_tree_has_the_bids_layout_and_the_recordings_figures() {
    let cohort = cohort();
    let out_root = tempfile::tempdir().unwrap();
    let out = out_root.path().join("bids");
    let mut args = vec!["export", "--format", "bids", "--out", out.to_str().unwrap()];
    args.extend(cohort.recordings.iter().map(|r| r.dir.to_str().unwrap()));
    let written: Vec<PathBuf> =
        vigil_stderr(&args).lines().filter_map(|l| l.strip_prefix("wrote ")).map(PathBuf::from).collect();

    // Sessions by start time within a participant; `P-02` loses its dash.
    let beh = |sub: &str, ses: u32| out.join(format!("sub-{sub}/ses-{ses}/beh"));
    let stem = |sub: &str, ses: u32| format!("sub-{sub}_ses-{ses}_task-session");
    for (sub, ses) in [("P01", 1), ("P01", 2), ("P02", 1), ("P02", 2)] {
        for suffix in ["_physio.tsv.gz", "_physio.json", "_events.tsv", "_events.json"] {
            let path = beh(sub, ses).join(format!("{}{suffix}", stem(sub, ses)));
            assert!(written.contains(&path), "{} not written: {written:?}", path.display());
        }
    }
    assert!(!out.join("sub-P01/ses-3").exists());
    let sessions = tsv(&read(&out.join("sub-P01/sub-P01_sessions.tsv")));
    assert_eq!(sessions[1][2], cohort.recordings[0].meta.id, "ses-1 is the earlier recording");
    assert_eq!(sessions[2][2], cohort.recordings[1].meta.id);
    assert_eq!(
        tsv(&read(&out.join("participants.tsv"))),
        [["participant_id", "vigil_code"], ["sub-P01", "P01"], ["sub-P02", "P-02"]]
    );

    // Health data: every file 0600, every directory 0700.
    for path in &written {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    for dir in [out.clone(), out.join("sub-P01"), out.join("sub-P01/ses-2"), beh("P02", 1)] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }

    // The physio file: one row a second from the start's whole second to the
    // end, as many cells as the sidecar names columns.
    let tachy = &cohort.recordings[1];
    let sidecar: Value =
        serde_json::from_str(&read(&beh("P01", 2).join(format!("{}_physio.json", stem("P01", 2))))).unwrap();
    assert_eq!((sidecar["SamplingFrequency"].as_f64(), sidecar["StartTime"].as_f64()), (Some(1.0), Some(0.0)));
    let columns: Vec<&str> = sidecar["Columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(columns.contains(&"heart_rate_bpm_chest"), "{columns:?}");
    assert_eq!(sidecar["heart_rate_bpm_chest"]["Units"], "bpm");
    let rows = tsv(&gunzip(&beh("P01", 2).join(format!("{}_physio.tsv.gz", stem("P01", 2)))));
    let lead_ns = tachy.start_ns().rem_euclid(1_000_000_000) as u64;
    let end_ns = tachy.end().unwrap().as_nanos();
    assert_eq!(rows.len() as u64, (end_ns + lead_ns) / 1_000_000_000 + 1);
    assert!(rows.iter().all(|r| r.len() == columns.len()));
    // Tachycardia: the held heart rate passes 140 bpm at some second.
    let hr = columns.iter().position(|c| *c == "heart_rate_bpm_chest").unwrap();
    let max = rows.iter().filter_map(|r| r[hr].parse::<f64>().ok()).fold(f64::MIN, f64::max);
    assert!(max > 140.0, "max held HR {max}");
    assert!(rows.iter().all(|r| r[hr] == "n/a" || r[hr].parse::<f64>().is_ok()));

    // Events: the tachycardia's hr.high alarm; the flaky sensor's
    // disconnections, each row's onset inside the recording.
    let events = tsv(&read(&beh("P01", 2).join(format!("{}_events.tsv", stem("P01", 2)))));
    assert_eq!(events[0], ["onset", "duration", "trial_type", "value", "device", "priority", "dose_mg", "dose_kind"]);
    assert!(events.iter().any(|e| e[2] == "alarm" && e[3] == "hr.high" && e[4] == "chest"), "{events:?}");
    let flaky = tsv(&read(&beh("P01", 1).join(format!("{}_events.tsv", stem("P01", 1)))));
    assert!(flaky.iter().any(|e| e[2] == "disconnection"), "{flaky:?}");
    let flaky_end = cohort.recordings[0].end().unwrap().as_secs_f64() + 1.0;
    for e in &flaky[1..] {
        let (onset, duration): (f64, f64) = (e[0].parse().unwrap(), e[1].parse().unwrap());
        assert!(onset >= 0.0 && onset + duration <= flaky_end, "{e:?}");
    }

    // The MDMA session's doses, typed; the marker time is session time
    // plus the start's fraction of a second.
    let mdma = &cohort.recordings[3];
    let lead_s = mdma.start_ns().rem_euclid(1_000_000_000) as f64 / 1e9;
    let events = tsv(&read(&beh("P02", 2).join(format!("{}_events.tsv", stem("P02", 2)))));
    let doses: Vec<&Vec<String>> = events.iter().filter(|e| e[2] == "dose").collect();
    assert_eq!(doses.len(), 2, "{events:?}");
    assert_eq!((doses[0][6].as_str(), doses[0][7].as_str()), ("120", "initial"));
    assert_eq!((doses[1][6].as_str(), doses[1][7].as_str()), ("60", "supplemental"));
    let at = mdma
        .operator_actions()
        .unwrap()
        .into_iter()
        .find_map(|(at, a)| matches!(a, OperatorAction::Marker(m) if m.amount_mg == Some(120.0)).then_some(at))
        .unwrap();
    assert!((doses[0][0].parse::<f64>().unwrap() - (at.as_secs_f64() + lead_s)).abs() < 1e-6);

    // The cuff measures now and then: its reading holds from one
    // measurement to the next, far beyond any staleness limit.
    let sidecar: Value =
        serde_json::from_str(&read(&beh("P02", 1).join(format!("{}_physio.json", stem("P02", 1))))).unwrap();
    let columns: Vec<&str> = sidecar["Columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let sys = columns.iter().position(|c| *c == "systolic_mmhg_cuff").expect("the cuff's systolic column");
    let rows = tsv(&gunzip(&beh("P02", 1).join(format!("{}_physio.tsv.gz", stem("P02", 1)))));
    let longest = rows.split(|r| r[sys] == "n/a").map(<[Vec<String>]>::len).max().unwrap();
    assert!(longest > 600, "the cuff's reading held only {longest} s");
}

#[test]
fn the_validator_finds_no_error() {
    let Some(validator) = tools::bids_validator("the BIDS export's validation") else { return };
    let cohort = cohort();
    let out_root = tempfile::tempdir().unwrap();
    let out = out_root.path().join("bids");
    bids::write(&cohort.recordings, &out, false).unwrap();
    // `--max-rows -1`: check every row of every TSV, not the first 1000.
    let run = Command::new(&validator).args(["--format", "json", "--max-rows", "-1"]).arg(&out).output().unwrap();
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!("{} gave no JSON ({e}): {}", validator.display(), String::from_utf8_lossy(&run.stderr))
    });
    let issues = report["issues"]["issues"].as_array().unwrap();
    let errors: Vec<&Value> = issues.iter().filter(|i| i["severity"] == "error").collect();
    assert!(errors.is_empty(), "bids-validator errors: {errors:#?}");
    assert!(run.status.success(), "bids-validator exit status {:?}", run.status);
    let mut warnings: Vec<String> = issues
        .iter()
        .map(|i| format!("{} {}", i["code"].as_str().unwrap_or("?"), i["subCode"].as_str().unwrap_or("")))
        .collect();
    warnings.sort();
    warnings.dedup();
    eprintln!("bids-validator warnings: {warnings:#?}");
    assert_eq!(report["summary"]["subjects"].as_array().map(Vec::len), Some(2));
}

#[test]
fn an_anonymous_recording_is_its_own_subject_and_a_protocol_its_task() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("tachycardia-episode", None, root.path(), "anon");
    // Format 3's `protocol` (written here by hand: older vigil has none).
    let meta_path = dir.join("session.json");
    let mut meta: Value = serde_json::from_str(&read(&meta_path)).unwrap();
    meta["protocol"] = Value::from("MDMA-01 pilot");
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let recording = Recording::open(&dir).unwrap();
    let out = root.path().join("bids");
    bids::write(std::slice::from_ref(&recording), &out, false).unwrap();
    let random = recording.meta.id.rsplit('-').next().unwrap();
    let sub = format!("sub-anon{random}");
    assert_eq!(tsv(&read(&out.join("participants.tsv")))[1], [sub.as_str(), "n/a"]);
    let beh = out.join(&sub).join("ses-1/beh");
    let physio = beh.join(format!("{sub}_ses-1_task-MDMA01pilot_physio.json"));
    let sidecar: Value = serde_json::from_str(&read(&physio)).unwrap();
    assert_eq!(sidecar["TaskName"], "MDMA-01 pilot");
}

#[test]
fn a_non_empty_directory_needs_force_and_bad_plans_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("tachycardia-episode", Some("P01"), root.path(), "a");
    let recording = Recording::open(&dir).unwrap();
    let out = root.path().join("bids");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let refused = vigil(&["export", "--format", "bids", "--out", out.to_str().unwrap(), dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("not empty") && err.contains("--force"), "{err}");
    assert!(!out.join("sub-P01").exists(), "nothing written");
    // Twice, with --force: the files are replaced, the stranger kept.
    bids::write(std::slice::from_ref(&recording), &out, true).unwrap();
    bids::write(std::slice::from_ref(&recording), &out, true).unwrap();
    assert_eq!(read(&out.join("notes.txt")), "mine");

    let err =
        bids::write(&[recording.clone(), recording.clone()], &root.path().join("x"), false).unwrap_err().to_string();
    assert!(err.contains("given twice"), "{err}");

    // P-01 and P01 would be one subject.
    let other = record("tachycardia-episode", Some("P-01"), root.path(), "b");
    let both = [recording, Recording::open(&other).unwrap()];
    let err = bids::write(&both, &root.path().join("y"), false).unwrap_err().to_string();
    assert!(err.contains("sub-P01"), "{err}");

    let file = root.path().join("file");
    std::fs::write(&file, "").unwrap();
    let err = bids::write(&both[..1], &file, true).unwrap_err().to_string();
    assert!(err.contains("not a directory"), "{err}");
}

/// A session from stream input: a strap that sends nothing, a marker and,
/// in the second, a manual blood pressure.
fn streamed(root: &Path, name: &str, manual: bool) -> Recording {
    let mut lines = vec![
        r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}"#,
        r#"{"at_ms": 2000, "action": "marker", "label": "music on"}"#,
        r#"{"at_ms": 9000, "device": "chest", "event": "disconnected"}"#,
        r#"{"at_ms": 30000, "action": "marker", "label": "end"}"#,
    ];
    if manual {
        lines.insert(2, r#"{"at_ms": 5000, "action": "manual", "quantity": "systolic_mmhg", "value": 150}"#);
    }
    let stream = root.join(format!("{name}.jsonl"));
    std::fs::write(&stream, lines.join("\n") + "\n").unwrap();
    let dir = root.join(name);
    let args = ["monitor", "--stream", stream.to_str().unwrap(), "--speed", "max", "--headless"];
    vigil_stderr(&[&args[..], &["--participant", name, "--record-dir", dir.to_str().unwrap()]].concat());
    Recording::open(&only_dir(&dir)).unwrap()
}

#[test]
fn manual_readings_hold_and_a_session_without_vitals_has_events_only() {
    let root = tempfile::tempdir().unwrap();
    let recordings = [streamed(root.path(), "M1", true), streamed(root.path(), "E1", false)];
    let out = root.path().join("bids");
    bids::write(&recordings, &out, false).unwrap();

    // The manual reading at 5 s holds to the end: `manual` readings are
    // intermittent, never stale.
    let beh = out.join("sub-M1/ses-1/beh");
    let sidecar: Value = serde_json::from_str(&read(&beh.join("sub-M1_ses-1_task-session_physio.json"))).unwrap();
    assert_eq!(sidecar["Columns"], serde_json::json!(["systolic_mmhg_manual"]));
    let rows: Vec<String> =
        gunzip(&beh.join("sub-M1_ses-1_task-session_physio.tsv.gz")).lines().map(String::from).collect();
    let lead_s = recordings[0].start_ns().rem_euclid(1_000_000_000) as f64 / 1e9;
    for (k, row) in rows.iter().enumerate() {
        let expected = if k as f64 >= 5.0 + lead_s { "150" } else { "n/a" };
        assert_eq!(row, expected, "second {k}");
    }

    // No samples at all: events, and no physio file (BIDS has none without
    // columns), nor a scans line for one.
    let beh = out.join("sub-E1/ses-1/beh");
    assert!(!beh.join("sub-E1_ses-1_task-session_physio.tsv.gz").exists());
    let events = tsv(&read(&beh.join("sub-E1_ses-1_task-session_events.tsv")));
    assert!(events.iter().any(|e| e[2] == "marker" && e[3] == "music on"), "{events:?}");
    assert!(events.iter().any(|e| e[2] == "disconnection" && e[4] == "chest"), "{events:?}");
    let scans = tsv(&read(&out.join("sub-E1/ses-1/sub-E1_ses-1_scans.tsv")));
    assert_eq!(scans.len(), 2, "{scans:?}");

    if let Some(validator) = tools::bids_validator("the BIDS export of streamed sessions") {
        let run = Command::new(&validator).args(["--format", "json"]).arg(&out).output().unwrap();
        let report: Value = serde_json::from_slice(&run.stdout).unwrap();
        let errors: Vec<&Value> =
            report["issues"]["issues"].as_array().unwrap().iter().filter(|i| i["severity"] == "error").collect();
        assert!(errors.is_empty(), "bids-validator errors: {errors:#?}");
    }
}

/// The ECG of a session is its own physio file at 130 Hz in µV, beside the
/// vitals' 1 Hz one, and the dataset still passes the BIDS validator.
#[test]
fn the_ecg_is_its_own_130_hz_physio_file_and_validates() {
    let root = tempfile::tempdir().unwrap();
    let uv = ecgstream::realistic_uv(130 * 40, 15.0, 31);
    let (lines, sent) = ecgstream::stream("chest", &uv, 131.0, 400, 6);
    let stream = root.path().join("ecg.ndjson");
    ecgstream::write(&stream, &lines);
    let dir = root.path().join("rec");
    let args = ["monitor", "--stream", stream.to_str().unwrap(), "--speed", "max", "--headless"];
    vigil_stderr(&[&args[..], &["--participant", "E2", "--record-dir", dir.to_str().unwrap()]].concat());
    let recording = Recording::open(&only_dir(&dir)).unwrap();
    let out = root.path().join("bids");
    let written = bids::write(std::slice::from_ref(&recording), &out, false).unwrap();

    let beh = out.join("sub-E2/ses-1/beh");
    let stem = "sub-E2_ses-1_task-session_recording-ecg_physio";
    let sidecar: Value = serde_json::from_str(&read(&beh.join(format!("{stem}.json")))).unwrap();
    assert_eq!(sidecar["SamplingFrequency"].as_f64(), Some(130.0));
    assert_eq!(sidecar["StartTime"].as_f64(), Some(0.0));
    assert_eq!(sidecar["Columns"], serde_json::json!(["cardiac"]));
    assert_eq!(sidecar["cardiac"]["Units"], "uV");
    let tsv_path = beh.join(format!("{stem}.tsv.gz"));
    assert!(written.contains(&tsv_path));
    assert_eq!(mode(&tsv_path), 0o600);
    let rows: Vec<String> = gunzip(&tsv_path).lines().map(String::from).collect();
    assert_eq!(rows.len() % 130, 0, "whole seconds");
    // Every recorded sample but a handful (where the 131 Hz strap puts two
    // samples nearest one grid point) is in the file, in order.
    let values: Vec<i32> = rows.iter().filter(|r| *r != "n/a").map(|r| r.parse().unwrap()).collect();
    assert!(
        values.len() + uv.len() / 131 + 2 >= uv.len() && values.len() <= uv.len(),
        "{} of {}",
        values.len(),
        uv.len()
    );
    let mut at = 0;
    for v in &values {
        at += uv[at..].iter().position(|u| u == v).expect("in recorded order");
    }
    assert!(rows[0] == "n/a", "the ECG starts after time 0");
    let scans = tsv(&read(&out.join("sub-E2/ses-1/sub-E2_ses-1_scans.tsv")));
    assert!(scans.iter().any(|s| s[0] == format!("beh/{stem}.tsv.gz")), "{scans:?}");
    assert_eq!(sent.len(), uv.len().div_ceil(73));

    if let Some(validator) = tools::bids_validator("the BIDS export with ECG") {
        let run = Command::new(&validator).args(["--format", "json"]).arg(&out).output().unwrap();
        let report: Value = serde_json::from_slice(&run.stdout).unwrap();
        let errors: Vec<&Value> =
            report["issues"]["issues"].as_array().unwrap().iter().filter(|i| i["severity"] == "error").collect();
        assert!(errors.is_empty(), "bids-validator errors: {errors:#?}");
    }
}
