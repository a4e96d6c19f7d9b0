//! Compaction: rewrite a live file as few large zstd-compressed batches.
//!
//! The string columns of low cardinality get one dictionary for the whole
//! file (the IPC file format forbids replacing a dictionary and polars cannot
//! read delta dictionaries), so the distinct values must be known before the
//! first batch is written. A file of at most `HOLD_BYTES` decoded (an
//! ordinary session) is read once and held while its dictionaries are
//! collected; a larger one is read twice, so memory stays at one output
//! batch. The new
//! file replaces the old one only after it has been read back whole, with at
//! least as many rows as the old one gave; no error leaves its temporary
//! file behind. Samples are sorted by device and time (see [`by_device`]); the other files
//! keep their rows as written.

use std::collections::HashMap;
use std::fs;
use std::io::BufWriter;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_ipc::CompressionType;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::resync::{BatchStream, Skip, Truncation};
use super::schema::{FileKind, StrCol};
use super::{COMPACT_BATCH_ROWS, FILE_MODE, RecordError};

/// zstd level of compacted `samples` files (the size budget's file).
///
/// Level 6 is the knee of size against CPU for a session's samples (the
/// table in `docs/performance.md`): higher levels save little for up to
/// twice the CPU.
pub const SAMPLES_ZSTD_LEVEL: i32 = 6;

/// zstd level of compacted `notifications` and `events` files.
pub const OTHER_ZSTD_LEVEL: i32 = 3;

