//! `vigil export RECORDING --format csv|parquet --out DIR`.
//!
//! `--out` is a directory (created if missing) that receives one output file
//! per Arrow file, named after it (`notifications.csv`, `samples.1.parquet`
//! for segment 1, …), plus a copy of `session.json`, which maps device labels
//! to sensors. Existing files are not overwritten.
//!
//! Rows keep the Arrow file's order: a compacted `samples` file is sorted by
//! (device, t) (see the module doc of `record`).
//!
//! CSV holds plain text: timestamps as RFC 3339 UTC, `payload` as lowercase
//! hex (as in stream input). Parquet keeps the Arrow types (zstd-compressed,
//! dictionary strings).

use std::fs;
use std::io::IsTerminal;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use indicatif::{ProgressBar, ProgressStyle};

pub mod bids;
mod hold;

use super::resync::BatchStream;
use super::schema::{FileKind, StrCol};
use super::{RecordError, Recording};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

impl ExportFormat {
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "parquet" => Ok(ExportFormat::Parquet),
            other => Err(format!("`{other}` is not an export format: give csv or parquet")),
        }
    }
}

/// Export every Arrow file of the recording in `dir` into the directory
/// `out`. Returns the files written.
pub fn export(dir: &Path, format: ExportFormat, out: &Path) -> Result<Vec<PathBuf>, RecordError> {
    let recording = Recording::open(dir)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(super::DIR_MODE)
        .create(out)
        .map_err(|source| RecordError::Io { path: out.to_owned(), source })?;
    let mut sources = Vec::new();
    for kind in FileKind::ALL {
        for path in recording.paths(kind) {
            sources.push((kind, path.clone()));
        }
    }
    let total: u64 = sources.iter().filter_map(|(_, p)| fs::metadata(p).ok()).map(|m| m.len()).sum();
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    if let Ok(style) = ProgressStyle::with_template("{msg:>24} [{bar:40}] {bytes}/{total_bytes}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let mut written = Vec::new();
    let mut done = 0;
    for (kind, src) in sources {
        let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = name.strip_suffix(".arrow").unwrap_or(&name);
        let dst = out.join(format!("{stem}.{}", format.extension()));
        bar.set_message(name.clone());
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(super::FILE_MODE)
            .open(&dst)
            .map_err(|source| RecordError::Io { path: dst.clone(), source })?;
        let mut stream = BatchStream::open(&src)?;
        let err = |e: &dyn std::fmt::Display| RecordError::Arrow { file: dst.clone(), message: e.to_string() };
        match format {
            ExportFormat::Csv => {
                let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(std::io::BufWriter::new(file));
                while let Some(batch) = stream.next() {
                    w.write(&for_csv(&batch).map_err(|e| err(&e))?).map_err(|e| err(&e))?;
                    bar.set_position(done + stream.position());
                }
                w.into_inner().into_inner().map_err(|e| err(&e.into_error()))?;
            }
            ExportFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::default()))
                    .build();
                let mut w: Option<parquet::arrow::ArrowWriter<fs::File>> = None;
                let mut file = Some(file);
                while let Some(batch) = stream.next() {
                    if w.is_none()
                        && let Some(f) = file.take()
                    {
                        w = Some(
                            parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props.clone()))
                                .map_err(|e| err(&e))?,
                        );
                    }
                    if let Some(w) = w.as_mut() {
                        w.write(&batch).map_err(|e| err(&e))?;
                    }
                    bar.set_position(done + stream.position());
                }
                match (w, file) {
                    (Some(w), _) => {
                        w.close().map_err(|e| err(&e))?;
                    }
                    // No rows: an empty file with the live schema.
                    (None, Some(f)) => {
                        let w =
                            parquet::arrow::ArrowWriter::try_new(f, kind.schema(), Some(props)).map_err(|e| err(&e))?;
                        w.close().map_err(|e| err(&e))?;
                    }
                    (None, None) => {}
                }
            }
        }
        for s in stream.skipped() {
            bar.suspend(|| eprintln!("note: {s}"));
        }
        if let Some(t) = stream.truncated() {
            bar.suspend(|| eprintln!("note: {t}"));
        }
        done += fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
        bar.set_position(done);
        written.push(dst);
    }
    let meta = out.join(super::META_FILE);
    // Not `fs::copy`, which gives the copy the source's mode.
    let io = |source| RecordError::Io { path: meta.clone(), source };
    let mut src = fs::File::open(dir.join(super::META_FILE)).map_err(io)?;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(super::FILE_MODE)
        .open(&meta)
        .map_err(io)?;
    dst.set_permissions(fs::Permissions::from_mode(super::FILE_MODE)).map_err(io)?;
    std::io::copy(&mut src, &mut dst).map_err(io)?;
    written.push(meta);
    bar.finish_and_clear();
    Ok(written)
}

/// A batch as CSV can hold it: dictionaries decoded, payload as hex.
fn for_csv(batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        match col.data_type() {
            DataType::Dictionary(..) => {
                let strings =
                    StrCol::new(batch, field.name()).map_err(arrow_schema::ArrowError::InvalidArgumentError)?;
                let plain: StringArray = (0..batch.num_rows()).map(|i| strings.get(i)).collect();
                columns.push(Arc::new(plain));
                fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
            }
            DataType::Binary => {
                let bin = col.as_binary::<i32>();
                let hex: StringArray =
                    (0..bin.len()).map(|i| bin.is_valid(i).then(|| hex::encode(bin.value(i)))).collect();
                columns.push(Arc::new(hex));
                fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
            }
            // arrow-csv (without chrono-tz) formats offsets, not zone
            // names: the same instants, labelled `+00:00`.
            DataType::Timestamp(unit, Some(_)) => {
                let utc: Option<Arc<str>> = Some("+00:00".into());
                let data = col.to_data().into_builder().data_type(DataType::Timestamp(*unit, utc.clone())).build()?;
                columns.push(arrow_array::make_array(data));
                fields.push(Field::new(field.name(), DataType::Timestamp(*unit, utc), field.is_nullable()));
            }
            _ => {
                columns.push(col.clone());
                fields.push(field.as_ref().clone());
            }
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, columns)
}
