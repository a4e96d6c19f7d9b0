//! Arrow recordings: the recorder thread that writes them, and the
//! read-only readers behind replay, summary, export and report.
//!
//! # Layout of a recording (DESIGN.md, Recordings)
//!
//! ```text
//! recordings/20260101T100000Z-P01-1a2b3c4d/     0700
//!   session.json              id, times, participant, protocol, visit, notes, scenario, seed,
//!                             devices (with profiles), config, segments, clean_shutdown
//!   notifications.arrow       t, device, characteristic, payload      (raw GATT bytes)
//!   samples.arrow             t, device, quantity, value, contact, device_time
//!   events.arrow              t, device, kind, name, priority, state, value, text,
//!                             dose_mg, dose_kind, marker_kind     (typed operator markers)
//!   ecg.arrow                 t, device, device_time, uv     (PMD ECG frames, derived; see [`ecg`])
//!
//!   Every `t` is a UTC timestamp in microseconds and `device_time` one in
//!   nanoseconds (format version 3; older versions: docs/recording-format.md).
//!   notifications.1.arrow …   the same files for segment 1 (a `--resume`), 2, …
//!   lock                      while a recorder is live: holds an flock and its pid
//! ```
//!
//! # Life of a file
//!
//! 1. **Live** ([`Recorder`]): the recorder thread appends small batches
//!    with arrow-ipc's `FileWriter` (plain utf8 strings, no compression),
//!    hands them to the OS at least every [`FLUSH_EVERY`] of wall time and
//!    fsyncs at least every [`SYNC_EVERY`]. A crash leaves a file without a
//!    footer; [`BatchStream`] reads it as the IPC stream after the 8-byte
//!    magic, up to the last whole message, passing over damaged messages.
//! 2. **Compacted** ([`compact_file`]): on a clean finish, or by [`recover`], each
//!    file is rewritten (temporary file, fsync, rename) as zstd-compressed
//!    batches of [`COMPACT_BATCH_ROWS`] with one dictionary per
//!    low-cardinality string column for the whole file. The new file
//!    replaces the old only once it reads back at least every row the old
//!    one gave; `recover` keeps a damaged original beside it. Then
//!    `ecg.arrow` is derived from the notifications' PMD frames, if any.
//!
//! Every file's Arrow schema metadata carries the recording id, format
//! version and participant code (`meta::ID_KEY` …), so readers refuse a file
//! copied in from another recording; `samples.arrow`'s also carries each
//! quantity's unit (`vigil.unit.heart_rate_bpm` = `bpm`).
//!
//! # Decisions and deviations
//!
//! - The recorder waits for messages with a timeout (a small current-thread
//!   tokio runtime inside its std thread) rather than a bare `blocking_recv`,
//!   so buffered rows still reach the OS within a second when the pipeline
//!   goes quiet.
//! - Files are written with 8-byte IPC alignment (arrow-rs defaults to 64),
//!   so the stream of an unfinished file starts right after the 8-byte magic.
//!   The reader also accepts 64-byte-aligned files.
//! - `t` is always absolute (`start_utc` of the run + its session time); a
//!   reader's session time is `t` − `session.json`'s `start_utc` (the first
//!   segment's), so a resumed recording reads as one session.
//! - `session.json`'s `clean_shutdown` says whether the last segment ended
//!   cleanly; each segment says so too, and `recovered` marks segments that
//!   `recover` (or a `--resume`) finalised after a crash.
//!   [`Recording::complete`] means every file has its footer.
//! - The end of a segment is the latest session time the recorder saw in
//!   any event, sample or output (`RecordMsg` carries no watermark).
//! - **Row order** (an addition to DESIGN.md): compacted `notifications`
//!   and `events` keep the rows as written (time order). A compacted
//!   `samples` file is sorted by (device, `t`) within each batch of
//!   [`COMPACT_BATCH_ROWS`] rows (a few batches per session, each sorted);
//!   rows with equal device and `t` keep their recorded order. Each device's `t` is then nearly arithmetic,
//!   which zstd compresses much better (see `compact::by_device`). Live and
//!   unfinished files hold rows as recorded, which is not strictly time
//!   order (RR beats are stamped back in time), so readers sort where order
//!   matters (summary, report) and never assume it.

