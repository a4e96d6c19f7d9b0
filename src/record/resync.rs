//! The resynchronising reader under every reader of a recording (replay,
//! summary, export, report, `recover`).
//!
//! Every file, finished or not, is read the same way: as the IPC stream that
//! follows the 8-byte magic. A finished file ends that stream with an
//! end-of-stream marker and then carries its footer (which pyarrow and polars
//! use); an unfinished one simply stops, possibly in the middle of a message,
//! and is read up to the last whole message.
//!
//! A damaged message does not end the read. Every message starts on an
//! 8-byte boundary with the continuation marker `0xFFFFFFFF` and its header
//! length, and its header gives its body length, so after a message that
//! fails to frame, check or decode, the reader scans forward word by word
//! for the next place where a whole message frames and decodes, and goes on
//! from there; batches after the damage still decode with the schema and
//! dictionaries read before it. What it passed over is reported as a
//! [`Skip`] (bytes and messages). Only when nothing readable follows does the
//! read end, as a [`Truncation`] (a crash's cut tail is one).
//!
//! Two repairs make a damaged header readable without guessing data:
//! - a column node whose null count is impossible (negative or above its
//!   length) gets the count its validity bitmap shows (zero when the bitmap
//!   is empty, as a writer leaves it for a column without nulls; see
//!   `message`, which also checks what arrow-ipc would trust);
//! - a damaged schema message (or one that parses but does not fit the
//!   file's kind) is replaced by the footer's copy of the
//!   schema, or, without a footer, by the schema this kind of file is
//!   written with.

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;

use super::ReadError;
use super::message::{CONTINUATION, Message, check_message, fits, frame, frame_schema, repair_null_counts, stand_in};
use super::schema::FileKind;

pub(crate) const MAGIC: &[u8; 6] = b"ARROW1";
/// Magic plus padding to 8 bytes: where the stream starts.
const HEADER_LEN: usize = 8;
/// Footer length (i32) plus trailing magic.
pub(crate) const TRAILER_LEN: usize = 10;
/// Largest message header vigil accepts (its own are a few hundred bytes).
const MAX_META: u32 = 1 << 20;
/// Largest footer vigil reads (24 bytes per batch: millions of batches).
const MAX_FOOTER: u64 = 1 << 26;
const CUT: &str = "the last message is incomplete (the writer stopped mid-write)";
/// Bytes read at a time while scanning for the next message.
const SCAN_CHUNK: usize = 1 << 16;

/// Where an unfinished (or damaged) file stopped being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub file: PathBuf,
    /// Byte offset just after the last whole message read.
    pub offset: u64,
    pub message: String,
    /// The file simply stops inside its last message, as a writer killed
    /// mid-write leaves it (no footer, nothing damaged before): what is lost
    /// is that one unfinished message.
    pub cut: bool,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: read up to byte {} ({})", self.file.display(), self.offset, self.message)
    }
}

/// A damaged stretch the reader passed over to read what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub file: PathBuf,
    /// Where the first damaged message began.
    pub offset: u64,
    pub bytes: u64,
    /// Messages (batches, dictionaries, or what looked like one) lost.
    pub messages: usize,
    /// Why the first of them could not be read.
    pub message: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: skipped {} damaged bytes at byte {} ({} message{}: {})",
            self.file.display(),
            self.bytes,
            self.offset,
            self.messages,
            if self.messages == 1 { "" } else { "s" },
            self.message
        )
    }
}

/// Open `path` for reading if it is a regular file (following symlinks).
/// Checked before opening, because opening a FIFO blocks until a writer
/// comes, and again after, on what was opened: a device such as `/dev/zero`
/// would otherwise read forever.
pub(crate) fn open_regular(path: &Path) -> Result<File, ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let not_regular = |t: fs::FileType| ReadError::NotAFile { file: path.to_owned(), kind: file_type_name(t) };
    let ty = fs::metadata(path).map_err(io)?.file_type();
    if !ty.is_file() {
        return Err(not_regular(ty));
    }
    let file = File::open(path).map_err(io)?;
    let ty = file.metadata().map_err(io)?.file_type();
    if !ty.is_file() {
        return Err(not_regular(ty));
    }
    Ok(file)
}

