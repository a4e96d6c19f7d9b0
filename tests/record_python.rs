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
        // Types as pyarrow names them: timestamps in UTC (a sample's `t` in
        // microseconds, every other in nanoseconds), strings as one
        // dictionary (or plain), payload binary.
        for col in file["pyarrow"]["schema"].as_array().unwrap() {
            let (name, ty) = (col[0].as_str().unwrap(), col[1].as_str().unwrap());
            let ok = match name {
                "t" if kind == FileKind::Samples => ty == "timestamp[us, tz=UTC]",
                "t" | "device_time" => ty == "timestamp[ns, tz=UTC]",
                "payload" => ty == "binary",
                "value" => ty == "double",
                "contact" => ty == "bool",
                "text" => ty == "string",
                _ => ty == "dictionary<values=string, indices=int32, ordered=0>",
            };
            assert!(ok, "{kind:?}.{name}: {ty}");
        }
    }
}
