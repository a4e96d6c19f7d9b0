//! Alarm scenarios as data: every `tests/scenarios/alarms/*.toml` is a
//! timeline of inputs (samples, contact, connection changes, operator
//! actions, gaps) and the exact alarm events it must produce, run against
//! `AlarmEngine` directly with times as the only clock.
//!
//! File format (times in seconds, kept to the millisecond):
//!
//! ```toml
//! about = "what this shows"
//! config = """ ... """          # optional: a vigil config file (defaults otherwise)
//! end_s = 120                   # optional: advance timers to here at the end
//!
//! [[devices]]                   # optional: profile timing
//! label = "cuff"
//! expected_interval_s = 60      # optional
//! intermittent = true           # optional
//!
//! [[steps]]                     # one input, or a series with until_s + every_s
//! at_s = 1
//! until_s = 59                  # optional, inclusive
//! every_s = 1
//! device = "chest"
//! quantity = "heart_rate_bpm"   # a sample (also counts as a notification) ...
//! value = 104                   # ... or values = [99, 101] (cycled)
//! contact = true                # optional
//! # other kinds: data = true (a notification without a sample),
//! # ecg = true (an ECG frame: a notification and a frame for tech.ecg),
//! # ecg_started = false + reason = "invalid state" (the answer to the ECG
//! # start command),
//! # connection = "connected" | "disconnected", action = { action = "ack", ... }
//! # (with error = "text" when it must fail), technical = "tech.recording" + on,
//! # gap_s = 100, statuses = [ { alarm, device, priority, state, audible } ]
//!
//! [[expect]]                    # every alarm event, in order, exactly
//! at_s = 61
//! alarm = "hr.high"
//! device = "chest"
//! priority = "low"
//! state = "active"
//! value = 104.0                 # omitted: the event must carry no value
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vigil::alarms::{AlarmEngine, DeviceTiming};
use vigil::config::Config;
use vigil::model::{
    AlarmEvent, AlarmState, AlarmStatus, Condition, DeviceLabel, OperatorAction, Priority, Quantity, Sample,
    SessionTime,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    end_s: Option<f64>,
    #[serde(default)]
    devices: Vec<DeviceSpec>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    expect: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceSpec {
    label: String,
    #[serde(default)]
    expected_interval_s: Option<f64>,
    #[serde(default)]
    intermittent: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at_s: f64,
    #[serde(default)]
    until_s: Option<f64>,
    #[serde(default)]
    every_s: Option<f64>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    quantity: Option<Quantity>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(default)]
    contact: Option<bool>,
    #[serde(default)]
    data: Option<bool>,
    #[serde(default)]
    ecg: Option<bool>,
    #[serde(default)]
    ecg_started: Option<bool>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    action: Option<OperatorAction>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    technical: Option<Condition>,
    #[serde(default)]
    on: Option<bool>,
    #[serde(default)]
    gap_s: Option<f64>,
    #[serde(default)]
    statuses: Option<Vec<ExpectedStatus>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    at_s: f64,
    alarm: Condition,
    #[serde(default)]
    device: Option<String>,
    priority: Priority,
    state: AlarmState,
    #[serde(default)]
    value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedStatus {
    alarm: Condition,
    #[serde(default)]
    device: Option<String>,
    priority: Priority,
    state: AlarmState,
    audible: bool,
}

/// An event as compared: times in ms, values to 1e-6.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    at_ms: u64,
    alarm: Condition,
    device: Option<String>,
    priority: Priority,
    state: AlarmState,
    value_micro: Option<i64>,
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[allow(clippy::cast_precision_loss)]
        let value = self.value_micro.map(|v| v as f64 / 1e6);
        write!(
            f,
            "{:>9.3} s  {:<18} {:<8} {:<6} {:<12} {:?}",
            self.at_ms as f64 / 1000.0,
            self.alarm.as_str(),
            self.device.as_deref().unwrap_or("-"),
            self.priority.as_str(),
            self.state.as_str(),
            value
        )
    }
}

fn micro(v: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let m = (v * 1e6).round() as i64;
    m
}

fn ms(s: f64) -> u64 {
    assert!(s >= 0.0 && s.is_finite(), "time {s} must be a non-negative number of seconds");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let m = (s * 1000.0).round() as u64;
    m
}

impl From<&AlarmEvent> for Seen {
    fn from(e: &AlarmEvent) -> Self {
        Seen {
            at_ms: e.at.as_millis(),
            alarm: e.condition,
            device: e.device.as_deref().map(str::to_owned),
            priority: e.priority,
            state: e.state,
            value_micro: e.value.map(micro),
        }
    }
}

