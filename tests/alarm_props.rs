//! Properties of the alarm engine over random sample streams (heart rate with
//! random contact loss, SpO2, body temperature; values around every limit,
//! impossible values and NaN; random acknowledgements):
//!
//! 1. no alarm becomes active (or escalates to a priority) without that
//!    level's condition having held, on trustworthy samples, for its onset
//!    delay;
//! 2. once a trustworthy value is back past the hysteresis of every level,
//!    the alarm is no longer active, escalated or acknowledged — only a
//!    latched (high, unacknowledged) one remains, and an ack clears it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use proptest::prelude::*;
use vigil::alarms::AlarmEngine;
use vigil::config::{AlarmConfig, ThresholdView};
use vigil::model::{AlarmEvent, AlarmState, Condition, DeviceLabel, OperatorAction, Quantity, Sample, SessionTime};

#[derive(Debug, Clone)]
struct Segment {
    duration_ms: u64,
    step_ms: u64,
    value: f64,
    contact: bool,
    ack: bool,
}

#[derive(Debug, Clone, Copy)]
struct Family {
    quantity: Quantity,
    conditions: &'static [Condition],
    values: &'static [f64],
    reports_contact: bool,
}

const HR: Family = Family {
    quantity: Quantity::HeartRateBpm,
    conditions: &[Condition::HrHigh, Condition::HrLow],
    values: &[
        0.0,
        30.0,
        38.0,
        40.0,
        42.0,
        44.0,
        45.0,
        46.0,
        50.0,
        70.0,
        94.0,
        95.0,
        96.0,
        100.0,
        101.0,
        104.0,
        118.0,
        120.0,
        121.0,
        125.0,
        139.0,
        140.0,
        141.0,
        150.0,
        260.0,
        f64::NAN,
    ],
    reports_contact: true,
};

const SPO2: Family = Family {
    quantity: Quantity::Spo2Pct,
    conditions: &[Condition::Spo2Low],
    values: &[0.0, 80.0, 84.0, 85.0, 86.0, 89.0, 90.0, 91.0, 93.0, 94.0, 95.0, 97.0, 101.0, f64::NAN],
    reports_contact: false,
};

const TEMP: Family = Family {
    quantity: Quantity::BodyTemperatureC,
    conditions: &[Condition::TempHigh],
    values: &[20.0, 36.5, 37.7, 37.8, 37.9, 38.0, 38.2, 38.4, 38.5, 38.7, 39.0, 39.5, 46.0, f64::NAN],
    reports_contact: false,
};

fn segments(family: Family) -> impl Strategy<Value = Vec<Segment>> {
    let segment = (
        1u64..60,
        prop::sample::select(vec![500u64, 1000, 2000]),
        prop::sample::select(family.values.to_vec()),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.05),
    )
        .prop_map(move |(secs, step_ms, value, contact, ack)| Segment {
            duration_ms: secs * 1000,
            step_ms,
            value,
            contact: contact || !family.reports_contact,
            ack,
        });
    prop::collection::vec(segment, 1..25)
}