mod compact;
pub mod ecg;
mod export;
mod lock;
mod message;
mod meta;
mod reader;
mod recover;
mod report;
mod resync;
mod rows;
mod schema;
mod summary;
pub mod synthetic;
mod writer;

use std::path::PathBuf;

use crate::model::{OutputEvent, Sample, SessionTime, SourceEvent};

pub use compact::{CompactStats, compact_file, compact_file_at, zstd_level};
pub use export::{ExportFormat, bids, export};
pub use lock::LockInfo;
pub use meta::{
    DeviceMeta, FORMAT, FORMAT_VERSION, FORMAT_VERSION_KEY, ID_KEY, PARTICIPANT_KEY, Segment, SessionMeta, Software,
    UNIT_KEY_PREFIX, validate_label, validate_note, validate_participant,
};
pub use reader::{ArrowFile, BadRows, Damage, Recording, read_arrow_file};
pub use recover::{RecoverReport, recover};
pub use report::report;
pub use resync::{BatchStream, Skip, Truncation};
pub use schema::{
    DOSE_INITIAL, DOSE_SUPPLEMENTAL, FileKind, Labels, RecordedNotification, check_notifications, decode_notifications,
};
pub use summary::{ALARM_COUNT_DEFINITION, Rerun, Summary, summary};
pub use writer::{Recorder, RecordingInfo};

/// Capacity of the pipeline → recorder channel, in messages.
///
/// The pipeline sends one [`RecordMsg`] per source batch. Live, four sensors
/// give at most ~10 batches a second (a heart-rate strap notifies at 1 Hz, a
/// thermometer every few seconds, each source sends a batch per notification
/// or per tick), so 8192 messages hold ≥ 13 minutes of data if the disk
/// stalls. A message is a few hundred bytes, so a full channel costs a few
/// MB. Under a virtual clock the pipeline waits for room (nothing is lost)
/// and the capacity only decides how far it may run ahead.
pub const RECORDER_CHANNEL_CAPACITY: usize = 8192;

/// Hand buffered rows to the OS at least this often (wall time). Half the
/// one-second promise, so the time a message spends in the channel fits too.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// `fsync` at least this often (wall time): a power cut loses at most this.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Rows buffered in memory before a batch is written regardless of time, so
/// a `--speed max` session writes batches of a sensible size.
pub const MAX_PENDING_ROWS: usize = 16_384;

/// Rows per batch in a compacted file: large enough for zstd to see the
/// repetition, small enough that an ordinary session's file is several
/// batches, so damage to one costs a part of the file, not all of it. The
/// size budget still holds (docs/performance.md).
pub const COMPACT_BATCH_ROWS: usize = 16_384;

pub(crate) const META_FILE: &str = "session.json";
pub(crate) const LOCK_FILE: &str = "lock";
pub(crate) const DIR_MODE: u32 = 0o700;
pub(crate) const FILE_MODE: u32 = 0o600;

/// Where and as whom to record.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// The directory that holds recordings (`recordings/` by default).
    pub root: PathBuf,
    /// Participant pseudonym (see [`validate_participant`]).
    pub participant: Option<String>,
    /// Continue this recording in a new segment instead of starting one.
    pub resume: Option<PathBuf>,
    /// What `session.json` says of the session besides its data.
    pub about: SessionAbout,
}

