//! pyarrow and polars open every file of a finished recording and see the
//! rows and columns vigil sees. Needs `$VIGIL_PYTHON` (a Python with pyarrow
//! and polars; `.ci/run` makes one): fails under CI without it, says it did
//! not run otherwise (`tests/tools`).

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

mod tools;

use vigil::record::{FileKind, RecordMsg, RecordOptions, Recorder, Recording, synthetic};

#[test]
fn pyarrow_and_polars_read_what_vigil_reads() {
    let Some(python) = tools::python("the pyarrow and polars reading test") else { return };
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null).unwrap();
    for s in synthetic::session(3, 3700, 5) {
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    let dir = rec.finish().unwrap().dir;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_recording.py");
    let out = Command::new(python).arg(&script).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let r = Recording::open(&dir).unwrap();
    let rows = [
        (FileKind::Notifications, r.notifications().unwrap().len()),
        (FileKind::Samples, r.samples().unwrap().len()),
        (FileKind::Events, r.events().unwrap().len()),
    ];
    for (kind, n) in rows {
        let file = &json["files"][kind.file_name(0)];
        assert_eq!(file["pyarrow"]["rows"].as_u64().unwrap() as usize, n, "{kind:?} {file}");
        assert_eq!(file["polars"]["rows"].as_u64().unwrap() as usize, n, "{kind:?} {file}");
        // Same columns, in the same order, as vigil's schema.
        let schema = kind.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for reader in ["pyarrow", "polars"] {
            let seen: Vec<&str> =
                file[reader]["schema"].as_array().unwrap().iter().map(|c| c[0].as_str().unwrap()).collect();
            assert_eq!(seen, names, "{reader} {kind:?}");
        }
        // Types as pyarrow names them: timestamps in UTC (every `t` in
        // microseconds, `device_time` in nanoseconds), strings as one
        // dictionary (or plain), payload binary.
        for col in file["pyarrow"]["schema"].as_array().unwrap() {
            let (name, ty) = (col[0].as_str().unwrap(), col[1].as_str().unwrap());
            let ok = match name {
                "t" => ty == "timestamp[us, tz=UTC]",
                "device_time" => ty == "timestamp[ns, tz=UTC]",
                "payload" => ty == "binary",
                "value" | "dose_mg" => ty == "double",
                "contact" => ty == "bool",
                "text" => ty == "string",
                _ => ty == "dictionary<values=string, indices=int32, ordered=0>",
            };
            assert!(ok, "{kind:?}.{name}: {ty}");
        }
    }
}

/// polars reads `samples.arrow` and `events.arrow` of a new recording and
/// joins them on `t` with no cast: both `t` are `Datetime(us, UTC)`. The
/// heart rate at each dose (an as-of join) and the rows of an inner join
/// on equal `t` are what vigil's own reading gives; every file carries the
/// identity metadata and `samples.arrow` each quantity's unit.
#[test]
fn polars_joins_samples_and_events_on_t_without_a_cast() {
    let Some(python) = tools::python("the polars join test") else { return };
    let root = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2/scenario.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("simulate")
        .arg(&scenario)
        .args(["--speed", "max", "--headless", "--participant", "J01", "--protocol", "P1", "--record-dir"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = std::fs::read_dir(root.path()).unwrap().next().unwrap().unwrap().path();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/join_recording.py");
    let out = Command::new(python).arg(&script).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    for file in ["samples", "events"] {
        assert_eq!(json["t"][file], "Datetime(time_unit='us', time_zone='UTC')", "{file}: {json}");
    }
    let r = Recording::open(&dir).unwrap();
    for kind in FileKind::ALL {
        let m = &json["metadata"][kind.file_name(0)];
        assert_eq!(m["vigil.recording_id"], r.meta.id.as_str(), "{kind:?}");
        assert_eq!(m["vigil.participant"], "J01", "{kind:?}");
        assert_eq!(m["vigil.format_version"], "3", "{kind:?}");
    }
    assert_eq!(json["metadata"]["samples.arrow"]["vigil.unit.heart_rate_bpm"], "bpm");
    assert_eq!(json["metadata"]["samples.arrow"]["vigil.unit.body_temperature_c"], "°C");

    // vigil's own answers, from its reading of the same files.
    let start_us = r.start_ns() / 1000;
    let us = |at: vigil::model::SessionTime| start_us + i64::try_from(at.as_nanos() / 1000).unwrap();
    let samples = r.samples().unwrap();
    let hr_at = |t: i64| {
        samples
            .iter()
            .filter(|s| &*s.device == "chest" && s.quantity == vigil::model::Quantity::HeartRateBpm && us(s.at) <= t)
            .max_by_key(|s| s.at)
            .map(|s| s.value)
    };
    let doses: Vec<serde_json::Value> = r
        .operator_actions()
        .unwrap()
        .into_iter()
        .filter_map(|(at, a)| match a {
            vigil::model::OperatorAction::Marker(m) => {
                let kind = match m.kind? {
                    vigil::model::MarkerKind::Dose => vigil::record::DOSE_INITIAL,
                    vigil::model::MarkerKind::SupplementalDose => vigil::record::DOSE_SUPPLEMENTAL,
                    vigil::model::MarkerKind::Note => return None,
                };
                Some(serde_json::json!([us(at), m.amount_mg, kind, hr_at(us(at))]))
            }
            _ => None,
        })
        .collect();
    assert_eq!(doses.len(), 2, "the scenario's dose and supplemental dose");
    assert_eq!(json["doses"], serde_json::Value::Array(doses), "{json}");

    let event_times: Vec<i64> = r.events().unwrap().iter().map(|e| us(e.at())).collect();
    let inner = samples.iter().map(|s| event_times.iter().filter(|t| **t == us(s.at)).count()).sum::<usize>();
    assert!(inner > 0, "alarms share their sample's t");
    assert_eq!(json["inner_rows"].as_u64().unwrap() as usize, inner);
}
