//! ECG in recordings: `ecg.arrow` (one row per Polar PMD frame, derived
//! from `notifications.arrow` when a recording is compacted) and the reader
//! that places every sample in session time.
//!
//! ```text
//!   notifications.arrow ──(compaction: writer finish, recover)──▶ ecg.arrow
//!          │                                                        │
//!          └─── fallback (unfinished, or older) ──▶ EcgReader ◀─────┘
//!                                                      │ EcgClock (crate::ecg), one per device
//!                                                      ▼
//!                                   PlacedFrame: device, arrival, timing, µV
//! ```
//!
//! Both sources give the same [`EcgRow`]s (the frame's arrival `t`, device,
//! strap time as a Unix timestamp, samples), and one rule places them:
//! [`crate::ecg::EcgClock`]. So a recording reads alike before and after
//! its `ecg.arrow` exists. One detail makes that exact: `ecg.arrow` stores
//! the strap's time as `timestamp[ns]`, which cannot hold a strap timestamp
//! after 2262 (null); such a frame is placed, from either source, as a run
//! of its own that ends at its arrival.
//!
//! The reader streams: one Arrow batch at a time (≤ [`ECG_BATCH_FRAMES`]
//! frames of `ecg.arrow`, or one notifications batch), so an 8-h strap
//! (3.7 M samples) is read in a few MB. [`collect`] gathers one device's
//! samples for analysis at 12 B a sample (45 MB for 8 h).

mod file;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

pub use file::{
    ECG_BATCH_FRAMES, ECG_SCHEMA, ECG_ZSTD_LEVEL, EcgStats, UV_UNIT, decode_ecg_rows, decode_pmd_rows, derive,
};

use super::rows::RowStream;
use super::schema::{FileKind, at_of};
use super::{Damage, ReadError, Recording};
use crate::ecg::{EcgClock, FrameTiming};
use crate::gatt::pmd::EPOCH_2000_UNIX_S;
use crate::model::{DeviceLabel, SessionTime};

/// `ecg.arrow` for segment 0, `ecg.<n>.arrow` after (as the other files).
#[must_use]
pub fn file_name(segment: u32) -> String {
    if segment == 0 { "ecg.arrow".to_owned() } else { format!("ecg.{segment}.arrow") }
}

/// Derive the `ecg` file of the notifications file `notifications` (in the
/// same directory, same segment) at [`ECG_ZSTD_LEVEL`].
pub fn derive_beside(notifications: &Path) -> Result<Option<EcgStats>, super::RecordError> {
    let name = notifications.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let segment = name
        .strip_prefix("notifications.")
        .and_then(|rest| rest.strip_suffix(".arrow"))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    derive(notifications, &notifications.with_file_name(file_name(segment)), ECG_ZSTD_LEVEL)
}

/// One PMD frame as recorded, from either source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcgRow {
    /// Arrival of the notification, ns since the Unix epoch (recorded in
    /// microseconds).
    pub t_ns: i64,
    pub device: DeviceLabel,
    /// The strap's time of the frame's last sample, ns since the Unix
    /// epoch; `None` where it does not fit.
    pub device_time_ns: Option<i64>,
    pub samples_uv: Vec<i32>,
}

impl EcgRow {
    /// The strap's own timestamp (ns since 2000), as [`EcgClock`] takes it;
    /// `u64::MAX` (a run of its own) where the row has none.
    #[must_use]
    pub fn strap_ns(&self) -> u64 {
        self.device_time_ns
            .and_then(|t| t.checked_sub(EPOCH_2000_UNIX_S * 1_000_000_000))
            .and_then(|t| u64::try_from(t).ok())
            .unwrap_or(u64::MAX)
    }
}

/// A frame placed in session time.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedFrame {
    pub device: DeviceLabel,
    /// The notification's arrival, session time.
    pub arrival: SessionTime,
    /// As [`EcgRow::device_time_ns`].
    pub device_time_ns: Option<i64>,
    /// Where the samples fall: sample `i` at `timing.at_ns(i)` session ns.
    pub timing: FrameTiming,
    pub samples_uv: Vec<i32>,
}

/// Which file a segment's ECG was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcgSource {
    /// `ecg.arrow` (`ecg.<n>.arrow`).
    EcgFile,
    /// The PMD rows of `notifications.arrow`: the segment has no `ecg`
    /// file (unfinished, or recorded before vigil wrote one).
    Notifications,
}

