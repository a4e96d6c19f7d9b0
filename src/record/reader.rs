//! Reading recordings, strictly read-only.
//!
//! Every file, finished or not, is read the same way: as the IPC stream that
//! follows the 8-byte magic. A finished file ends that stream with an
//! end-of-stream marker and then carries its footer (which pyarrow and polars
//! use); an unfinished one simply stops, possibly in the middle of a message,
//! and is read up to the last whole message.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;

use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;

use super::ReadError;
use super::meta::SessionMeta;
use super::schema::{self, FileKind, Labels, RecordedNotification};
use crate::model::{OperatorAction, OutputEvent, Sample, SessionTime};

const MAGIC: &[u8; 6] = b"ARROW1";
/// Magic plus padding to 8 bytes: where the stream starts.
const HEADER_LEN: usize = 8;
/// Footer length (i32) plus trailing magic.
const TRAILER_LEN: usize = 10;

/// Where an unfinished (or damaged) file stopped being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub file: PathBuf,
    /// Byte offset just after the last whole message read.
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: read up to byte {} ({})", self.file.display(), self.offset, self.message)
    }
}

/// One Arrow file's batches, read without its footer.
#[derive(Debug, Clone)]
pub struct ArrowFile {
    pub path: PathBuf,
    /// `None` only for a file cut before its schema.
    pub schema: Option<SchemaRef>,
    pub batches: Vec<RecordBatch>,
    /// The file has its footer (it was finished or recovered).
    pub complete: bool,
    /// Set when the stream stopped before its end-of-stream marker.
    pub truncated: Option<Truncation>,
}

impl ArrowFile {
    #[must_use]
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Read one Arrow IPC file, finished or not. Errors only when the file cannot
/// be read at all or is not Arrow; a damaged or cut file reads as far as it
/// goes (see [`ArrowFile::truncated`]).
pub fn read_arrow_file(path: &Path) -> Result<ArrowFile, ReadError> {
    let mut stream = BatchStream::open(path)?;
    let batches: Vec<RecordBatch> = stream.by_ref().collect();
    Ok(ArrowFile {
        path: path.to_owned(),
        schema: stream.schema(),
        batches,
        complete: stream.complete(),
        truncated: stream.truncated().cloned(),
    })
}

/// Largest message header vigil accepts (its own are a few hundred bytes).
const MAX_META: u32 = 1 << 20;
/// Largest decompressed buffer vigil accepts. A compacted batch of
/// [`super::COMPACT_BATCH_ROWS`] rows has buffers of a few MB; the bound keeps
/// a damaged length prefix from asking the allocator for exabytes.
const MAX_BUFFER: i64 = 1 << 30;
const CONTINUATION: [u8; 4] = [0xFF; 4];

/// The record batches of one Arrow file, read message by message.
///
/// Each message is framed and checked here before arrow-ipc decodes it:
/// arrow-ipc trusts buffer offsets and compressed lengths (a damaged file
/// makes it panic or allocate without bound), and "never panic on a bad
/// file" is this reader's promise. A message that fails the checks ends the
/// read there, as a truncation.
#[derive(Debug)]
pub struct BatchStream {
    path: PathBuf,
    file: Option<std::io::BufReader<fs::File>>,
    decoder: StreamDecoder,
    /// File offset of the next byte to read.
    pos: u64,
    /// Where the stream ends: the footer's start, or the end of the file.
    end: u64,
    footer: bool,
    /// Offset just after the last whole message.
    good: u64,
    done: bool,
    truncated: Option<Truncation>,
}

impl BatchStream {
    pub fn open(path: &Path) -> Result<BatchStream, ReadError> {
        use std::io::{Read, Seek, SeekFrom};
        let io = |source| ReadError::Io { path: path.to_owned(), source };
        let mut file = fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut stream = BatchStream {
            path: path.to_owned(),
            file: None,
            decoder: StreamDecoder::new(),
            pos: HEADER_LEN as u64,
            end: len,
            footer: false,
            good: HEADER_LEN as u64,
            done: false,
            truncated: None,
        };
        if len == 0 {
            // Killed between creating the file and writing its header.
            stream.good = 0;
            stream.stop("empty file".to_owned());
            return Ok(stream);
        }
        // Magic, then zero padding to the writer's alignment (8 in vigil's
        // files, 64 in arrow-rs's default): the stream starts at the first
        // non-zero 8-byte word.
        let mut head = [0u8; 64];
        let n = read_up_to(&mut file, &mut head).map_err(io)?;
        if n < HEADER_LEN || &head[..MAGIC.len()] != MAGIC {
            return Err(ReadError::Magic { file: path.to_owned() });
        }
        let mut start = HEADER_LEN;
        while start + 8 <= n && head[start..start + 8] == [0u8; 8] {
            start += 8;
        }
        stream.pos = start as u64;
        stream.good = start as u64;
        if len >= (HEADER_LEN + TRAILER_LEN) as u64 {
            let mut tail = [0u8; TRAILER_LEN];
            file.seek(SeekFrom::End(-(TRAILER_LEN as i64))).map_err(io)?;
            file.read_exact(&mut tail).map_err(io)?;
            if &tail[4..] == MAGIC {
                let footer_len = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
                if let Ok(footer_len) = u64::try_from(footer_len)
                    && let Some(start) = (len - TRAILER_LEN as u64).checked_sub(footer_len)
                    && start >= stream.pos
                {
                    stream.end = start;
                    stream.footer = true;
                }
            }
        }
        file.seek(SeekFrom::Start(stream.pos)).map_err(io)?;
        stream.file = Some(std::io::BufReader::with_capacity(1 << 16, file));
        Ok(stream)
    }

