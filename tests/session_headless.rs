//! The session loop end to end with a synthetic source: what a headless
//! run prints for connections, decode errors and bad stream lines, and the
//! summary line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use vigil::config::Config;
use vigil::model::{Batch, Characteristic, DeviceLabel, EventBody, SessionTime, SourceEvent};
use vigil::session::{self, EndReason};

fn run(batches: Vec<Batch>) -> (session::SessionOutcome, Vec<serde_json::Value>) {
    common::run_headless(common::batches_source(batches), Vec::new(), Config::default())
}

#[test]
fn connection_decode_error_and_summary_lines() {
    let chest: DeviceLabel = DeviceLabel::from("chest");
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