/// The zstd level a compacted file of this kind is written with.
#[must_use]
pub const fn zstd_level(kind: FileKind) -> i32 {
    match kind {
        FileKind::Samples => SAMPLES_ZSTD_LEVEL,
        FileKind::Notifications | FileKind::Events => OTHER_ZSTD_LEVEL,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactStats {
    pub rows: usize,
    /// Size of the compacted file.
    pub bytes: u64,
    /// Where the source stopped, if it was unfinished or damaged.
    pub truncated: Option<Truncation>,
    /// Damaged stretches of the source that were passed over.
    pub skipped: Vec<Skip>,
    /// The latest `t` in the file (ns since the Unix epoch).
    pub max_t: Option<i64>,
}

/// Compact `src` (finished or not) into `dst` (which may be `src`): written
/// to a temporary file beside `dst`, fsynced, then renamed over it.
pub fn compact_file(src: &Path, dst: &Path, kind: FileKind) -> Result<CompactStats, RecordError> {
    compact_file_at(src, dst, kind, zstd_level(kind))
}

/// [`compact_file`] at another zstd level (to measure the trade-off:
/// `examples/record_size.rs`).
pub fn compact_file_at(src: &Path, dst: &Path, kind: FileKind, level: i32) -> Result<CompactStats, RecordError> {
    let mut first = BatchStream::open(src)?;
    // A file keeps its format version's columns (an older recording's
    // files are compacted as they were written; only version 1's sample
    // times become microseconds, see `schema::ns_to_us`).
    let live_schema = kind.schema_for(first.read_schema().as_deref());
    let dict_cols = kind.dictionary_columns_of(&live_schema);
    let dict_cols = dict_cols.as_slice();
    // Pass 1: the dictionaries, and the rows themselves while they are few
    // enough to hold, so an ordinary session's file is read and decoded once
    // (a second pass happens only for files of more than HOLD_BYTES).
    let mut distinct: Vec<Keys> = dict_cols.iter().map(|_| Keys::default()).collect();
    let mut max_t: Option<i64> = None;
    let mut held: Option<Vec<RecordBatch>> = Some(Vec::new());
    let mut read_rows = 0;
    let mut held_bytes = 0;
    for batch in first.by_ref() {
        if let Ok(t) = super::schema::time_col(&batch, "t")
            && let Some(m) = t.max_ns()
        {
            max_t = Some(max_t.map_or(m, |x| x.max(m)));
        }
        // Normalise to the live schema (a recovered file may already be
        // partly compacted; concat needs one schema).
        let batch = to_plain(&batch, &live_schema).map_err(|message| arrow_err(src, message))?;
        for (keys, name) in distinct.iter_mut().zip(dict_cols) {
            let col = StrCol::new(&batch, name).map_err(|message| arrow_err(src, message))?;
            let mut last: Option<&str> = None;
            for i in 0..batch.num_rows() {
                if let Some(v) = col.get(i)
                    && last != Some(v)
                {
                    last = Some(v);
                    keys.insert(v);
                }
            }
        }
        read_rows += batch.num_rows();
        held_bytes += batch.get_array_memory_size();
        if held_bytes > HOLD_BYTES {
            held = None;
        } else if let Some(h) = held.as_mut() {
            h.push(batch);
        }
    }
    let truncated = first.truncated().cloned();
    let skipped = first.skipped().to_vec();
    // The identity the source carries (a file of older vigil has none).
    let metadata = first.schema().map(|s| s.metadata().clone()).unwrap_or_default();
    drop(first);
    let dictionaries: Vec<Dictionary> = distinct.into_iter().map(Dictionary::new).collect();
    let out_schema = Arc::new(compacted_schema(&live_schema, dict_cols).as_ref().clone().with_metadata(metadata));

    // Pass 2: encode and write, to a temporary file that no error leaves
    // behind.
    let file_name = dst.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dst.with_file_name(format!(".{file_name}.compact.tmp"));
    let out = Output {
        src,
        tmp: &tmp,
        kind,
        level,
        live_schema: &live_schema,
        out_schema: &out_schema,
        dict_cols,
        dictionaries: &dictionaries,
    };
    let written = out.write(held, read_rows).and_then(|(rows, bytes)| {
        // Count what the new file holds before it replaces anything.
        let check = super::reader::read_arrow_file(&tmp)?;
        if rows < read_rows || check.num_rows() < read_rows || check.truncated.is_some() || !check.skipped.is_empty() {
            return Err(arrow_err(
                &tmp,
                format!(
                    "the compacted file reads {} rows of {read_rows}; {} is left as it was",
                    check.num_rows(),
                    src.display()
                ),
            ));
        }
        Ok((rows, bytes))
    });
    let (rows, bytes) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(source) = fs::rename(&tmp, dst) {
        let _ = fs::remove_file(&tmp);
        return Err(RecordError::Io { path: dst.to_owned(), source });
    }
    if let Some(parent) = dst.parent() {
        sync_dir(parent);
    }
    Ok(CompactStats { rows, bytes, truncated, skipped, max_t })
}

/// Decoded bytes pass 1 holds in memory rather than reading the file
/// again. By bytes, not rows: an 8-hour session's samples (~80,000 rows)
/// fit, while a strap's ECG frames (229 bytes each, 52,000 in 8 hours) make
/// a notifications file that is read twice instead of held.
const HOLD_BYTES: usize = 8 << 20;

/// Where and how pass 2 writes.
struct Output<'a> {
    src: &'a Path,
    tmp: &'a Path,
    kind: FileKind,
    level: i32,
    live_schema: &'a SchemaRef,
    out_schema: &'a SchemaRef,
    dict_cols: &'a [&'static str],
    dictionaries: &'a [Dictionary],
}