/// What a session is, for `session.json` (format version 3): the study's
/// protocol, visit and notes, the simulated scenario, the declared devices'
/// profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionAbout {
    /// `--protocol` (see [`validate_label`]).
    pub protocol: Option<String>,
    /// `--visit` (see [`validate_label`]).
    pub visit: Option<String>,
    /// `--note`, each given once (see [`validate_note`]).
    pub notes: Vec<String>,
    /// A simulated session's scenario name and seed.
    pub scenario: Option<(String, u64)>,
    /// Device label → profile id, for the devices the session declares
    /// (others get the profile they match when they connect).
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// What the pipeline sends the recorder.
#[derive(Debug)]
pub enum RecordMsg {
    /// Everything the pipeline saw and made for one batch: moved, not copied.
    /// Notifications go to `notifications.arrow`; `Connected` and
    /// `DeviceInfo` events update `session.json`; everything else in
    /// `events` is ignored (it reaches `events.arrow` as `output`).
    Batch {
        events: Vec<SourceEvent>,
        samples: Vec<Sample>,
        output: Vec<OutputEvent>,
    },
    /// What an [`Outbox`] gathered over several source batches: the same
    /// as that many `Batch`es in order, with each source batch's events in
    /// the vector the source sent them in (moved, never copied or freed on
    /// the pipeline's thread).
    Gathered {
        batches: Vec<Vec<SourceEvent>>,
        samples: Vec<Sample>,
        output: Vec<OutputEvent>,
    },
    /// Finish the recording (also what a closed channel means).
    /// The session reached this time (its end, even if nothing happened at
    /// that moment): the recording's end time is at least this.
    Reached(SessionTime),
    Finish,
}

/// A `--speed max` session gathers its products here over several source
/// batches and sends the recorder one message per [`OUTBOX_ROWS`] rows (or
/// per [`OUTBOX_AGE`] of wall time) instead of one per batch: there a batch
/// is one session-second of a few notifications, and the channel send and
/// the recorder thread's wake-up cost more than the pipeline's work on them.
/// Paced and live sessions send each batch at once, so a crash loses no
/// more than the recorder's one-second flush promise.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Each source batch's own vector: moving it in is a pointer copy, and
    /// the recorder's thread frees it after writing.
    batches: Vec<Vec<SourceEvent>>,
    /// Events in `batches`.
    events: usize,
    /// The pipeline decodes straight into this (see [`Outbox::samples`]), so
    /// a sample is written once on the pipeline's thread, not copied here.
    samples: Vec<Sample>,
    output: Vec<OutputEvent>,
    /// When the oldest product not yet sent is [`OUTBOX_AGE`] old (kept as
    /// that instant: comparing it is cheaper than an age per batch).
    due_at: Option<std::time::Instant>,
    /// Sample buffers the recorder has emptied (see [`sample_returns`]).
    returns: Option<SampleReturns>,
}

/// The receiving end of the recorder's emptied sample buffers.
pub type SampleReturns = std::sync::mpsc::Receiver<Vec<Sample>>;

/// Buffers that may wait to be reused: the messages in flight on the
/// recorder's channel are the most that can come back at once.
const RETURNED_BUFFERS: usize = 4;

/// A channel for emptied sample buffers from the recorder's thread back to
/// an [`Outbox`]. Reusing them keeps the pipeline thread writing samples to
/// memory that stays mapped: a fresh buffer per message was freed on the
/// recorder's thread, given back to the system by the allocator, and faulted
/// in again page by page on the pipeline's (`perf record -e page-faults`).
#[must_use]
pub fn sample_returns() -> (std::sync::mpsc::SyncSender<Vec<Sample>>, SampleReturns) {
    std::sync::mpsc::sync_channel(RETURNED_BUFFERS)
}

/// Rows (events + samples + output) that make an [`Outbox`] due.
pub const OUTBOX_ROWS: usize = 1024;
/// Wall time after which an [`Outbox`]'s oldest product is due regardless.
pub const OUTBOX_AGE: std::time::Duration = std::time::Duration::from_millis(100);

impl Outbox {
    /// An outbox that reuses the sample buffers the recorder hands back.
    #[must_use]
    pub fn with_returns(returns: SampleReturns) -> Self {
        Self { returns: Some(returns), ..Self::default() }
    }

    /// The buffer the pipeline appends the next batch's samples to (only
    /// appends: samples gathered before stay and go in the next message).
    pub fn samples(&mut self) -> &mut Vec<Sample> {
        &mut self.samples
    }

