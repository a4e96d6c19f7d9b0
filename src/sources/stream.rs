//! Scripted sensor streams: NDJSON from a file, stdin or a loopback TCP
//! socket (`vigil monitor --stream FILE|-|tcp://127.0.0.1:PORT`).
//!
//! One JSON object per line (DESIGN.md, "Stream input"):
//!
//! ```text
//! {"at_ms": 0,    "device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}
//! {"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "163c1104"}
//! {"at_ms": 1500, "device": "chest", "event": "rssi", "rssi": -61}
//! {"at_ms": 2000, "action": "marker", "label": "dose 120 mg"}
//! {"at_ms": 2500, "action": "ack", "alarm": "hr.high", "device": "chest"}
//! {"at_ms": 9000, "device": "chest", "event": "disconnected"}
//! ```
//!
//! Besides those: `{"event": "connected", "services": ["180d", "180f"]}`,
//! `{"event": "disconnected", "reason": "…"}`, `{"event": "device_info",
//! "manufacturer", "model", "firmware"}`, `{"event": "ecg", "started":
//! false, "reason": "invalid state"}` (the device's answer to the ECG start
//! command, as the BLE source reports it: `started` is required, `reason`
//! optional; a refusal raises `tech.ecg` at once, `true` makes ECG
//! expected from the device; ECG frames themselves are notification lines
//! of `fb005c82-02e7-f387-1cad-8acd2d8df0c8`); action lines take the fields of
//! [`OperatorAction`](crate::model::OperatorAction)'s serde form (`ack`
//! `alarm`/`device`, `audio_pause`, `marker` `label`/`kind`/`amount_mg`,
//! `baseline` `device`, `limit` `condition`/`priority`/`value`, `manual`
//! `quantity`/`value`) and become `EventBody::Operator`. Blank lines and
//! lines starting with `#` are skipped silently, so a hand-written script
//! can carry comments.
//!
//! Time: paced (`--speed`), `at_ms` drives the virtual clock and input is
//! read as fast as that speed allows; a line without `at_ms` happens at the
//! previous line's time. Unpaced, a line takes effect when it arrives
//! (stamped with the clock) and `at_ms` is optional. In both modes an
//! `at_ms` earlier than an earlier line's is "going back in time".
//!
//! A bad line (not JSON, an unknown key or value, a key given twice, bad
//! hex, going back in time) becomes an `EventBody::BadInput` naming the
//! line and the key and is otherwise skipped; the session goes on. Lines
//! are read by serde into typed forms ([`parse_line`]). End of input ends
//! the session (`run` returns and the sender is dropped).
//!
//! TCP binds loopback only and serves one client at a time; a second client
//! gets one `{"error": …}` line and is closed. The session outlives its
//! clients: `run` returns only when the pipeline stops taking batches (the
//! session ends on Ctrl-C, SIGTERM or SIGHUP, which the session handles),
//! and session time and the going-back-in-time check carry over from one
//! client to the next. Line numbers count per client.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::clock::{Clock, Speed};
use crate::device_table::DeviceTable;
use crate::excerpt::excerpt;
use crate::model::{Batch, EventBody, SessionTime, SourceEvent};

mod line;

pub use line::{LineError, ParsedLine, parse_line};

/// Events sent in one batch at most when lines arrive faster than they are
/// forwarded (at `--speed max`, a file is read in batches of this size).
pub const MAX_BATCH: usize = 1024;
/// Read buffer: large enough that a file at `max` speed is read in big
/// chunks, so batches fill up.
const READ_BUFFER: usize = 64 * 1024;
/// A longer line is reported and skipped (no sensor line comes close).
pub const MAX_LINE: usize = 64 * 1024;
/// Where a stream comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamInput {
    File(PathBuf),
    Stdin,
    /// A loopback address (checked when parsed and again when bound).
    Tcp(SocketAddr),
}

/// A `--stream` argument that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--stream {text}: {message}")]
pub struct StreamInputError {
    pub text: String,
    pub message: String,
}

impl FromStr for StreamInput {
    type Err = StreamInputError;

