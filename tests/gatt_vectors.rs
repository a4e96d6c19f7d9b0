//! Known payloads for every characteristic vigil decodes: the typed result,
//! the samples it gives, the byte-exact encoding back, and the errors for
//! payloads that break the format.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use vigil::gatt::blood_pressure::{PressureUnit, PulseRateRange};
use vigil::gatt::health_thermometer::{TemperatureType, TemperatureUnit};
use vigil::gatt::heart_rate::{HeartRateFormat, SensorContact};
use vigil::gatt::{DecodeError, FloatValue, Measurement, SFloat, decode, decode_json};
use vigil::model::{Characteristic, DeviceLabel, Quantity, Sample, SessionTime};

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.replace(' ', "")).unwrap_or_else(|e| panic!("{hex_text}: {e}"))
}

fn device() -> DeviceLabel {
    DeviceLabel::from("chest")
}

/// Decode, check the payload encodes back byte for byte, and return it.
fn decoded(c: Characteristic, hex_text: &str) -> Measurement {
    let payload = bytes(hex_text);
    let m = decode(c, &payload).unwrap_or_else(|e| panic!("{hex_text}: {e}"));
    assert_eq!(m.characteristic(), c);
    assert_eq!(m.encode().as_slice(), payload.as_slice(), "{hex_text} does not encode back");
    m
}

fn samples_at(m: &Measurement, at: SessionTime, env: Quantity) -> Vec<Sample> {
    let mut out = Vec::new();
    m.samples(at, &device(), env, &mut out);
    out
}

fn samples(m: &Measurement) -> Vec<Sample> {
    samples_at(m, SessionTime::from_secs(10), Quantity::AmbientTemperatureC)
}

fn quantities(s: &[Sample]) -> Vec<Quantity> {
    s.iter().map(|s| s.quantity).collect()
}

fn heart_rate(hex_text: &str) -> vigil::gatt::HeartRateMeasurement {
    match decoded(Characteristic::HeartRateMeasurement, hex_text) {
        Measurement::HeartRate(m) => m,
        other => panic!("{other:?}"),
    }
}

// ---- Heart Rate Measurement 0x2A37 ----

#[test]
fn hr_u8_with_contact_detected() {
    let m = heart_rate("06 3C");
    assert_eq!(m.heart_rate_bpm, 60);
    assert_eq!(m.format, HeartRateFormat::U8);
    assert_eq!(m.sensor_contact, SensorContact::Detected);
    assert_eq!(m.energy_expended_kj, None);
    assert!(m.rr_intervals_1024.is_empty());

    let s = samples(&Measurement::HeartRate(m));
    assert_eq!(quantities(&s), [Quantity::HeartRateBpm]);
    assert_eq!(s[0].value, 60.0);
    assert_eq!(s[0].contact, Some(true));
    assert_eq!(s[0].at, SessionTime::from_secs(10));
    assert_eq!(&*s[0].device, "chest");
}

#[test]
fn hr_with_one_rr_interval() {
    let m = heart_rate("16 3C 11 04");
    assert_eq!(m.heart_rate_bpm, 60);
    assert_eq!(m.sensor_contact, SensorContact::Detected);
    assert_eq!(m.rr_intervals_1024.as_slice(), [1041]);

    let s = samples(&Measurement::HeartRate(m));
    assert_eq!(quantities(&s), [Quantity::HeartRateBpm, Quantity::RrIntervalMs]);
    // 1041/1024 s = 1016.6015625 ms, the last (only) beat at the notification time.
    assert_eq!(s[1].value, 1041.0 * 1000.0 / 1024.0);
    assert!((s[1].value - 1016.6).abs() < 0.01);
    assert_eq!(s[1].at, SessionTime::from_secs(10));
    assert_eq!(s[1].contact, Some(true));
}

#[test]
fn hr_u16_zero_with_energy_expended() {
    let m = heart_rate("09 00 00 FF FF");
    assert_eq!(m.heart_rate_bpm, 0);
    assert_eq!(m.format, HeartRateFormat::U16);
    assert_eq!(m.sensor_contact, SensorContact::NotSupported);
    assert_eq!(m.energy_expended_kj, Some(65535));

    let s = samples(&Measurement::HeartRate(m));
    assert_eq!(quantities(&s), [Quantity::HeartRateBpm, Quantity::EnergyExpendedKj]);
    assert_eq!(s[0].value, 0.0);
    assert_eq!(s[1].value, 65535.0);
    assert!(s.iter().all(|s| s.contact.is_none()), "contact not supported gives None");
}