    /// Add one batch's products: `events` is moved, `output` copied (the
    /// headless and alarm sinks still need it); its samples are already in
    /// [`samples`](Self::samples).
    pub fn push(&mut self, now: std::time::Instant, events: Vec<SourceEvent>, output: &[OutputEvent]) {
        if !events.is_empty() {
            self.events += events.len();
            self.batches.push(events);
        }
        self.output.extend_from_slice(output);
        if self.due_at.is_none() && !(self.batches.is_empty() && self.samples.is_empty() && self.output.is_empty()) {
            self.due_at = Some(now.checked_add(OUTBOX_AGE).unwrap_or(now));
        }
    }

    /// Whether the gathered products should go to the recorder now.
    #[must_use]
    pub fn is_due(&self, now: std::time::Instant) -> bool {
        self.events + self.samples.len() + self.output.len() >= OUTBOX_ROWS
            || self.due_at.is_some_and(|due_at| now >= due_at)
    }

    /// Everything gathered, as one message (`None` if nothing is).
    ///
    /// The next message starts with the room this one had: growing from
    /// empty reallocated and copied each vector about ten times per message,
    /// 19 % of the pipeline thread's instructions (callgrind). Room, not
    /// length: a buffer sized to the last message's length grew (doubled and
    /// copied) whenever the next message held one sample more, which it
    /// does about every other time (a message ends on a whole batch).
    pub fn take(&mut self) -> Option<RecordMsg> {
        fn with_room<T>(v: &mut Vec<T>) -> Vec<T> {
            let room = Vec::with_capacity(v.capacity());
            std::mem::replace(v, room)
        }
        self.due_at.take()?;
        self.events = 0;
        let mut spare = self.returns.as_ref().and_then(|r| r.try_recv().ok()).unwrap_or_default();
        spare.clear();
        spare.reserve(self.samples.capacity());
        Some(RecordMsg::Gathered {
            batches: with_room(&mut self.batches),
            samples: std::mem::replace(&mut self.samples, spare),
            output: with_room(&mut self.output),
        })
    }
}

/// Whether the recorder is still writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderHealth {
    Ok,
    /// A write failed (disk full, permissions) or the recording could not
    /// start: the pipeline raises `tech.recording`. The recorder keeps
    /// draining its channel and counts, in `not_recorded`, what it could
    /// not write (updated as messages come).
    Failed {
        message: String,
        not_recorded: crate::model::NotRecorded,
    },
}

/// Errors of the recorder, `recover`, `summary`, `export` and `report`.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "participant code `{0}` refused: use a pseudonym of 1–32 letters, digits, `_` or `-` (no names, no spaces)"
    )]
    Participant(String),
    #[error("{dir} is locked by a live recorder (pid {pid}); stop it first")]
    Locked { dir: PathBuf, pid: String },
    #[error("{file}: {message}")]
    Arrow { file: PathBuf, message: String },
    #[error("{file}: {message}")]
    Meta { file: PathBuf, message: String },
    #[error("recording failed: {0}")]
    Failed(String),
    #[error("the recorder thread ended unexpectedly")]
    ThreadLost,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{0}")]
    Other(String),
}

