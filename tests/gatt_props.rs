//! Properties of the GATT decoders and encoders:
//! - arbitrary bytes never make a decoder (or `samples`) panic, and every
//!   payload that decodes encodes back to exactly the same bytes;
//! - every valid typed value survives encode → decode unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use proptest::prelude::*;
use vigil::gatt::blood_pressure::{BloodPressureStatus, PressureUnit};
use vigil::gatt::health_thermometer::{TemperatureType, TemperatureUnit};
use vigil::gatt::heart_rate::{HeartRateFormat, RrIntervals, SensorContact};
use vigil::gatt::plx::{PlxDeviceStatus, PlxMeasurementStatus, SpO2Pr};
use vigil::gatt::{
    BatteryLevel, BloodPressureMeasurement, DateTime, EnvironmentalTemperature, FloatValue, HeartRateMeasurement,
    Measurement, PlxContinuous, SFloat, TemperatureMeasurement, decode, decode_json, decode_samples,
};
use vigil::model::{Characteristic, DeviceLabel, PAYLOAD_INLINE, Quantity, Sample, SessionTime};

const DECODED: [Characteristic; 7] = [
    Characteristic::HeartRateMeasurement,
    Characteristic::TemperatureMeasurement,
    Characteristic::IntermediateTemperature,
    Characteristic::Temperature,
    Characteristic::BloodPressureMeasurement,
    Characteristic::PlxContinuousMeasurement,
    Characteristic::BatteryLevel,
];

fn characteristic() -> impl Strategy<Value = Characteristic> {
    prop_oneof![proptest::sample::select(DECODED.to_vec()), any::<u16>().prop_map(Characteristic::from_u16),]
}

fn float_value() -> impl Strategy<Value = FloatValue> {
    any::<u32>().prop_map(FloatValue::from_bits)
}

