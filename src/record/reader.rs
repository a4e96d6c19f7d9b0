//! Reading recordings, strictly read-only.
//!
//! Files are read through the resynchronising [`BatchStream`] (see
//! `resync`): a damaged message costs that message, not the rest of the
//! file. Rows that read but do not decode (an unknown quantity, a broken
//! alarm name) cost only themselves: they are skipped and counted, and
//! [`Recording::damage`] lists them beside the cut and skipped stretches so
//! every reader can say what it left out.
//!
//! A recording is one recording: each file's schema metadata names the
//! recording it was written for (files of older vigil carry none and still
//! read), and `session.json` lists each segment once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::ReadError;
use super::meta::SessionMeta;
use super::resync::{BatchStream, Skip, Truncation, has_footer};
use super::schema::{self, FileKind, Labels, RecordedNotification};
use crate::model::{OperatorAction, OutputEvent, Sample, SessionTime};

/// One Arrow file's batches, read without its footer.
#[derive(Debug, Clone)]
pub struct ArrowFile {
    pub path: PathBuf,
    /// `None` only for a file cut before its schema.
    pub schema: Option<SchemaRef>,
    pub batches: Vec<RecordBatch>,
    /// The file has its footer (it was finished or recovered) and read
    /// without damage.
    pub complete: bool,
    /// Set when the stream stopped before its end-of-stream marker.
    pub truncated: Option<Truncation>,
    /// Damaged stretches passed over to read what follows them.
    pub skipped: Vec<Skip>,
}

impl ArrowFile {
    #[must_use]
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Read one Arrow IPC file, finished or not. Errors only when the file cannot
/// be read at all or is not Arrow; a damaged or cut file reads as far as it
/// goes, past damage (see [`ArrowFile::truncated`], [`ArrowFile::skipped`]).
pub fn read_arrow_file(path: &Path) -> Result<ArrowFile, ReadError> {
    let mut stream = BatchStream::open(path)?;
    let batches: Vec<RecordBatch> = stream.by_ref().collect();
    Ok(ArrowFile {
        path: path.to_owned(),
        schema: stream.schema(),
        batches,
        complete: stream.complete(),
        truncated: stream.truncated().cloned(),
        skipped: stream.skipped().to_vec(),
    })
}

/// Rows of one file that read but did not decode, and were left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRows {
    pub file: PathBuf,
    pub count: usize,
    /// The first of them: where, and why.
    pub first: String,
}

/// What a reader left out of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file stops being readable here (a crash's cut, or damage with
    /// nothing readable after it).
    Cut(Truncation),
    /// A damaged stretch passed over.
    Skipped(Skip),
    BadRows(BadRows),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Cut(t) => t.fmt(f),
            Damage::Skipped(s) => s.fmt(f),
            Damage::BadRows(b) => write!(
                f,
                "{}: {} row{} skipped that did not decode (first: {})",
                b.file.display(),
                b.count,
                if b.count == 1 { "" } else { "s" },
                b.first
            ),
        }
    }
}

/// A recording opened for reading. Nothing here ever writes.
#[derive(Debug, Clone)]
pub struct Recording {
    pub dir: PathBuf,
    pub meta: SessionMeta,
    start_ns: i64,
    /// Per kind, the file of each segment in segment order.
    files: BTreeMap<FileKind, Vec<PathBuf>>,
    /// Each kind's files as first read: replay, summary and report ask for
    /// the same file several times (its rows, its end, its damage), and
    /// decoding it again each time would dominate a replay.
    read: ReadCache,
}

/// What [`Recording`] has read, by [`FileKind`] (in [`FileKind::ALL`]
/// order); what failed to read is read again when asked.
#[derive(Clone, Default)]
struct ReadCache {
    files: [OnceLock<Vec<ArrowFile>>; 3],
    /// The rows of each kind that did not decode, once every row was tried.
    bad_rows: [OnceLock<Vec<BadRows>>; 3],
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let read: Vec<FileKind> =
            FileKind::ALL.into_iter().zip(&self.files).filter(|(_, c)| c.get().is_some()).map(|(k, _)| k).collect();
        f.debug_struct("ReadCache").field("read", &read).finish()
    }
}

impl Recording {
    /// Open a recording directory: reads `session.json`, and checks that
    /// each segment is listed once and that its three files are there, are
    /// Arrow files and belong to this recording (their schema metadata).
    pub fn open(dir: &Path) -> Result<Recording, ReadError> {
        let meta = SessionMeta::read(dir)?;
        let meta_file = dir.join(super::META_FILE);
        let start_ns = meta.start_utc.timestamp_nanos_opt().ok_or_else(|| ReadError::Meta {
            file: meta_file.clone(),
            message: "start_utc is out of range".to_owned(),
        })?;
        let mut files = BTreeMap::new();
        for kind in FileKind::ALL {
            let mut paths = Vec::new();
            for seg in &meta.segments {
                let path = dir.join(kind.file_name(seg.index));
                let mut stream = BatchStream::open(&path)?;
                if let Some(schema) = stream.read_schema() {
                    meta.check_identity(&path, schema.metadata())?;
                }
                paths.push(path);
            }
            files.insert(kind, paths);
        }
        Ok(Recording { dir: dir.to_owned(), meta, start_ns, files, read: ReadCache::default() })
    }