impl Output<'_> {
    /// Write the rows (`held`, or the source read again) as batches of
    /// [`COMPACT_BATCH_ROWS`], finish and fsync: (rows, bytes).
    fn write(&self, held: Option<Vec<RecordBatch>>, read_rows: usize) -> Result<(usize, u64), RecordError> {
        let tmp = self.tmp;
        let io = |source| RecordError::Io { path: tmp.to_owned(), source };
        let file =
            fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(tmp).map_err(io)?;
        let options = super::schema::write_options()
            .try_with_compression(Some(CompressionType::ZSTD))
            .and_then(|o| o.try_with_compression_level(Some(self.level)))
            .map_err(|e| arrow_err(tmp, e.to_string()))?;
        let mut writer = FileWriter::try_new_with_options(BufWriter::new(file), self.out_schema, options)
            .map_err(|e| arrow_err(tmp, e.to_string()))?;
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut pending_rows = 0;
        let mut rows = 0;
        let batches: Box<dyn Iterator<Item = RecordBatch>> = match held {
            Some(held) => Box::new(held.into_iter()),
            None => Box::new(BatchStream::open(self.src)?),
        };
        for batch in batches {
            let batch = to_plain(&batch, self.live_schema).map_err(|message| arrow_err(self.src, message))?;
            // A second read can only differ if the file changed meanwhile.
            if rows + batch.num_rows() > read_rows {
                return Err(arrow_err(self.src, "the file changed while it was compacted".to_owned()));
            }
            rows += batch.num_rows();
            pending_rows += batch.num_rows();
            pending.push(batch);
            // Batches of exactly COMPACT_BATCH_ROWS (but the last), so where
            // a batch starts depends on the rows alone.
            while pending_rows >= COMPACT_BATCH_ROWS {
                let all = arrow_select::concat::concat_batches(self.live_schema, pending.iter())
                    .map_err(|e| arrow_err(self.src, e.to_string()))?;
                let rest = all.slice(COMPACT_BATCH_ROWS, all.num_rows() - COMPACT_BATCH_ROWS);
                self.write_batch(&mut vec![all.slice(0, COMPACT_BATCH_ROWS)], &mut writer)?;
                pending_rows = rest.num_rows();
                pending = vec![rest];
            }
        }
        self.write_batch(&mut pending, &mut writer)?;
        writer.finish().map_err(|e| arrow_err(tmp, e.to_string()))?;
        let file = writer
            .into_inner()
            .map_err(|e| arrow_err(tmp, e.to_string()))?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        Ok((rows, bytes))
    }

    fn write_batch(
        &self,
        pending: &mut Vec<RecordBatch>,
        writer: &mut FileWriter<BufWriter<fs::File>>,
    ) -> Result<(), RecordError> {
        if pending.is_empty() {
            return Ok(());
        }
        let batch = arrow_select::concat::concat_batches(self.live_schema, pending.iter())
            .and_then(|b| encode(&b, self.out_schema, self.dict_cols, self.dictionaries))
            .and_then(|b| if self.kind == FileKind::Samples { by_device(&b) } else { Ok(b) })
            .map_err(|e| arrow_err(self.src, e.to_string()))?;
        pending.clear();
        writer.write(&batch).map_err(|e| arrow_err(self.tmp, e.to_string()))
    }
}

/// Make a rename durable. Best effort: some filesystems refuse to fsync a
/// directory, and the data itself is already synced.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn arrow_err(file: &Path, message: String) -> RecordError {
    RecordError::Arrow { file: file.to_owned(), message }
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

