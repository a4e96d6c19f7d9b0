//! Decoders and encoders for the Bluetooth SIG characteristics vigil reads.
//!
//! | characteristic | module | quantities ([`Measurement::samples`]) |
//! |---|---|---|
//! | Heart Rate Measurement 0x2A37 | [`heart_rate`] | `heart_rate_bpm`, `rr_interval_ms`, `energy_expended_kj` |
//! | Temperature Measurement 0x2A1C, Intermediate Temperature 0x2A1E | [`health_thermometer`] | `body_temperature_c` |
//! | Temperature 0x2A6E (Environmental Sensing) | [`environmental`] | `skin_temperature_c` or `ambient_temperature_c` |
//! | Blood Pressure Measurement 0x2A35 | [`blood_pressure`] | `systolic_mmhg`, `diastolic_mmhg`, `map_mmhg`, `pulse_rate_bpm` |
//! | PLX Continuous Measurement 0x2A5F | [`plx`] | `spo2_pct`, `pulse_rate_bpm` |
//! | Battery Level 0x2A19 | [`battery`] | `battery_pct` |
//! | Polar PMD Data `FB005C82-…` (vendor) | [`pmd`] | none: raw ECG frames, not vitals |
//!
//! Each module's doc gives the byte layout it implements (from the SIG GATT
//! Specification Supplement / the characteristic XML definitions). Shared
//! pieces: [`float`] (IEEE-11073 FLOAT/SFLOAT) and [`time`] (Date Time).
//!
//! # Rules every decoder follows
//!
//! - A payload shorter or longer than its flags say is a [`DecodeError`]
//!   naming the characteristic, the flags and the byte offset. The one
//!   variable-length field is the heart-rate RR list: when its flag is set,
//!   the rest of the payload is RR intervals (an odd byte count is an error);
//!   when it is clear, extra bytes are an error like anywhere else.
//! - A well-formed special FLOAT/SFLOAT (NaN, NRes, ±INF, reserved) decodes
//!   to that special; its sample's value is NaN ("no valid measurement").
//!   A physiologically impossible number decodes as it is.
//! - Reserved enumeration values decode rather than fail where the field
//!   is descriptive (temperature type → [`health_thermometer::TemperatureType::Unknown`],
//!   pulse-rate range 3 → `Reserved`), so one unusual label never drops a
//!   temperature. Battery level 101–255 is a [`DecodeError::BadValue`]: the
//!   field *is* the measurement and those values are not percentages.
//! - Reserved flag and status bits are ignored for meaning but kept
//!   (`other_flag_bits`, `reserved_bits`) so that for every payload that
//!   decodes, `encode` gives back the same bytes.
//! - `decode` and `samples` do not allocate for payloads of up to 20 bytes
//!   (the default ATT MTU); `samples` only pushes onto the caller's `Vec`.

pub mod battery;
pub mod blood_pressure;
pub mod environmental;
pub mod float;
pub mod health_thermometer;
pub mod heart_rate;
pub mod plx;
pub mod pmd;
pub mod time;

use std::fmt;

use serde::Serialize;

pub use self::battery::BatteryLevel;
pub use self::blood_pressure::BloodPressureMeasurement;
pub use self::environmental::EnvironmentalTemperature;
pub use self::float::{FloatValue, SFloat};
pub use self::health_thermometer::TemperatureMeasurement;
pub use self::heart_rate::HeartRateMeasurement;
pub use self::plx::PlxContinuous;
pub use self::time::DateTime;
use crate::model::{Characteristic, DeviceLabel, Payload, Quantity, Sample, SessionTime};

