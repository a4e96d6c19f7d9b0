//! Recordings to damage, shared by the recording tests: made by the real
//! binary from a simulator scenario, finished, or turned into what a crash
//! leaves (live files: plain strings, small batches, no footer).

// Each test file uses some of these; helpers fail loudly: they are test code.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use vigil::record::{FileKind, read_arrow_file};

/// Run the `vigil` binary.
pub fn vigil(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).arg(dir).output().expect("run vigil")
}

/// A finished recording of `scenario`, made by `vigil simulate` at full
/// speed, in a directory of its own.
pub fn simulated(scenario: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["simulate", scenario, "--speed", "max", "--headless", "--record-dir"])
        .arg(root.path())
        .output()
        .expect("run vigil simulate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = only_dir(root.path());
    (root, dir)
}

fn only_dir(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// A copy of a recording directory (its regular files) in a new temporary
/// directory, under the same name.
pub fn copy(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(src.file_name().unwrap());
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    (root, dir)
}

/// A copy of a finished recording as a crash leaves it: every file live
/// (plain strings, batches of `rows_per_batch`, no footer, the identity
/// metadata kept) and `session.json` without an end.
pub fn unfinished(finished: &Path, rows_per_batch: usize) -> (tempfile::TempDir, PathBuf) {
    let (root, dir) = copy(finished);
    for kind in FileKind::ALL {
        let path = dir.join(kind.file_name(0));
        std::fs::write(&path, live_bytes(&path, kind, rows_per_batch)).unwrap();
    }
    let meta_path = dir.join("session.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["end_utc"] = serde_json::Value::Null;
    meta["clean_shutdown"] = false.into();
    for seg in meta["segments"].as_array_mut().unwrap() {
        seg["end_utc"] = serde_json::Value::Null;
        seg["clean_shutdown"] = false.into();
    }
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    (root, dir)
}

/// The rows of the Arrow file at `path` written as a live file would be.
pub fn live_bytes(path: &Path, kind: FileKind, rows_per_batch: usize) -> Vec<u8> {
    use arrow_ipc::writer::FileWriter;
    let file = read_arrow_file(path).unwrap();
    assert!(file.truncated.is_none() && file.skipped.is_empty(), "{path:?} is already damaged");
    let metadata = file.schema.as_ref().map(|s| s.metadata().clone()).unwrap_or_default();
    // The file's own format version's columns (an older recording's file
    // stays in its version).
    let schema = std::sync::Arc::new(kind.schema_for(file.schema.as_deref()).as_ref().clone().with_metadata(metadata));
    let mut out = Vec::new();
    let options = arrow_ipc::writer::IpcWriteOptions::try_new(8, false, arrow_ipc::MetadataVersion::V5).unwrap();
    let mut w = FileWriter::try_new_with_options(&mut out, &schema, options).unwrap();
    if file.num_rows() > 0 {
        let all = arrow_select::concat::concat_batches(&file.batches[0].schema(), &file.batches).unwrap();
        let plain = plain_strings(&all, kind);
        for off in (0..plain.num_rows()).step_by(rows_per_batch) {
            w.write(&plain.slice(off, rows_per_batch.min(plain.num_rows() - off))).unwrap();
        }
    }
    w.flush().unwrap();
    drop(w);
    out
}

/// A batch with its dictionary columns decoded to plain strings (in the
/// columns of its own format version).
pub fn plain_strings(batch: &RecordBatch, kind: FileKind) -> RecordBatch {
    let schema = kind.schema_for(Some(&batch.schema()));
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let c = batch.column_by_name(f.name()).unwrap();
            match c.as_dictionary_opt::<Int32Type>() {
                Some(d) => {
                    let values = d.values().as_string::<i32>();
                    let plain: StringArray =
                        d.keys().iter().map(|k| k.map(|k| values.value(usize::try_from(k).unwrap()))).collect();
                    std::sync::Arc::new(plain) as ArrayRef
                }
                None => c.clone(),
            }
        })
        .collect();
    RecordBatch::try_new(schema, cols).unwrap()
}

/// Rows a plain arrow-ipc stream read of a file's bytes yields (the stream
/// after the 8-byte magic, up to the first error) with every column of a
/// `kind` file (a damaged schema can make rows of no columns, which hold
/// nothing): the least any reader of a damaged file should give.
pub fn plain_stream_rows(bytes: &[u8], kind: FileKind) -> usize {
    let want = kind.schema();
    let Some(stream) = bytes.get(8..) else { return 0 };
    // arrow-ipc may panic on damage; what it yielded before still counts.
    let rows = std::sync::atomic::AtomicUsize::new(0);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Ok(reader) = arrow_ipc::reader::StreamReader::try_new(stream, None) else { return };
        for batch in reader {
            match batch {
                Ok(b) => {
                    if want.fields().iter().all(|f| b.column_by_name(f.name()).is_some()) {
                        rows.fetch_add(b.num_rows(), std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Err(_) => return,
            }
        }
    }));
    rows.into_inner()
}

/// Rows vigil's reader gets from the file at `path` (0 if it cannot read it).
pub fn rows(path: &Path) -> usize {
    read_arrow_file(path).map_or(0, |f| f.num_rows())
}

/// Flip the bits `xor` of byte `at`.
pub fn flip(path: &Path, at: usize, xor: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= xor;
    std::fs::write(path, bytes).unwrap();
}

/// Names of the entries of `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Where each message of an intact file's stream starts.
pub fn message_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() && bytes[at..at + 4] == [0xFF; 4] {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        let message = arrow_ipc::root_as_message(&bytes[at + 8..at + 8 + len]).unwrap();
        out.push(at);
        at += 8 + len + usize::try_from(message.bodyLength()).unwrap();
    }
    out
}