/// Every ECG frame of a recording, in recorded (arrival) order, each placed
/// by its device's [`EcgClock`]; segment by segment, from the segment's
/// `ecg` file where there is one, else from its notifications.
pub struct EcgReader {
    start_ns: i64,
    segments: VecDeque<(PathBuf, EcgSource)>,
    current: Option<RowStream<EcgRow>>,
    batch: VecDeque<EcgRow>,
    buffer: Vec<EcgRow>,
    clocks: HashMap<DeviceLabel, EcgClock>,
    sources: Vec<EcgSource>,
    damage: Vec<Damage>,
}

impl std::fmt::Debug for EcgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcgReader")
            .field("sources", &self.sources)
            .field("to_read", &self.segments)
            .finish_non_exhaustive()
    }
}

impl EcgReader {
    /// Open the recording's ECG. An `ecg` file must belong to the
    /// recording (its schema metadata).
    pub fn open(recording: &Recording) -> Result<Self, ReadError> {
        let notifications = recording.paths(FileKind::Notifications);
        let mut segments = VecDeque::new();
        for (seg, notif) in recording.meta.segments.iter().zip(notifications) {
            let ecg = recording.dir.join(file_name(seg.index));
            if ecg.symlink_metadata().is_ok() {
                file::check_identity(&recording.meta, &ecg)?;
                segments.push_back((ecg, EcgSource::EcgFile));
            } else {
                segments.push_back((notif.clone(), EcgSource::Notifications));
            }
        }
        let sources = segments.iter().map(|s| s.1).collect();
        Ok(EcgReader {
            start_ns: recording.start_ns(),
            segments,
            current: None,
            batch: VecDeque::new(),
            buffer: Vec::new(),
            clocks: HashMap::new(),
            sources,
            damage: Vec::new(),
        })
    }

    /// Each segment's source, in segment order.
    #[must_use]
    pub fn sources(&self) -> &[EcgSource] {
        &self.sources
    }

    /// The next frame, placed; `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<PlacedFrame>, ReadError> {
        loop {
            if let Some(row) = self.batch.pop_front() {
                let arrival = at_of(self.start_ns, row.t_ns);
                let clock = self.clocks.entry(row.device.clone()).or_default();
                let timing = clock.place(arrival, row.strap_ns(), row.samples_uv.len());
                return Ok(Some(PlacedFrame {
                    device: row.device,
                    arrival,
                    device_time_ns: row.device_time_ns,
                    timing,
                    samples_uv: row.samples_uv,
                }));
            }
            if self.current.is_none() {
                let Some((path, source)) = self.segments.pop_front() else { return Ok(None) };
                let decode = match source {
                    EcgSource::EcgFile => decode_ecg_rows,
                    EcgSource::Notifications => decode_pmd_rows,
                };
                self.current = Some(RowStream::over(self.start_ns, vec![path], decode));
            }
            let Some(current) = self.current.as_mut() else { continue };
            if current.next_batch(&mut self.buffer)? {
                self.batch.extend(self.buffer.drain(..));
            } else if let Some(done) = self.current.take() {
                self.damage.extend(done.damage().iter().cloned());
            }
        }
    }

    /// What was left out of the files read to their end so far.
    #[must_use]
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }
}

/// Call `f` with every frame of the recording, in recorded order.
pub fn for_each_frame(recording: &Recording, mut f: impl FnMut(PlacedFrame)) -> Result<Vec<Damage>, ReadError> {
    let mut reader = EcgReader::open(recording)?;
    while let Some(frame) = reader.next_frame()? {
        f(frame);
    }
    Ok(reader.damage)
}

/// One device's ECG: every sample's session time (s) and value (µV), in
/// recorded order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EcgSeries {
    pub t_s: Vec<f64>,
    pub uv: Vec<i32>,
}

/// The whole ECG of `device`, in memory: 12 B a sample (an 8-h strap at
/// 130 Hz is 3.7 M samples, 45 MB). For more, or every device, stream with
/// [`EcgReader`] or [`for_each_frame`].
pub fn collect(recording: &Recording, device: &str) -> Result<EcgSeries, ReadError> {
    let mut out = EcgSeries::default();
    for_each_frame(recording, |frame| {
        if frame.device.as_str() == device {
            out.t_s.extend((0..frame.samples_uv.len()).map(|i| frame.timing.at_ns(i) / 1e9));
            out.uv.extend_from_slice(&frame.samples_uv);
        }
    })?;
    Ok(out)
}