    /// The files of one kind, one per segment.
    #[must_use]
    pub fn paths(&self, kind: FileKind) -> &[PathBuf] {
        self.files.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// Recorded `t` of session time zero, ns since the Unix epoch.
    #[must_use]
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// Read every segment's file of one kind: once; later calls return
    /// what the first read (a `Recording` is the files as they were then).
    pub fn read(&self, kind: FileKind) -> Result<&[ArrowFile], ReadError> {
        // `FileKind`'s discriminants are its places in `FileKind::ALL`.
        let cache = &self.read.files[kind as usize];
        if let Some(files) = cache.get() {
            return Ok(files);
        }
        let files: Vec<ArrowFile> = self.paths(kind).iter().map(|p| read_arrow_file(p)).collect::<Result<_, _>>()?;
        Ok(cache.get_or_init(|| files))
    }

    /// Whether every file has its footer: finished cleanly or recovered.
    /// (Whether the session ended cleanly is `meta.clean_shutdown`.)
    #[must_use]
    pub fn complete(&self) -> bool {
        self.files.values().flatten().all(|p| has_footer(p))
    }

    /// Where unfinished or damaged files stopped (empty for a complete
    /// recording).
    pub fn truncations(&self) -> Result<Vec<Truncation>, ReadError> {
        let mut out = Vec::new();
        for kind in FileKind::ALL {
            out.extend(self.read(kind)?.iter().filter_map(|f| f.truncated.clone()));
        }
        Ok(out)
    }

    /// Everything a reader leaves out: cut tails, damaged stretches passed
    /// over, rows that did not decode (empty for an intact recording).
    pub fn damage(&self) -> Result<Vec<Damage>, ReadError> {
        self.damage_in(&FileKind::ALL)
    }

    /// [`damage`](Self::damage) of the files of these kinds only (a replay
    /// reads no samples).
    pub fn damage_in(&self, kinds: &[FileKind]) -> Result<Vec<Damage>, ReadError> {
        let mut out = Vec::new();
        for kind in kinds {
            for f in self.read(*kind)? {
                out.extend(f.skipped.iter().cloned().map(Damage::Skipped));
                out.extend(f.truncated.clone().map(Damage::Cut));
            }
            out.extend(self.bad_rows(*kind)?.iter().cloned().map(Damage::BadRows));
        }
        Ok(out)
    }

    /// The rows of one kind that did not decode (each file's count).
    fn bad_rows(&self, kind: FileKind) -> Result<&[BadRows], ReadError> {
        let cache = &self.read.bad_rows[kind as usize];
        if cache.get().is_none() {
            match kind {
                FileKind::Notifications => drop(self.notification_batches()?),
                FileKind::Samples => drop(self.samples()?),
                FileKind::Events => drop(self.events()?),
            }
        }
        Ok(cache.get().map_or(&[], Vec::as_slice))
    }

    /// The batches of every `notifications` file with the rows that would
    /// not decode taken out, so a replay can decode as it goes and never
    /// stop half way.
    pub fn notification_batches(&self) -> Result<Vec<RecordBatch>, ReadError> {
        let files = self.read(FileKind::Notifications)?;
        let cache = &self.read.bad_rows[FileKind::Notifications as usize];
        if cache.get().is_some_and(Vec::is_empty) {
            return Ok(files.iter().flat_map(|f| f.batches.iter().cloned()).collect());
        }
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for file in files {
            let mut tally = Tally::default();
            for (index, batch) in file.batches.iter().enumerate() {
                each_good_part(batch, schema::check_notifications, |part, bad_row| {
                    if let Some((row, message)) = bad_row {
                        tally.note(index, row, &message);
                    }
                    if part.num_rows() > 0 {
                        out.push(part);
                    }
                });
            }
            bad.extend(tally.into_bad_rows(&file.path));
        }
        let _ = cache.set(bad);
        Ok(out)
    }

    pub fn notifications(&self) -> Result<Vec<RecordedNotification>, ReadError> {
        self.decode(FileKind::Notifications, schema::decode_notifications)
    }

    pub fn samples(&self) -> Result<Vec<Sample>, ReadError> {
        self.decode(FileKind::Samples, schema::decode_samples)
    }

    /// The rows of `events.arrow`, as the output events that made them.
    pub fn events(&self) -> Result<Vec<OutputEvent>, ReadError> {
        self.decode(FileKind::Events, schema::decode_events)
    }

    /// Every operator action in time order (markers, baseline, limits,
    /// acknowledgements).
    pub fn operator_actions(&self) -> Result<Vec<(SessionTime, OperatorAction)>, ReadError> {
        Ok(self
            .events()?
            .into_iter()
            .filter_map(|e| match e {
                OutputEvent::Operator { at, action } => Some((at, action)),
                _ => None,
            })
            .collect())
    }

    /// Session time of the recording's end: `end_utc` when the last segment
    /// was finished (or recovered), else the last row (a crashed segment has
    /// no end yet, and `end_utc` may still be an earlier segment's).
    pub fn end(&self) -> Result<SessionTime, ReadError> {
        let recorded = self.meta.end_utc.and_then(|t| t.timestamp_nanos_opt()).map(|t| schema::at_of(self.start_ns, t));
        let last_finished = self.meta.segments.last().is_some_and(|s| s.end_utc.is_some());
        if let Some(end) = recorded.filter(|_| last_finished) {
            return Ok(end);
        }
        let mut last = recorded.unwrap_or(SessionTime::ZERO);
        for kind in FileKind::ALL {
            for file in self.read(kind)? {
                for b in &file.batches {
                    if let Ok(t) = schema::time_col(b, "t")
                        && let Some(max) = t.max_ns()
                    {
                        last = last.max(schema::at_of(self.start_ns, max));
                    }
                }
            }
        }
        Ok(last)
    }

    /// Every row of one kind that decodes, in file order; the others are
    /// counted (see [`damage`](Self::damage)).
    fn decode<T>(
        &self,
        kind: FileKind,
        f: impl Fn(&RecordBatch, i64, &mut Labels, &mut Vec<T>) -> Result<(), (usize, String)>,
    ) -> Result<Vec<T>, ReadError> {
        let mut out = Vec::new();
        let mut labels = Labels::default();
        let mut bad = Vec::new();
        for file in self.read(kind)? {
            let mut tally = Tally::default();
            for (index, batch) in file.batches.iter().enumerate() {
                // The decoders push each row as it decodes and stop at the
                // first bad one: go on after it.
                each_good_part(
                    batch,
                    |b| f(b, self.start_ns, &mut labels, &mut out),
                    |_, bad_row| {
                        if let Some((row, message)) = bad_row {
                            tally.note(index, row, &message);
                        }
                    },
                );
            }
            bad.extend(tally.into_bad_rows(&file.path));
        }
        let _ = self.read.bad_rows[kind as usize].set(bad);
        Ok(out)
    }
}

/// Run `check` over `batch`; where it fails at a row, hand `part` the good
/// rows before it with the bad one, and go on after it. The last part comes
/// with `None`.
pub(super) fn each_good_part(
    batch: &RecordBatch,
    mut check: impl FnMut(&RecordBatch) -> Result<(), (usize, String)>,
    mut part: impl FnMut(RecordBatch, Option<(usize, String)>),
) {
    let n = batch.num_rows();
    let mut from = 0;
    while from < n {
        let rest = batch.slice(from, n - from);
        match check(&rest) {
            Ok(()) => {
                part(rest, None);
                return;
            }
            Err((row, message)) => {
                let row = row.min(rest.num_rows() - 1);
                part(rest.slice(0, row), Some((from + row, message)));
                from += row + 1;
            }
        }
    }
}

/// Bad rows of one file, counted.
#[derive(Default)]
pub(super) struct Tally {
    count: usize,
    first: Option<String>,
}

impl Tally {
    pub(super) fn note(&mut self, batch: usize, row: usize, message: &str) {
        self.count += 1;
        self.first.get_or_insert_with(|| format!("batch {batch}, row {row}: {message}"));
    }