    #[must_use]
    pub fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// Bytes of the file read so far.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The file has a footer and its stream read to the end without fault.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.done && self.footer && self.truncated.is_none()
    }

    #[must_use]
    pub fn truncated(&self) -> Option<&Truncation> {
        self.truncated.as_ref()
    }

    fn stop(&mut self, message: String) {
        let message = if self.footer { format!("damaged file: {message}") } else { message };
        self.truncated = Some(Truncation { file: self.path.clone(), offset: self.good, message });
        self.done = true;
        self.file = None;
    }

    /// Read exactly `buf.len()` bytes within the stream; `Ok(n < len)` at
    /// its end.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Read;
        let Some(file) = self.file.as_mut() else { return Ok(0) };
        let room = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let mut n = 0;
        while n < want {
            match file.read(&mut buf[n..want])? {
                0 => break,
                k => n += k,
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// The next message as `(metadata, body)`; `Ok(None)` at a clean end.
    fn next_message(&mut self) -> Result<Option<Message>, String> {
        let io = |e: std::io::Error| format!("read error: {e}");
        let mut word = [0u8; 4];
        match self.read(&mut word).map_err(io)? {
            0 => return Ok(None),
            4 => {}
            _ => return Err("the last message is incomplete (the writer stopped mid-write)".to_owned()),
        }
        if word == CONTINUATION && self.read(&mut word).map_err(io)? != 4 {
            return Err("the last message is incomplete (the writer stopped mid-write)".to_owned());
        }
        let len = u32::from_le_bytes(word);
        if len == 0 {
            return Ok(None); // end-of-stream marker
        }
        if len > MAX_META || u64::from(len) > self.end - self.pos {
            return Err(if u64::from(len) > self.end - self.pos && !self.footer {
                "the last message is incomplete (the writer stopped mid-write)".to_owned()
            } else {
                format!("message header of {len} bytes does not fit the file")
            });
        }
        if len % 8 != 0 {
            // The header is padded so that the body starts 8-byte aligned.
            return Err(format!("message header of {len} bytes is not padded to 8"));
        }
        let mut meta = vec![0u8; len as usize];
        if self.read(&mut meta).map_err(io)? != meta.len() {
            return Err("the last message is incomplete (the writer stopped mid-write)".to_owned());
        }
        let message = arrow_ipc::root_as_message(&meta).map_err(|e| format!("damaged message header: {e}"))?;
        let body_len = u64::try_from(message.bodyLength()).map_err(|_| "negative body length".to_owned())?;
        if body_len > self.end - self.pos {
            return Err(if self.footer {
                format!("message body of {body_len} bytes does not fit the file")
            } else {
                "the last message is incomplete (the writer stopped mid-write)".to_owned()
            });
        }
        let mut body = vec![0u8; usize::try_from(body_len).map_err(|e| e.to_string())?];
        if self.read(&mut body).map_err(io)? != body.len() {
            return Err("the last message is incomplete (the writer stopped mid-write)".to_owned());
        }
        check_message(&message, &body)?;
        Ok(Some((meta, body)))
    }
}

/// One IPC message: (metadata flatbuffer, body).
type Message = (Vec<u8>, Vec<u8>);

/// What arrow-ipc would otherwise trust: every buffer lies inside the body,
/// node counts are sane, compressed lengths are bounded.
fn check_message(message: &arrow_ipc::Message<'_>, body: &[u8]) -> Result<(), String> {
    use arrow_ipc::MessageHeader;
    let batch = match message.header_type() {
        MessageHeader::Schema => return Ok(()),
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message.header_as_dictionary_batch().and_then(|d| d.data()),
        other => return Err(format!("unexpected message type {other:?}")),
    }
    .ok_or_else(|| "message header without its batch".to_owned())?;
    let rows = batch.length();
    if rows < 0 {
        return Err(format!("negative row count {rows}"));
    }
    for node in batch.nodes().iter().flatten() {
        if node.length() < 0 || node.null_count() < 0 || node.null_count() > node.length() {
            return Err(format!("bad column node (length {}, nulls {})", node.length(), node.null_count()));
        }
    }
    let compressed = batch.compression().is_some();
    for b in batch.buffers().iter().flatten() {
        let (offset, len) = (b.offset(), b.length());
        let fits = offset >= 0 && len >= 0 && offset.checked_add(len).is_some_and(|e| e as u64 <= body.len() as u64);
        if !fits {
            return Err(format!("buffer at {offset}+{len} lies outside the message body of {} bytes", body.len()));
        }
        // The format puts every buffer on an 8-byte boundary; arrow's
        // validation asserts the alignment of typed buffers (a panic).
        if offset % 8 != 0 {
            return Err(format!("buffer at {offset} is not 8-byte aligned"));
        }
        if compressed && len > 0 {
            let start = offset as usize;
            let Some(prefix) = body.get(start..start + 8) else {
                return Err("compressed buffer shorter than its length prefix".to_owned());
            };
            let n = i64::from_le_bytes(prefix.try_into().map_err(|_| "length prefix".to_owned())?);
            if !(n == -1 || (0..=MAX_BUFFER).contains(&n)) {
                return Err(format!("compressed buffer claims {n} bytes"));
            }
        }
    }
    Ok(())
}

impl Iterator for BatchStream {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        while !self.done {
            let (meta, body) = match self.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.done = true;
                    self.file = None;
                    return None;
                }
                Err(message) => {
                    self.stop(message);
                    return None;
                }
            };
            // Re-frame the checked message for arrow-ipc's decoder.
            let len = u32::try_from(meta.len()).unwrap_or(u32::MAX);
            let mut framed = Vec::with_capacity(8 + meta.len() + body.len());
            framed.extend_from_slice(&CONTINUATION);
            framed.extend_from_slice(&len.to_le_bytes());
            framed.extend_from_slice(&meta);
            framed.extend_from_slice(&body);
            let mut buf = Buffer::from_vec(framed);
            // arrow-ipc asserts some of what it reads (a damaged buffer
            // length can still reach one); a recording that breaks it ends
            // here with an error, as any damage does, instead of taking the
            // replay, summary or export down.
            let decoded = catch_quietly(|| self.decoder.decode(&mut buf));
            let Ok(decoded) = decoded else {
                self.stop("arrow-ipc could not decode this message (it panicked)".to_owned());
                return None;
            };
            match decoded {
                Ok(batch) if buf.is_empty() => {
                    self.good = self.pos;
                    if batch.is_some() {
                        return batch;
                    }
                }
                Ok(_) => {
                    self.stop("message not consumed whole".to_owned());
                    return None;
                }
                Err(e) => {
                    self.stop(e.to_string());
                    return None;
                }
            }
        }
        None
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
    /// decoding it again cost a replay of an 8-h session a third of its time.
    read: ReadCache,
}

