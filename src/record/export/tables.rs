//! CSV and Parquet exports: the recording's tables (notifications, samples,
//! events), the derived beats, and one `sessions` row per recording. Every
//! row starts with `recording` (the id) and `participant` (the pseudonym
//! code, null when anonymous).
//!
//! One recording: `OUT/notifications.EXT`, `samples.EXT`, `events.EXT`
//! (one file per Arrow file: `samples.1.EXT` for segment 1, …),
//! `beats.EXT`, `sessions.EXT`, a copy of `session.json`, and for a
//! recording with ECG `ecg.EXT` (one row per sample: `t`, `device`, `uv`).
//!
//! Several recordings: one Hive-partitioned tree per table,
//! `OUT/TABLE/participant=P/recording=R/part-N.EXT` (N counts the Arrow
//! files of a resumed recording), plus `OUT/sessions.EXT` and each
//! `session.json` under `OUT/meta/participant=P/recording=R/`. An
//! anonymous recording's partition is `participant=anon`; the in-file
//! `participant` column stays null, and is a string, since readers cast
//! all-digit partition values to integers.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

use super::super::ecg::EcgReader;
use super::super::resync::BatchStream;
use super::super::schema::FileKind;
use super::super::{RecordError, Recording, UNIT_KEY_PREFIX};
use super::beats::{BeatRow, beat_rows};
use super::{ExportFormat, create_dir, create_file, for_csv};
use crate::analysis::{alarms, doses};
use crate::model::{OutputEvent, SessionTime};

