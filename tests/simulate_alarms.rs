//! Every shipped scenario, run headless at `--speed max` with the default
//! limits, raises exactly the alarms its header promises
//! (`tests/scenarios/simulated/*.toml`; adding a case adds no code).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use serde::Deserialize;
use vigil::config::Config;
use vigil::sources::simulate;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectations {
    scenario: String,
    #[serde(default)]
    only_expected: bool,
    #[serde(default)]
    forbid: Vec<String>,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    alarm: String,
    device: String,
    state: String,
    priority: Option<String>,
    from: String,
    to: String,
}

fn hms_ms(text: &str) -> u64 {
    let parts: Vec<u64> = text.split(':').map(|p| p.parse().unwrap()).collect();
    let [h, m, s] = parts[..] else { panic!("`{text}` is not H:MM:SS") };
    ((h * 60 + m) * 60 + s) * 1000
}

impl Expect {
    fn matches(&self, line: &serde_json::Value) -> bool {
        line["alarm"] == self.alarm.as_str()
            && line["device"] == self.device.as_str()
            && line["state"] == self.state.as_str()
            && self.priority.as_deref().is_none_or(|p| line["priority"] == p)
    }

    fn in_window(&self, line: &serde_json::Value) -> bool {
        let at = line["at_ms"].as_u64().unwrap();
        (hms_ms(&self.from)..=hms_ms(&self.to)).contains(&at)
    }
}

#[test]
fn shipped_scenarios_raise_the_promised_alarms() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/simulated");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), simulate::list().len(), "every shipped scenario has an expectations file");
    let mut failures = Vec::new();
    for file in &files {
        let exp: Expectations = toml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let (source, devices) = common::scenario_source(&exp.scenario);
        let (_, lines) = common::run_headless(source, devices, Config::default());
        let alarms: Vec<_> = lines.iter().filter(|l| l["type"] == "alarm").collect();
        let mut fail = |msg: String| failures.push(format!("{}: {msg}", exp.scenario));
        for e in &exp.expect {
            if !alarms.iter().any(|l| e.matches(l) && e.in_window(l)) {
                let near: Vec<String> = alarms.iter().filter(|l| e.matches(l)).map(ToString::to_string).collect();
                fail(format!("expected {e:?}; matching lines at other times: {near:?}"));
            }
        }
        for l in &alarms {
            let alarm = l["alarm"].as_str().unwrap();
            if exp.forbid.iter().any(|f| f == alarm) {
                fail(format!("forbidden alarm {l}"));
            }
            let raising = l["state"] == "active" || l["state"] == "escalated";
            if exp.only_expected && raising && !exp.expect.iter().any(|e| e.matches(l)) {
                fail(format!("unexpected alarm {l}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