/// [`Recording::read`]'s results by [`FileKind`] (in [`FileKind::ALL`]
/// order); what failed to read is read again when asked.
#[derive(Clone, Default)]
struct ReadCache([std::sync::OnceLock<Vec<ArrowFile>>; 3]);

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let read: Vec<FileKind> =
            FileKind::ALL.into_iter().zip(&self.0).filter(|(_, c)| c.get().is_some()).map(|(k, _)| k).collect();
        f.debug_struct("ReadCache").field("read", &read).finish()
    }
}

impl Recording {
    /// Open a recording directory: reads `session.json` and checks that each
    /// segment's three files are there and start as Arrow files.
    pub fn open(dir: &Path) -> Result<Recording, ReadError> {
        let meta = SessionMeta::read(dir)?;
        let start_ns = meta.start_utc.timestamp_nanos_opt().ok_or_else(|| ReadError::Meta {
            file: dir.join(super::META_FILE),
            message: "start_utc is out of range".to_owned(),
        })?;
        let mut files = BTreeMap::new();
        for kind in FileKind::ALL {
            let mut paths = Vec::new();
            for seg in &meta.segments {
                let path = dir.join(kind.file_name(seg.index));
                let mut head = [0u8; 6];
                let n = read_head(&path, &mut head)?;
                if n > 0 && (n < head.len() || &head != MAGIC) {
                    return Err(ReadError::Magic { file: path });
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
        let cache = &self.read.0[kind as usize];
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
        self.truncations_in(&FileKind::ALL)
    }

    /// [`truncations`](Self::truncations) of the files of these kinds only
    /// (a replay reads no samples).
    pub fn truncations_in(&self, kinds: &[FileKind]) -> Result<Vec<Truncation>, ReadError> {
        let mut out = Vec::new();
        for kind in kinds {
            out.extend(self.read(*kind)?.iter().filter_map(|f| f.truncated.clone()));
        }
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

    /// Every operator action in time order, to restore markers, baseline,
    /// limits and acknowledgements on `--resume`.
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

    fn decode<T>(
        &self,
        kind: FileKind,
        f: impl Fn(&RecordBatch, i64, &mut Labels, &mut Vec<T>) -> Result<(), (usize, String)>,
    ) -> Result<Vec<T>, ReadError> {
        let mut out = Vec::new();
        let mut labels = Labels::default();
        for file in self.read(kind)? {
            for (index, batch) in file.batches.iter().enumerate() {
                f(batch, self.start_ns, &mut labels, &mut out).map_err(|(row, message)| ReadError::Row {
                    file: file.path.clone(),
                    batch: index,
                    row,
                    message,
                })?;
            }
        }
        Ok(out)
    }
}

fn read_up_to(f: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_head(path: &Path, head: &mut [u8]) -> Result<usize, ReadError> {
    use std::io::Read;
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let mut f = fs::File::open(path).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Whether a file ends with a footer (cheap: reads the last 10 bytes).
pub(crate) fn has_footer(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = fs::File::open(path) else { return false };
    if f.seek(SeekFrom::End(-(TRAILER_LEN as i64))).is_err() {
        return false;
    }
    let mut tail = [0u8; TRAILER_LEN];
    f.read_exact(&mut tail).is_ok() && &tail[4..] == MAGIC
}

/// Run `f`, turning a panic into `Err` without the panic hook's message on
/// stderr: a damaged recording is reported once, by the caller's error, not
/// also as a "thread panicked" line that reads like a crash. Panics outside
/// such a call print as before.
fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    use std::cell::Cell;
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Characteristic;
    use crate::record::schema::NotificationRows;
    use arrow_ipc::writer::FileWriter;

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
