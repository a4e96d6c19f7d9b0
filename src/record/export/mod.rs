//! `vigil export RECORDING... --format FORMAT --out PATH [--force]`.
//!
//! - `csv`, `parquet` ([`tables`]): `--out` is a directory (created if
//!   missing) with the recording's tables, the derived beats ([`beats`])
//!   and a `sessions` table; several recordings make a Hive-partitioned
//!   tree per table.
//! - `edf` ([`edf`]): `--out` is the file of one recording, EDF+C.
//! - `bids` ([`bids`]): `--out` is a directory, a BIDS dataset of
//!   physiological recordings (1 Hz vitals held by [`hold`], events).
//!
//! Every file is created owner-only (0600, directories 0700), like the
//! recordings; an existing file is replaced only with `--force`.
//!
//! CSV holds plain text: timestamps as RFC 3339 UTC, `payload` as lowercase
//! hex (as in stream input). Parquet keeps the Arrow types (zstd-compressed,
//! dictionary strings). Rows keep the Arrow file's order: a compacted
//! `samples` file is sorted by (device, t) (see the module doc of `record`).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::schema::StrCol;
use super::{RecordError, Recording};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
    Edf,
    Bids,
}

mod beats;
pub mod bids;
mod ecg_grid;
pub mod edf;
mod hold;
mod tables;

impl ExportFormat {
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
            ExportFormat::Edf => "edf",
            ExportFormat::Bids => "bids",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "parquet" => Ok(ExportFormat::Parquet),
            "edf" => Ok(ExportFormat::Edf),
            "bids" => Ok(ExportFormat::Bids),
            other => Err(format!("`{other}` is not an export format: give csv, parquet, edf or bids")),
        }
    }
}

/// Export `recordings` in `format` to `out`: a file for EDF+ (one
/// recording), a directory otherwise (created 0700). Existing files are
/// replaced only with `force`. Returns the files written.
///
/// # Errors
/// A recording cannot be read, an output cannot be written, or the format
/// takes one recording and was given several.
pub fn export(
    recordings: &[PathBuf],
    format: ExportFormat,
    out: &Path,
    force: bool,
) -> Result<Vec<PathBuf>, RecordError> {
    match format {
        ExportFormat::Csv | ExportFormat::Parquet => {
            // `--out x.csv` reads as one file, but these formats write a
            // table per file: say so rather than make a directory named
            // like a file.
            if out.extension().is_some_and(|e| e == format.extension()) && !out.is_dir() {
                return Err(RecordError::Other(format!(
                    "--out {}: {} export writes a directory of tables (samples, events, beats, sessions, …); \
                     give a directory path",
                    out.display(),
                    format.extension()
                )));
            }
            tables::export(recordings, format, out, force)
        }
        ExportFormat::Edf => match recordings {
            [one] => Ok(vec![edf::write(&Recording::open(one)?, out, force)?]),
            _ => Err(RecordError::Other(format!(
                "EDF+ takes one recording ({} given): export each to its own --out FILE.edf",
                recordings.len()
            ))),
        },
        ExportFormat::Bids => {
            let opened: Vec<Recording> = recordings.iter().map(|r| Recording::open(r)).collect::<Result<_, _>>()?;
            bids::write(&opened, out, force)
        }
    }
}

/// Create `path` for writing, owner-only; an existing file only with `force`.
pub(crate) fn create_file(path: &Path, force: bool) -> Result<fs::File, RecordError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .create_new(!force)
        .truncate(true)
        .mode(super::FILE_MODE)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => {
                RecordError::Other(format!("{} exists: give --force to replace it", path.display()))
            }
            _ => RecordError::Io { path: path.to_owned(), source },
        })?;
    // An existing file keeps its mode through `open`: health data is
    // owner-only whatever was there before.
    file.set_permissions(fs::Permissions::from_mode(super::FILE_MODE))
        .map_err(|source| RecordError::Io { path: path.to_owned(), source })?;
    Ok(file)
}

/// Create the directory `path` and its parents, owner-only.
pub(crate) fn create_dir(path: &Path) -> Result<(), RecordError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(super::DIR_MODE)
        .create(path)
        .map_err(|source| RecordError::Io { path: path.to_owned(), source })
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