    /// `-` is stdin, `tcp://127.0.0.1:PORT` (or `[::1]`, `localhost`) a
    /// loopback socket, anything else a file path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |message: String| StreamInputError { text: excerpt(s), message };
        if s == "-" {
            return Ok(StreamInput::Stdin);
        }
        let Some(rest) = s.strip_prefix("tcp://") else {
            if s.is_empty() {
                return Err(err("give a file, `-` for stdin or tcp://127.0.0.1:PORT".to_owned()));
            }
            return Ok(StreamInput::File(PathBuf::from(s)));
        };
        let addr = match rest.strip_prefix("localhost:") {
            Some(port) => port
                .parse::<u16>()
                .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
                .map_err(|_| err(format!("`{}` is not a port number", excerpt(port))))?,
            None => rest
                .parse::<SocketAddr>()
                .map_err(|_| err("write tcp://127.0.0.1:PORT (an IP address and a port)".to_owned()))?,
        };
        check_loopback(addr).map_err(|e| err(e.to_string()))?;
        Ok(StreamInput::Tcp(addr))
    }
}

fn check_loopback(addr: SocketAddr) -> Result<(), StreamError> {
    if addr.ip().is_loopback() { Ok(()) } else { Err(StreamError::NotLoopback(addr)) }
}

/// Why a stream could not be read at all (bad lines are not errors).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(
        "{0} is not a loopback address: a stream socket carries health data and binds to 127.0.0.1 or [::1] only (use an SSH tunnel for a remote sender)"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot open stream file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("reading the stream failed after line {line}: {source}")]
    Read { line: u64, source: std::io::Error },
}

/// What a stream did, for the session summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub lines: u64,
    pub events: u64,
    pub bad_lines: u64,
    /// TCP clients served.
    pub clients: u64,
}

/// How lines are placed in session time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// `at_ms` is the time (paced input; missing: the previous line's time).
    Scheduled,
    /// The line arrived at this time (`at_ms` only checked for order).
    Arrival(SessionTime),
}

/// Turns lines into source events: places them in time, admits device
/// labels to the session's table, reports bad lines as `BadInput` events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Time of the latest event.
    last_at: SessionTime,
    /// Latest `at_ms` seen (for "going back in time").
    last_scheduled: SessionTime,
    devices: DeviceTable,
    pub stats: StreamStats,
}

impl StreamDecoder {
    /// A decoder with a device table of its own (`max_devices` at its
    /// default).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder admitting devices to the session's `devices`.
    #[must_use]
    pub fn with_devices(devices: DeviceTable) -> Self {
        Self { devices, ..Self::default() }
    }

    /// The event for line `line_no`, or `None` for a blank line.
    pub fn line(&mut self, line_no: u64, text: &str, stamp: Stamp) -> Option<SourceEvent> {
        self.stats.lines += 1;
        let arrival = match stamp {
            Stamp::Scheduled => self.last_at,
            Stamp::Arrival(t) => t.max(self.last_at),
        };
        let parsed = parse_line(line_no, text).and_then(|p| match p {
            ParsedLine::Event { at: Some(at), .. } if at < self.last_scheduled => Err(LineError {
                line: line_no,
                field: Some("at_ms".to_owned()),
                message: format!(
                    "{} ms goes back in time (an earlier line was at {} ms)",
                    at.as_millis(),
                    self.last_scheduled.as_millis()
                ),
            }),
            other => Ok(other),
        });
        match parsed {
            Ok(ParsedLine::Blank) => None,
            Ok(ParsedLine::Event { at, device, body }) => {
                // Checked before the line takes effect, so a refused line is
                // skipped like any other bad line.
                let device =
                    match device.map(|name| self.devices.admit(&name)).transpose() {
                        Ok(device) => device.map(|(_, label)| label),
                        Err(full) => {
                            return Some(self.bad_line(
                                arrival,
                                &LineError { line: line_no, field: None, message: full.to_string() },
                            ));
                        }
                    };
                if let Some(at) = at {
                    self.last_scheduled = at;
                }
                let at = match stamp {
                    Stamp::Scheduled => at.unwrap_or(self.last_at),
                    Stamp::Arrival(_) => arrival,
                };
                self.last_at = at;
                self.stats.events += 1;
                Some(SourceEvent { at, device, body })
            }
            Err(e) => Some(self.bad_line(arrival, &e)),
        }
    }

    fn bad_line(&mut self, arrival: SessionTime, e: &LineError) -> SourceEvent {
        self.stats.bad_lines += 1;
        self.last_at = arrival;
        SourceEvent { at: arrival, device: None, body: EventBody::BadInput { line: e.line, message: e.detail() } }
    }
}

