//! `--resume`: the recording a session continues, and run time as session
//! time (see the [module doc](super) on session time).

use crate::clock::{Clock, ClockKind};
use crate::model::{Batch, SessionTime};
use crate::record::{LockInfo, RecordError, Recording};

/// A session to pick up again (`--resume`): the recording it continues.
///
/// Before the first source batch, the pipeline runs the recording through
/// itself silently ([`Pipeline::restore`](crate::pipeline::Pipeline::restore)),
/// so markers, baseline, limits, audio pause and acknowledged alarms are as
/// they were when the previous run stopped; then the session continues at
/// [`origin`](Self::origin), with a `gap` event for the time vigil was not
/// running.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Opened read-only, before the recorder takes it over; after a crash
    /// its last segment is read as the stream it is, up to the last whole
    /// message (what the recorder's finalising keeps too).
    pub recording: Recording,
    /// Where the recording ends, in session time: the latest `t` any earlier
    /// run recorded.
    pub previous_end: SessionTime,
}

impl Resume {
    /// Open `dir` for resuming. Refuses, naming `dir`, what is not a
    /// recording, a recording a live recorder holds, and a recording of
    /// another participant than `participant` (when given).
    pub fn open(dir: &std::path::Path, participant: Option<&str>) -> Result<Resume, RecordError> {
        let recording = Recording::open(dir)?;
        if let Some(p) = participant
            && recording.meta.participant.as_deref() != Some(p)
        {
            return Err(RecordError::Other(format!(
                "{}: recorded for participant {}, not {p}",
                dir.display(),
                recording.meta.participant.as_deref().unwrap_or("anon")
            )));
        }
        // Fail before reading the whole recording, not after: the recorder
        // takes the lock for good when the session starts.
        LockInfo::acquire(dir)?.release()?;
        let previous_end = recording.end()?;
        Ok(Resume { recording, previous_end })
    }

    /// Session time zero of the resumed session: the recording's start.
    #[must_use]
    pub fn start_utc(&self) -> chrono::DateTime<chrono::Utc> {
        self.recording.meta.start_utc
    }

    /// The session time this run begins at, given the run's `clock`.
    ///
    /// Under the real clock, session time is wall time since the recording
    /// started, so the run begins at its own start minus the recording's
    /// (never before the previous end, should the wall clock have been set
    /// back). A virtual clock's time is the script's, not the wall's: the
    /// run simply continues where the previous one ended.
    #[must_use]
    pub fn origin(&self, clock: &Clock) -> SessionTime {
        match clock.kind() {
            ClockKind::Virtual(_) => self.previous_end,
            ClockKind::Real => {
                let since = (clock.start_utc() - self.start_utc()).num_nanoseconds().unwrap_or(i64::MAX);
                SessionTime(u64::try_from(since).unwrap_or(0)).max(self.previous_end)
            }
        }
    }
}

/// A run time as session time.
pub(super) fn shift_time(at: SessionTime, origin: SessionTime) -> SessionTime {
    SessionTime(at.0.saturating_add(origin.0))
}

/// A source's batch, stamped in run time, as session time.
pub(super) fn shift_batch(batch: &mut Batch, origin: SessionTime) {
    for e in &mut batch.events {
        e.at = shift_time(e.at, origin);
    }
    batch.until = shift_time(batch.until, origin);
}