fn sfloat() -> impl Strategy<Value = SFloat> {
    any::<u16>().prop_map(SFloat::from_bits)
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (any::<u16>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
        .prop_map(|(year, month, day, hours, minutes, seconds)| DateTime { year, month, day, hours, minutes, seconds })
}

fn heart_rate() -> impl Strategy<Value = HeartRateMeasurement> {
    (
        prop_oneof![
            (0u16..=255).prop_map(|v| (v, HeartRateFormat::U8)),
            any::<u16>().prop_map(|v| (v, HeartRateFormat::U16)),
        ],
        prop_oneof![Just(SensorContact::NotSupported), Just(SensorContact::NotDetected), Just(SensorContact::Detected)],
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(any::<u16>(), 0..=12),
        any::<u8>(),
    )
        .prop_map(|((bpm, format), contact, energy, rr, bits)| {
            let allowed = if contact == SensorContact::NotSupported { 0xE2 } else { 0xE0 };
            HeartRateMeasurement {
                heart_rate_bpm: bpm,
                format,
                sensor_contact: contact,
                energy_expended_kj: energy,
                rr_intervals_1024: RrIntervals::from_vec(rr),
                other_flag_bits: bits & allowed,
            }
        })
}

fn temperature_type() -> impl Strategy<Value = TemperatureType> {
    // from_u8 is the only way a decoder makes one, so it is the valid set.
    any::<u8>().prop_map(TemperatureType::from_u8)
}

fn temperature() -> impl Strategy<Value = TemperatureMeasurement> {
    (
        any::<bool>(),
        any::<bool>(),
        float_value(),
        proptest::option::of(date_time()),
        proptest::option::of(temperature_type()),
        any::<u8>(),
    )
        .prop_map(|(intermediate, fahrenheit, temperature, timestamp, temperature_type, bits)| {
            TemperatureMeasurement {
                intermediate,
                unit: if fahrenheit { TemperatureUnit::Fahrenheit } else { TemperatureUnit::Celsius },
                temperature,
                timestamp,
                temperature_type,
                other_flag_bits: bits & 0xF8,
            }
        })
}

fn blood_pressure() -> impl Strategy<Value = BloodPressureMeasurement> {
    (
        any::<bool>(),
        (sfloat(), sfloat(), sfloat()),
        proptest::option::of(date_time()),
        proptest::option::of(sfloat()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u16>().prop_map(BloodPressureStatus::from_bits)),
        any::<u8>(),
    )
        .prop_map(|(kpa, (systolic, diastolic, mean_arterial), timestamp, pulse, user_id, status, bits)| {
            BloodPressureMeasurement {
                unit: if kpa { PressureUnit::Kpa } else { PressureUnit::Mmhg },
                systolic,
                diastolic,
                mean_arterial,
                timestamp,
                pulse_rate_bpm: pulse,
                user_id,
                status,
                other_flag_bits: bits & 0xE0,
            }
        })
}

fn spo2_pr() -> impl Strategy<Value = SpO2Pr> {
    (sfloat(), sfloat()).prop_map(|(spo2_pct, pulse_rate_bpm)| SpO2Pr { spo2_pct, pulse_rate_bpm })
}

fn plx() -> impl Strategy<Value = PlxContinuous> {
    (
        spo2_pr(),
        proptest::option::of(spo2_pr()),
        proptest::option::of(spo2_pr()),
        proptest::option::of(any::<u16>().prop_map(PlxMeasurementStatus::from_bits)),
        proptest::option::of((0u32..1 << 24).prop_map(PlxDeviceStatus::from_bits)),
        proptest::option::of(sfloat()),
        any::<u8>(),
    )
        .prop_map(|(normal, fast, slow, measurement_status, device_and_sensor_status, pai, bits)| PlxContinuous {
            spo2_pct: normal.spo2_pct,
            pulse_rate_bpm: normal.pulse_rate_bpm,
            fast,
            slow,
            measurement_status,
            device_and_sensor_status,
            pulse_amplitude_index_pct: pai,
            other_flag_bits: bits & 0xE0,
        })
}

fn measurement() -> impl Strategy<Value = Measurement> {
    prop_oneof![
        heart_rate().prop_map(Measurement::HeartRate),
        temperature().prop_map(Measurement::Temperature),
        any::<i16>()
            .prop_map(|t| Measurement::EnvironmentalTemperature(EnvironmentalTemperature { temperature_centi_c: t })),
        blood_pressure().prop_map(Measurement::BloodPressure),
        plx().prop_map(Measurement::Plx),
        (0u8..=100).prop_map(|level_pct| Measurement::Battery(BatteryLevel { level_pct })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic_and_what_decodes_encodes_back(
        c in characteristic(),
        payload in proptest::collection::vec(any::<u8>(), 0..=64),
    ) {
        let device: DeviceLabel = DeviceLabel::from("prop");
        match decode(c, &payload) {
            Ok(m) => {
                prop_assert_eq!(m.characteristic(), c);
                let encoded = m.encode();
                prop_assert_eq!(encoded.as_slice(), payload.as_slice());
                prop_assert!(payload.len() > PAYLOAD_INLINE || !encoded.spilled());
                if let Measurement::HeartRate(hr) = &m {
                    // A notification within the default ATT MTU never allocates.
                    prop_assert!(payload.len() > 20 || !hr.rr_intervals_1024.spilled());
                }
                let mut out = Vec::new();
                m.samples(SessionTime::from_secs(1), &device, Quantity::SkinTemperatureC, &mut out);
                prop_assert!(!out.is_empty());
                prop_assert!(out.iter().all(|s| s.at <= SessionTime::from_secs(1)));
                prop_assert!(decode_json(c, &payload).is_ok());
            }
            Err(e) => {
                prop_assert_eq!(e.characteristic(), c);
                // Formatting the error must not panic either.
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Payloads that start with a plausible flags byte reach deeper than
    /// uniform random bytes, which mostly fail the length check.
    #[test]
    fn flagged_payloads_never_panic(
        c in proptest::sample::select(DECODED.to_vec()),
        flags in 0u8..0x20,
        rest in proptest::collection::vec(any::<u8>(), 0..=24),
    ) {
        let mut payload = vec![flags];
        payload.extend(rest);
        if let Ok(m) = decode(c, &payload) {
            let encoded = m.encode();
            prop_assert_eq!(encoded.as_slice(), payload.as_slice());
        }
    }

    /// The pipeline's fused call gives what the two steps give, bit for bit
    /// (NaN included), and pushes nothing when the payload is rejected.
    #[test]
    fn decode_samples_is_decode_then_samples(
        c in prop_oneof![proptest::sample::select(DECODED.to_vec()), characteristic()],
        flags in 0u8..0x20,
        rest in proptest::collection::vec(any::<u8>(), 0..=24),
        env in prop_oneof![Just(Quantity::SkinTemperatureC), Just(Quantity::AmbientTemperatureC)],
    ) {
        let mut payload = vec![flags];
        payload.extend(rest);
        let device: DeviceLabel = DeviceLabel::from("prop");
        let at = SessionTime::from_secs(7);
        let key = |s: &Sample| (s.at, s.quantity, s.value.to_bits(), s.contact, s.device_time_ns, s.device.clone());
        let mut two_steps = Vec::new();
        let expected = decode(c, &payload).map(|m| m.samples(at, &device, env, &mut two_steps));
        let mut fused = vec![Sample {
            at,
            device: device.clone(),
            quantity: Quantity::BatteryPct,
            value: 1.0,
            contact: None,
            device_time_ns: None,
        }];
        let got = decode_samples(c, &payload, at, &device, env, &mut fused);
        prop_assert_eq!(got, expected);
        prop_assert_eq!(fused.len(), two_steps.len() + 1, "kept what was there and appended");
        let fused: Vec<_> = fused[1..].iter().map(key).collect();
        let two_steps: Vec<_> = two_steps.iter().map(key).collect();
        prop_assert_eq!(fused, two_steps);
    }

    /// PLX payloads of exactly the length their flags announce, so that
    /// the status words (and the samples they disown) are reached every time.
    #[test]
    fn plx_decode_samples_is_decode_then_samples(
        payload in (0u8..=0xFF).prop_flat_map(|flags| {
            let has = |bit: u8| usize::from(flags & bit != 0);
            let len = 4 + 4 * has(0x01) + 4 * has(0x02) + 2 * has(0x04) + 3 * has(0x08) + 2 * has(0x10);
            proptest::collection::vec(any::<u8>(), len).prop_map(move |rest| {
                let mut payload = vec![flags];
                payload.extend(rest);
                payload
            })
        }),
    ) {
        let c = Characteristic::PlxContinuousMeasurement;
        let device: DeviceLabel = DeviceLabel::from("prop");
        let at = SessionTime::from_secs(7);
        let key = |s: &Sample| (s.at, s.quantity, s.value.to_bits(), s.contact, s.device_time_ns);
        let mut two_steps = Vec::new();
        decode(c, &payload).unwrap().samples(at, &device, Quantity::SkinTemperatureC, &mut two_steps);
        let mut fused = Vec::new();
        decode_samples(c, &payload, at, &device, Quantity::SkinTemperatureC, &mut fused).unwrap();
        prop_assert_eq!(fused.iter().map(key).collect::<Vec<_>>(), two_steps.iter().map(key).collect::<Vec<_>>());
    }

    #[test]
    fn encode_then_decode_round_trips(m in measurement()) {
        let payload = m.encode();
        let back = decode(m.characteristic(), &payload);
        prop_assert_eq!(back, Ok(m));
    }

    #[test]
    fn float_from_f64_is_within_half_a_step(value in -8e6f64..8e6, exponent in -3i8..=3) {
        let step = 10f64.powi(i32::from(exponent));
        match FloatValue::from_f64(value, exponent) {
            Some(f) => {
                let back = f.to_f64().unwrap();
                prop_assert!((back - value).abs() <= step / 2.0 + step * 1e-9, "{} -> {}", value, back);
            }
            // Only when the mantissa does not fit 24 bits or hits a special word.
            None => prop_assert!((value / step).abs() >= 8_388_605.0 - 1.0),
        }
    }

    #[test]
    fn sfloat_from_f64_is_within_half_a_step(value in -2000f64..2000.0, exponent in -2i8..=2) {
        let step = 10f64.powi(i32::from(exponent));
        match SFloat::from_f64(value, exponent) {
            Some(f) => {
                let back = f.to_f64().unwrap();
                prop_assert!((back - value).abs() <= step / 2.0 + step * 1e-9, "{} -> {}", value, back);
            }
            None => prop_assert!((value / step).abs() >= 2045.0 - 1.0),
        }
    }
}
