//! Record a session and print the compacted sizes (bytes per sample is
//! DESIGN.md's budget: ≤ 4), per file and per column of `samples.arrow`.
//!
//! `cargo run --release --example record_size [SCENARIO | HOURS]`: a
//! simulator scenario (`mdma-session`, run through the real pipeline) or
//! HOURS of the 4-device synthetic session (default 8).
//! `RECORD_SIZE_KEEP=DIR` keeps the recording there, to look inside.
//! `RECORD_SIZE_LEVELS=3,6,9,16` also recompacts `samples.arrow` at those
//! zstd levels and prints size and time for each (the file's rows are already
//! in compacted order, so the result is what compacting the live file at
//! that level gives).
//!
//! The per-column figures are the compressed lengths of each column's
//! buffers as the record batch messages list them (exact); "dictionaries"
//! are the string columns' one-per-file dictionaries, "overhead" the rest
//! of the file (schema, message headers, footer, padding).
use std::collections::BTreeMap;
use std::path::Path;

use arrow_schema::DataType;
use vigil::record::{FileKind, RecordMsg, RecordOptions, Recorder};
use vigil::sources::simulate;

#[path = "../benches/messages.rs"]
mod messages;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> AnyResult<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "8".to_owned());
    let msgs: Vec<RecordMsg> = match arg.parse::<u64>() {
        Ok(hours) => messages::synthetic_messages(hours * 3600),
        Err(_) => messages::scenario_messages(&simulate::load(&arg)?),
    };
    let root = tempfile::tempdir()?;
    let root_path =
        std::env::var_os("RECORD_SIZE_KEEP").map_or_else(|| root.path().to_owned(), std::path::PathBuf::from);
    let opts = RecordOptions { root: root_path, participant: None, resume: None, ..Default::default() };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")?.with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null)?;
    let tx = rec.sender();
    let t0 = std::time::Instant::now();
    for m in msgs {
        tx.blocking_send(m)?;
    }
    drop(tx);
    let info = rec.finish()?;
    let elapsed = t0.elapsed();
    for f in ["notifications.arrow", "samples.arrow", "events.arrow"] {
        eprintln!("{f}: {} bytes", std::fs::metadata(info.dir.join(f))?.len());
    }
    #[allow(clippy::cast_precision_loss)]
    let rows = info.samples as f64;
    eprintln!("samples.arrow per column (B/sample):");
    for (column, bytes) in column_bytes(&info.dir.join("samples.arrow"))? {
        #[allow(clippy::cast_precision_loss)]
        let per = bytes as f64 / rows;
        eprintln!("  {column:<14} {bytes:>8} B  {per:>6.3}");
    }
    if let Ok(levels) = std::env::var("RECORD_SIZE_LEVELS") {
        let scratch = tempfile::tempdir()?;
        for level in levels.split(',') {
            let level: i32 = level.trim().parse()?;
            let copy = scratch.path().join(format!("samples-{level}.arrow"));
            std::fs::copy(info.dir.join("samples.arrow"), &copy)?;
            let t0 = std::time::Instant::now();
            let stats = vigil::record::compact_file_at(&copy, &copy, FileKind::Samples, level)?;
            let took = t0.elapsed();
            #[allow(clippy::cast_precision_loss)]
            let per = stats.bytes as f64 / rows;
            let columns: Vec<String> = column_bytes(&copy)?
                .into_iter()
                .filter(|(_, b)| *b * 100 > stats.bytes)
                .map(|(c, b)| {
                    #[allow(clippy::cast_precision_loss)]
                    let per = b as f64 / rows;
                    format!("{c} {per:.3}")
                })
                .collect();
            eprintln!("  level {level:>2}: {per:.2} B/sample ({}), compacted in {took:?}", columns.join(", "));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let per = info.samples_bytes as f64 / rows;
    eprintln!(
        "{arg}: {} samples, samples.arrow {} B = {per:.2} B/sample; recorded and compacted in {elapsed:?}",
        info.samples, info.samples_bytes
    );
    Ok(())
}

/// Bytes of each column's buffers in a finished IPC file, plus
/// "dictionaries" and "overhead", summing to the file's size.
fn column_bytes(path: &Path) -> AnyResult<Vec<(String, u64)>> {
    let bytes = std::fs::read(path)?;
    let n = bytes.len();
    let bad = || format!("{}: not a finished Arrow IPC file", path.display());
    if n < 16 || &bytes[n - 6..] != b"ARROW1" {
        return Err(bad().into());
    }
    let footer_len = usize::try_from(i32::from_le_bytes(bytes[n - 10..n - 6].try_into()?))?;
    let footer = arrow_ipc::root_as_footer(&bytes[n - 10 - footer_len..n - 10]).map_err(|e| e.to_string())?;
    let schema = arrow_ipc::convert::try_fb_to_schema(footer.schema().ok_or_else(bad)?)?;
    // Buffers per field in IPC order (flat schemas only: vigil's are).
    let mut owners: Vec<String> = Vec::new();
    for f in schema.fields() {
        let count = match f.data_type() {
            DataType::Utf8 | DataType::Binary => 3,
            _ => 2,
        };
        owners.extend(std::iter::repeat_n(f.name().clone(), count));
    }
    let message = |offset: i64| -> AnyResult<arrow_ipc::Message<'_>> {
        let at = usize::try_from(offset)?;
        // Continuation marker, then the metadata length.
        let len = usize::try_from(i32::from_le_bytes(bytes[at + 4..at + 8].try_into()?))?;
        Ok(arrow_ipc::root_as_message(&bytes[at + 8..at + 8 + len]).map_err(|e| e.to_string())?)
    };
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for block in footer.recordBatches().ok_or_else(bad)? {
        let batch = message(block.offset())?.header_as_record_batch().ok_or_else(bad)?;
        for (owner, buffer) in owners.iter().zip(batch.buffers().ok_or_else(bad)?) {
            *out.entry(owner.clone()).or_default() += u64::try_from(buffer.length())?;
        }
    }
    let mut dictionaries = 0;
    for block in footer.dictionaries().into_iter().flatten() {
        dictionaries += u64::try_from(block.bodyLength())?;
    }
    let mut rows: Vec<(String, u64)> =
        schema.fields().iter().map(|f| (f.name().clone(), out.get(f.name()).copied().unwrap_or(0))).collect();
    let listed: u64 = rows.iter().map(|(_, b)| b).sum::<u64>() + dictionaries;
    rows.push(("dictionaries".to_owned(), dictionaries));
    rows.push(("overhead".to_owned(), u64::try_from(n)?.saturating_sub(listed)));
    Ok(rows)
}
