//! `vigil report`.
use std::path::Path;

use super::RecordError;

pub fn report(_dir: &Path, _out: &Path) -> Result<(), RecordError> {
    Err(RecordError::Other("todo".into()))
}
