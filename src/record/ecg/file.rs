//! `ecg.arrow`: one row per Polar PMD ECG frame, derived from the PMD rows
//! of `notifications.arrow` when a recording is compacted, and the decoding
//! of both back into [`EcgRow`]s.
//!
//! Columns: `t` timestamp[us, UTC] (the notification's arrival, its `t` in
//! `notifications.arrow`), `device` (dictionary-encoded utf8), `device_time`
//! timestamp[ns, UTC] (the strap's timestamp of the frame's last sample,
//! null where it does not fit), `uv` list<int32> (the samples, µV).

use std::fs;
use std::io::BufWriter;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    Int32Builder, ListBuilder, PrimitiveBuilder, TimestampMicrosecondBuilder, TimestampNanosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, RecordBatch, StringArray};
use arrow_ipc::CompressionType;
use arrow_ipc::writer::FileWriter;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::super::resync::BatchStream;
use super::super::rows::RowStream;
use super::super::schema::{Labels, StrCol, binary_col, column, time_col, us_of_ns};
use super::super::{FILE_MODE, ReadError, RecordError, UNIT_KEY_PREFIX};
use super::EcgRow;
use crate::gatt::pmd;
use crate::model::Characteristic;

/// zstd level of `ecg.arrow`. The file is written once, at compaction, and
/// is most of an ECG recording's bytes; level 9 brings a realistic 130 Hz
/// signal well under the budget of 2 B/sample (1.57; docs/performance.md)
/// for a fraction of the CPU of the highest levels: 19 takes 9× as long for
/// 17 % less, seconds at the end of an 8-h session.
pub const ECG_ZSTD_LEVEL: i32 = 9;

/// Frames per batch of `ecg.arrow`: 4096 frames of 73 samples is ~9 min of
/// one strap, ~1.2 MB of samples; large enough for zstd, small enough that a
/// reader holds one batch at a time in little memory.
pub const ECG_BATCH_FRAMES: usize = 4096;

/// The unit of `uv`, in the schema metadata as `vigil.unit.uv`.
pub const UV_UNIT: &str = "µV";

fn list_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Int32, true))
}

/// `ecg.arrow`'s schema (without its metadata).
pub static ECG_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("device", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
        Field::new("device_time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), true),
        Field::new("uv", DataType::List(list_field()), false),
    ]))
});

/// Whether a `characteristic` cell names the PMD data characteristic.
/// Parsed once per distinct value (the column repeats a handful).
#[derive(Default)]
struct IsPmd(Vec<(String, bool)>);

impl IsPmd {
    fn check(&mut self, s: &str) -> bool {
        if let Some((_, b)) = self.0.iter().find(|(v, _)| v == s) {
            return *b;
        }
        let b = Characteristic::parse(s).is_ok_and(|c| c == pmd::DATA_CHARACTERISTIC);
        self.0.push((s.to_owned(), b));
        b
    }
}

/// The PMD ECG frames among one batch of notification rows. Rows that are
/// not PMD data, and PMD rows that do not decode (already decode-error
/// events), are passed over; a row without device is bad.
pub fn decode_pmd_rows(
    batch: &RecordBatch,
    _start_ns: i64,
    labels: &mut Labels,
    out: &mut Vec<EcgRow>,
) -> Result<(), (usize, String)> {
    let whole = |e| (0, e);
    let t = time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let characteristic = StrCol::new(batch, "characteristic").map_err(whole)?;
    let payload = binary_col(batch, "payload").map_err(whole)?;
    let mut is_pmd = IsPmd::default();
    for i in 0..batch.num_rows() {
        if !characteristic.get(i).is_some_and(|c| is_pmd.check(c)) || !payload.is_valid(i) {
            continue;
        }
        let Ok(frame) = pmd::decode_data(payload.value(i)) else { continue };
        let d = device.required(i, "device").map_err(|e| (i, e))?;
        out.push(EcgRow {
            t_ns: t.ns(i),
            device: labels.get(d),
            device_time_ns: frame.unix_ns(),
            samples_uv: frame.samples_uv,
        });
    }
    Ok(())
}

