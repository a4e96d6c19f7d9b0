//! A scenario paced by the clock gives the same session as one run as fast
//! as possible: the whole pipeline (decoders, alarm timers, headless sink) at
//! 300× real time against `--speed max`, line for line.
//!
//! 300× keeps the 10-minute scenario to about two seconds; the paced path
//! (sleeping until each event's session time, timers advanced by the
//! session's ticks) is the one `--speed 1` takes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use vigil::clock::{Clock, Speed};
use vigil::config::Config;

#[test]
fn paced_and_max_speed_give_identical_output() {
    let start = chrono::Utc::now();
    let (src, devices) = common::scenario_source("flaky-sensor");
    let (_, max) = common::run_headless_on(Clock::virtual_at(Speed::Max, start), src, devices, Config::default());
    let (src, devices) = common::scenario_source("flaky-sensor");
    let (_, paced) =
        common::run_headless_on(Clock::virtual_at(Speed::Times(300.0), start), src, devices, Config::default());
    // The scenario is rich enough for the comparison to mean something.
    let alarms = max.iter().filter(|l| l["type"] == "alarm").count();
    assert!(alarms >= 8, "flaky-sensor raised only {alarms} alarm lines");
    assert_eq!(paced.len(), max.len(), "line counts differ");
    for (i, (p, m)) in paced.iter().zip(&max).enumerate() {
        assert_eq!(p, m, "line {i} differs");
    }
}
