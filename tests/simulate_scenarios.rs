//! Each shipped scenario produces, at the GATT level, what its header
//! promises: payloads decoded with `gatt::decode` show the physiology, the
//! special values, the malformed payload and the link events.

// Helpers outside `#[test]` functions are test code too (clippy.toml only
// allows unwrap/expect inside the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use vigil::gatt;
use vigil::model::{Batch, EventBody, MarkerKind, OperatorAction, Quantity, Sample, SessionTime};
use vigil::sources::simulate::{self, Scenario};

/// Everything a scenario produced, decoded.
struct Run {
    samples: Vec<Sample>,
    decode_errors: Vec<(SessionTime, String)>,
    events: Vec<(SessionTime, Option<String>, EventBody)>,
    notifications: usize,
}

fn run(scenario: &Scenario) -> Run {
    let env: HashMap<String, Quantity> = scenario
        .device_profiles()
        .into_iter()
        .map(|(label, p)| (label.to_string(), p.env_temperature.quantity()))
        .collect();
    let mut r = Run { samples: Vec::new(), decode_errors: Vec::new(), events: Vec::new(), notifications: 0 };
    let mut last_until = SessionTime::ZERO;
    let mut last_at = SessionTime::ZERO;
    for batch in scenario.batches(scenario.seed) {
        assert!(batch.until > last_until, "watermarks advance");
        for e in batch.events {
            assert!(e.at >= last_at, "events in time order");
            assert!(e.at >= last_until && e.at < batch.until, "event within its batch's span");
            last_at = e.at;
            match &e.body {
                EventBody::Notification { characteristic, payload } => {
                    r.notifications += 1;
                    let device = e.device.clone().expect("notifications name their device");
                    match gatt::decode(*characteristic, payload) {
                        Ok(m) => m.samples(e.at, &device, env[&*device], &mut r.samples),
                        Err(err) => r.decode_errors.push((e.at, format!("{device}: {err}"))),
                    }
                }
                other => r.events.push((e.at, e.device.as_deref().map(str::to_owned), other.clone())),
            }
        }
        last_until = batch.until;
    }
    assert_eq!(last_until, SessionTime::ZERO.saturating_add(scenario.duration), "the last watermark is the end");
    r
}

fn values(r: &Run, device: &str, q: Quantity, from_s: u64, to_s: u64) -> Vec<f64> {
    r.samples
        .iter()
        .filter(|s| &*s.device == device && s.quantity == q)
        .filter(|s| s.at >= SessionTime::from_secs(from_s) && s.at < SessionTime::from_secs(to_s))
        .map(|s| s.value)
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    assert!(!v.is_empty());
    v.iter().sum::<f64>() / v.len() as f64
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

fn h(hours: f64) -> u64 {
    (hours * 3600.0) as u64
}

/// The longest stretch (seconds) over which every sample is above `limit`.
fn longest_above(r: &Run, device: &str, q: Quantity, limit: f64) -> f64 {
    let mut best = 0.0_f64;
    let mut start: Option<SessionTime> = None;
    for s in r.samples.iter().filter(|s| &*s.device == device && s.quantity == q) {
        if s.value > limit {
            let st = *start.get_or_insert(s.at);
            best = best.max(s.at.since(st).as_secs_f64());
        } else {
            start = None;
        }
    }
    best
}

/// The largest rise of a series within any 30 minutes (the `temp.rise` window).
fn max_rise_30min(r: &Run, device: &str, q: Quantity) -> f64 {
    let pts: Vec<(f64, f64)> = r
        .samples
        .iter()
        .filter(|s| &*s.device == device && s.quantity == q)
        .map(|s| (s.at.as_secs_f64(), s.value))
        .collect();
    let mut best = 0.0_f64;
    for (i, (t, v)) in pts.iter().enumerate() {
        for (u, w) in pts[..i].iter().rev() {
            if t - u > 1800.0 {
                break;
            }
            best = best.max(v - w);
        }
    }
    best
}

#[test]
fn every_shipped_scenario_loads_and_decodes_cleanly_except_where_scripted() {
    let listed = simulate::list();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().any(|(n, _)| n == simulate::DEFAULT_SCENARIO));
    for (name, description) in listed {
        assert!(!description.starts_with("(broken"), "{name}: {description}");
        let s = simulate::load(&name).unwrap();
        assert!(s.header.contains("Expected alarms"), "{name} documents its expected alarms");
        let r = run(&s);
        let expected_errors = usize::from(name == "flaky-sensor");
        assert_eq!(r.decode_errors.len(), expected_errors, "{name}: {:?}", r.decode_errors);
        // Every device connects at the start and says what it offers.
        for d in &s.devices {
            let connected = r
                .events
                .iter()
                .find(|(_, dev, b)| dev.as_deref() == Some(&*d.label) && matches!(b, EventBody::Connected { .. }));
            let (at, _, body) = connected.unwrap_or_else(|| panic!("{name}: {} never connects", d.label));
            assert!(*at < SessionTime::from_secs(1));
            assert_eq!(
                body,
                &EventBody::Connected {
                    name: Some(d.name.clone()),
                    address: Some(d.address.clone()),
                    services: d.profile.services.clone()
                }
            );
        }
    }
}