/// Rows of one batch of `ecg.arrow`.
pub fn decode_ecg_rows(
    batch: &RecordBatch,
    _start_ns: i64,
    labels: &mut Labels,
    out: &mut Vec<EcgRow>,
) -> Result<(), (usize, String)> {
    let whole = |e| (0, e);
    let t = time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let device_time = time_col(batch, "device_time").map_err(whole)?;
    let uv = column(batch, "uv")
        .map_err(whole)?
        .as_list_opt::<i32>()
        .ok_or_else(|| whole("column `uv` is not a list".to_owned()))?;
    let values = uv
        .values()
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| whole("column `uv` does not hold int32".to_owned()))?;
    let offsets = uv.value_offsets();
    for i in 0..batch.num_rows() {
        let row = |e| (i, e);
        let d = device.required(i, "device").map_err(row)?;
        if uv.is_null(i) {
            return Err((i, "`uv` is null".to_owned()));
        }
        let (from, to) = (usize::try_from(offsets[i]), usize::try_from(offsets[i + 1]));
        let (Ok(from), Ok(to)) = (from, to) else { return Err((i, "`uv` has a negative offset".to_owned())) };
        out.push(EcgRow {
            t_ns: t.ns(i),
            device: labels.get(d),
            device_time_ns: device_time.is_valid(i).then(|| device_time.ns(i)),
            samples_uv: values.values()[from..to].to_vec(),
        });
    }
    Ok(())
}

/// What [`derive`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcgStats {
    pub frames: usize,
    pub samples: usize,
    pub bytes: u64,
}

