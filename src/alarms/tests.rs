//! Unit tests of the engine through its public API.

use super::*;
use crate::model::{Priority, Quantity};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every kind of input the engine takes, at random (samples of every
/// quantity with and without contact, data, connections, technical
/// flags, gaps, resumes, timing, acknowledgements, audio pauses,
/// baselines, limits, manual readings): `next_deadline` is exact (advancing
/// to just before it fires nothing; so no alarm is raised late by a caller
/// that sleeps until it), and every transition the engine emits is stamped
/// no earlier than the one before.
#[test]
fn next_deadline_is_exact_and_transitions_come_in_time_order() {
    for seed in 0..80 {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let mut config = AlarmConfig::default();
        if seed % 2 == 0 {
            config.tech_stale.min = Duration::from_secs(1);
            config.tech_no_contact.onset = Duration::from_secs(2);
        }
        let mut engine = AlarmEngine::new(config);
        let labels: Vec<DeviceLabel> = (0..3).map(|i| DeviceLabel::from(format!("r{i}").as_str())).collect();
        let mut out = Vec::new();
        let mut t_ms = 0u64;
        let mut last_stamp = SessionTime(0);
        for step in 0..500 {
            t_ms += rng.random_range(0..3_000u64);
            if rng.random_bool(0.04) {
                t_ms += rng.random_range(5_000..120_000u64);
            }
            let at = SessionTime::from_millis(t_ms);
            let d = &labels[rng.random_range(0..labels.len())];
            let quantity = Quantity::ALL[rng.random_range(0..Quantity::ALL.len())];
            let value = match quantity {
                Quantity::BodyTemperatureC | Quantity::SkinTemperatureC => rng.random_range(30.0..42.0),
                Quantity::Spo2Pct | Quantity::BatteryPct => rng.random_range(0.0..101.0),
                _ => rng.random_range(0.0..240.0),
            };
            let condition = Condition::ALL[rng.random_range(0..Condition::ALL.len())];
            match rng.random_range(0..100u32) {
                0..=54 => {
                    let contact = [Some(true), Some(false), None][rng.random_range(0..3)];
                    let sample = Sample { at, device: d.clone(), quantity, value, contact, device_time_ns: None };
                    engine.on_sample(&sample, &mut out);
                }
                55..=64 => engine.on_data(at, d, &mut out),
                65..=69 => engine.on_connection(at, d, rng.random_bool(0.6), &mut out),
                70..=72 => {
                    let device = rng.random_bool(0.5).then_some(d);
                    engine.set_technical(at, condition, device, rng.random_bool(0.5), &mut out);
                }
                73..=74 => engine.on_gap(at, Duration::from_millis(rng.random_range(0..30_000))),
                75 => engine.on_resume_gap(at, Duration::from_millis(rng.random_range(0..30_000))),
                76..=78 => engine.set_device_timing(
                    d,
                    DeviceTiming {
                        expected_interval: rng
                            .random_bool(0.5)
                            .then(|| Duration::from_millis(rng.random_range(200..20_000))),
                        intermittent: rng.random_bool(0.2),
                    },
                ),
                79..=90 => {
                    let action = match rng.random_range(0..5u32) {
                        0 => OperatorAction::Ack {
                            alarm: rng.random_bool(0.5).then_some(condition),
                            device: rng.random_bool(0.5).then(|| d.to_string()),
                        },
                        1 => OperatorAction::AudioPause,
                        2 => OperatorAction::Baseline { device: rng.random_bool(0.5).then(|| d.to_string()) },
                        3 => OperatorAction::Limit {
                            condition,
                            priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
                            value,
                        },
                        _ => OperatorAction::Manual { quantity, value },
                    };
                    // Refusals (a limit out of order, no baseline data)
                    // are errors, never panics.
                    let _ = engine.on_operator(at, &action, &mut out);
                }
                _ => engine.advance_to(at, &mut out),
            }
            if let Some(next) = engine.next_deadline() {
                let mut early = engine.clone();
                let mut fired = Vec::new();
                early.advance_to(SessionTime(next.0.saturating_sub(1)), &mut fired);
                assert!(fired.is_empty(), "seed {seed} step {step}: {fired:?} fired before the deadline {next:?}");
            }
            for e in out.drain(..) {
                assert!(e.at >= last_stamp, "seed {seed} step {step}: {e:?} stamped before {last_stamp:?}");
                last_stamp = e.at;
            }
        }
    }
}

/// A device of no declared interval that notified every 10 s and then
/// every 2 s: once the engine has learned the 2 s, `tech.stale` comes 6 s
/// (3 intervals) after its last notification, and is raised then. It
/// was raised 2 s late here: the running timer kept the 30 s delay, so
/// the engine's next-timer bound was later than the true deadline and
/// only another timer's wake-up found it (the lateness can be as long
/// as the old delay less the new).
#[test]
fn a_learned_interval_that_shrinks_makes_the_device_stale_sooner() {
    let mut engine = AlarmEngine::new(AlarmConfig::default());
    let device = DeviceLabel::from("learner");
    let mut out = Vec::new();
    let mut t_ms = 0;
    for _ in 0..10 {
        engine.on_data(SessionTime::from_millis(t_ms), &device, &mut out);
        t_ms += 10_000;
    }
    // A gap of 10 s, then 6 of 2 s: the estimate (the median of the last
    // 8 gaps, taken at every 8th) becomes 2 s at the last notification.
    for _ in 0..7 {
        engine.on_data(SessionTime::from_millis(t_ms), &device, &mut out);
        t_ms += 2_000;
    }
    let last_ms = t_ms - 2_000;
    // (While the 10 s was being learned, the 1 s default made it stale
    // between notifications.)
    assert!(engine.statuses().iter().all(|s| s.condition != Condition::TechStale || s.state != AlarmState::Active));
    out.clear();
    let mut now_ms = last_ms;
    let raised = loop {
        now_ms += 100;
        engine.advance_to(SessionTime::from_millis(now_ms), &mut out);
        if let Some(e) = out.iter().find(|e| e.condition == Condition::TechStale) {
            break (e.at.as_millis(), now_ms);
        }
        assert!(now_ms < last_ms + 60_000, "never stale");
    };
    assert_eq!(raised, (last_ms + 6_000, last_ms + 6_000), "(stamped, raised at) ms");
}

fn hr(at_s: u64, device: &DeviceLabel, v: f64) -> Sample {
    Sample {
        at: SessionTime::from_secs(at_s),
        device: device.clone(),
        quantity: Quantity::HeartRateBpm,
        value: v,
        contact: Some(true),
        device_time_ns: None,
    }
}

#[test]
fn onset_fires_at_the_deadline_not_at_the_next_sample() {
    let chest: DeviceLabel = DeviceLabel::from("chest");
    let mut e = AlarmEngine::new(AlarmConfig::default());
    let mut out = Vec::new();
    e.set_device_timing(&chest, DeviceTiming { expected_interval: None, intermittent: true });
    e.on_sample(&hr(10, &chest, 150.0), &mut out);
    assert!(out.is_empty());
    assert_eq!(e.next_deadline(), Some(SessionTime::from_secs(25)));
    e.advance_to(SessionTime::from_secs(100), &mut out);
    let times: Vec<_> = out.iter().map(|a| (a.at.as_millis(), a.priority, a.state)).collect();
    assert_eq!(times, vec![(25_000, Priority::High, AlarmState::Active)]);
}

#[test]
fn statuses_list_highest_priority_first() {
    let chest: DeviceLabel = DeviceLabel::from("chest");
    let mut e = AlarmEngine::new(AlarmConfig::default());
    let mut out = Vec::new();
    e.on_connection(SessionTime::ZERO, &chest, false, &mut out);
    e.set_technical(SessionTime::from_secs(1), Condition::TechStalled, None, true, &mut out);
    let s = e.statuses();
    assert_eq!(s[0].condition, Condition::TechStalled);
    assert_eq!(s[1].condition, Condition::TechDisconnected);
    assert!(s.iter().all(|s| s.audible));
}

#[test]
fn limit_action_changes_the_view_and_rejects_disorder() {
    let mut e = AlarmEngine::new(AlarmConfig::default());
    let mut out = Vec::new();
    let set = |value| OperatorAction::Limit { condition: Condition::HrHigh, priority: Priority::Medium, value };
    e.on_operator(SessionTime::ZERO, &set(125.0), &mut out).unwrap();
    assert_eq!(e.config().hr_high.medium.unwrap().threshold, 125.0);
    let err = e.on_operator(SessionTime::ZERO, &set(99.0), &mut out).unwrap_err();
    assert!(err.to_string().contains("alarms.hr_high.medium"), "{err}");
    assert_eq!(e.config().hr_high.medium.unwrap().threshold, 125.0);
}

#[test]
fn baseline_without_data_is_an_error() {
    let chest: DeviceLabel = DeviceLabel::from("chest");
    let mut e = AlarmEngine::new(AlarmConfig::default());
    let mut out = Vec::new();
    e.on_connection(SessionTime::ZERO, &chest, true, &mut out);
    let err = e.on_operator(SessionTime::ZERO, &OperatorAction::Baseline { device: None }, &mut out).unwrap_err();
    assert_eq!(err.to_string(), "no valid heart rate in the last 300 s to take a baseline from");
}

#[test]
fn a_device_is_found_by_its_name_from_another_source() {
    let mut e = AlarmEngine::new(AlarmConfig::default());
    let mut out = Vec::new();
    e.on_connection(SessionTime::ZERO, &DeviceLabel::from("chest"), false, &mut out);
    e.on_connection(SessionTime::from_secs(1), &DeviceLabel::from("chest"), true, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1].state, AlarmState::Cleared);
    assert!(e.statuses().is_empty());
}
