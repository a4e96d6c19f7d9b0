//! One bad row is not a lost recording: a row that reads but does not decode
//! (an unknown quantity, characteristic or event kind) and a damaged tail
//! cost only themselves. `summary`, `replay` and `report` still work, and
//! say what they left out.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod records;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use records::vigil;
use vigil::record::{Damage, FileKind, Recording, read_arrow_file};

static FINISHED: LazyLock<(tempfile::TempDir, PathBuf)> = LazyLock::new(|| records::simulated("tachycardia-episode"));

/// Replace the string `column` of row `row` of a recording's `kind` file by
/// `value`, writing the file as a live one.
fn corrupt_row(dir: &Path, kind: FileKind, column: &str, row: usize, value: &str) {
    use arrow_ipc::writer::FileWriter;
    let path = dir.join(kind.file_name(0));
    let file = read_arrow_file(&path).unwrap();
    let all = arrow_select::concat::concat_batches(&file.batches[0].schema(), &file.batches).unwrap();
    let plain = records::plain_strings(&all, kind);
    let i = plain.schema().index_of(column).unwrap();
    let old = arrow_array::cast::AsArray::as_string::<i32>(plain.column(i));
    let new: StringArray = (0..old.len()).map(|r| Some(if r == row { value } else { old.value(r) })).collect();
    let mut columns: Vec<ArrayRef> = plain.columns().to_vec();
    columns[i] = Arc::new(new);
    let batch = RecordBatch::try_new(plain.schema(), columns).unwrap();
    let schema = Arc::new(kind.schema().as_ref().clone().with_metadata(file.schema.unwrap().metadata().clone()));
    let mut out = Vec::new();
    let mut w = FileWriter::try_new(&mut out, &schema).unwrap();
    for off in (0..batch.num_rows()).step_by(100) {
        w.write(&batch.slice(off, 100.min(batch.num_rows() - off))).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    std::fs::write(&path, out).unwrap();
}

fn bad_rows(r: &Recording) -> Vec<(PathBuf, usize, String)> {
    r.damage()
        .unwrap()
        .into_iter()
        .filter_map(|d| match d {
            Damage::BadRows(b) => Some((b.file, b.count, b.first)),
            _ => None,
        })
        .collect()
}

/// The tester's case: one sample row says `zr_interval_ms`.
#[test]
fn an_unknown_quantity_costs_only_its_row() {
    let total = Recording::open(&FINISHED.1).unwrap().samples().unwrap().len();
    let (_root, dir) = records::copy(&FINISHED.1);
    corrupt_row(&dir, FileKind::Samples, "quantity", 150, "zr_interval_ms");

    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.samples().unwrap().len(), total - 1);
    let bad = bad_rows(&r);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((bad[0].0.clone(), bad[0].1), (dir.join("samples.arrow"), 1));
    assert!(bad[0].2.contains("unknown quantity `zr_interval_ms`"), "{bad:?}");

    let out = vigil(&["summary"], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 row skipped that did not decode"), "the summary says so:\n{stdout}");

    let svg = dir.join("report.svg");
    let out = records::vigil(&["report", "--out", svg.to_str().unwrap()], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("note:") && stderr.contains("zr_interval_ms"), "the report says so:\n{stderr}");
    assert!(svg.exists());
}

/// Replay reads notifications and events: a bad row in each is skipped,
/// and replay runs to the end and says what it left out.
#[test]
fn replay_skips_a_bad_notification_and_a_bad_event() {
    let base = Recording::open(&FINISHED.1).unwrap();
    let (notes, events) = (base.notifications().unwrap().len(), base.events().unwrap().len());
    let (_root, dir) = records::copy(&FINISHED.1);
    corrupt_row(&dir, FileKind::Notifications, "characteristic", 10, "zzzz");
    corrupt_row(&dir, FileKind::Events, "kind", 0, "no-such-kind");

    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.notifications().unwrap().len(), notes - 1);
    assert_eq!(r.events().unwrap().len(), events - 1);
    let batches: usize = vigil::sources::replay::batches(&r).unwrap().map(|b| b.events.len()).sum();
    assert!(batches >= notes - 1, "replay yields every good notification ({batches})");

    let out = vigil(&["replay", "--headless", "--speed", "max"], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("zzzz") && stderr.contains("no-such-kind"), "replay notes both:\n{stderr}");
}

/// The tester's other case: ten zeroed bytes at the end of `events.arrow`,
/// finished (the trailer) or unfinished (inside the last batch).
#[test]
fn a_zeroed_tail_costs_only_the_tail() {
    let total = Recording::open(&FINISHED.1).unwrap().events().unwrap().len();
    for unfinished in [false, true] {
        let (_root, dir) = if unfinished { records::unfinished(&FINISHED.1, 2) } else { records::copy(&FINISHED.1) };
        let path = dir.join("events.arrow");
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 10..].fill(0);
        std::fs::write(&path, &bytes).unwrap();

        let r = Recording::open(&dir).unwrap();
        let read = r.events().unwrap().len();
        assert!(read + 2 >= total, "unfinished {unfinished}: {read} of {total} events");
        assert!(read >= records::plain_stream_rows(&bytes, FileKind::Events));
        for args in [&["summary"][..], &["replay", "--headless", "--speed", "max"][..]] {
            let out = vigil(args, &dir);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