/// The channel closed: the pipeline stopped, so the stream stops too.
struct Closed;

struct Pump<'a> {
    decoder: &'a mut StreamDecoder,
    clock: &'a Clock,
    paced: Option<Speed>,
    tx: &'a mpsc::Sender<Batch>,
    batch: Vec<SourceEvent>,
}

impl Pump<'_> {
    async fn flush(&mut self) -> Result<(), Closed> {
        let Some(last) = self.batch.last() else { return Ok(()) };
        let until = last.at;
        let events = std::mem::replace(&mut self.batch, Vec::with_capacity(64));
        self.tx.send(Batch { events, until }).await.map_err(|_| Closed)
    }

    /// Read lines to the end of `reader`, forwarding events in batches:
    /// everything already buffered goes together, and the batch is flushed
    /// before the reader would wait (so real-time input goes out at once)
    /// and before pacing sleeps.
    async fn lines<R: AsyncRead + Unpin>(&mut self, reader: R) -> Result<Result<(), (u64, std::io::Error)>, Closed> {
        let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0u64;
        loop {
            if reader.buffer().is_empty() {
                self.flush().await?;
            }
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) => {
                    self.flush().await?;
                    return Ok(Ok(()));
                }
                Ok(_) => {}
                Err(e) => {
                    self.flush().await?;
                    return Ok(Err((line_no, e)));
                }
            }
            line_no += 1;
            let event = match std::str::from_utf8(&buf) {
                Err(_) => Some(self.bad(line_no, "not UTF-8 text")),
                Ok(_) if buf.len() > MAX_LINE => Some(self.bad(line_no, "longer than 64 KiB")),
                Ok(text) => {
                    let stamp = match (self.paced, self.clock.now()) {
                        (Some(_), _) => Stamp::Scheduled,
                        (None, Some(now)) => Stamp::Arrival(now),
                        // An unpaced stream on a clock without "now" (a
                        // virtual clock at max): fall back to the lines' times.
                        (None, None) => Stamp::Scheduled,
                    };
                    self.decoder.line(line_no, text, stamp)
                }
            };
            let Some(event) = event else { continue };
            if let Some(Speed::Times(_)) = self.paced {
                if self.batch.last().is_some_and(|last| event.at > last.at) {
                    self.flush().await?;
                }
                self.clock.sleep_until(event.at).await;
            }
            self.batch.push(event);
            if self.batch.len() >= MAX_BATCH {
                self.flush().await?;
            }
        }
    }

    fn bad(&mut self, line: u64, why: &str) -> SourceEvent {
        self.decoder.stats.lines += 1;
        self.decoder.stats.bad_lines += 1;
        SourceEvent {
            at: self.decoder.last_at,
            device: None,
            body: EventBody::BadInput { line, message: why.to_owned() },
        }
    }
}

/// Read a stream to its end (file, stdin) or until the pipeline stops (TCP).
pub async fn run(
    input: StreamInput,
    clock: Clock,
    paced: Option<Speed>,
    tx: mpsc::Sender<Batch>,
    devices: DeviceTable,
) -> Result<StreamStats, StreamError> {
    match input {
        StreamInput::File(path) => {
            let file = std::fs::File::open(&path).map_err(|source| StreamError::Open { path, source })?;
            let (reader, copier) = file_reader(file);
            let stats = run_reader(reader, &clock, paced, &tx, devices).await?;
            match copier.await {
                Ok(Err(source)) => Err(StreamError::Read { line: stats.lines, source }),
                // A panicked copier has already been reported by tokio.
                Ok(Ok(())) | Err(_) => Ok(stats),
            }
        }
        StreamInput::Stdin => run_reader(tokio::io::stdin(), &clock, paced, &tx, devices).await,
        StreamInput::Tcp(addr) => {
            let listener = bind(addr).await?;
            Ok(serve(listener, &clock, paced, &tx, devices).await)
        }
    }
}