    pub(super) fn into_bad_rows(self, file: &Path) -> Option<BadRows> {
        (self.count > 0).then(|| BadRows {
            file: file.to_owned(),
            count: self.count,
            first: self.first.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Characteristic;
    use crate::record::schema::NotificationRows;
    use arrow_ipc::writer::FileWriter;
    use std::fs;

    fn batch(n: usize) -> RecordBatch {
        let mut rows = NotificationRows::default();
        for i in 0..n {
            rows.push(i as i64, "chest", Characteristic::HeartRateMeasurement, &[0x16, 0x3C, 0x11, 0x04]);
        }
        rows.finish().unwrap()
    }

    #[test]
    fn finished_and_unfinished_files_read_the_same_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.arrow");
        let mut w = FileWriter::try_new(fs::File::create(&path).unwrap(), &FileKind::Notifications.schema()).unwrap();
        w.write(&batch(3)).unwrap();
        w.write(&batch(2)).unwrap();
        w.flush().unwrap();
        let unfinished = read_arrow_file(&path).unwrap();
        assert_eq!((unfinished.num_rows(), unfinished.complete, unfinished.truncated.is_none()), (5, false, true));
        w.finish().unwrap();
        let finished = read_arrow_file(&path).unwrap();
        assert_eq!((finished.num_rows(), finished.complete, finished.truncated), (5, true, None));
        // Cut in the middle of the second batch: the first survives.
        let bytes = fs::read(&path).unwrap();
        let cut = dir.path().join("cut.arrow");
        fs::write(&cut, &bytes[..bytes.len() - 400]).unwrap();
        let partial = read_arrow_file(&cut).unwrap();
        assert_eq!(partial.num_rows(), 3);
        assert!(partial.truncated.is_some());
    }
}