/// Write `ecg` from the PMD frames of the notifications file `notifications`
/// (finished or not): a temporary file beside it, fsynced, renamed over.
/// `Ok(None)`, and no file, when it holds no PMD frame. The schema metadata
/// is the notifications file's (the recording's identity) and the unit of
/// `uv`.
pub fn derive(notifications: &Path, ecg: &Path, level: i32) -> Result<Option<EcgStats>, RecordError> {
    // Pass 1: the devices that sent ECG (the file's one dictionary must be
    // known before its first batch), without decoding a frame.
    let mut first = BatchStream::open(notifications)?;
    let mut devices: Vec<String> = Vec::new();
    let mut is_pmd = IsPmd::default();
    for batch in first.by_ref() {
        let (Ok(device), Ok(characteristic)) = (StrCol::new(&batch, "device"), StrCol::new(&batch, "characteristic"))
        else {
            continue;
        };
        for i in 0..batch.num_rows() {
            if characteristic.get(i).is_some_and(|c| is_pmd.check(c))
                && let Some(d) = device.get(i)
                && !devices.iter().any(|x| x == d)
            {
                devices.push(d.to_owned());
            }
        }
    }
    let metadata = first.schema().map(|s| s.metadata().clone()).unwrap_or_default();
    drop(first);
    if devices.is_empty() {
        return Ok(None);
    }
    devices.sort_unstable();
    let metadata = metadata.with(format!("{UNIT_KEY_PREFIX}uv"), UV_UNIT.to_owned());
    let schema = Arc::new(ECG_SCHEMA.as_ref().clone().with_metadata(metadata));

    let file_name = ecg.file_name().map_or_else(|| "ecg.arrow".into(), |n| n.to_string_lossy().into_owned());
    let tmp = ecg.with_file_name(format!(".{file_name}.tmp"));
    let written = write(notifications, &tmp, &schema, &devices, level).and_then(|stats| {
        let check = super::super::reader::read_arrow_file(&tmp)?;
        if check.num_rows() == stats.frames && check.truncated.is_none() && check.skipped.is_empty() {
            Ok(stats)
        } else {
            Err(RecordError::Arrow {
                file: tmp.clone(),
                message: format!("reads back {} frames of {}", check.num_rows(), stats.frames),
            })
        }
    });
    let stats = match written {
        Ok(stats) => stats,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(source) = fs::rename(&tmp, ecg) {
        let _ = fs::remove_file(&tmp);
        return Err(RecordError::Io { path: ecg.to_owned(), source });
    }
    if let Some(parent) = ecg.parent() {
        super::super::compact::sync_dir(parent);
    }
    Ok(Some(stats))
}

/// Pass 2 of [`derive`]: the frames, decoded one notifications batch at a
/// time, into `tmp`.
fn write(
    notifications: &Path,
    tmp: &Path,
    schema: &SchemaRef,
    devices: &[String],
    level: i32,
) -> Result<EcgStats, RecordError> {
    let io = |source| RecordError::Io { path: tmp.to_owned(), source };
    let arrow = |e: arrow_schema::ArrowError| RecordError::Arrow { file: tmp.to_owned(), message: e.to_string() };
    let file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(tmp).map_err(io)?;
    let options = super::super::schema::write_options()
        .try_with_compression(Some(CompressionType::ZSTD))
        .and_then(|o| o.try_with_compression_level(Some(level)))
        .map_err(arrow)?;
    let mut writer = FileWriter::try_new_with_options(BufWriter::new(file), schema, options).map_err(arrow)?;
    // One values array for every batch: the writer emits the dictionary once.
    let dictionary: ArrayRef = Arc::new(StringArray::from_iter_values(devices));
    let mut rows = Rows::default();
    let mut stats = EcgStats { frames: 0, samples: 0, bytes: 0 };
    let mut source = RowStream::over(0, vec![notifications.to_owned()], decode_pmd_rows);
    let mut batch: Vec<EcgRow> = Vec::new();
    while source.next_batch(&mut batch)? {
        for row in batch.drain(..) {
            let Some(key) = devices.iter().position(|d| d == row.device.as_str()) else { continue };
            stats.frames += 1;
            stats.samples += row.samples_uv.len();
            rows.push(&row, i32::try_from(key).unwrap_or(i32::MAX));
            if rows.len() >= ECG_BATCH_FRAMES {
                writer.write(&rows.finish(schema, &dictionary).map_err(arrow)?).map_err(arrow)?;
            }
        }
    }
    if rows.len() > 0 {
        writer.write(&rows.finish(schema, &dictionary).map_err(arrow)?).map_err(arrow)?;
    }
    writer.finish().map_err(arrow)?;
    let file = writer.into_inner().map_err(arrow)?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    stats.bytes = file.metadata().map_err(io)?.len();
    Ok(stats)
}

/// Rows of `ecg.arrow` waiting to be written.
struct Rows {
    t: TimestampMicrosecondBuilder,
    device: PrimitiveBuilder<Int32Type>,
    device_time: TimestampNanosecondBuilder,
    uv: ListBuilder<Int32Builder>,
}

impl Default for Rows {
    fn default() -> Self {
        Rows {
            t: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            device: PrimitiveBuilder::new(),
            device_time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            uv: ListBuilder::new(Int32Builder::new()).with_field(list_field()),
        }
    }
}

impl Rows {
    fn push(&mut self, row: &EcgRow, device_key: i32) {
        self.t.append_value(us_of_ns(row.t_ns));
        self.device.append_value(device_key);
        self.device_time.append_option(row.device_time_ns);
        self.uv.values().append_slice(&row.samples_uv);
        self.uv.append(true);
    }

    fn len(&self) -> usize {
        arrow_array::builder::ArrayBuilder::len(&self.t)
    }

    fn finish(&mut self, schema: &SchemaRef, dictionary: &ArrayRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let device = DictionaryArray::<Int32Type>::try_new(self.device.finish(), dictionary.clone())?;
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(self.t.finish()),
                Arc::new(device),
                Arc::new(self.device_time.finish()),
                Arc::new(self.uv.finish()),
            ],
        )
    }
}

/// Check an `ecg.arrow` belongs to the recording (its schema metadata).
pub fn check_identity(meta: &super::super::SessionMeta, path: &Path) -> Result<(), ReadError> {
    if let Some(schema) = BatchStream::open(path)?.read_schema() {
        meta.check_identity(path, schema.metadata())?;
    }
    Ok(())
}