/// An async reader over a file, read on a blocking thread (vigil's tokio
/// has no `fs` feature; this is what `tokio::fs` does inside). The handle
/// yields the read error, if the file failed part-way.
fn file_reader(mut file: std::fs::File) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<std::io::Result<()>>) {
    use std::io::Read;
    let (mut writer, reader) = tokio::io::duplex(READ_BUFFER);
    let runtime = tokio::runtime::Handle::current();
    let copier = tokio::task::spawn_blocking(move || {
        let mut chunk = vec![0u8; READ_BUFFER];
        loop {
            let n = match file.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other?,
            };
            // A write error means the reader is gone: the session stopped.
            if n == 0 || runtime.block_on(writer.write_all(&chunk[..n])).is_err() {
                return Ok(());
            }
        }
    });
    (reader, copier)
}

/// Read one byte stream (stdin, a file, a test's in-memory reader) to its end.
pub async fn run_reader<R: AsyncRead + Unpin>(
    reader: R,
    clock: &Clock,
    paced: Option<Speed>,
    tx: &mpsc::Sender<Batch>,
    devices: DeviceTable,
) -> Result<StreamStats, StreamError> {
    let mut decoder = StreamDecoder::with_devices(devices);
    let mut pump = Pump { decoder: &mut decoder, clock, paced, tx, batch: Vec::new() };
    // Stop waiting for input once the pipeline has stopped.
    let outcome = tokio::select! {
        r = pump.lines(reader) => r,
        () = tx.closed() => Err(Closed),
    };
    match outcome {
        Ok(Err((line, source))) => Err(StreamError::Read { line, source }),
        Ok(Ok(())) | Err(Closed) => Ok(decoder.stats),
    }
}

/// Listen on a loopback address (refusing any other).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StreamError> {
    check_loopback(addr)?;
    let listener = TcpListener::bind(addr).await.map_err(|source| StreamError::Bind { addr, source })?;
    if let Ok(local) = listener.local_addr() {
        tracing::info!(%local, "stream: listening for one client at a time");
    }
    Ok(listener)
}

/// Listen on a loopback address before the session starts, so a port in
/// use is refused at once and the port the system picked for
/// `tcp://127.0.0.1:0` can be told to the sender (see [`serve_std`]).
pub fn bind_std(addr: SocketAddr) -> Result<std::net::TcpListener, StreamError> {
    check_loopback(addr)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|source| StreamError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(|source| StreamError::Bind { addr, source })?;
    Ok(listener)
}

/// [`serve`] on a listener from [`bind_std`] (inside the session's runtime).
pub async fn serve_std(
    listener: std::net::TcpListener,
    clock: Clock,
    paced: Option<Speed>,
    tx: mpsc::Sender<Batch>,
    devices: DeviceTable,
) -> Result<StreamStats, StreamError> {
    let addr = listener.local_addr().unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    let listener = TcpListener::from_std(listener).map_err(|source| StreamError::Bind { addr, source })?;
    Ok(serve(listener, &clock, paced, &tx, devices).await)
}

/// Serve clients one after another until the pipeline stops taking batches.
pub async fn serve(
    listener: TcpListener,
    clock: &Clock,
    paced: Option<Speed>,
    tx: &mpsc::Sender<Batch>,
    devices: DeviceTable,
) -> StreamStats {
    let mut decoder = StreamDecoder::with_devices(devices);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = tx.closed() => return decoder.stats,
        };
        let (client, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait for the next one.
                tracing::warn!(error = %e, "stream: accept failed");
                continue;
            }
        };
        decoder.stats.clients += 1;
        tracing::info!(%peer, "stream: client connected");
        let mut pump = Pump { decoder: &mut decoder, clock, paced, tx, batch: Vec::new() };
        let outcome = tokio::select! {
            // The client's end first: a next client that connects just as
            // this one leaves is then served, not turned away.
            biased;
            r = pump.lines(client) => r,
            () = turn_away(&listener) => Ok(Ok(())),
            // A connected but idle client must not keep the session alive.
            () = tx.closed() => Err(Closed),
        };
        match outcome {
            Err(Closed) => return decoder.stats,
            Ok(Err((line, e))) => tracing::warn!(%peer, line, error = %e, "stream: client read failed"),
            Ok(Ok(())) => tracing::info!(%peer, "stream: client finished"),
        }
    }
}

/// While one client is served, tell any other that the stream is taken.
async fn turn_away(listener: &TcpListener) {
    loop {
        if let Ok((mut other, _)) = listener.accept().await {
            // Best effort: the client may already be gone.
            let _ = other.write_all(b"{\"error\": \"busy: vigil takes one stream client at a time\"}\n").await;
            let _ = other.shutdown().await;
        }
    }
}
