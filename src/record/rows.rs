//! A recording's rows of one kind, decoded one batch at a time.
//!
//! [`Recording::read`] keeps every batch it read, which replay and summary
//! want; an export of a long session must not hold the session in memory,
//! so it pulls batches through a [`RowStream`] and drops each when done.
//! Damage is handled as the reader handles it: rows that do not decode are
//! left out and counted, damaged stretches passed over, and the stream
//! lists both as [`Damage`] once it has ended.

use std::collections::VecDeque;
use std::path::PathBuf;

use arrow_array::RecordBatch;

use super::reader::{Tally, each_good_part};
use super::resync::BatchStream;
use super::schema::{FileKind, Labels};
use super::{Damage, ReadError, Recording};

/// A decoder of one kind's rows (`schema::decode_samples`, …): pushes each
/// row of the batch and stops at the first that does not decode.
pub type Decode<T> = fn(&RecordBatch, i64, &mut Labels, &mut Vec<T>) -> Result<(), (usize, String)>;

/// Every segment's file of one kind, in segment order, one batch at a time.
pub struct RowStream<T> {
    start_ns: i64,
    paths: VecDeque<PathBuf>,
    current: Option<Current>,
    decode: Decode<T>,
    labels: Labels,
    damage: Vec<Damage>,
}

struct Current {
    path: PathBuf,
    stream: BatchStream,
    batch: usize,
    tally: Tally,
}

impl<T> RowStream<T> {
    #[must_use]
    pub fn new(recording: &Recording, kind: FileKind, decode: Decode<T>) -> Self {
        Self::over(recording.start_ns(), recording.paths(kind).to_vec(), decode)
    }

    /// The rows of these files, in order (`start_ns`: the recording's
    /// session time zero, for decoders that need it).
    #[must_use]
    pub fn over(start_ns: i64, paths: Vec<PathBuf>, decode: Decode<T>) -> Self {
        RowStream {
            start_ns,
            paths: paths.into(),
            current: None,
            decode,
            labels: Labels::default(),
            damage: Vec::new(),
        }
    }

    /// Append the rows of the next batch to `out`; `false` once every file
    /// has ended. A batch whose rows all fail to decode appends nothing and
    /// still returns `true`.
    pub fn next_batch(&mut self, out: &mut Vec<T>) -> Result<bool, ReadError> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.paths.pop_front() else { return Ok(false) };
                let stream = BatchStream::open(&path)?;
                self.current = Some(Current { path, stream, batch: 0, tally: Tally::default() });
            }
            let Some(current) = self.current.as_mut() else { continue };
            if let Some(batch) = current.stream.next() {
                let (index, start_ns, decode, labels) = (current.batch, self.start_ns, self.decode, &mut self.labels);
                let tally = &mut current.tally;
                each_good_part(
                    &batch,
                    |b| decode(b, start_ns, labels, out),
                    |_, bad_row| {
                        if let Some((row, message)) = bad_row {
                            tally.note(index, row, &message);
                        }
                    },
                );
                current.batch += 1;
                return Ok(true);
            }
            if let Some(done) = self.current.take() {
                self.damage.extend(done.stream.skipped().iter().cloned().map(Damage::Skipped));
                self.damage.extend(done.stream.truncated().cloned().map(Damage::Cut));
                self.damage.extend(done.tally.into_bad_rows(&done.path).map(Damage::BadRows));
            }
        }
    }

    /// What was left out of the files read to their end so far.
    #[must_use]
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }
}