/// A payload that breaks its characteristic's format.
///
/// `Copy` and free of `String`s: it is built on the hot path and only
/// formatted when someone reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ends before the fields its flags announce.
    TooShort {
        characteristic: Characteristic,
        /// The flags byte, for characteristics that have one.
        flags: Option<u8>,
        needed: usize,
        got: usize,
    },
    /// The payload goes on after the last field its flags announce.
    TrailingBytes { characteristic: Characteristic, flags: Option<u8>, expected: usize, got: usize },
    /// The heart-rate RR-interval field (from `offset` to the end) is not a
    /// whole number of u16 values.
    OddRrBytes { offset: usize, len: usize },
    /// A field holds a value the specification reserves.
    BadValue { characteristic: Characteristic, field: &'static str, offset: usize, value: u32 },
    /// Not a characteristic vigil decodes (recorded raw and otherwise ignored).
    Unsupported(Characteristic),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "flags 0x16 need" or "the format needs", so every message reads as one
/// sentence whether or not the characteristic has flags.
struct FlagsSubject(Option<u8>, &'static str);

impl fmt::Display for FlagsSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(flags) => write!(f, "flags 0x{flags:02x} {}", self.1),
            None => write!(f, "the format {}s", self.1),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::TooShort { characteristic, flags, needed, got } => write!(
                f,
                "{characteristic}: payload is {got} byte{}, {} at least {needed}",
                plural(got),
                FlagsSubject(flags, "need")
            ),
            DecodeError::TrailingBytes { characteristic, flags, expected, got } => write!(
                f,
                "{characteristic}: payload is {got} bytes, {} {expected}; unexpected byte{} from offset {expected}",
                FlagsSubject(flags, "give"),
                plural(got - expected.min(got)),
            ),
            DecodeError::OddRrBytes { offset, len } => write!(
                f,
                "{}: RR-interval field at offset {offset} is {len} byte{}, not whole u16 values",
                Characteristic::HeartRateMeasurement,
                plural(len)
            ),
            DecodeError::BadValue { characteristic, field, offset, value } => {
                write!(f, "{characteristic}: {field} {value} at offset {offset} is a reserved value")
            }
            DecodeError::Unsupported(c) => write!(f, "characteristic {c} is not one vigil decodes"),
        }
    }
}

impl DecodeError {
    /// The characteristic whose payload was rejected.
    #[must_use]
    pub const fn characteristic(&self) -> Characteristic {
        match *self {
            DecodeError::TooShort { characteristic, .. }
            | DecodeError::TrailingBytes { characteristic, .. }
            | DecodeError::BadValue { characteristic, .. }
            | DecodeError::Unsupported(characteristic) => characteristic,
            DecodeError::OddRrBytes { .. } => Characteristic::HeartRateMeasurement,
        }
    }

    /// The byte offset where the payload went wrong (`None` for
    /// [`DecodeError::Unsupported`]).
    #[must_use]
    pub const fn offset(&self) -> Option<usize> {
        match *self {
            DecodeError::TooShort { got, .. } => Some(got),
            DecodeError::TrailingBytes { expected, .. } => Some(expected),
            DecodeError::OddRrBytes { offset, len } => Some(offset + len - 1),
            DecodeError::BadValue { offset, .. } => Some(offset),
            DecodeError::Unsupported(_) => None,
        }
    }
}

/// Check a fixed-layout payload against the length its flags give.
pub(crate) fn check_len(
    characteristic: Characteristic,
    flags: Option<u8>,
    payload: &[u8],
    expected: usize,
) -> Result<(), DecodeError> {
    let got = payload.len();
    if got < expected {
        Err(DecodeError::TooShort { characteristic, flags, needed: expected, got })
    } else if got > expected {
        Err(DecodeError::TrailingBytes { characteristic, flags, expected, got })
    } else {
        Ok(())
    }
}

/// The first byte (flags) of a payload, or the "empty payload" error.
pub(crate) fn flags_byte(characteristic: Characteristic, payload: &[u8], needed: usize) -> Result<u8, DecodeError> {
    payload.first().copied().ok_or(DecodeError::TooShort { characteristic, flags: None, needed, got: 0 })
}

/// Little-endian reads at offsets the caller has already checked against
/// the payload length.
pub(crate) fn le_u16(p: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([p[at], p[at + 1]])
}