/// Errors of reading a recording; each names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: {message}")]
    Meta { file: PathBuf, message: String },
    #[error("{file}: not an Arrow IPC file (the first 8 bytes are not `ARROW1\\0\\0`)")]
    Magic { file: PathBuf },
    #[error("{file}: byte {offset}: {message}")]
    Corrupt { file: PathBuf, offset: u64, message: String },
    #[error("{file}: batch {batch}, row {row}: {message}")]
    Row { file: PathBuf, batch: usize, row: usize, message: String },
    #[error("{file}: schema does not match a vigil recording: {message}")]
    Schema { file: PathBuf, message: String },
    #[error("{file}: not part of this recording: {message}")]
    Identity { file: PathBuf, message: String },
    #[error("{file}: is {kind}, not a regular file")]
    NotAFile { file: PathBuf, kind: &'static str },
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::model::{Characteristic, DeviceLabel, Quantity};

    fn sample(s: u64) -> Sample {
        Sample {
            at: SessionTime::from_secs(s),
            device: DeviceLabel::from("chest"),
            quantity: Quantity::HeartRateBpm,
            value: 60.0,
            contact: None,
            device_time_ns: None,
        }
    }

    #[test]
    fn outbox_reuses_the_sample_buffers_the_recorder_hands_back() {
        let (give_back, returns) = sample_returns();
        let mut outbox = Outbox::with_returns(returns);
        let t0 = Instant::now();
        outbox.samples().push(sample(0));
        outbox.push(t0, Vec::new(), &[]);
        let Some(RecordMsg::Gathered { mut samples, .. }) = outbox.take() else { panic!("gathered") };
        assert_eq!(samples.len(), 1);

        // The recorder has written the samples and hands the buffer back.
        samples.clear();
        samples.reserve(500);
        let returned = samples.as_ptr();
        give_back.try_send(samples).unwrap();
        outbox.samples().push(sample(1));
        outbox.push(t0, Vec::new(), &[]);
        let Some(RecordMsg::Gathered { samples, .. }) = outbox.take() else { panic!("gathered") };
        assert_eq!(samples.len(), 1, "only this message's samples");
        assert_eq!(outbox.samples().as_ptr(), returned, "the next message fills the returned buffer");
        assert!(outbox.samples().is_empty());
    }

    #[test]
    fn a_new_sample_buffer_has_the_room_of_the_one_sent() {
        // No buffer comes back in time: the next one is new, and must not
        // have to grow (reallocate and copy) when the next message holds a
        // sample more than this one did.
        let mut outbox = Outbox::default();
        outbox.samples().reserve(1000);
        let room = outbox.samples().capacity();
        for s in 0..600 {
            outbox.samples().push(sample(s));
        }
        outbox.push(Instant::now(), Vec::new(), &[]);
        let Some(RecordMsg::Gathered { samples, .. }) = outbox.take() else { panic!("gathered") };
        assert_eq!(samples.len(), 600);
        assert!(outbox.samples().is_empty());
        assert!(outbox.samples().capacity() >= room, "{} < {room}", outbox.samples().capacity());
    }

    #[test]
    fn outbox_gathers_in_order_and_is_due_by_rows_or_age() {
        let t0 = Instant::now();
        let mut outbox = Outbox::default();
        outbox.push(t0, Vec::new(), &[]);
        assert!(!outbox.is_due(t0 + OUTBOX_AGE * 10), "nothing gathered, nothing due");
        assert!(outbox.take().is_none());

        for s in 0..3 {
            outbox.samples().push(sample(s));
            let event = SourceEvent::notification(
                SessionTime::from_millis(s * 1000),
                DeviceLabel::from("chest"),
                Characteristic::HeartRateMeasurement,
                &[0x00, 60],
            );
            outbox.push(t0 + Duration::from_millis(s * 10), vec![event], &[]);
        }
        assert!(!outbox.is_due(t0 + OUTBOX_AGE - Duration::from_millis(1)));
        assert!(outbox.is_due(t0 + OUTBOX_AGE), "the oldest product's age counts");
        let Some(RecordMsg::Gathered { batches, samples, .. }) = outbox.take() else { panic!("gathered batches") };
        let times: Vec<u64> = samples.iter().map(|s| s.at.as_millis()).collect();
        assert_eq!(times, [0, 1000, 2000]);
        let event_times: Vec<u64> = batches.iter().flatten().map(|e| e.at.as_millis()).collect();
        assert_eq!(event_times, [0, 1000, 2000], "each source batch kept, in order");
        assert!(outbox.samples.capacity() >= 3, "the next message starts with this one's room");
        assert!(outbox.take().is_none(), "taken once");

        // Samples alone (an operator's manual reading) are a product too.
        outbox.samples().push(sample(9));
        outbox.push(t0, Vec::new(), &[]);
        assert!(outbox.is_due(t0 + OUTBOX_AGE));
        assert!(matches!(outbox.take(), Some(RecordMsg::Gathered { samples, .. }) if samples.len() == 1));

        let t1 = t0 + OUTBOX_AGE * 100;
        for s in 0..OUTBOX_ROWS as u64 {
            assert!(!outbox.is_due(t1), "due after {s} rows");
            outbox.samples().push(sample(s));
            outbox.push(t1, Vec::new(), &[]);
        }
        assert!(outbox.is_due(t1), "due by rows at once");
    }
}