pub(super) fn export(
    recordings: &[PathBuf],
    format: ExportFormat,
    out: &Path,
    force: bool,
) -> Result<Vec<PathBuf>, RecordError> {
    create_dir(out)?;
    let hive = recordings.len() > 1;
    let bar =
        if std::io::stderr().is_terminal() { ProgressBar::new(recordings.len() as u64) } else { ProgressBar::hidden() };
    if let Ok(style) = ProgressStyle::with_template("exporting {pos}/{len} [{bar:30}] {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let mut written = Vec::new();
    let mut sessions = Vec::new();
    for dir in recordings {
        let recording = Recording::open(dir)?;
        bar.set_message(recording.meta.id.clone());
        let ids = Ids::of(&recording);
        let place = |table: &str, index: usize, stem: &str| -> Result<PathBuf, RecordError> {
            if hive {
                let dir = out
                    .join(table)
                    .join(format!("participant={}", ids.partition()))
                    .join(format!("recording={}", ids.recording));
                create_dir(&dir)?;
                Ok(dir.join(format!("part-{index}.{}", format.extension())))
            } else {
                Ok(out.join(format!("{stem}.{}", format.extension())))
            }
        };
        for kind in FileKind::ALL {
            for (index, src) in recording.paths(kind).iter().enumerate() {
                let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = name.strip_suffix(".arrow").unwrap_or(&name);
                let dst = place(kind.stem(), index, stem)?;
                let mut stream = BatchStream::open(src)?;
                let mut w = TableWriter::create(&dst, format, force)?;
                for batch in stream.by_ref() {
                    w.write(&ids.prepend(&batch).map_err(|e| arrow(&dst, &e))?)?;
                }
                w.finish(&ids.prepend(&RecordBatch::new_empty(kind.schema())).map_err(|e| arrow(&dst, &e))?)?;
                for note in
                    stream.skipped().iter().map(ToString::to_string).chain(stream.truncated().map(ToString::to_string))
                {
                    bar.suspend(|| eprintln!("note: {note}"));
                }
                written.push(dst);
            }
        }
        if let Some(dst) = ecg_table(&recording, &ids, format, force, &place)? {
            written.push(dst);
        }
        let samples = recording.samples()?;
        let events = recording.events()?;
        let end = recording.end()?;
        let beats = beat_rows(&recording, &samples, &events, end)?;
        let dst = place("beats", 0, "beats")?;
        let batch =
            ids.prepend(&beats_batch(&recording, &beats).map_err(|e| arrow(&dst, &e))?).map_err(|e| arrow(&dst, &e))?;
        let mut w = TableWriter::create(&dst, format, force)?;
        w.write(&batch)?;
        w.finish(&batch)?;
        written.push(dst);
        sessions.push(Session::of(&recording, &events, end));

        let meta = if hive {
            let dir = out
                .join("meta")
                .join(format!("participant={}", ids.partition()))
                .join(format!("recording={}", ids.recording));
            create_dir(&dir)?;
            dir.join(super::super::META_FILE)
        } else {
            out.join(super::super::META_FILE)
        };
        let io = |source| RecordError::Io { path: meta.clone(), source };
        // Not `fs::copy`, which gives the copy the source's mode.
        let mut src = fs::File::open(dir.join(super::super::META_FILE)).map_err(io)?;
        std::io::copy(&mut src, &mut create_file(&meta, force)?).map_err(io)?;
        written.push(meta);
        bar.inc(1);
    }
    let dst = out.join(format!("sessions.{}", format.extension()));
    let batch = sessions_batch(&sessions).map_err(|e| arrow(&dst, &e))?;
    let mut w = TableWriter::create(&dst, format, force)?;
    w.write(&batch)?;
    w.finish(&batch)?;
    written.push(dst);
    bar.finish_and_clear();
    Ok(written)
}

/// Rows of the `ecg` table per batch written.
const ECG_ROWS: usize = 65_536;

/// The recording's ECG, one row per sample at its session time (`record::ecg`):
/// `ecg.EXT` (or its Hive partition), written only for a recording with ECG.
fn ecg_table(
    recording: &Recording,
    ids: &Ids,
    format: ExportFormat,
    force: bool,
    place: &dyn Fn(&str, usize, &str) -> Result<PathBuf, RecordError>,
) -> Result<Option<PathBuf>, RecordError> {
    let mut reader = EcgReader::open(recording)?;
    let Some(mut frame) = reader.next_frame()? else { return Ok(None) };
    let dst = place("ecg", 0, "ecg")?;
    let mut w = TableWriter::create(&dst, format, force)?;
    let start_us = recording.meta.start_utc.timestamp_micros();
    let mut rows = EcgRows::default();
    loop {
        for (i, uv) in frame.samples_uv.iter().enumerate() {
            // Session ns to whole microseconds, as every other `t`.
            #[allow(clippy::cast_possible_truncation)]
            let t = start_us + (frame.timing.at_ns(i) / 1e3).round() as i64;
            rows.t.append_value(t);
            rows.device.append_value(frame.device.as_str());
            rows.uv.append_value(*uv);
        }
        if arrow_array::builder::ArrayBuilder::len(&rows.uv) >= ECG_ROWS {
            w.write(&ids.prepend(&rows.finish().map_err(|e| arrow(&dst, &e))?).map_err(|e| arrow(&dst, &e))?)?;
        }
        match reader.next_frame()? {
            Some(next) => frame = next,
            None => break,
        }
    }
    let last = ids.prepend(&rows.finish().map_err(|e| arrow(&dst, &e))?).map_err(|e| arrow(&dst, &e))?;
    if last.num_rows() > 0 {
        w.write(&last)?;
    }
    w.finish(&last)?;
    for note in reader.damage() {
        eprintln!("note: {note}");
    }
    Ok(Some(dst))
}

/// Rows of the `ecg` table: `t`, `device`, `uv`.
struct EcgRows {
    t: TimestampMicrosecondBuilder,
    device: StringBuilder,
    uv: Int32Builder,
}

impl Default for EcgRows {
    fn default() -> Self {
        EcgRows {
            t: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            device: StringBuilder::new(),
            uv: Int32Builder::new(),
        }
    }
}

impl EcgRows {
    fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let schema = Schema::new(vec![
            Field::new("t", utc(), false),
            Field::new("device", DataType::Utf8, false),
            Field::new("uv", DataType::Int32, false),
        ])
        .with_metadata(
            arrow_schema::Metadata::new().with(format!("{UNIT_KEY_PREFIX}uv"), crate::record::ecg::UV_UNIT.to_owned()),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(self.t.finish()), Arc::new(self.device.finish()), Arc::new(self.uv.finish())],
        )
    }
}

fn arrow(file: &Path, e: &dyn std::fmt::Display) -> RecordError {
    RecordError::Arrow { file: file.to_owned(), message: e.to_string() }
}

/// The two columns every exported row starts with.
struct Ids {
    recording: String,
    participant: Option<String>,
}

impl Ids {
    fn of(r: &Recording) -> Self {
        Ids { recording: r.meta.id.clone(), participant: r.meta.participant.clone() }
    }

    fn partition(&self) -> &str {
        self.participant.as_deref().unwrap_or("anon")
    }