pub(crate) fn le_u32(p: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

pub(crate) fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One decoded notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measurement {
    HeartRate(HeartRateMeasurement),
    /// 0x2A1C, or 0x2A1E when `intermediate` is set.
    Temperature(TemperatureMeasurement),
    EnvironmentalTemperature(EnvironmentalTemperature),
    BloodPressure(BloodPressureMeasurement),
    Plx(PlxContinuous),
    Battery(BatteryLevel),
    /// Raw ECG from Polar's PMD data characteristic: no vital sample.
    Ecg(pmd::EcgFrame),
}

/// Decode one notification value.
pub fn decode(characteristic: Characteristic, payload: &[u8]) -> Result<Measurement, DecodeError> {
    Ok(match characteristic {
        Characteristic::HeartRateMeasurement => Measurement::HeartRate(heart_rate::decode(payload)?),
        Characteristic::TemperatureMeasurement => Measurement::Temperature(health_thermometer::decode(payload, false)?),
        Characteristic::IntermediateTemperature => Measurement::Temperature(health_thermometer::decode(payload, true)?),
        Characteristic::Temperature => Measurement::EnvironmentalTemperature(environmental::decode(payload)?),
        Characteristic::BloodPressureMeasurement => Measurement::BloodPressure(blood_pressure::decode(payload)?),
        Characteristic::PlxContinuousMeasurement => Measurement::Plx(plx::decode(payload)?),
        Characteristic::BatteryLevel => Measurement::Battery(battery::decode(payload)?),
        Characteristic::Uuid128(pmd::DATA) => Measurement::Ecg(pmd::decode_data(payload)?),
        other @ (Characteristic::Sig16(_) | Characteristic::Uuid128(_)) => {
            return Err(DecodeError::Unsupported(other));
        }
    })
}

/// [`decode`] then [`Measurement::samples`] in one call, for the pipeline's
/// hot path: each characteristic's measurement is built and read in the same
/// function, so the compiler keeps its fields in registers instead of
/// writing a [`Measurement`] (up to ~80 bytes) out and reading it back. On a
/// decode error nothing is pushed onto `out`.
#[inline]
pub fn decode_samples(
    characteristic: Characteristic,
    payload: &[u8],
    at: SessionTime,
    device: &DeviceLabel,
    env_quantity: Quantity,
    out: &mut Vec<Sample>,
) -> Result<(), DecodeError> {
    let mut sink = SampleSink { out, at, device, contact: None, device_time_ns: None };
    match characteristic {
        Characteristic::HeartRateMeasurement => heart_rate::decode_samples(payload, &mut sink)?,
        Characteristic::TemperatureMeasurement => health_thermometer::decode(payload, false)?.samples(&mut sink),
        Characteristic::IntermediateTemperature => health_thermometer::decode(payload, true)?.samples(&mut sink),
        Characteristic::Temperature => environmental::decode(payload)?.samples(env_quantity, &mut sink),
        Characteristic::BloodPressureMeasurement => blood_pressure::decode(payload)?.samples(&mut sink),
        Characteristic::PlxContinuousMeasurement => plx::decode_samples(payload, &mut sink)?,
        Characteristic::BatteryLevel => battery::decode(payload)?.samples(&mut sink),
        // ECG is checked here like any payload, in place (no sample vector):
        // its samples are not vitals.
        Characteristic::Uuid128(pmd::DATA) => {
            pmd::EcgFrameRef::decode(payload)?;
        }
        other @ (Characteristic::Sig16(_) | Characteristic::Uuid128(_)) => {
            return Err(DecodeError::Unsupported(other));
        }
    }
    Ok(())
}

/// The name of a characteristic vigil decodes (SIG, or Polar's PMD).
#[must_use]
pub const fn characteristic_name(c: Characteristic) -> Option<&'static str> {
    Some(match c {
        Characteristic::HeartRateMeasurement => "Heart Rate Measurement",
        Characteristic::TemperatureMeasurement => "Temperature Measurement",
        Characteristic::IntermediateTemperature => "Intermediate Temperature",
        Characteristic::Temperature => "Temperature",
        Characteristic::BloodPressureMeasurement => "Blood Pressure Measurement",
        Characteristic::PlxContinuousMeasurement => "PLX Continuous Measurement",
        Characteristic::BatteryLevel => "Battery Level",
        Characteristic::Uuid128(pmd::DATA) => "Polar PMD Data (ECG)",
        Characteristic::Sig16(_) | Characteristic::Uuid128(_) => return None,
    })
}

/// Appends samples that share a time, device, contact and device time.
pub(crate) struct SampleSink<'a> {
    pub out: &'a mut Vec<Sample>,
    pub at: SessionTime,
    pub device: &'a DeviceLabel,
    pub contact: Option<bool>,
    pub device_time_ns: Option<i64>,
}

impl SampleSink<'_> {
    pub fn push(&mut self, quantity: Quantity, value: f64) {
        self.push_at(self.at, quantity, value);
    }

    pub fn push_at(&mut self, at: SessionTime, quantity: Quantity, value: f64) {
        self.out.push(Sample {
            at,
            device: self.device.clone(),
            quantity,
            value,
            contact: self.contact,
            device_time_ns: self.device_time_ns,
        });
    }
}

impl Measurement {
    #[must_use]
    pub const fn characteristic(&self) -> Characteristic {
        match self {
            Measurement::HeartRate(_) => Characteristic::HeartRateMeasurement,
            Measurement::Temperature(t) if t.intermediate => Characteristic::IntermediateTemperature,
            Measurement::Temperature(_) => Characteristic::TemperatureMeasurement,
            Measurement::EnvironmentalTemperature(_) => Characteristic::Temperature,
            Measurement::BloodPressure(_) => Characteristic::BloodPressureMeasurement,
            Measurement::Plx(_) => Characteristic::PlxContinuousMeasurement,
            Measurement::Battery(_) => Characteristic::BatteryLevel,
            Measurement::Ecg(_) => pmd::DATA_CHARACTERISTIC,
        }
    }

