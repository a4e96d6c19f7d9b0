//! `vigil recover`: finalise a recording a crash left unfinished.
//!
//! Recover never loses what a reader can still read: each unfinished file is
//! read with the resynchronising reader (past damaged messages), compacted,
//! and replaced only once the new file reads back with at least as many rows
//! (`compact`). A file that had damage beyond a crash's cut tail is kept
//! beside the new one as `<file>.damaged`. A file that is missing stays
//! missing: recover reports it rather than make an empty one that would pass
//! for a recording. No error leaves a temporary or lock file behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::RecordError;
use super::compact::{CompactStats, compact_file};
use super::lock::LockInfo;
use super::meta::SessionMeta;
use super::resync::{BatchStream, has_footer};
use super::schema::FileKind;

/// What `recover` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverReport {
    pub dir: PathBuf,
    /// Each file that was finalised, with what it held.
    pub finalised: Vec<(PathBuf, CompactStats)>,
    /// Damaged originals kept beside the files that replaced them.
    pub kept: Vec<PathBuf>,
    /// Files `session.json` lists that do not exist (not recreated).
    pub missing: Vec<PathBuf>,
}

impl RecoverReport {
    #[must_use]
    pub fn nothing_to_do(&self) -> bool {
        self.finalised.is_empty() && self.missing.is_empty()
    }
}

impl std::fmt::Display for RecoverReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.nothing_to_do() {
            return write!(f, "{}: already complete, nothing to do", self.dir.display());
        }
        for (path, stats) in &self.finalised {
            write!(f, "{}: {} rows kept", path.display(), stats.rows)?;
            for s in &stats.skipped {
                write!(
                    f,
                    "; skipped {} damaged bytes at byte {} ({} messages: {})",
                    s.bytes, s.offset, s.messages, s.message
                )?;
            }
            if let Some(t) = &stats.truncated {
                write!(f, "; the rest from byte {} was dropped ({})", t.offset, t.message)?;
            }
            writeln!(f)?;
        }
        for path in &self.kept {
            writeln!(f, "{}: the damaged original, kept", path.display())?;
        }
        for path in &self.missing {
            writeln!(f, "{}: missing (session.json lists it); not recreated", path.display())?;
        }
        Ok(())
    }
}

/// Finalise an unfinished recording: every file without a footer is read
/// (past damage) and compacted; `session.json` gets the segment's end and
/// `recovered`. Refuses while the lock shows a live recorder.
pub fn recover(dir: &Path) -> Result<RecoverReport, RecordError> {
    SessionMeta::read(dir)?;
    let lock = LockInfo::acquire(dir)?;
    let result = SessionMeta::read(dir).map_err(RecordError::from).and_then(|mut meta| {
        let done = finalise(dir, &mut meta)?;
        if !done.finalised.is_empty() {
            meta.write(dir)?;
        }
        Ok(done)
    });
    let released = lock.release();
    let done = result?;
    released?;
    Ok(RecoverReport { dir: dir.to_owned(), finalised: done.finalised, kept: done.kept, missing: done.missing })
}

/// What [`finalise`] did.
#[derive(Debug, Default)]
pub(crate) struct Finalised {
    pub finalised: Vec<(PathBuf, CompactStats)>,
    pub kept: Vec<PathBuf>,
    pub missing: Vec<PathBuf>,
}

/// Finalise in place; the caller holds the lock and writes `meta`.
pub(crate) fn finalise(dir: &Path, meta: &mut SessionMeta) -> Result<Finalised, RecordError> {
    let mut done = Finalised::default();
    // Every file is checked before any is touched: one that is not an
    // Arrow file, or belongs to another recording, stops recover with the
    // recording as it was.
    for seg in &meta.segments {
        for kind in FileKind::ALL {
            let path = dir.join(kind.file_name(seg.index));
            if path.symlink_metadata().is_err() {
                done.missing.push(path);
            } else if let Some(schema) = BatchStream::open(&path)?.read_schema() {
                meta.check_identity(&path, schema.metadata())?;
            }
        }
    }
    let mut end: Option<DateTime<Utc>> = meta.end_utc;
    for seg in &mut meta.segments {
        let mut seg_end: Option<i64> = None;
        let mut touched = false;
        for kind in FileKind::ALL {
            let path = dir.join(kind.file_name(seg.index));
            if done.missing.contains(&path) || has_footer(&path) {
                continue;
            }
            let (stats, kept) = finalise_file(&path, kind)?;
            seg_end = seg_end.max(stats.max_t);
            if kind == FileKind::Notifications
                && let Err(e) = super::ecg::derive_beside(&path)
            {
                // Derived data: readers fall back to the notifications
                // without it, so its failure does not stop recover.
                tracing::warn!("ecg.arrow beside {} not written: {e}", path.display());
            }
            done.finalised.push((path, stats));
            done.kept.extend(kept);
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
    Ok(done)
}

/// Compact one file in place. The original stays reachable under a second
/// name until the new file is in place, and stays for good if reading it
/// left out more than a crash's cut tail.
fn finalise_file(path: &Path, kind: FileKind) -> Result<(CompactStats, Option<PathBuf>), RecordError> {
    let keep = damaged_name(path);
    fs::hard_link(path, &keep).map_err(|source| RecordError::Io { path: keep.clone(), source })?;
    let stats = match compact_file(path, path, kind) {
        Ok(stats) => stats,
        Err(e) => {
            let _ = fs::remove_file(&keep);
            return Err(e);
        }
    };
    let damaged = !stats.skipped.is_empty() || stats.truncated.as_ref().is_some_and(|t| !t.cut);
    if damaged {
        // Health data: owner only, whatever the original's mode was.
        let _ = fs::set_permissions(&keep, fs::Permissions::from_mode(super::FILE_MODE));
        Ok((stats, Some(keep)))
    } else {
        let _ = fs::remove_file(&keep);
        Ok((stats, None))
    }
}

/// `<file>.damaged`, or `<file>.damaged.<n>` if an earlier recover kept one.
fn damaged_name(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut candidate = path.with_file_name(format!("{name}.damaged"));
    let mut n = 2;
    while candidate.symlink_metadata().is_ok() {
        candidate = path.with_file_name(format!("{name}.damaged.{n}"));
        n += 1;
    }
    candidate
}