impl From<&Expected> for Seen {
    fn from(e: &Expected) -> Self {
        Seen {
            at_ms: ms(e.at_s),
            alarm: e.alarm,
            device: e.device.clone(),
            priority: e.priority,
            state: e.state,
            value_micro: e.value.map(micro),
        }
    }
}

/// One input at one time (a series step expands into many).
enum Input<'a> {
    Sample { device: DeviceLabel, quantity: Quantity, value: f64, contact: Option<bool> },
    Data(DeviceLabel),
    Ecg(DeviceLabel),
    EcgStart(DeviceLabel, bool, Option<&'a str>),
    Connection(DeviceLabel, bool),
    Action(&'a OperatorAction, Option<&'a str>),
    Technical(Condition, Option<DeviceLabel>, bool),
    Gap(Duration),
    Statuses(&'a [ExpectedStatus]),
}

fn run(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| format!("bad scenario file: {e}"))?;
    let config = match &scenario.config {
        Some(c) => Config::from_toml_str(c, path).map_err(|e| format!("bad config: {e}"))?,
        None => Config::default(),
    };
    let mut engine = AlarmEngine::new(config.alarms);
    // One Arc per label, as the pipeline holds them.
    let mut labels: Vec<DeviceLabel> = Vec::new();
    let mut label = |name: &str| -> DeviceLabel {
        if let Some(l) = labels.iter().find(|l| &***l == name) {
            return l.clone();
        }
        let l: DeviceLabel = DeviceLabel::from(name);
        labels.push(l.clone());
        l
    };
    for d in &scenario.devices {
        let timing = DeviceTiming {
            expected_interval: d.expected_interval_s.map(Duration::from_secs_f64),
            intermittent: d.intermittent,
        };
        engine.set_device_timing(&label(&d.label), timing);
    }

    let mut timeline: Vec<(u64, usize, Input<'_>)> = Vec::new();
    for (n, step) in scenario.steps.iter().enumerate() {
        let where_ = || format!("step {} (at_s = {})", n + 1, step.at_s);
        let device = step.device.as_deref().map(&mut label);
        let start = ms(step.at_s);
        let times: Vec<u64> = match (step.until_s, step.every_s) {
            (Some(until), Some(every)) => {
                let (until, every) = (ms(until), ms(every));
                if every == 0 {
                    return Err(format!("{}: every_s must be positive", where_()));
                }
                (start..=until).step_by(usize::try_from(every).map_err(|e| e.to_string())?).collect()
            }
            (None, None) => vec![start],
            _ => return Err(format!("{}: until_s and every_s go together", where_())),
        };
        for (i, t) in times.into_iter().enumerate() {
            let need_device = || device.clone().ok_or_else(|| format!("{}: needs a device", where_()));
            let input = if let Some(quantity) = step.quantity {
                let value = match (&step.value, &step.values) {
                    (Some(v), None) => *v,
                    (None, Some(vs)) if !vs.is_empty() => vs[i % vs.len()],
                    _ => return Err(format!("{}: a sample needs value or values", where_())),
                };
                Input::Sample { device: need_device()?, quantity, value, contact: step.contact }
            } else if step.data == Some(true) {
                Input::Data(need_device()?)
            } else if step.ecg == Some(true) {
                Input::Ecg(need_device()?)
            } else if let Some(started) = step.ecg_started {
                Input::EcgStart(need_device()?, started, step.reason.as_deref())
            } else if let Some(c) = &step.connection {
                let connected = match c.as_str() {
                    "connected" => true,
                    "disconnected" => false,
                    other => return Err(format!("{}: connection `{other}`", where_())),
                };
                Input::Connection(need_device()?, connected)
            } else if let Some(action) = &step.action {
                Input::Action(action, step.error.as_deref())
            } else if let Some(c) = step.technical {
                let on = step.on.ok_or_else(|| format!("{}: technical needs on", where_()))?;
                Input::Technical(c, device.clone(), on)
            } else if let Some(g) = step.gap_s {
                Input::Gap(Duration::from_secs_f64(g))
            } else if let Some(s) = &step.statuses {
                Input::Statuses(s)
            } else {
                return Err(format!("{}: nothing to do", where_()));
            };
            timeline.push((t, n, input));
        }
    }
    // Stable: inputs of the same time keep file order.
    timeline.sort_by_key(|(t, n, _)| (*t, *n));

    let mut out = Vec::new();
    let mut failures = Vec::new();
    for (t_ms, n, input) in &timeline {
        let at = SessionTime::from_millis(*t_ms);
        match input {
            Input::Sample { device, quantity, value, contact } => {
                engine.on_data(at, device, &mut out);
                let sample = Sample {
                    at,
                    device: device.clone(),
                    quantity: *quantity,
                    value: *value,
                    contact: *contact,
                    device_time_ns: None,
                };
                engine.on_sample(&sample, &mut out);
            }
            Input::Data(device) => engine.on_data(at, device, &mut out),
            Input::Ecg(device) => {
                // As the pipeline feeds a PMD frame: data, then the frame.
                engine.on_data(at, device, &mut out);
                let id = engine.devices().id_of(device).expect("admitted by on_data");
                engine.on_ecg_frame(at, id, &mut out);
            }
            Input::EcgStart(device, started, reason) => {
                engine.on_ecg_start(at, device, *started, *reason, &mut out);
            }
            Input::Connection(device, connected) => engine.on_connection(at, device, *connected, &mut out),
            Input::Action(action, error) => match (engine.on_operator(at, action, &mut out), error) {
                (Ok(()), None) => {}
                (Err(e), Some(want)) if e.to_string().contains(want) => {}
                (result, want) => failures.push(format!(
                    "step {} at {at}: action {action:?} gave {result:?}, expected error {want:?}",
                    n + 1
                )),
            },
            Input::Technical(c, device, on) => engine.set_technical(at, *c, device.as_ref(), *on, &mut out),
            Input::Gap(d) => engine.on_gap(at, *d),
            Input::Statuses(expected) => {
                engine.advance_to(at, &mut out);
                let got: Vec<ExpectedStatus> = engine.statuses().iter().map(status).collect();
                if got != *expected {
                    failures.push(format!(
                        "step {} at {} s: statuses\n  got:      {got:?}\n  expected: {expected:?}",
                        n + 1,
                        *t_ms as f64 / 1000.0
                    ));
                }
            }
        }
    }
    if let Some(end) = scenario.end_s {
        engine.advance_to(SessionTime::from_millis(ms(end)), &mut out);
    }

    let got: Vec<Seen> = out.iter().map(Seen::from).collect();
    let want: Vec<Seen> = scenario.expect.iter().map(Seen::from).collect();
    if got != want {
        let list = |v: &[Seen]| v.iter().map(|s| format!("    {s}")).collect::<Vec<_>>().join("\n");
        failures.push(format!("events differ\n  got:\n{}\n  expected:\n{}", list(&got), list(&want)));
    }
    for pair in out.windows(2) {
        if pair[1].at < pair[0].at {
            failures.push(format!("events out of time order: {:?} then {:?}", pair[0], pair[1]));
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(format!("{}\n{}", scenario.about.trim(), failures.join("\n"))) }
}

fn status(s: &AlarmStatus) -> ExpectedStatus {
    ExpectedStatus {
        alarm: s.condition,
        device: s.device.as_deref().map(str::to_owned),
        priority: s.priority,
        state: s.state,
        audible: s.audible,
    }
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/alarms");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn alarm_scenarios() {
    let files = scenario_files();
    assert!(files.len() >= 15, "expected the scenario table, found {} files", files.len());
    let mut failed = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        match run(path) {
            Ok(()) => println!("ok    {name}"),
            Err(e) => {
                println!("FAIL  {name}: {e}\n");
                failed.push(name);
            }
        }
    }
    assert!(failed.is_empty(), "failing scenarios: {failed:?} (run with --nocapture for details)");
}

/// The runner itself must be able to fail: a wrong expectation is caught.
#[test]
fn runner_catches_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.toml");
    std::fs::write(
        &path,
        r#"
about = "HR 150 for 15 s is a high alarm at 15 s, not 14 s"
end_s = 20
[[devices]]
label = "chest"
intermittent = true
[[steps]]
at_s = 0
device = "chest"
quantity = "heart_rate_bpm"
value = 150
[[expect]]
at_s = 14
alarm = "hr.high"
device = "chest"
priority = "high"
state = "active"
value = 150
"#,
    )
    .unwrap();
    let err = run(&path).unwrap_err();
    assert!(err.contains("15.000 s"), "{err}");
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("at_s = 14", "at_s = 15")).unwrap();
    run(&path).unwrap();
}
