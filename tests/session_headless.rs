//! The session loop end to end with a synthetic source: what a headless
//! run prints for connections, decode errors and bad stream lines, and the
//! summary line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::model::{Batch, Characteristic, DeviceLabel, EventBody, SessionTime, SourceEvent};
use vigil::session::{self, EndReason, SessionPlan};
use vigil::snapshot::Mode;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn run(batches: Vec<Batch>) -> (session::SessionOutcome, Vec<serde_json::Value>) {
    let out = Shared::default();
    let plan = SessionPlan {
        clock: Clock::virtual_at(Speed::Max, chrono::Utc::now()),
        source: Box::new(move |tx, _clock| {
            Box::pin(async move {
                for b in batches {
                    tx.send(b).await?;
                }
                Ok(())
            })
        }),
        mode: Mode::Simulated,
        config: Config::default(),
        participant: None,
        devices: Vec::new(),
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(out.clone())),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outcome = rt.block_on(session::run(plan)).unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (outcome, lines)
}

#[test]
fn connection_decode_error_and_summary_lines() {
    let chest: DeviceLabel = Arc::from("chest");
    let ev = |ms, body| SourceEvent { at: SessionTime::from_millis(ms), device: Some(chest.clone()), body };
    let batches = vec![
        Batch {
            events: vec![
                ev(
                    0,
                    EventBody::Connected {
                        name: Some("Polar H10 1234".into()),
                        address: Some("A0:9E:1A:00:00:01".into()),
                        services: vec![0x180D],
                    },
                ),
                SourceEvent::notification(
                    SessionTime::from_millis(1000),
                    chest.clone(),
                    Characteristic::HeartRateMeasurement,
                    &[0x16, 0x3C, 0x11, 0x04],
                ),
                SourceEvent::notification(
                    SessionTime::from_millis(2000),
                    chest.clone(),
                    Characteristic::HeartRateMeasurement,
                    &[0x16],
                ),
            ],
            until: SessionTime::from_millis(2000),
        },
        Batch {
            events: vec![
                ev(2500, EventBody::BadInput { line: 7, message: "not JSON".into() }),
                ev(9000, EventBody::Disconnected { reason: None }),
            ],
            until: SessionTime::from_millis(9000),
        },
    ];
    let (outcome, lines) = run(batches);
    assert_eq!(outcome.reason, EndReason::EndOfInput);
    let of_type = |t: &str| lines.iter().filter(|l| l["type"] == t).cloned().collect::<Vec<_>>();
    let conns = of_type("connection");
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0]["event"], "connected");
    assert_eq!(conns[0]["name"], "Polar H10 1234");
    assert_eq!(conns[1]["event"], "disconnected");
    assert_eq!(conns[1]["at_ms"], 9000);
    let errors = of_type("decode_error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["characteristic"], "2a37");
    assert_eq!(errors[0]["at_ms"], 2000);
    assert_eq!(errors[1]["line"], 7);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["notifications"], 2);
    assert_eq!(summary["samples"], 2);
    assert_eq!(summary["decode_errors"], 1);
    assert_eq!(summary["skipped_lines"], 1);
    // Lines come in session-time order.
    let times: Vec<u64> = lines.iter().map(|l| l["at_ms"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