fn file_type_name(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Whether a file ends with a footer (cheap: reads the last 10 bytes).
pub(crate) fn has_footer(path: &Path) -> bool {
    let Ok(mut f) = open_regular(path) else { return false };
    if f.seek(SeekFrom::End(-(TRAILER_LEN as i64))).is_err() {
        return false;
    }
    let mut tail = [0u8; TRAILER_LEN];
    f.read_exact(&mut tail).is_ok() && &tail[4..] == MAGIC
}

/// The damaged stretch being passed over.
#[derive(Debug)]
struct Pending {
    start: u64,
    messages: usize,
    first: String,
}

/// The record batches of one Arrow file, read message by message, past
/// damage (see the module doc).
///
/// Each message is framed and checked here before arrow-ipc decodes it:
/// arrow-ipc trusts buffer offsets and compressed lengths (a damaged file
/// makes it panic or allocate without bound), and "never panic on a bad
/// file" is this reader's promise.
#[derive(Debug)]
pub struct BatchStream {
    path: PathBuf,
    file: Option<BufReader<File>>,
    decoder: StreamDecoder,
    /// The schema and dictionary messages decoded so far, framed: a decoder
    /// that failed on a damaged message is rebuilt from them.
    preamble: Vec<Vec<u8>>,
    /// The schema message's schema, as soon as it is read. (The decoder
    /// takes a message without a body in only with the next message.)
    stream_schema: Option<SchemaRef>,
    /// The footer's schema, when the file has a readable footer.
    footer_schema: Option<SchemaRef>,
    kind: Option<FileKind>,
    /// File offset of the next byte to read.
    pos: u64,
    /// Where the stream ends: the footer's start, or the end of the file.
    end: u64,
    /// The file's length.
    len: u64,
    footer: bool,
    /// Offset just after the last whole message.
    good: u64,
    done: bool,
    truncated: Option<Truncation>,
    pending: Option<Pending>,
    skipped: Vec<Skip>,
}

impl BatchStream {
    pub fn open(path: &Path) -> Result<BatchStream, ReadError> {
        let io = |source| ReadError::Io { path: path.to_owned(), source };
        let mut file = open_regular(path)?;
        let len = file.metadata().map_err(io)?.len();
        let kind = path.file_name().and_then(|n| FileKind::of_file_name(&n.to_string_lossy()));
        let mut stream = BatchStream {
            path: path.to_owned(),
            file: None,
            decoder: StreamDecoder::new(),
            preamble: Vec::new(),
            stream_schema: None,
            footer_schema: None,
            kind,
            pos: HEADER_LEN as u64,
            end: len,
            len,
            footer: false,
            good: HEADER_LEN as u64,
            done: false,
            truncated: None,
            pending: None,
            skipped: Vec::new(),
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
        if n < HEADER_LEN {
            return Err(ReadError::Magic { file: path.to_owned() });
        }
        if &head[..MAGIC.len()] != MAGIC {
            // Damaged magic before an Arrow stream reads on; anything else
            // is not an Arrow file.
            if n < HEADER_LEN + 4 || head[HEADER_LEN..HEADER_LEN + 4] != CONTINUATION {
                return Err(ReadError::Magic { file: path.to_owned() });
            }
            stream.skipped.push(Skip {
                file: path.to_owned(),
                offset: 0,
                bytes: HEADER_LEN as u64,
                messages: 0,
                message: "damaged magic (the stream after it reads)".to_owned(),
            });
        }
        let mut start = HEADER_LEN;
        while start + 8 <= n && head[start..start + 8] == [0u8; 8] {
            start += 8;
        }
        stream.pos = start as u64;
        stream.good = start as u64;
        if len >= (HEADER_LEN + TRAILER_LEN) as u64 {
            stream.read_footer(&mut file, len).map_err(io)?;
        }
        file.seek(SeekFrom::Start(stream.pos)).map_err(io)?;
        stream.file = Some(BufReader::with_capacity(1 << 16, file));
        Ok(stream)
    }

    /// Find the footer: where the stream ends, and the schema's copy.
    fn read_footer(&mut self, file: &mut File, len: u64) -> std::io::Result<()> {
        let mut tail = [0u8; TRAILER_LEN];
        file.seek(SeekFrom::End(-(TRAILER_LEN as i64)))?;
        file.read_exact(&mut tail)?;
        if &tail[4..] != MAGIC {
            return Ok(());
        }
        let footer_len = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let Ok(footer_len) = u64::try_from(footer_len) else { return Ok(()) };
        let Some(start) = (len - TRAILER_LEN as u64).checked_sub(footer_len) else { return Ok(()) };
        if start < self.pos || footer_len > MAX_FOOTER {
            return Ok(());
        }
        self.end = start;
        self.footer = true;
        let mut bytes = vec![0u8; usize::try_from(footer_len).unwrap_or(0)];
        if file.read_exact_at(&mut bytes, start).is_ok()
            && let Ok(footer) = arrow_ipc::root_as_footer(&bytes)
            && let Some(fb) = footer.schema()
            && let Ok(Ok(schema)) = catch_quietly(|| arrow_ipc::convert::try_fb_to_schema(fb))
        {
            self.footer_schema = Some(Arc::new(schema));
        }
        Ok(())
    }

    /// The file's schema: the stream's, or the footer's copy when the
    /// stream's has not been read (or was damaged).
    #[must_use]
    pub fn schema(&self) -> Option<SchemaRef> {
        self.stream_schema.clone().or_else(|| self.footer_schema.clone())
    }

    /// Read up to the schema (the first message) if it is not known yet,
    /// without taking a batch.
    pub fn read_schema(&mut self) -> Option<SchemaRef> {
        if self.stream_schema.is_none() && !self.done {
            let start = self.pos;
            match self.next_message().and_then(|m| m.map(|m| self.decode(m)).transpose()) {
                Ok(Some(None)) => {
                    self.good = self.pos;
                }
                // A batch before any schema cannot be: start over from the
                // same place when the batches are read.
                Ok(Some(Some(_)) | None) | Err(_) => self.seek_to(start),
            }
        }
        self.schema()
    }

    /// Bytes of the file read so far.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The file has a footer and its stream read to the end without fault.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.done && self.footer && self.truncated.is_none() && self.skipped.is_empty()
    }

    #[must_use]
    pub fn truncated(&self) -> Option<&Truncation> {
        self.truncated.as_ref()
    }

    /// The damaged stretches passed over so far.
    #[must_use]
    pub fn skipped(&self) -> &[Skip] {
        &self.skipped
    }

    fn stop(&mut self, message: String) {
        let cut = !self.footer && self.skipped.is_empty() && (message == CUT || message == "empty file");
        let message = if self.footer { format!("damaged file: {message}") } else { message };
        self.truncated = Some(Truncation { file: self.path.clone(), offset: self.good, message, cut });
        self.done = true;
        self.file = None;
    }

    fn seek_to(&mut self, offset: u64) {
        match self.file.as_mut().map(|f| f.seek(SeekFrom::Start(offset))) {
            Some(Ok(_)) => self.pos = offset,
            Some(Err(e)) => self.stop(format!("read error: {e}")),
            None => {}
        }
    }

    /// Read exactly `buf.len()` bytes within the stream; `Ok(n < len)` at
    /// its end.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
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
            _ => return Err(CUT.to_owned()),
        }
        let continued = word == CONTINUATION;
        if continued && self.read(&mut word).map_err(io)? != 4 {
            return Err(CUT.to_owned());
        }
        let len = u32::from_le_bytes(word);
        if len == 0 {
            // An end-of-stream marker: where the footer starts, or (with a
            // damaged footer) written with its continuation marker. Zeros
            // anywhere else are damage, not the end.
            if self.pos == self.end || (continued && !self.footer) {
                return Ok(None);
            }
            return Err("zeroed bytes where a message should start".to_owned());
        }
        if !continued {
            return Err("no continuation marker where a message should start".to_owned());
        }
        let left = self.end - self.pos;
        if len > MAX_META || u64::from(len) > left {
            return Err(if u64::from(len) > left && !self.footer {
                CUT.to_owned()
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
            return Err(CUT.to_owned());
        }
        let message = arrow_ipc::root_as_message(&meta).map_err(|e| format!("damaged message header: {e}"))?;
        let body_len = u64::try_from(message.bodyLength()).map_err(|_| "negative body length".to_owned())?;
        if body_len > self.end - self.pos {
            if !self.footer {
                return Err(CUT.to_owned());
            }
            if body_len > self.len - self.pos {
                return Err(format!("message body of {body_len} bytes does not fit the file"));
            }
            // A damaged body length that runs into a finished file's footer
            // is read as arrow-ipc's own stream reader reads it, the footer's
            // bytes making up the body's tail: the batch's buffers lie before
            // the footer and still decode (and are checked below). The
            // stream ends with that message.
            self.end = self.len;
        }
        let mut body = vec![0u8; usize::try_from(body_len).map_err(|e| e.to_string())?];
        if self.read(&mut body).map_err(io)? != body.len() {
            return Err(CUT.to_owned());
        }
        repair_null_counts(&mut meta, &body, self.stream_schema.as_deref())?;
        let message = arrow_ipc::root_as_message(&meta).map_err(|e| format!("damaged message header: {e}"))?;
        check_message(&message, &body)?;
        Ok(Some((meta, body)))
    }

    /// Decode one checked message: `Some` batch, `None` for a schema or
    /// dictionary. On failure the decoder is rebuilt, so the messages after
    /// this one still decode.
    fn decode(&mut self, (meta, body): Message) -> Result<Option<RecordBatch>, String> {
        let message = arrow_ipc::root_as_message(&meta).map_err(|e| format!("damaged message header: {e}"))?;
        let header = message.header_type();
        if header == arrow_ipc::MessageHeader::Schema {
            if self.stream_schema.is_some() {
                return Err("a second schema message".to_owned());
            }
            let fb = message.header_as_schema().ok_or_else(|| "schema message without its schema".to_owned())?;
            let schema = catch_quietly(|| arrow_ipc::convert::try_fb_to_schema(fb))
                .map_err(|_| "damaged schema (arrow-ipc panicked)".to_owned())?
                .map_err(|e| format!("damaged schema: {e}"))?;
            // A flipped bit can leave a schema that parses but renames or
            // retypes a column, which would make every batch unreadable.
            if let Some(kind) = self.kind
                && !fits(kind, &schema)
            {
                return Err(format!("damaged schema: it does not match a vigil {} file", kind.stem()));
            }
            self.stream_schema = Some(Arc::new(schema));
        } else if self.stream_schema.is_none() {
            // The schema message was lost: decode with its best stand-in.
            let dictionary = header == arrow_ipc::MessageHeader::DictionaryBatch;
            let columns = message.header_as_record_batch().and_then(|b| b.nodes()).map(|n| n.len());
            let footer = self.footer_schema.clone().filter(|f| self.kind.is_none_or(|k| fits(k, f)));
            let stand_in = footer.or_else(|| self.kind.map(|k| stand_in(k, dictionary, columns)));
            let Some(schema) = stand_in else { return Err("no schema to decode with".to_owned()) };
            let framed = frame_schema(&schema)?;
            self.feed(framed.clone())?;
            self.preamble.push(framed);
            self.stream_schema = Some(schema);
        }
        let framed = frame(&meta, &body);
        let keep = matches!(header, arrow_ipc::MessageHeader::Schema | arrow_ipc::MessageHeader::DictionaryBatch);
        let batch = match self.feed(framed.clone()) {
            Ok(batch) => batch,
            Err(e) => {
                self.rebuild();
                return Err(e);
            }
        };
        if keep {
            self.preamble.push(framed);
        }
        Ok(batch)
    }

    /// Hand one framed message to the decoder.
    fn feed(&mut self, framed: Vec<u8>) -> Result<Option<RecordBatch>, String> {
        let mut buf = Buffer::from_vec(framed);
        // arrow-ipc asserts some of what it reads (a damaged buffer length
        // can still reach one); a message that breaks it is damage like any
        // other, instead of taking the replay, summary or export down.
        let decoded = catch_quietly(|| self.decoder.decode(&mut buf))
            .map_err(|_| "arrow-ipc could not decode this message (it panicked)".to_owned())?;
        match decoded {
            Ok(batch) if buf.is_empty() => Ok(batch),
            Ok(_) => Err("message not consumed whole".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A fresh decoder that has seen the schema and dictionaries again.
    fn rebuild(&mut self) {
        self.decoder = StreamDecoder::new();
        for framed in std::mem::take(&mut self.preamble) {
            if self.feed(framed.clone()).is_ok() {
                self.preamble.push(framed);
            }
        }
    }

    /// A message starting at `start` could not be read: go on at the next
    /// place a message may start, or stop if there is none.
    fn resync(&mut self, start: u64, why: String) {
        let pending = self.pending.get_or_insert(Pending { start, messages: 0, first: why });
        pending.messages += 1;
        match self.scan_forward(start + 1) {
            Ok(Some(next)) => self.seek_to(next),
            Ok(None) => {
                let first = self.pending.take().map(|p| p.first).unwrap_or_default();
                self.stop(first);
            }
            Err(e) => self.stop(format!("read error: {e}")),
        }
    }

    /// The damaged stretch before a message that read well ends at `at`.
    fn close_pending(&mut self, at: u64) {
        if let Some(p) = self.pending.take() {
            self.skipped.push(Skip {
                file: self.path.clone(),
                offset: p.start,
                bytes: at - p.start,
                messages: p.messages,
                message: p.first,
            });
        }
    }

    /// The next 8-byte-aligned offset at or after `from` where a message
    /// could start: a continuation marker and a plausible header length.
    fn scan_forward(&self, from: u64) -> std::io::Result<Option<u64>> {
        let Some(file) = self.file.as_ref().map(BufReader::get_ref) else { return Ok(None) };
        let mut base = from.next_multiple_of(8);
        let mut buf = vec![0u8; SCAN_CHUNK];
        while base + 8 <= self.end {
            let want = usize::try_from(self.end - base).unwrap_or(SCAN_CHUNK).min(SCAN_CHUNK);
            let n = read_full_at(file, &mut buf[..want], base)?;
            let mut i = 0;
            while i + 8 <= n {
                if buf[i..i + 4] == CONTINUATION {
                    let len = u32::from_le_bytes([buf[i + 4], buf[i + 5], buf[i + 6], buf[i + 7]]);
                    let at = base + i as u64;
                    if len > 0 && len <= MAX_META && len.is_multiple_of(8) && at + 8 + u64::from(len) <= self.end {
                        return Ok(Some(at));
                    }
                }
                i += 8;
            }
            if n < want {
                break;
            }
            base += SCAN_CHUNK as u64;
        }
        Ok(None)
    }
}

impl Iterator for BatchStream {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        while !self.done {
            let start = self.pos;
            match self.next_message().and_then(|m| m.map(|m| self.decode(m)).transpose()) {
                Ok(None) => {
                    if let Some(p) = self.pending.take() {
                        // Damage right up to the end: nothing after it read.
                        self.stop(p.first);
                    }
                    self.done = true;
                    self.file = None;
                    return None;
                }
                Ok(Some(batch)) => {
                    self.close_pending(start);
                    self.good = self.pos;
                    if batch.is_some() {
                        return batch;
                    }
                }
                Err(why) => self.resync(start, why),
            }
        }
        None
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_full_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Run `f`, turning a panic into `Err` without the panic hook's message on
/// stderr: a damaged recording is reported once, by the caller's error, not
/// also as a "thread panicked" line that reads like a crash. Panics outside
/// such a call print as before.
pub(crate) fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
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