    /// The payload a sensor would send for this measurement.
    #[must_use]
    pub fn encode(&self) -> Payload {
        let mut out = Payload::new();
        match self {
            Measurement::HeartRate(m) => m.encode_into(&mut out),
            Measurement::Temperature(m) => m.encode_into(&mut out),
            Measurement::EnvironmentalTemperature(m) => m.encode_into(&mut out),
            Measurement::BloodPressure(m) => m.encode_into(&mut out),
            Measurement::Plx(m) => m.encode_into(&mut out),
            Measurement::Battery(m) => m.encode_into(&mut out),
            Measurement::Ecg(m) => m.encode_into(&mut out),
        }
        out
    }

    /// Append this measurement's samples, stamped at `at` (RR intervals
    /// backwards from `at`, the last beat at `at`). `env_quantity` says
    /// whether 0x2A6E is skin or ambient temperature for this device.
    pub fn samples(&self, at: SessionTime, device: &DeviceLabel, env_quantity: Quantity, out: &mut Vec<Sample>) {
        let mut sink = SampleSink { out, at, device, contact: None, device_time_ns: None };
        match self {
            Measurement::HeartRate(m) => m.samples(&mut sink),
            Measurement::Temperature(m) => m.samples(&mut sink),
            Measurement::EnvironmentalTemperature(m) => m.samples(env_quantity, &mut sink),
            Measurement::BloodPressure(m) => m.samples(&mut sink),
            Measurement::Plx(m) => m.samples(&mut sink),
            Measurement::Battery(m) => m.samples(&mut sink),
            Measurement::Ecg(_) => {}
        }
    }
}

/// One payload as the JSON object `vigil decode` prints: `characteristic`,
/// `name`, the typed fields, and `samples` (quantity → value; `null` for
/// "no valid measurement"; `rr_interval_ms` is a list, oldest first).
pub fn decode_json(characteristic: Characteristic, payload: &[u8]) -> Result<serde_json::Value, DecodeError> {
    use serde_json::{Map, Value};

    let m = decode(characteristic, payload)?;
    let fields = match &m {
        Measurement::HeartRate(x) => serde_json::to_value(x),
        Measurement::Temperature(x) => serde_json::to_value(x),
        Measurement::EnvironmentalTemperature(x) => serde_json::to_value(x),
        Measurement::BloodPressure(x) => serde_json::to_value(x),
        Measurement::Plx(x) => serde_json::to_value(x),
        Measurement::Battery(x) => serde_json::to_value(x),
        Measurement::Ecg(x) => serde_json::to_value(x),
    };
    let mut obj = Map::new();
    obj.insert("characteristic".into(), Value::String(characteristic.to_string()));
    obj.insert("name".into(), Value::String(characteristic_name(characteristic).unwrap_or_default().into()));
    // Our types serialise to objects of plain fields; anything else would be
    // a bug in a derive, shown rather than hidden.
    match fields {
        Ok(Value::Object(f)) => obj.extend(f),
        Ok(other) => {
            obj.insert("fields".into(), other);
        }
        Err(e) => {
            obj.insert("fields_error".into(), Value::String(e.to_string()));
        }
    }

    let device: DeviceLabel = "decode".into();
    let mut samples = Vec::new();
    m.samples(SessionTime::ZERO, &device, Quantity::AmbientTemperatureC, &mut samples);
    let mut by_quantity = Map::new();
    let mut rr = Vec::new();
    for s in &samples {
        let v = serde_json::Number::from_f64(s.value).map_or(Value::Null, Value::Number);
        if s.quantity == Quantity::RrIntervalMs {
            rr.push(v);
        } else {
            by_quantity.insert(s.quantity.as_str().into(), v);
        }
    }
    if !rr.is_empty() {
        by_quantity.insert(Quantity::RrIntervalMs.as_str().into(), Value::Array(rr));
    }
    obj.insert("samples".into(), Value::Object(by_quantity));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_sentence_with_the_offset() {
        let e = decode(Characteristic::HeartRateMeasurement, &[0x16]).unwrap_err();
        assert_eq!(e.to_string(), "2a37: payload is 1 byte, flags 0x16 need at least 4");
        assert_eq!(e.offset(), Some(1));
        let e = decode(Characteristic::BatteryLevel, &[]).unwrap_err();
        assert_eq!(e.to_string(), "2a19: payload is 0 bytes, the format needs at least 1");
        let e = decode(Characteristic::Temperature, &[1, 2, 3]).unwrap_err();
        assert_eq!(e.to_string(), "2a6e: payload is 3 bytes, the format gives 2; unexpected byte from offset 2");
        let e = decode(Characteristic::Sig16(0x2A29), &[1]).unwrap_err();
        assert_eq!(e, DecodeError::Unsupported(Characteristic::Sig16(0x2A29)));
    }
}
