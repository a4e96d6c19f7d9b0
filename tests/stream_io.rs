//! Streams over a stdin-like reader, a file and loopback TCP.

// Helpers outside `#[test]` functions are test code too (clippy.toml only
// allows unwrap/expect inside the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use vigil::clock::{Clock, Speed};
use vigil::device_table::DeviceTable;
use vigil::model::{Batch, EventBody, OperatorAction, SessionTime};
use vigil::sources::stream::{self, StreamError, StreamInput};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn max_clock() -> Clock {
    Clock::virtual_at(Speed::Max, start())
}

const SCRIPT: &str = r#"{"at_ms": 0,    "device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}
{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "163c1104"}
{"at_ms": 1500, "device": "chest", "event": "rssi", "rssi": -61}
this is not json
{"at_ms": 2000, "action": "marker", "label": "dose 120 mg"}
{"at_ms": 2100, "device": "chest", "characteristic": "2a37", "payload": "zz"}
{"at_ms": 1900, "device": "chest", "characteristic": "2a37", "payload": "063c"}
{"at_ms": 2500, "action": "ack", "alarm": "hr.high", "device": "chest"}
{"at_ms": 2600, "action": "snooze"}
{"at_ms": 9000, "device": "chest", "event": "disconnected"}
"#;

fn bad_lines(batches: &[Batch]) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| &b.events)
        .filter_map(|e| match &e.body {
            EventBody::BadInput { line, .. } => Some(*line),
            _ => None,
        })
        .collect()
}

async fn drain(mut rx: mpsc::Receiver<Batch>) -> Vec<Batch> {
    let mut out = Vec::new();
    while let Some(b) = rx.recv().await {
        out.push(b);
    }
    out
}

#[tokio::test]
async fn stdin_like_reader_at_max_speed_batches_and_reports_bad_lines() {
    let (tx, rx) = mpsc::channel(8);
    let collector = tokio::spawn(drain(rx));
    let stats = stream::run_reader(SCRIPT.as_bytes(), &max_clock(), Some(Speed::Max), &tx, DeviceTable::default())
        .await
        .unwrap();
    drop(tx);
    let batches = collector.await.unwrap();
    assert_eq!((stats.lines, stats.events, stats.bad_lines), (10, 6, 4));
    assert_eq!(batches.len(), 1, "lines that arrive together go together: {batches:?}");
    let events: Vec<_> = batches.iter().flat_map(|b| &b.events).collect();
    assert_eq!(events.len(), 10);
    assert_eq!(bad_lines(&batches), vec![4, 6, 7, 9]);
    // Scheduled times; bad lines at the time reached.
    let times: Vec<u64> = events.iter().map(|e| e.at.as_millis()).collect();
    assert_eq!(times, vec![0, 1000, 1500, 1500, 2000, 2000, 2000, 2500, 2500, 9000]);
    assert_eq!(batches[0].until, SessionTime::from_millis(9000));
    assert!(matches!(events[4].body, EventBody::Operator(OperatorAction::Marker(_))));
}

/// Unpaced, each line is forwarded as soon as it arrives (the test waits
/// for each batch before writing the next line: no sleeping involved).
#[tokio::test]
async fn unpaced_lines_go_out_when_they_arrive() {
    let (mut writer, reader) = tokio::io::duplex(1024);
    let (tx, mut rx) = mpsc::channel(8);
    let clock = Clock::real();
    let task = tokio::spawn(async move { stream::run_reader(reader, &clock, None, &tx, DeviceTable::default()).await });
    writer.write_all(b"{\"device\": \"chest\", \"characteristic\": \"2a37\", \"payload\": \"063c\"}\n").await.unwrap();
    let first = rx.recv().await.unwrap();
    assert_eq!(first.events.len(), 1);
    writer.write_all(b"{\"action\": \"audio_pause\"}\n{oops\n").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(rx.recv().await.unwrap().events);
    }
    assert!(got[0].at >= first.events[0].at, "arrival stamps from the clock are monotonic");
    assert!(matches!(got[1].body, EventBody::BadInput { line: 3, .. }));
    // End of input ends the stream.
    drop(writer);
    let stats = task.await.unwrap().unwrap();
    assert_eq!((stats.lines, stats.bad_lines), (3, 1));
    assert!(rx.recv().await.is_none(), "the sender is gone: the session sees the end");
}

/// On tokio's paused clock: the pacing costs no real time and its waits
/// are exact.
#[tokio::test(start_paused = true)]
async fn paced_stream_follows_at_ms() {
    let text = "{\"at_ms\": 0, \"action\": \"baseline\"}\n{\"at_ms\": 2000, \"action\": \"audio_pause\"}\n{\"at_ms\": 4000, \"action\": \"ack\"}\n";
    let (tx, rx) = mpsc::channel(8);
    let collector = tokio::spawn(drain(rx));
    let started = tokio::time::Instant::now();
    // 1000×: 4 s of stream in 4 ms.
    let clock = Clock::virtual_at(Speed::Times(1000.0), start());
    stream::run_reader(text.as_bytes(), &clock, Some(Speed::Times(1000.0)), &tx, DeviceTable::default()).await.unwrap();
    drop(tx);
    let took = started.elapsed();
    // tokio's timer rounds a wait up to its millisecond.
    assert!((Duration::from_millis(4)..=Duration::from_millis(5)).contains(&took), "paced: {took:?}");
    let batches = collector.await.unwrap();
    assert_eq!(batches.len(), 3, "one batch per distinct time under pacing");
    let at: Vec<u64> = batches.iter().map(|b| b.until.as_millis()).collect();
    assert_eq!(at, vec![0, 2000, 4000]);
}

