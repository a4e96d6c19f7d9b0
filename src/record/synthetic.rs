//! A deterministic synthetic session for tests, benches and the kill-test
//! writer: per device, a heart-rate notification (1 Hz, with one RR
//! interval) and a body-temperature notification (1 Hz), with the samples
//! the decoders would make of them, plus connections, a dose marker and a
//! few alarms. A stand-in until the simulator's `mdma-session` is merged; it
//! writes real GATT payloads, so it exercises the same columns.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    AlarmEvent, AlarmState, Characteristic, Condition, ConnectionChange, DeviceLabel, EventBody, Marker, MarkerKind,
    OperatorAction, OutputEvent, Priority, Quantity, Sample, SessionTime, SourceEvent,
};

/// One second of a synthetic session, as the pipeline would hand it to the
/// recorder.
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    pub events: Vec<SourceEvent>,
    pub samples: Vec<Sample>,
    pub output: Vec<OutputEvent>,
}

/// Seconds `[0, seconds)` of a session with `devices` chest straps.
pub fn session(devices: usize, seconds: u64, seed: u64) -> impl Iterator<Item = Second> {
    let labels: Vec<DeviceLabel> = (0..devices).map(|i| DeviceLabel::from(format!("dev{i}"))).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hr: Vec<f64> = (0..devices).map(|_| rng.random_range(60.0..80.0)).collect();
    let mut temp: Vec<i32> = vec![3680; devices];
    (0..seconds).map(move |s| {
        let mut out = Second { events: Vec::new(), samples: Vec::new(), output: Vec::new() };
        for (i, label) in labels.iter().enumerate() {
            // Devices notify out of phase, as real ones do.
            let at = SessionTime(s * 1_000_000_000 + i as u64 * 250_000_000);
            if s == 0 {
                let (name, address) = (Some(format!("Strap {i}")), Some(format!("A0:9E:1A:00:00:{i:02X}")));
                out.events.push(SourceEvent {
                    at,
                    device: Some(label.clone()),
                    body: EventBody::Connected {
                        name: name.clone(),
                        address: address.clone(),
                        services: vec![0x180D, 0x1809],
                    },
                });
                out.output.push(OutputEvent::Connection {
                    at,
                    device: label.clone(),
                    change: ConnectionChange::Connected { name, address, services: vec![0x180D, 0x1809] },
                });
            }
            // Heart rate: a bounded random walk that rises after the dose.
            let target = if s > 3600 && s < 3 * 3600 { 115.0 } else { 70.0 };
            hr[i] = (hr[i] + rng.random_range(-1.5..1.5) + (target - hr[i]) * 0.002).clamp(40.0, 180.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let bpm = hr[i].round() as u8;
            let rr = (60.0 * 1024.0 / f64::from(bpm)).round() as u16;
            let rr_bytes = rr.to_le_bytes();
            out.events.push(SourceEvent::notification(
                at,
                label.clone(),
                Characteristic::HeartRateMeasurement,
                &[0x16, bpm, rr_bytes[0], rr_bytes[1]],
            ));
            out.samples.push(sample(at, label, Quantity::HeartRateBpm, f64::from(bpm), Some(true)));
            out.samples.push(sample(at, label, Quantity::RrIntervalMs, f64::from(rr) * 1000.0 / 1024.0, Some(true)));
            // Temperature in 0.01 °C steps (IEEE-11073 FLOAT, exponent −2).
            if rng.random_bool(0.05) {
                temp[i] = (temp[i] + rng.random_range(-2..=2) + i32::from(s > 3600 && s < 4 * 3600)).clamp(3500, 4100);
            }
            let m = temp[i].to_le_bytes();
            out.events.push(SourceEvent::notification(
                at,
                label.clone(),
                Characteristic::TemperatureMeasurement,
                &[0x00, m[0], m[1], m[2], 0xFE],
            ));
            out.samples.push(sample(at, label, Quantity::BodyTemperatureC, f64::from(temp[i]) / 100.0, None));
            if s > 0 && s % 1800 == 0 {
                out.output.push(OutputEvent::Alarm(AlarmEvent {
                    at,
                    condition: Condition::HrHigh,
                    device: Some(label.clone()),
                    priority: Priority::Low,
                    state: AlarmState::Active,
                    value: Some(hr[i].round()),
                }));
            }
            if s > 0 && s % 1800 == 120 {
                out.output.push(OutputEvent::Alarm(AlarmEvent {
                    at,
                    condition: Condition::HrHigh,
                    device: Some(label.clone()),
                    priority: Priority::Low,
                    state: AlarmState::Cleared,
                    value: None,
                }));
            }
        }
        if s == 600 {
            let action = OperatorAction::Marker(Marker {
                label: "dose 120 mg".into(),
                kind: Some(MarkerKind::Dose),
                amount_mg: Some(120.0),
            });
            let at = SessionTime::from_secs(s);
            out.events.push(SourceEvent { at, device: None, body: EventBody::Operator(action.clone()) });
            out.output.push(OutputEvent::Operator { at, action });
        }
        if s == 2 * 3600 {
            out.output.push(OutputEvent::Gap { at: SessionTime::from_secs(s), duration: Duration::from_millis(2500) });
        }
        out.events.sort_by_key(|e| e.at);
        out.output.sort_by_key(OutputEvent::at);
        out
    })
}

fn sample(at: SessionTime, device: &DeviceLabel, quantity: Quantity, value: f64, contact: Option<bool>) -> Sample {
    Sample { at, device: device.clone(), quantity, value, contact, device_time_ns: None }
}
