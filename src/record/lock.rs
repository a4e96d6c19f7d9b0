//! The lock file that shows a live recorder.
//!
//! The lock is an OS file lock (`flock` through `File::try_lock`), not the
//! file's existence: a recorder killed with SIGKILL leaves the file behind but
//! the kernel drops its lock, so `recover` can tell a crash from a live
//! recorder without guessing from pids. The pid is written in for people.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{FILE_MODE, LOCK_FILE, RecordError};

/// A held lock. [`LockInfo::release`] removes the file and reports a
/// failure to; dropping it removes the file quietly (an error path must not
/// leave a lock file behind, even though a stale one does no harm).
#[derive(Debug)]
pub struct LockInfo {
    file: Option<File>,
    path: PathBuf,
}

impl Drop for LockInfo {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl LockInfo {
    /// Take the recording's lock, or say who holds it.
    pub fn acquire(dir: &Path) -> Result<LockInfo, RecordError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| RecordError::Io { path: path.clone(), source };
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(RecordError::Locked {
                    dir: dir.to_owned(),
                    pid: if pid.is_empty() { "unknown".to_owned() } else { pid.to_owned() },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Held from here: an error below drops it, which removes the file.
        let mut lock = LockInfo { file: Some(file), path: path.clone() };
        if let Some(file) = lock.file.as_mut() {
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            // No fsync: other processes read the pid through the page cache,
            // and after a power cut there is no live recorder to name.
            writeln!(file, "{}", std::process::id()).map_err(io)?;
        }
        Ok(lock)
    }

    /// Remove the lock file, then drop the lock. (In this order, so nobody
    /// can take a lock on a file that is about to vanish.)
    pub fn release(mut self) -> Result<(), RecordError> {
        let removed = fs::remove_file(&self.path).map_err(|source| RecordError::Io { path: self.path.clone(), source });
        drop(self.file.take());
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = LockInfo::acquire(dir.path()).unwrap();
        let err = LockInfo::acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains(&std::process::id().to_string()), "{err}");
        held.release().unwrap();
        assert!(!dir.path().join(LOCK_FILE).exists());
        LockInfo::acquire(dir.path()).unwrap().release().unwrap();
    }
}