#[tokio::test]
async fn file_input_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.ndjson");
    std::fs::write(&path, SCRIPT.repeat(300).replace("\"at_ms\": 9000", "\"at_ms\": 1000000000")).unwrap();
    let (tx, rx) = mpsc::channel(8);
    let collector = tokio::spawn(drain(rx));
    let input: StreamInput = path.to_str().unwrap().parse().unwrap();
    let stats = stream::run(input, max_clock(), Some(Speed::Max), tx, DeviceTable::default()).await.unwrap();
    let batches = collector.await.unwrap();
    assert_eq!(stats.lines, 3000);
    let events: usize = batches.iter().map(|b| b.events.len()).sum();
    assert_eq!(events, 3000);
    assert!(batches.iter().all(|b| b.events.len() <= stream::MAX_BATCH));
    assert!(batches.len() < 20, "read in large batches: {}", batches.len());

    let (tx, _rx) = mpsc::channel(1);
    let missing = dir.path().join("nope.ndjson");
    let err = stream::run(StreamInput::File(missing.clone()), max_clock(), None, tx, DeviceTable::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StreamError::Open { .. }));
    assert!(err.to_string().contains("nope.ndjson"), "{err}");
}

#[test]
fn stream_arguments_parse_and_refuse_non_loopback() {
    assert_eq!("-".parse::<StreamInput>(), Ok(StreamInput::Stdin));
    assert_eq!("tcp://127.0.0.1:9000".parse::<StreamInput>(), Ok(StreamInput::Tcp("127.0.0.1:9000".parse().unwrap())));
    assert_eq!("tcp://[::1]:9000".parse::<StreamInput>(), Ok(StreamInput::Tcp("[::1]:9000".parse().unwrap())));
    assert_eq!("tcp://localhost:9000".parse::<StreamInput>(), Ok(StreamInput::Tcp("127.0.0.1:9000".parse().unwrap())));
    assert_eq!("run.ndjson".parse::<StreamInput>(), Ok(StreamInput::File("run.ndjson".into())));
    for refused in ["tcp://0.0.0.0:9000", "tcp://192.168.1.20:9000", "tcp://[::]:9000"] {
        let e = refused.parse::<StreamInput>().unwrap_err().to_string();
        assert!(e.contains(refused) && e.contains("loopback"), "{e}");
    }
    assert!("tcp://example.org:9000".parse::<StreamInput>().is_err());
    assert!("tcp://127.0.0.1".parse::<StreamInput>().is_err());
}

#[tokio::test]
async fn binding_a_non_loopback_address_is_refused() {
    let err = stream::bind("0.0.0.0:9000".parse().unwrap()).await.unwrap_err();
    assert!(matches!(err, StreamError::NotLoopback(_)), "{err}");
}

#[tokio::test]
async fn loopback_tcp_serves_clients_one_at_a_time_and_outlives_them() {
    let listener = stream::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let server = tokio::spawn(async move {
        stream::serve(listener, &max_clock(), Some(Speed::Max), &tx, DeviceTable::default()).await
    });

    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(SCRIPT.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 10 {
        seen.extend(rx.recv().await.unwrap().events);
    }
    let bad: Vec<u64> = seen
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::BadInput { line, .. } => Some(*line),
            _ => None,
        })
        .collect();
    assert_eq!(bad, vec![4, 6, 7, 9]);

    // While the first client is connected, a second one is turned away.
    let busy = TcpStream::connect(addr).await.unwrap();
    let mut reply = String::new();
    BufReader::new(busy).read_line(&mut reply).await.unwrap();
    assert!(reply.contains("one stream client at a time"), "{reply}");

    // The first client leaves (its end of input; the server closes the
    // socket once it is done with it); the session goes on and takes the next.
    first.shutdown().await.unwrap();
    let mut rest = Vec::new();
    first.read_to_end(&mut rest).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"{\"at_ms\": 9500, \"device\": \"chest\", \"event\": \"connected\"}\n{\"at_ms\": 100, \"action\": \"ack\"}\n").await.unwrap();
    let mut more = Vec::new();
    while more.len() < 2 {
        more.extend(rx.recv().await.unwrap().events);
    }
    assert!(matches!(more[0].body, EventBody::Connected { .. }));
    assert_eq!(more[0].at, SessionTime::from_millis(9500));
    // Session time carries over between clients; line numbers restart.
    assert!(matches!(&more[1].body, EventBody::BadInput { line: 2, message } if message.contains("back in time")));

    // The session ends when the pipeline stops listening.
    drop(rx);
    let stats = server.await.unwrap();
    assert_eq!(stats.clients, 2);
    assert_eq!(stats.lines, 12);
    assert_eq!(stats.bad_lines, 5);
}

#[tokio::test]
async fn an_idle_reader_does_not_outlive_the_pipeline() {
    let (_writer, reader) = tokio::io::duplex(64);
    let (tx, rx) = mpsc::channel(1);
    let clock = Clock::real();
    let task = tokio::spawn(async move { stream::run_reader(reader, &clock, None, &tx, DeviceTable::default()).await });
    drop(rx);
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.lines, 0);
}

/// The session spawns sources on a multi-threaded runtime.
#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (tx, _rx) = mpsc::channel::<Batch>(1);
    let fut = stream::run(StreamInput::Stdin, max_clock(), None, tx, DeviceTable::default());
    assert_send(&fut);
}
