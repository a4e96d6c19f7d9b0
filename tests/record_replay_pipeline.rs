//! simulate → pipeline → record, then replay → pipeline: the replayed run
//! makes the same samples and output events (alarms, operator actions,
//! connections, decode errors, gaps) as the live one.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::model::{OutputEvent, Sample};
use vigil::pipeline::Pipeline;
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording};
use vigil::sources::{replay, simulate};

fn pipeline(scenario: &simulate::Scenario) -> Pipeline {
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    for (label, profile) in scenario.device_profiles() {
        p.set_device(&label, vigil::app::device_setup(&profile));
    }
    p
}

fn same_samples(a: &[Sample], b: &[Sample]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.at, &x.device, x.quantity, x.contact, x.device_time_ns),
            (y.at, &y.device, y.quantity, y.contact, y.device_time_ns)
        );
        assert_eq!(x.value.to_bits(), y.value.to_bits());
    }
}

fn round_trip(name: &str) {
    let scenario = simulate::load(name).unwrap();
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None, ..Default::default() };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null).unwrap();

    let mut live = pipeline(&scenario);
    let (mut live_samples, mut live_output) = (Vec::new(), Vec::new());
    for batch in scenario.batches(42) {
        let (mut samples, mut output) = (Vec::new(), Vec::new());
        live.process(&batch.events, batch.until, &mut samples, &mut output);
        live_samples.extend(samples.iter().cloned());
        live_output.extend(output.iter().cloned());
        rec.sender().blocking_send(RecordMsg::Batch { events: batch.events, samples, output }).unwrap();
    }
    let dir = rec.finish().unwrap().dir;

    let recording = Recording::open(&dir).unwrap();
    let mut again = pipeline(&scenario);
    let (mut samples, mut output) = (Vec::new(), Vec::new());
    for batch in replay::batches(&recording).unwrap() {
        again.process(&batch.events, batch.until, &mut samples, &mut output);
    }
    same_samples(&samples, &live_samples);
    let alarms = |o: &[OutputEvent]| o.iter().filter(|e| matches!(e, OutputEvent::Alarm(_))).count();
    eprintln!("{name}: {} samples, {} output events, {} alarm events", samples.len(), output.len(), alarms(&output));
    assert_eq!(output, live_output);
}

#[test]
fn mdma_session_replays_to_the_same_output() {
    round_trip("mdma-session");
}

#[test]
fn flaky_sensor_replays_to_the_same_output() {
    round_trip("flaky-sensor");
}