#[test]
fn mdma_session_peaks_in_range_and_returns_towards_baseline() {
    let s = simulate::load("mdma-session").unwrap();
    assert_eq!(s.duration.as_secs(), 8 * 3600);
    assert_eq!(s.devices.len(), 4);
    let r = run(&s);
    let hr = |a: f64, b: f64| values(&r, "chest", Quantity::HeartRateBpm, h(a), h(b));
    let baseline = mean(&hr(0.0, 0.5));
    assert!((66.0..74.0).contains(&baseline), "baseline {baseline}");
    let peak = mean(&hr(1.5, 2.0));
    assert!((110.0..130.0).contains(&peak), "peak {peak}");
    assert!((110.0..130.0).contains(&max(&hr(0.0, 8.0))), "max {}", max(&hr(0.0, 8.0)));
    let late = mean(&hr(6.0, 7.0));
    assert!(late < baseline + 8.0, "back towards baseline by 6-7 h: {late}");
    // hr.high low but never medium: above 100 for long, never above 120 for 30 s.
    assert!(longest_above(&r, "chest", Quantity::HeartRateBpm, 100.0) > 3600.0);
    assert!(longest_above(&r, "chest", Quantity::HeartRateBpm, 120.0) < 20.0);
    // ...and clears: below 95 for the last hours.
    assert!(max(&hr(4.5, 8.0)) < 95.0, "{}", max(&hr(4.5, 8.0)));

    // RR intervals agree with the reported rate.
    let rr = values(&r, "chest", Quantity::RrIntervalMs, h(1.5), h(2.0));
    assert!((60_000.0 / mean(&rr) - peak).abs() < 2.0);

    let core = |a: f64, b: f64| values(&r, "core", Quantity::BodyTemperatureC, h(a), h(b));
    let rise = mean(&core(2.5, 3.5)) - mean(&core(0.0, 0.5));
    assert!((0.5..1.0).contains(&rise), "core rise {rise}");
    assert!(max(&core(0.0, 8.0)) < 38.0);
    assert!(mean(&core(6.5, 7.0)) - mean(&core(0.0, 0.5)) < 0.3);
    assert!(!values(&r, "skin", Quantity::SkinTemperatureC, 0, h(8.0)).is_empty(), "the patch is skin, not ambient");
    // No temp.rise: slower than 0.5 °C in 30 min, with a margin.
    assert!(max_rise_30min(&r, "core", Quantity::BodyTemperatureC) < 0.45);
    assert!(max_rise_30min(&r, "skin", Quantity::SkinTemperatureC) < 0.45);
    let sys = values(&r, "cuff", Quantity::SystolicMmhg, 0, h(8.0));
    assert_eq!(sys.len(), 32, "one reading every 15 min from 0:05");
    assert!(max(&sys) < 160.0 && max(&sys) > 135.0, "{sys:?}");

    // Dose markers as operator events.
    let markers: Vec<_> = r
        .events
        .iter()
        .filter_map(|(at, _, b)| match b {
            EventBody::Operator(OperatorAction::Marker(m)) => {
                Some((at.as_secs_f64(), m.label.clone(), m.kind, m.amount_mg))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        markers,
        vec![
            (1800.0, "dose 120 mg".to_owned(), Some(MarkerKind::Dose), Some(120.0)),
            (7200.0, "supplemental dose 60 mg".to_owned(), Some(MarkerKind::SupplementalDose), Some(60.0)),
        ]
    );
}

#[test]
fn tachycardia_crosses_the_high_limit_within_the_first_minute() {
    let s = simulate::load(simulate::DEFAULT_SCENARIO).unwrap();
    let r = run(&s);
    let onset = r
        .samples
        .iter()
        .find(|x| &*x.device == "chest" && x.quantity == Quantity::HeartRateBpm && x.value > 140.0)
        .map(|x| x.at.as_secs_f64())
        .unwrap();
    assert!(onset < 30.0, "onset {onset}");
    assert!(longest_above(&r, "chest", Quantity::HeartRateBpm, 140.0) > 200.0);
    let pulse = mean(&values(&r, "finger", Quantity::PulseRateBpm, 60, 200));
    assert!((155.0..180.0).contains(&pulse), "oximeter follows: {pulse}");
    assert!(max(&values(&r, "chest", Quantity::HeartRateBpm, 300, 600)) < 95.0);
    assert!(values(&r, "finger", Quantity::Spo2Pct, 0, 600).iter().all(|v| *v >= 95.0), "no spo2.low");
}

#[test]
fn hyperthermia_passes_39_degrees() {
    let r = run(&simulate::load("hyperthermia").unwrap());
    let core = values(&r, "core", Quantity::BodyTemperatureC, 0, 7200);
    assert!(max(&core) > 39.0, "{}", max(&core));
    assert!(max_rise_30min(&r, "core", Quantity::BodyTemperatureC) > 0.6, "temp.rise");
    assert!(longest_above(&r, "core", Quantity::BodyTemperatureC, 39.0) > 600.0, "held past 39 °C");
    assert!(mean(&values(&r, "core", Quantity::BodyTemperatureC, 0, 600)) < 37.3);
    assert!(max(&values(&r, "chest", Quantity::HeartRateBpm, 0, 7200)) < 100.0);
    let room = values(&r, "room", Quantity::AmbientTemperatureC, 0, 7200);
    assert!((28.0..30.0).contains(&mean(&room)), "ambient by profile");
    // The thermometer stamps its readings with its own clock.
    assert!(r.samples.iter().filter(|s| s.quantity == Quantity::BodyTemperatureC).all(|s| s.device_time_ns.is_some()));
}

#[test]
fn flaky_sensor_has_every_fault_and_no_false_physiology() {
    let s = simulate::load("flaky-sensor").unwrap();
    let r = run(&s);
    // Contact loss: contact false, rate 0, no RR in 1:00–1:40.
    let chest: Vec<&Sample> = r.samples.iter().filter(|x| &*x.device == "chest").collect();
    let lost: Vec<&&Sample> =
        chest.iter().filter(|x| x.at >= SessionTime::from_secs(61) && x.at < SessionTime::from_secs(100)).collect();
    assert!(lost.len() > 30);
    assert!(lost.iter().all(|x| x.contact == Some(false)));
    assert!(lost.iter().all(|x| x.quantity != Quantity::RrIntervalMs));
    assert!(
        chest
            .iter()
            .filter(|x| x.at < SessionTime::from_secs(60) && x.quantity == Quantity::HeartRateBpm)
            .all(|x| x.contact == Some(true))
    );
    // Every valid heart rate with contact is calm.
    let calm = chest.iter().filter(|x| x.quantity == Quantity::HeartRateBpm && x.contact == Some(true));
    let odd: Vec<(f64, f64)> =
        calm.clone().filter(|x| !(55.0..85.0).contains(&x.value)).map(|x| (x.at.as_secs_f64(), x.value)).collect();
    assert!(odd.is_empty(), "{odd:?}");
    // Dropout: the oximeter is silent 2:30–2:50 although connected.
    let finger_at: Vec<f64> = r
        .samples
        .iter()
        .filter(|x| &*x.device == "finger" && x.quantity == Quantity::Spo2Pct)
        .map(|x| x.at.as_secs_f64())
        .collect();
    assert!(!finger_at.iter().any(|t| (150.0..170.0).contains(t)));
    assert!(finger_at.iter().any(|t| (170.0..172.0).contains(t)));
    // Disconnect and reconnect.
    let links: Vec<(f64, &str)> = r
        .events
        .iter()
        .filter(|(_, d, _)| d.as_deref() == Some("chest"))
        .filter_map(|(at, _, b)| match b {
            EventBody::Connected { .. } => Some((at.as_secs_f64(), "up")),
            EventBody::Disconnected { reason } => {
                assert_eq!(reason.as_deref(), Some("link supervision timeout"));
                Some((at.as_secs_f64(), "down"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(links, vec![(0.0, "up"), (240.0, "down"), (270.0, "up")]);
    assert!(!chest.iter().any(|x| (240.0..270.0).contains(&x.at.as_secs_f64())));
    // NaN temperature: exactly one reading, from the FLOAT special value.
    let nan_core: Vec<&Sample> = r.samples.iter().filter(|x| &*x.device == "core" && x.value.is_nan()).collect();
    assert_eq!(nan_core.len(), 1);
    assert!((330.0..340.0).contains(&nan_core[0].at.as_secs_f64()));
    // The oximeter's 8 s off the finger.
    let nan_finger = r
        .samples
        .iter()
        .filter(|x| &*x.device == "finger" && x.quantity == Quantity::Spo2Pct && x.value.is_nan())
        .count();
    assert_eq!(nan_finger, 8);
    // The malformed payload, at 6:30 on the strap.
    assert_eq!(r.decode_errors.len(), 1);
    assert_eq!(r.decode_errors[0].0.as_secs_f64().floor(), 390.0);
    assert!(r.decode_errors[0].1.starts_with("chest"));
    // Battery 9 % at 7:30.
    let battery = values(&r, "finger", Quantity::BatteryPct, 450, 451);
    assert_eq!(battery, vec![9.0]);
    // No valid SpO2 below 94, no valid core temperature at or above 38.
    assert!(values(&r, "finger", Quantity::Spo2Pct, 0, 600).iter().filter(|v| !v.is_nan()).all(|v| *v >= 95.0));
    assert!(max(&values(&r, "core", Quantity::BodyTemperatureC, 0, 600)) < 37.5);
}

#[test]
fn multi_sensor_straps_share_a_heart_and_the_cuff_spikes_once() {
    let s = simulate::load("multi-sensor").unwrap();
    assert_eq!(
        s.devices.iter().filter(|d| d.profile.offers(vigil::model::Characteristic::HeartRateMeasurement)).count(),
        2
    );
    let r = run(&s);
    let chest_rr = values(&r, "chest", Quantity::RrIntervalMs, 0, 3600);
    let strap_rr = values(&r, "strap2", Quantity::RrIntervalMs, 0, 3600);
    assert!(chest_rr.len() > 3600);
    // Same beats; the straps notify at different phases, so look for a
    // stretch of one strap's sequence in the other's.
    let a: Vec<i64> = chest_rr.iter().map(|v| (v * 1024.0 / 1000.0).round() as i64).collect();
    let b: Vec<i64> = strap_rr.iter().map(|v| (v * 1024.0 / 1000.0).round() as i64).collect();
    let window = &a[100..120];
    assert!(b.windows(20).any(|w| w == window), "the second strap sees the same RR sequence");
    // The generic strap does not report contact, and sends energy.
    assert!(r.samples.iter().filter(|x| &*x.device == "strap2").all(|x| x.contact.is_none()));
    assert!(!values(&r, "strap2", Quantity::EnergyExpendedKj, 0, 3600).is_empty());
    let sys = values(&r, "cuff", Quantity::SystolicMmhg, 0, 3600);
    assert_eq!(sys.len(), 4, "{sys:?}");
    assert_eq!(sys.iter().filter(|v| **v > 160.0).count(), 1, "{sys:?}");
    assert!(sys.iter().all(|v| *v < 180.0));
    assert!(sys[2] > 160.0, "the 0:35 reading");
}

#[test]
fn same_seed_same_batches_other_seed_other_noise() {
    let s = simulate::load("flaky-sensor").unwrap();
    let a: Vec<Batch> = s.batches(5).collect();
    let b: Vec<Batch> = s.batches(5).collect();
    assert_eq!(a, b);
    let c: Vec<Batch> = s.batches(6).collect();
    assert_ne!(a, c);
    // The script (connections, markers, faults) does not depend on the seed.
    let shape = |v: &[Batch]| -> Vec<(SessionTime, bool)> {
        v.iter()
            .flat_map(|b| b.events.iter())
            .filter(|e| !matches!(e.body, EventBody::Notification { .. }))
            .map(|e| (e.at, e.device.is_some()))
            .collect()
    };
    assert_eq!(shape(&a), shape(&c));
}
