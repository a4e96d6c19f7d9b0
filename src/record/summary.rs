//! `vigil summary`.
use std::io::Write;
use std::path::Path;

use super::RecordError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {}

pub fn summary(_dir: &Path, _json: bool, _out: &mut dyn Write) -> Result<(), RecordError> {
    Err(RecordError::Other("todo".into()))
}
