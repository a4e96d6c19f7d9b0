//! The recorder's input for the recording benches and
//! `examples/record_size.rs`: a session's messages, made once, then sent to
//! a recorder as a session's loop sends them.

use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::pipeline::Pipeline;
use vigil::record::{RecordMsg, synthetic};
use vigil::sources::simulate;

/// `seconds` of the synthetic 4-device session (`record::synthetic`).
pub fn synthetic_messages(seconds: u64) -> Vec<RecordMsg> {
    synthetic::session(4, seconds, 1)
        .map(|s| RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
        .collect()
}

/// A pipeline with `scenario`'s devices declared from their profiles, as a
/// session declares them.
pub fn pipeline(scenario: &simulate::Scenario) -> Pipeline {
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    for (label, profile) in scenario.device_profiles() {
        p.set_device(&label, vigil::app::device_setup(&profile));
    }
    p
}

/// `scenario` through [`pipeline`], one message per second of session.
pub fn scenario_messages(scenario: &simulate::Scenario) -> Vec<RecordMsg> {
    let mut p = pipeline(scenario);
    scenario
        .batches(1)
        .map(|b| {
            let (mut samples, mut output) = (Vec::new(), Vec::new());
            p.process(&b.events, b.until, &mut samples, &mut output);
            RecordMsg::Batch { events: b.events, samples, output }
        })
        .collect()
}
