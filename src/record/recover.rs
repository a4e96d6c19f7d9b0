//! `vigil recover`: finalise a recording a crash left unfinished.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::RecordError;
use super::compact::{CompactStats, compact_file};
use super::lock::LockInfo;
use super::meta::SessionMeta;
use super::resync::has_footer;
use super::schema::FileKind;

/// What `recover` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverReport {
    pub dir: PathBuf,
    /// Each file that was finalised, with what it held.
    pub finalised: Vec<(PathBuf, CompactStats)>,
}

impl RecoverReport {
    #[must_use]
    pub fn nothing_to_do(&self) -> bool {
        self.finalised.is_empty()
    }
}

impl std::fmt::Display for RecoverReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.nothing_to_do() {
            return write!(f, "{}: already complete, nothing to do", self.dir.display());
        }
        for (path, stats) in &self.finalised {
            write!(f, "{}: {} rows kept", path.display(), stats.rows)?;
            if let Some(t) = &stats.truncated {
                write!(f, " (the cut message at byte {} was dropped: {})", t.offset, t.message)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Finalise an unfinished recording: every file without a footer is read up
/// to its last whole message and compacted (temporary file, then rename);
/// `session.json` gets the segment's end and `recovered`. Refuses while the
/// lock shows a live recorder.
pub fn recover(dir: &Path) -> Result<RecoverReport, RecordError> {
    SessionMeta::read(dir)?;
    let lock = LockInfo::acquire(dir)?;
    let mut meta = SessionMeta::read(dir)?;
    let finalised = finalise(dir, &mut meta)?;
    if !finalised.is_empty() {
        meta.write(dir)?;
    }
    lock.release()?;
    Ok(RecoverReport { dir: dir.to_owned(), finalised })
}

/// Finalise in place; the caller holds the lock and writes `meta`.
pub(crate) fn finalise(dir: &Path, meta: &mut SessionMeta) -> Result<Vec<(PathBuf, CompactStats)>, RecordError> {
    let mut finalised = Vec::new();
    let mut end: Option<DateTime<Utc>> = meta.end_utc;
    for seg in &mut meta.segments {
        let mut seg_end: Option<i64> = None;
        let mut touched = false;
        for kind in FileKind::ALL {
            let path = dir.join(kind.file_name(seg.index));
            if has_footer(&path) {
                continue;
            }
            if !path.exists() {
                // Killed before the file was created: an empty file keeps
                // the layout whole.
                std::fs::OpenOptions::new()
                    .write(true)
                    .mode(super::FILE_MODE)
                    .create_new(true)
                    .open(&path)
                    .map_err(|source| RecordError::Io { path: path.clone(), source })?;
            }
            let stats = compact_file(&path, &path, kind)?;
            seg_end = seg_end.max(stats.max_t);
            finalised.push((path, stats));
            touched = true;
        }
        if touched {
            seg.recovered = true;
            seg.clean_shutdown = false;
            if seg.end_utc.is_none()
                && let Some(t) = seg_end
            {
                seg.end_utc = Some(DateTime::from_timestamp_nanos(t));
            }
        }
        end = end.max(seg.end_utc);
    }
    meta.end_utc = end;
    Ok(finalised)
}