#[test]
fn hr_contact_not_detected_and_reserved_bits_survive() {
    let m = heart_rate("04 48");
    assert_eq!(m.sensor_contact, SensorContact::NotDetected);
    assert_eq!(samples(&Measurement::HeartRate(m))[0].contact, Some(false));
    // Bit 1 without bit 2 means "not supported"; reserved bits 5–7 set.
    let m = heart_rate("E2 48");
    assert_eq!(m.sensor_contact, SensorContact::NotSupported);
    assert_eq!(m.other_flag_bits, 0xE2);
}

#[test]
fn rr_intervals_are_stamped_backwards_from_the_notification() {
    // u16 HR 70, energy 12 kJ, RR 1024, 512, 768 (1 s, 0.5 s, 0.75 s), oldest first.
    let m = heart_rate("19 46 00 0C 00 00 04 00 02 00 03");
    assert_eq!(m.rr_intervals_1024.as_slice(), [1024, 512, 768]);
    let m = Measurement::HeartRate(m);

    let s = samples(&m);
    assert_eq!(
        quantities(&s),
        [
            Quantity::HeartRateBpm,
            Quantity::RrIntervalMs,
            Quantity::RrIntervalMs,
            Quantity::RrIntervalMs,
            Quantity::EnergyExpendedKj
        ]
    );
    let rr: Vec<(u64, f64)> = s[1..4].iter().map(|s| (s.at.as_millis(), s.value)).collect();
    assert_eq!(rr, [(8750, 1000.0), (9250, 500.0), (10_000, 750.0)]);

    // Near the session start the earlier beats saturate at 0.
    let s = samples_at(&m, SessionTime::from_millis(600), Quantity::AmbientTemperatureC);
    let at: Vec<u64> = s[1..4].iter().map(|s| s.at.as_millis()).collect();
    assert_eq!(at, [0, 0, 600]);
}

#[test]
fn hr_nine_rr_intervals_fill_a_20_byte_payload() {
    let m = heart_rate("10 50 01 04 02 04 03 04 04 04 05 04 06 04 07 04 08 04 09 04");
    assert_eq!(m.rr_intervals_1024.len(), 9);
    assert!(!m.rr_intervals_1024.spilled(), "a 20-byte payload must not allocate");
}

#[test]
fn hr_malformed_payloads_say_what_and_where() {
    let c = Characteristic::HeartRateMeasurement;
    let err = |hex_text: &str| decode(c, &bytes(hex_text)).unwrap_err();

    assert_eq!(err(""), DecodeError::TooShort { characteristic: c, flags: None, needed: 2, got: 0 });
    let e = err("16");
    assert_eq!(e, DecodeError::TooShort { characteristic: c, flags: Some(0x16), needed: 4, got: 1 });
    assert_eq!(e.to_string(), "2a37: payload is 1 byte, flags 0x16 need at least 4");
    // RR flagged but empty.
    assert!(matches!(err("10 3C"), DecodeError::TooShort { needed: 4, got: 2, .. }));
    // u16 format, energy: 5 bytes needed.
    assert!(matches!(err("09 00 00 FF"), DecodeError::TooShort { needed: 5, got: 4, .. }));
    // Odd RR field.
    let e = err("10 3C 11 04 01");
    assert_eq!(e, DecodeError::OddRrBytes { offset: 2, len: 3 });
    assert_eq!(e.offset(), Some(4));
    assert!(e.to_string().contains("not whole u16"), "{e}");
    // Extra bytes without the RR flag.
    let e = err("06 3C 00");
    assert_eq!(e, DecodeError::TrailingBytes { characteristic: c, flags: Some(0x06), expected: 2, got: 3 });
    assert_eq!(e.offset(), Some(2));
}

// ---- Temperature Measurement 0x2A1C / Intermediate Temperature 0x2A1E ----