pub(crate) fn compacted_schema(live: &SchemaRef, dict_cols: &[&str]) -> SchemaRef {
    let fields: Vec<Field> = live
        .fields()
        .iter()
        .map(|f| {
            if dict_cols.contains(&f.name().as_str()) {
                Field::new(f.name(), dict_type(), f.is_nullable())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Distinct strings of one column, found without hashing every row: a
/// column has a handful of values (devices, quantities, characteristics), so
/// a short list beats SipHash; a map takes over if a column has many.
#[derive(Debug, Default)]
struct Keys {
    list: Vec<String>,
    map: HashMap<String, usize>,
}

/// Above this many values, look up by hash.
const LINEAR_KEYS: usize = 32;

impl Keys {
    fn find(&self, s: &str) -> Option<usize> {
        if self.list.len() <= LINEAR_KEYS { self.list.iter().position(|v| v == s) } else { self.map.get(s).copied() }
    }

    fn insert(&mut self, s: &str) {
        if self.find(s).is_some() {
            return;
        }
        self.list.push(s.to_owned());
        if self.list.len() > LINEAR_KEYS {
            if self.map.is_empty() {
                self.map = self.list.iter().enumerate().map(|(i, v)| (v.clone(), i)).collect();
            } else {
                self.map.insert(s.to_owned(), self.list.len() - 1);
            }
        }
    }
}

/// One column's dictionary for the whole file: the same `values` array in
/// every batch, so the IPC writer emits it once. Values are sorted, so key
/// order is name order (which [`by_device`] relies on).
struct Dictionary {
    values: ArrayRef,
    keys: Keys,
}

impl Dictionary {
    fn new(mut distinct: Keys) -> Self {
        distinct.list.sort_unstable();
        let mut keys = Keys::default();
        for s in &distinct.list {
            keys.insert(s);
        }
        let values: ArrayRef = Arc::new(StringArray::from_iter_values(keys.list.iter()));
        Self { values, keys }
    }

    fn key(&self, s: &str) -> Option<i32> {
        self.keys.find(s).and_then(|k| i32::try_from(k).ok())
    }
}

fn encode(
    batch: &RecordBatch,
    out_schema: &SchemaRef,
    dict_cols: &[&str],
    dictionaries: &[Dictionary],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let Some(d) = dict_cols.iter().position(|c| c == field.name()) else {
            columns.push(column.clone());
            continue;
        };
        let dict = &dictionaries[d];
        let strings = StrCol::new(batch, field.name()).map_err(arrow_schema::ArrowError::InvalidArgumentError)?;
        // Neighbouring rows often repeat a value: look up only changes.
        let mut last: Option<(&str, Option<i32>)> = None;
        let keys: Int32Array = (0..batch.num_rows())
            .map(|i| {
                let s = strings.get(i)?;
                match last {
                    Some((prev, key)) if prev == s => key,
                    _ => {
                        let key = dict.key(s);
                        last = Some((s, key));
                        key
                    }
                }
            })
            .collect();
        columns.push(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, dict.values.clone())?));
    }
    RecordBatch::try_new(out_schema.clone(), columns)
}

/// A batch in the live schema: dictionary string columns decoded to plain
/// utf8, every column checked against the schema.
fn to_plain(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, String> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let col = batch.column_by_name(field.name()).ok_or_else(|| format!("no column `{}`", field.name()))?;
        if col.data_type() == field.data_type() {
            columns.push(col.clone());
        } else if let DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) = field.data_type()
            && let Some(micros) = super::schema::ns_to_us(col)
        {
            columns.push(micros);
        } else if *field.data_type() == DataType::Utf8 {
            let strings = StrCol::new(batch, field.name())?;
            let plain: StringArray = (0..batch.num_rows()).map(|i| strings.get(i)).collect();
            columns.push(Arc::new(plain) as ArrayRef);
        } else {
            return Err(format!("column `{}` is {}, expected {}", field.name(), col.data_type(), field.data_type()));
        }
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

/// The rows of a compacted samples batch ordered by (device, t), rows with
/// equal keys in their recorded order.
///
/// Each device's `t` is then nearly arithmetic, and the rows one
/// notification made (heart rate and its RR intervals) stay together with
/// the same `t`, which zstd sees as repetition: smaller than arrival order
/// or (device, quantity, t) (docs/performance.md). Dictionary keys follow the strings' order
/// ([`Dictionary::new`] sorts them), so sorting by key sorts by name.
fn by_device(batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let device = batch
        .column_by_name("device")
        .and_then(|c| c.as_dictionary_opt::<Int32Type>())
        .map(DictionaryArray::keys)
        .ok_or_else(|| arrow_schema::ArrowError::SchemaError("`device` is not a dictionary column".to_owned()))?;
    let t = super::schema::time_col(batch, "t").map_err(arrow_schema::ArrowError::SchemaError)?;
    let n = u32::try_from(batch.num_rows())
        .map_err(|_| arrow_schema::ArrowError::ComputeError("batch too large to sort".to_owned()))?;
    let mut order: Vec<u32> = (0..n).collect();
    // The row index ends every key, so the faster unstable sort keeps equal
    // (device, t) rows in their recorded order.
    order.sort_unstable_by_key(|&i| (device.value(i as usize), t.ns(i as usize), i));
    arrow_select::take::take_record_batch(batch, &UInt32Array::from(order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read_arrow_file;
    use crate::record::schema::{Labels, decode_samples, time_col};
    use arrow_array::{BooleanArray, Float64Array, TimestampNanosecondArray};
    use arrow_schema::TimeUnit;

    /// A samples file of format version 1 (`t` in nanoseconds), left
    /// unfinished by a crash, is compacted by today's `recover` into the
    /// current schema: `t` in microseconds, rounded down, and the same
    /// samples read back but for the nanoseconds.
    #[test]
    fn a_version_1_samples_file_compacts_into_microseconds() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("samples.arrow");
        let ns_schema = Arc::new(Schema::new(
            FileKind::Samples
                .schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "t" => {
                        f.as_ref().clone().with_data_type(DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())))
                    }
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<Field>>(),
        ));
        let start_ns = 1_772_355_600_000_000_000; // 2026-03-01T09:00:00Z
        let t = [start_ns + 1_999, start_ns, start_ns + 1_000_000_001];
        let batch = RecordBatch::try_new(
            ns_schema.clone(),
            vec![
                Arc::new(TimestampNanosecondArray::from(t.to_vec()).with_timezone("UTC")),
                Arc::new(StringArray::from(vec!["strap", "strap", "oxi"])),
                Arc::new(StringArray::from(vec!["rr_interval_ms", "heart_rate_bpm", "spo2_pct"])),
                Arc::new(Float64Array::from(vec![812.5, 74.0, 97.0])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(true), None])),
                Arc::new(TimestampNanosecondArray::from(vec![Some(start_ns + 7), None, None]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let mut w = FileWriter::try_new(fs::File::create(&src).unwrap(), &ns_schema).unwrap();
        w.write(&batch).unwrap();
        w.flush().unwrap();
        drop(w); // no footer: as a crash leaves it

        let dst = dir.path().join("compacted.arrow");
        compact_file(&src, &dst, FileKind::Samples).unwrap();
        let file = read_arrow_file(&dst).unwrap();
        let compacted = &file.batches[0];
        assert_eq!(
            compacted.schema().field_with_name("t").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        // Sorted by (device, t): oxi first, then the strap's two rows.
        let t = time_col(compacted, "t").unwrap();
        let ns: Vec<i64> = (0..3).map(|i| t.ns(i)).collect();
        assert_eq!(ns, [start_ns + 1_000_000_000, start_ns, start_ns + 1_000]);

        // Both files read back as the same samples, to the microsecond;
        // `device_time` keeps its nanoseconds.
        let read = |b: &RecordBatch| {
            let mut out = Vec::new();
            decode_samples(b, start_ns, &mut Labels::default(), &mut out).unwrap();
            out.sort_by_key(|s| (s.device.to_string(), s.at));
            out
        };
        let (old, new) = (read(&batch), read(compacted));
        assert_eq!(old.len(), new.len());
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(n.at.as_nanos(), o.at.as_nanos() / 1000 * 1000, "{o:?} / {n:?}");
            assert_eq!(
                (&n.device, n.quantity, n.value.to_bits(), n.contact),
                (&o.device, o.quantity, o.value.to_bits(), o.contact)
            );
            assert_eq!(n.device_time_ns, o.device_time_ns);
        }
        assert_eq!(new.iter().find_map(|s| s.device_time_ns), Some(start_ns + 7));
    }
}