fn plausible(q: Quantity, v: f64) -> bool {
    match q {
        Quantity::HeartRateBpm => v > 0.0 && v <= 250.0,
        Quantity::Spo2Pct => v > 0.0 && v <= 100.0,
        Quantity::BodyTemperatureC => (25.0..=45.0).contains(&v),
        _ => unreachable!(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    at: u64,
    value: f64,
    trusted: bool,
}

/// Priority index of an event's priority.
fn level_of(e: &AlarmEvent) -> usize {
    e.priority as usize
}

/// Whether level `l` of `view` held on trustworthy samples for its onset
/// before `at` (the engine fires a due timer before it looks at a sample of
/// the same time, so only samples strictly before `at` count, unless the
/// onset is zero).
fn held(view: &ThresholdView, l: usize, points: &[Point], at: u64) -> bool {
    let Some(level) = view.levels[l] else { return false };
    let onset = u64::try_from(level.onset.as_nanos()).unwrap();
    let upto = points.partition_point(|p| if onset == 0 { p.at <= at } else { p.at < at });
    let mut start = None;
    for p in points[..upto].iter().rev() {
        if p.trusted && view.direction.beyond(p.value, level.threshold) {
            start = Some(p.at);
        } else {
            break;
        }
    }
    start.is_some_and(|s| s + onset <= at)
}

fn clear_of_every_level(view: &ThresholdView, v: f64) -> bool {
    view.levels
        .iter()
        .flatten()
        .all(|level| !view.direction.beyond(v, view.direction.relaxed(level.threshold, view.hysteresis)))
}

fn check(family: Family, segs: &[Segment]) -> Result<(), TestCaseError> {
    let config = AlarmConfig::default();
    let mut engine = AlarmEngine::new(config.clone());
    let device: DeviceLabel = DeviceLabel::from("dev");
    let mut out = Vec::new();
    let mut points = Vec::new();
    let mut t = 0u64;
    for seg in segs {
        if seg.ack {
            engine.on_operator(SessionTime(t), &OperatorAction::Ack { alarm: None, device: None }, &mut out).unwrap();
        }
        let end = t + seg.duration_ms * 1_000_000;
        while t < end {
            let sample = Sample {
                at: SessionTime(t),
                device: device.clone(),
                quantity: family.quantity,
                value: seg.value,
                contact: family.reports_contact.then_some(seg.contact),
                device_time_ns: None,
            };
            engine.on_data(sample.at, &device, &mut out);
            engine.on_sample(&sample, &mut out);
            let trusted = seg.contact && plausible(family.quantity, seg.value);
            points.push(Point { at: t, value: seg.value, trusted });

            // Property 2, at every trustworthy sample clear of all levels.
            if trusted {
                for &c in family.conditions {
                    let view = config.threshold(c).unwrap();
                    if clear_of_every_level(&view, seg.value) {
                        for s in engine.statuses().iter().filter(|s| s.condition == c) {
                            prop_assert_eq!(
                                s.state,
                                AlarmState::Latched,
                                "{} still {:?} at {} with value {}",
                                c,
                                s.state,
                                SessionTime(t),
                                seg.value
                            );
                        }
                    }
                }
            }
            t += seg.step_ms * 1_000_000;
        }
    }

    // Property 1, for every annunciation.
    for &c in family.conditions {
        let view = config.threshold(c).unwrap();
        let mut previous = AlarmState::Cleared;
        for e in out.iter().filter(|e| e.condition == c) {
            match e.state {
                AlarmState::Active if previous == AlarmState::Latched => {
                    // Re-activation of a latched alarm keeps the latched
                    // priority: some level must have held.
                    prop_assert!(
                        (0..3).any(|l| held(&view, l, &points, e.at.0)),
                        "{c} re-activated at {} without any level holding",
                        e.at
                    );
                }
                AlarmState::Active | AlarmState::Escalated => {
                    prop_assert!(
                        held(&view, level_of(e), &points, e.at.0),
                        "{c} {:?} {} at {} without its condition holding for its onset",
                        e.state,
                        e.priority,
                        e.at
                    );
                }
                _ => {}
            }
            previous = e.state;
        }
    }

    // Property 2 at the end: a minute of normal values, then an ack.
    let normal = match family.quantity {
        Quantity::HeartRateBpm => 70.0,
        Quantity::Spo2Pct => 98.0,
        _ => 36.8,
    };
    for _ in 0..60 {
        let sample = Sample {
            at: SessionTime(t),
            device: device.clone(),
            quantity: family.quantity,
            value: normal,
            contact: family.reports_contact.then_some(true),
            device_time_ns: None,
        };
        engine.on_sample(&sample, &mut out);
        t += 1_000_000_000;
    }
    let physiological = |s: &&vigil::model::AlarmStatus| family.conditions.contains(&s.condition);
    for s in engine.statuses().iter().filter(physiological) {
        prop_assert_eq!(s.state, AlarmState::Latched);
    }
    engine.on_operator(SessionTime(t), &OperatorAction::Ack { alarm: None, device: None }, &mut out).unwrap();
    prop_assert_eq!(engine.statuses().iter().filter(physiological).count(), 0);
    // Events come out in time order.
    prop_assert!(out.windows(2).all(|w| w[0].at <= w[1].at));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn heart_rate_alarms_respect_onset_and_hysteresis(segs in segments(HR)) {
        check(HR, &segs)?;
    }

    #[test]
    fn spo2_alarms_respect_onset_and_hysteresis(segs in segments(SPO2)) {
        check(SPO2, &segs)?;
    }

    #[test]
    fn temperature_alarms_respect_onset_and_hysteresis(segs in segments(TEMP)) {
        check(TEMP, &segs)?;
    }
}

/// The oracle itself can fail: an alarm stamped one second early is caught.
#[test]
fn oracle_rejects_an_early_alarm() {
    let view = AlarmConfig::default().threshold(Condition::HrHigh).unwrap();
    let points: Vec<Point> = (0..40).map(|s| Point { at: s * 1_000_000_000, value: 150.0, trusted: true }).collect();
    assert!(held(&view, 2, &points, 15_000_000_000));
    assert!(!held(&view, 2, &points, 14_000_000_000));
    let mut broken = points.clone();
    broken[10].trusted = false;
    assert!(!held(&view, 2, &broken, 20_000_000_000));
    assert!(held(&view, 2, &broken, 26_000_000_000));
}
