//! `vigil export`.
use std::path::Path;

use super::RecordError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

pub fn export(_dir: &Path, _format: ExportFormat, _out: &Path) -> Result<(), RecordError> {
    Err(RecordError::Other("todo".into()))
}