    fn prepend(&self, batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let n = batch.num_rows();
        let mut fields = vec![
            Arc::new(Field::new("recording", DataType::Utf8, false)),
            Arc::new(Field::new("participant", DataType::Utf8, true)),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.recording.as_str(); n])),
            Arc::new(StringArray::from(vec![self.participant.as_deref(); n])),
        ];
        fields.extend(batch.schema().fields().iter().cloned());
        columns.extend(batch.columns().iter().cloned());
        let schema = Schema::new(fields).with_metadata(batch.schema().metadata().clone());
        RecordBatch::try_new(Arc::new(schema), columns)
    }
}

/// One output table, CSV or Parquet.
enum TableWriter {
    Csv(arrow_csv::Writer<BufWriter<fs::File>>, PathBuf),
    Parquet { path: PathBuf, file: Option<fs::File>, writer: Option<parquet::arrow::ArrowWriter<fs::File>> },
}

impl TableWriter {
    fn create(path: &Path, format: ExportFormat, force: bool) -> Result<Self, RecordError> {
        let file = create_file(path, force)?;
        Ok(match format {
            ExportFormat::Csv => TableWriter::Csv(
                arrow_csv::WriterBuilder::new().with_header(true).build(BufWriter::new(file)),
                path.to_owned(),
            ),
            ExportFormat::Parquet => TableWriter::Parquet { path: path.to_owned(), file: Some(file), writer: None },
            // `export` never sends a dataset or single-file format here.
            ExportFormat::Bids | ExportFormat::Edf => {
                return Err(RecordError::Other(format!(
                    "{}: {} is not a table format",
                    path.display(),
                    format.extension()
                )));
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), RecordError> {
        match self {
            TableWriter::Csv(w, path) => {
                let plain = for_csv(batch).map_err(|e| arrow(path, &e))?;
                w.write(&plain).map_err(|e| arrow(path, &e))
            }
            TableWriter::Parquet { path, file, writer } => {
                if writer.is_none()
                    && let Some(f) = file.take()
                {
                    *writer = Some(parquet_writer(f, batch.schema()).map_err(|e| arrow(path, &e))?);
                }
                match writer {
                    Some(w) => w.write(batch).map_err(|e| arrow(path, &e)),
                    None => Ok(()),
                }
            }
        }
    }

    /// Close the file; `empty` gives the schema of a table that had no
    /// batch (CSV then has its header line only once a batch is written,
    /// so it writes that empty batch).
    fn finish(self, empty: &RecordBatch) -> Result<(), RecordError> {
        match self {
            TableWriter::Csv(w, path) => {
                let mut w = w;
                if empty.num_rows() == 0 {
                    // A header for a table without rows: writing an empty
                    // batch to a fresh writer does that, and to a used one
                    // adds nothing.
                    w.write(&for_csv(&empty.slice(0, 0)).map_err(|e| arrow(&path, &e))?)
                        .map_err(|e| arrow(&path, &e))?;
                }
                w.into_inner().into_inner().map_err(|e| RecordError::Io { path, source: e.into_error() })?;
                Ok(())
            }
            TableWriter::Parquet { path, file, writer } => {
                let w = match (writer, file) {
                    (Some(w), _) => w,
                    (None, Some(f)) => parquet_writer(f, empty.schema()).map_err(|e| arrow(&path, &e))?,
                    (None, None) => return Ok(()),
                };
                w.close().map_err(|e| arrow(&path, &e))?;
                Ok(())
            }
        }
    }
}

fn parquet_writer(
    file: fs::File,
    schema: SchemaRef,
) -> Result<parquet::arrow::ArrowWriter<fs::File>, parquet::errors::ParquetError> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::default()))
        .build();
    parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Microseconds since the Unix epoch of session time `at`.
fn micros(r: &Recording, at: SessionTime) -> i64 {
    r.meta.start_utc.timestamp_micros() + i64::try_from(at.as_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn beats_batch(r: &Recording, beats: &[BeatRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut device = StringBuilder::new();
    let mut t = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut rr = Float64Builder::new();
    let mut notification = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut contact = BooleanBuilder::new();
    let mut segment = Int64Builder::new();
    let mut class = StringBuilder::new();
    for b in beats {
        device.append_value(&b.device);
        t.append_value(micros(r, b.at));
        rr.append_value(b.rr_ms);
        notification.append_option(b.notification_at.map(|at| micros(r, at)));
        contact.append_option(b.contact);
        segment.append_option(b.segment.and_then(|s| i64::try_from(s).ok()));
        class.append_option(b.class);
    }
    let schema = Schema::new(vec![
        Field::new("device", DataType::Utf8, false),
        Field::new("t", utc(), false),
        Field::new("rr_ms", DataType::Float64, false),
        Field::new("notification_t", utc(), true),
        Field::new("contact", DataType::Boolean, true),
        Field::new("segment", DataType::Int64, true),
        Field::new("artifact", DataType::Utf8, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(device.finish()),
        Arc::new(t.finish()),
        Arc::new(rr.finish()),
        Arc::new(notification.finish()),
        Arc::new(contact.finish()),
        Arc::new(segment.finish()),
        Arc::new(class.finish()),
    ];
    RecordBatch::try_new(Arc::new(schema), columns)
}

/// One row of the `sessions` table.
struct Session {
    recording: String,
    participant: Option<String>,
    start_us: i64,
    duration_s: f64,
    protocol: Option<String>,
    visit: Option<String>,
    segments: i64,
    complete: bool,
    clean_shutdown: bool,
    devices: String,
    doses: i64,
    first_dose_s: Option<f64>,
    dose_mg_total: Option<f64>,
    /// Alarm episodes at their highest priority (docs/analysis.md).
    alarms: [u64; 3],
}

impl Session {
    fn of(r: &Recording, events: &[OutputEvent], end: SessionTime) -> Self {
        let doses: Vec<(SessionTime, Option<f64>)> = doses::doses(events).map(|(at, m)| (at, m.amount_mg)).collect();
        let amounts: Vec<f64> = doses.iter().filter_map(|d| d.1).collect();
        Session {
            recording: r.meta.id.clone(),
            participant: r.meta.participant.clone(),
            start_us: r.meta.start_utc.timestamp_micros(),
            duration_s: end.as_secs_f64(),
            protocol: r.meta.protocol.clone(),
            visit: r.meta.visit.clone(),
            segments: i64::try_from(r.meta.segments.len()).unwrap_or(i64::MAX),
            complete: r.complete(),
            clean_shutdown: r.meta.clean_shutdown,
            devices: r.meta.devices.keys().cloned().collect::<Vec<_>>().join(","),
            doses: i64::try_from(doses.len()).unwrap_or(i64::MAX),
            first_dose_s: doses.first().map(|d| d.0.as_secs_f64()),
            dose_mg_total: (!amounts.is_empty()).then(|| amounts.iter().sum()),
            alarms: alarms::count(&alarms::episodes(events, end)),
        }
    }
}

fn sessions_batch(sessions: &[Session]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let text = |f: &dyn Fn(&Session) -> Option<String>| -> ArrayRef {
        Arc::new(sessions.iter().map(f).collect::<StringArray>())
    };
    let float = |f: &dyn Fn(&Session) -> Option<f64>| -> ArrayRef {
        Arc::new(sessions.iter().map(f).collect::<arrow_array::Float64Array>())
    };
    let int = |f: &dyn Fn(&Session) -> i64| -> ArrayRef {
        Arc::new(sessions.iter().map(|s| Some(f(s))).collect::<arrow_array::Int64Array>())
    };
    let flag = |f: &dyn Fn(&Session) -> bool| -> ArrayRef {
        Arc::new(sessions.iter().map(|s| Some(f(s))).collect::<arrow_array::BooleanArray>())
    };
    let start: ArrayRef = Arc::new(
        sessions
            .iter()
            .map(|s| Some(s.start_us))
            .collect::<arrow_array::TimestampMicrosecondArray>()
            .with_timezone("UTC"),
    );
    let count = |p: usize| move |s: &Session| i64::try_from(s.alarms[p]).unwrap_or(i64::MAX);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("recording", text(&|s| Some(s.recording.clone()))),
        ("participant", text(&|s| s.participant.clone())),
        ("start", start),
        ("duration_s", float(&|s| Some(s.duration_s))),
        ("protocol", text(&|s| s.protocol.clone())),
        ("visit", text(&|s| s.visit.clone())),
        ("segments", int(&|s| s.segments)),
        ("complete", flag(&|s| s.complete)),
        ("clean_shutdown", flag(&|s| s.clean_shutdown)),
        ("devices", text(&|s| Some(s.devices.clone()))),
        ("doses", int(&|s| s.doses)),
        ("first_dose_s", float(&|s| s.first_dose_s)),
        ("dose_mg_total", float(&|s| s.dose_mg_total)),
        ("alarms_low", int(&count(0))),
        ("alarms_medium", int(&count(1))),
        ("alarms_high", int(&count(2))),
    ];
    let fields: Vec<Field> =
        columns.iter().map(|(name, col)| Field::new(*name, col.data_type().clone(), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, c)| c).collect())
}