fn temperature(c: Characteristic, hex_text: &str) -> vigil::gatt::TemperatureMeasurement {
    match decoded(c, hex_text) {
        Measurement::Temperature(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn thermometer_spec_vector_with_time_stamp_and_type() {
    let m = temperature(Characteristic::TemperatureMeasurement, "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04");
    assert!(!m.intermediate);
    assert_eq!(m.unit, TemperatureUnit::Celsius);
    assert_eq!(m.temperature, FloatValue::Finite { mantissa: 3760, exponent: -2 });
    assert_eq!(m.celsius(), Some(37.6));
    let t = m.timestamp.unwrap();
    assert_eq!((t.year, t.month, t.day, t.hours, t.minutes, t.seconds), (2012, 12, 5, 11, 50, 27));
    assert_eq!(m.temperature_type, Some(TemperatureType::Finger));

    let s = samples(&Measurement::Temperature(m));
    assert_eq!(quantities(&s), [Quantity::BodyTemperatureC]);
    assert_eq!(s[0].value, 37.6);
    // 2012-12-05T11:50:27Z
    assert_eq!(s[0].device_time_ns, Some(1_354_708_227_000_000_000));
    assert_eq!(s[0].contact, None);
}

#[test]
fn thermometer_fahrenheit_is_converted_to_celsius() {
    // 98.6 °F = 986 × 10^-1, no time stamp, no type.
    let m = temperature(Characteristic::TemperatureMeasurement, "01 DA 03 00 FF");
    assert_eq!(m.unit, TemperatureUnit::Fahrenheit);
    assert_eq!(m.temperature.to_f64(), Some(98.6));
    let s = samples(&Measurement::Temperature(m));
    assert!((s[0].value - 37.0).abs() < 1e-9, "{}", s[0].value);
    assert_eq!(s[0].device_time_ns, None);
}

#[test]
fn intermediate_temperature_is_marked_and_encodes_as_2a1e() {
    let m = temperature(Characteristic::IntermediateTemperature, "04 6E 01 00 FF 02");
    assert!(m.intermediate);
    assert_eq!(m.celsius(), Some(36.6));
    assert_eq!(m.temperature_type, Some(TemperatureType::Body));
    assert_eq!(Measurement::Temperature(m).characteristic(), Characteristic::IntermediateTemperature);
}

#[test]
fn float_special_values_are_not_numbers() {
    for (hex_text, special) in [
        ("FF FF 7F 00", FloatValue::NaN),
        ("00 00 80 00", FloatValue::NRes),
        ("FE FF 7F 00", FloatValue::PositiveInfinity),
        ("02 00 80 00", FloatValue::NegativeInfinity),
        ("01 00 80 00", FloatValue::Reserved),
    ] {
        for unit_flag in ["00", "01"] {
            let m = temperature(Characteristic::TemperatureMeasurement, &format!("{unit_flag} {hex_text}"));
            assert_eq!(m.temperature, special);
            assert_eq!(m.temperature.to_f64(), None);
            assert_eq!(m.celsius(), None);
            let s = samples(&Measurement::Temperature(m));
            assert_eq!(quantities(&s), [Quantity::BodyTemperatureC]);
            assert!(s[0].value.is_nan(), "{hex_text}: {}", s[0].value);
        }
    }
    // The JSON shows the special by name.
    let j = decode_json(Characteristic::TemperatureMeasurement, &bytes("00 FF FF 7F 00")).unwrap();
    assert_eq!(j["temperature"], "NaN");
    assert_eq!(j["samples"]["body_temperature_c"], serde_json::Value::Null);
}

#[test]
fn impossible_but_well_formed_temperature_decodes_as_it_is() {
    // 250.0 °C
    let m = temperature(Characteristic::TemperatureMeasurement, "00 C4 09 00 FF");
    assert_eq!(m.celsius(), Some(250.0));
}

#[test]
fn reserved_temperature_type_and_invalid_time_stamp() {
    let m = temperature(Characteristic::TemperatureMeasurement, "04 6E 01 00 FF 00");
    assert_eq!(m.temperature_type, Some(TemperatureType::Unknown(0)));
    let m = temperature(Characteristic::TemperatureMeasurement, "04 6E 01 00 FF 0A");
    assert_eq!(m.temperature_type, Some(TemperatureType::Unknown(10)));
    // Year 0 = "not known": the sample keeps its value and has no device time.
    let m = temperature(Characteristic::TemperatureMeasurement, "02 6E 01 00 FF 00 00 0C 05 0B 32 1B");
    let s = samples(&Measurement::Temperature(m));
    assert_eq!(s[0].value, 36.6);
    assert_eq!(s[0].device_time_ns, None);
}

#[test]
fn thermometer_malformed_payloads() {
    let c = Characteristic::TemperatureMeasurement;
    let e = decode(c, &bytes("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B")).unwrap_err();
    assert_eq!(e, DecodeError::TooShort { characteristic: c, flags: Some(0x06), needed: 13, got: 12 });
    let e = decode(c, &bytes("00 B0 0E 00 FE 04")).unwrap_err();
    assert_eq!(e, DecodeError::TrailingBytes { characteristic: c, flags: Some(0), expected: 5, got: 6 });
    assert_eq!(e.to_string(), "2a1c: payload is 6 bytes, flags 0x00 give 5; unexpected byte from offset 5");
    let e = decode(Characteristic::IntermediateTemperature, &bytes("00 B0")).unwrap_err();
    assert_eq!(e.characteristic(), Characteristic::IntermediateTemperature);
}

// ---- Temperature 0x2A6E (Environmental Sensing) ----

#[test]
fn environmental_temperature_by_device_profile() {
    let m = decoded(Characteristic::Temperature, "66 08");
    let Measurement::EnvironmentalTemperature(t) = &m else { panic!("{m:?}") };
    assert_eq!(t.temperature_centi_c, 2150);
    let s = samples(&m);
    assert_eq!(quantities(&s), [Quantity::AmbientTemperatureC]);
    assert_eq!(s[0].value, 21.5);
    let s = samples_at(&m, SessionTime::ZERO, Quantity::SkinTemperatureC);
    assert_eq!(quantities(&s), [Quantity::SkinTemperatureC]);

    let m = decoded(Characteristic::Temperature, "18 FC");
    assert_eq!(samples(&m)[0].value, -10.0);
}

#[test]
fn environmental_0x8000_is_unknown() {
    let m = decoded(Characteristic::Temperature, "00 80");
    let Measurement::EnvironmentalTemperature(t) = &m else { panic!("{m:?}") };
    assert_eq!(t.celsius(), None);
    assert!(samples(&m)[0].value.is_nan());
    assert!(matches!(
        decode(Characteristic::Temperature, &[0x66]),
        Err(DecodeError::TooShort { needed: 2, got: 1, .. })
    ));
}

// ---- Blood Pressure Measurement 0x2A35 ----

fn blood_pressure(hex_text: &str) -> vigil::gatt::BloodPressureMeasurement {
    match decoded(Characteristic::BloodPressureMeasurement, hex_text) {
        Measurement::BloodPressure(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn bp_mmhg_with_time_stamp_pulse_user_and_status() {
    // 120/80 MAP 93 mmHg, 2024-03-01 10:20:30, pulse 72, user 1,
    // status: body movement + pulse above upper limit.
    let m = blood_pressure("1E 78 00 50 00 5D 00 E8 07 03 01 0A 14 1E 48 00 01 09 00");
    assert_eq!(m.unit, PressureUnit::Mmhg);
    assert_eq!(m.systolic.to_f64(), Some(120.0));
    assert_eq!(m.diastolic.to_f64(), Some(80.0));
    assert_eq!(m.mean_arterial.to_f64(), Some(93.0));
    assert_eq!(m.pulse_rate_bpm.and_then(SFloat::to_f64), Some(72.0));
    assert_eq!(m.user_id, Some(1));
    let status = m.status.unwrap();
    assert!(status.body_movement);
    assert!(!status.cuff_too_loose && !status.irregular_pulse && !status.improper_position);
    assert_eq!(status.pulse_rate_range, PulseRateRange::ExceedsUpperLimit);

    let s = samples(&Measurement::BloodPressure(m));
    assert_eq!(
        quantities(&s),
        [Quantity::SystolicMmhg, Quantity::DiastolicMmhg, Quantity::MapMmhg, Quantity::PulseRateBpm]
    );
    let values: Vec<f64> = s.iter().map(|s| s.value).collect();
    assert_eq!(values, [120.0, 80.0, 93.0, 72.0]);
    // 2024-03-01T10:20:30Z on every sample of the reading.
    assert!(s.iter().all(|s| s.device_time_ns == Some(1_709_288_430_000_000_000)));
}

#[test]
fn bp_kpa_is_converted_to_mmhg() {
    // 16.0 / 10.7 / 12.5 kPa (mantissa × 10^-1), no optional fields.
    let m = blood_pressure("01 A0 F0 6B F0 7D F0");
    assert_eq!(m.unit, PressureUnit::Kpa);
    assert_eq!(m.systolic.to_f64(), Some(16.0));
    let s = samples(&Measurement::BloodPressure(m));
    assert_eq!(quantities(&s), [Quantity::SystolicMmhg, Quantity::DiastolicMmhg, Quantity::MapMmhg]);
    for (sample, kpa) in s.iter().zip([16.0, 10.7, 12.5]) {
        assert!((sample.value - kpa * 7.50062).abs() < 1e-9, "{}", sample.value);
    }
    assert!((s[0].value - 120.01).abs() < 0.01);
    assert!(s.iter().all(|s| s.device_time_ns.is_none()));
}

#[test]
fn sfloat_special_values_are_not_numbers() {
    for (hex_text, special) in [
        ("FF 07", SFloat::NaN),
        ("00 08", SFloat::NRes),
        ("FE 07", SFloat::PositiveInfinity),
        ("02 08", SFloat::NegativeInfinity),
        ("01 08", SFloat::Reserved),
    ] {
        let m = blood_pressure(&format!("04 {hex_text} 50 00 5D 00 {hex_text}"));
        assert_eq!(m.systolic, special);
        assert_eq!(m.pulse_rate_bpm, Some(special));
        let s = samples(&Measurement::BloodPressure(m));
        assert!(s[0].value.is_nan(), "{hex_text}");
        assert_eq!(s[1].value, 80.0);
        assert!(s[3].value.is_nan(), "{hex_text}");
    }
}

#[test]
fn bp_unknown_user_reserved_range_and_errors() {
    let m = blood_pressure("18 78 00 50 00 5D 00 FF 18 00");
    assert_eq!(m.user_id, Some(255));
    assert_eq!(m.status.unwrap().pulse_rate_range, PulseRateRange::Reserved);
    let c = Characteristic::BloodPressureMeasurement;
    let e = decode(c, &bytes("1E 78 00 50 00 5D 00")).unwrap_err();
    assert_eq!(e, DecodeError::TooShort { characteristic: c, flags: Some(0x1E), needed: 19, got: 7 });
    let e = decode(c, &bytes("00 78 00 50 00 5D 00 00")).unwrap_err();
    assert!(matches!(e, DecodeError::TrailingBytes { expected: 7, got: 8, .. }));
}

// ---- PLX Continuous Measurement 0x2A5F ----

fn plx(hex_text: &str) -> vigil::gatt::PlxContinuous {
    match decoded(Characteristic::PlxContinuousMeasurement, hex_text) {
        Measurement::Plx(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn plx_without_optional_fields() {
    let m = plx("00 61 00 48 00");
    assert_eq!(m.spo2_pct.to_f64(), Some(97.0));
    assert_eq!(m.pulse_rate_bpm.to_f64(), Some(72.0));
    assert!(m.fast.is_none() && m.slow.is_none() && m.measurement_status.is_none());
    assert!(m.device_and_sensor_status.is_none() && m.pulse_amplitude_index_pct.is_none());
    let s = samples(&Measurement::Plx(m));
    assert_eq!(quantities(&s), [Quantity::Spo2Pct, Quantity::PulseRateBpm]);
    assert_eq!((s[0].value, s[1].value), (97.0, 72.0));
}

#[test]
fn plx_with_every_optional_field() {
    // Fast 96/75, slow 98/70, status "validated data", device status
    // "low perfusion", pulse amplitude index 2.5 %.
    let m = plx("1F 61 00 48 00 60 00 4B 00 62 00 46 00 80 00 20 00 00 19 F0");
    let fast = m.fast.unwrap();
    assert_eq!((fast.spo2_pct.to_f64(), fast.pulse_rate_bpm.to_f64()), (Some(96.0), Some(75.0)));
    let slow = m.slow.unwrap();
    assert_eq!((slow.spo2_pct.to_f64(), slow.pulse_rate_bpm.to_f64()), (Some(98.0), Some(70.0)));
    let status = m.measurement_status.unwrap();
    assert!(status.validated_data && !status.invalid_measurement);
    let device = m.device_and_sensor_status.unwrap();
    assert!(device.low_perfusion && !device.sensor_disconnected);
    assert_eq!(m.pulse_amplitude_index_pct.and_then(SFloat::to_f64), Some(2.5));
    // Low perfusion is passed on; only the normal pair becomes samples.
    let s = samples(&Measurement::Plx(m));
    assert_eq!((s[0].value, s[1].value), (97.0, 72.0));
}

#[test]
fn plx_reading_the_oximeter_disowns_is_nan() {
    // Measurement status bit 15: invalid measurement detected.
    let s = samples(&Measurement::Plx(plx("04 61 00 48 00 00 80")));
    assert!(s[0].value.is_nan() && s[1].value.is_nan());
    // Device status bit 15: sensor disconnected.
    let s = samples(&Measurement::Plx(plx("08 61 00 48 00 00 80 00")));
    assert!(s[0].value.is_nan() && s[1].value.is_nan());
    // SFLOAT NaN SpO2 with a valid pulse.
    let s = samples(&Measurement::Plx(plx("00 FF 07 48 00")));
    assert!(s[0].value.is_nan());
    assert_eq!(s[1].value, 72.0);
}

#[test]
fn plx_malformed_payloads() {
    let c = Characteristic::PlxContinuousMeasurement;
    let e = decode(c, &bytes("1F 61 00 48 00")).unwrap_err();
    assert_eq!(e, DecodeError::TooShort { characteristic: c, flags: Some(0x1F), needed: 20, got: 5 });
    assert!(matches!(
        decode(c, &bytes("00 61 00 48 00 00")),
        Err(DecodeError::TrailingBytes { expected: 5, got: 6, .. })
    ));
}

// ---- Battery Level 0x2A19 ----

#[test]
fn battery_level() {
    let m = decoded(Characteristic::BatteryLevel, "55");
    let s = samples(&m);
    assert_eq!(quantities(&s), [Quantity::BatteryPct]);
    assert_eq!(s[0].value, 85.0);
    decoded(Characteristic::BatteryLevel, "00");
    decoded(Characteristic::BatteryLevel, "64");

    let c = Characteristic::BatteryLevel;
    let e = decode(c, &[101]).unwrap_err();
    assert_eq!(e, DecodeError::BadValue { characteristic: c, field: "battery level", offset: 0, value: 101 });
    assert_eq!(e.to_string(), "2a19: battery level 101 at offset 0 is a reserved value");
    assert!(matches!(decode(c, &[]), Err(DecodeError::TooShort { needed: 1, got: 0, .. })));
    assert!(matches!(decode(c, &[50, 0]), Err(DecodeError::TrailingBytes { expected: 1, got: 2, .. })));
}

// ---- dispatch and JSON ----

#[test]
fn other_characteristics_are_unsupported() {
    for c in [Characteristic::Sig16(0x2A29), Characteristic::parse("6e400003-b5a3-f393-e0a9-e50e24dcca9e").unwrap()] {
        assert_eq!(decode(c, &[1, 2, 3]), Err(DecodeError::Unsupported(c)));
        assert_eq!(decode_json(c, &[1]), Err(DecodeError::Unsupported(c)));
    }
}

#[test]
fn decode_json_gives_fields_and_samples() {
    let j = decode_json(Characteristic::HeartRateMeasurement, &bytes("163c1104")).unwrap();
    assert_eq!(j["characteristic"], "2a37");
    assert_eq!(j["name"], "Heart Rate Measurement");
    assert_eq!(j["heart_rate_bpm"], 60);
    assert_eq!(j["sensor_contact"], "detected");
    assert_eq!(j["rr_intervals_1024"], serde_json::json!([1041]));
    assert_eq!(j["samples"]["heart_rate_bpm"], 60.0);
    assert_eq!(j["samples"]["rr_interval_ms"], serde_json::json!([1016.6015625]));

    let j =
        decode_json(Characteristic::TemperatureMeasurement, &bytes("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04")).unwrap();
    assert_eq!(j["temperature"], 37.6);
    assert_eq!(j["unit"], "celsius");
    assert_eq!(j["timestamp"], "2012-12-05T11:50:27");
    assert_eq!(j["temperature_type"], "finger");
    assert_eq!(j["samples"]["body_temperature_c"], 37.6);

    let j = decode_json(Characteristic::PlxContinuousMeasurement, &bytes("04 61 00 48 00 80 00")).unwrap();
    assert_eq!(j["measurement_status"]["validated_data"], true);
    assert_eq!(j["samples"]["spo2_pct"], 97.0);
}
