//! Temperature Measurement 0x2A1C (indicated) and Intermediate Temperature
//! 0x2A1E (notified), Health Thermometer service 0x1809. Both share one
//! layout (GATT Specification Supplement "Temperature Measurement";
//! `org.bluetooth.characteristic.temperature_measurement`):
//!
//! | offset | field | present when |
//! |---|---|---|
//! | 0 | flags u8 | always |
//! | 1 | temperature, IEEE-11073 32-bit FLOAT, °C or °F | always |
//! | 5 | time stamp, Date Time (7 bytes) | flags bit 1 |
//! | next | temperature type u8 | flags bit 2 |
//!
//! Flags: bit 0 unit (0 = °C, 1 = °F); bit 1 time stamp present; bit 2
//! temperature type present; bits 3–7 reserved.
//!
//! Temperature type (0x2A1D): 1 armpit, 2 body (general), 3 ear (usually
//! earlobe), 4 finger, 5 gastro-intestinal tract, 6 mouth, 7 rectum, 8 toe,
//! 9 tympanum (ear drum); 0 and 10–255 are reserved. A reserved type decodes
//! as [`TemperatureType::Unknown`] rather than failing: the type only labels
//! the site, and dropping a valid body temperature over a label would hide a
//! fever from the monitor.

use serde::Serialize;

use super::float::FloatValue;
use super::time::{DATE_TIME_LEN, DateTime};
use super::{DecodeError, SampleSink, check_len, flags_byte, is_zero, le_u32};
use crate::model::{Characteristic, Payload, Quantity};

const FLAG_FAHRENHEIT: u8 = 0x01;
const FLAG_TIME_STAMP: u8 = 0x02;
const FLAG_TYPE: u8 = 0x04;
const FLAGS_RESERVED: u8 = 0xF8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureUnit {
    Celsius,
    Fahrenheit,
}

/// Where on the body the temperature was taken (characteristic 0x2A1D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureType {
    Armpit,
    Body,
    Ear,
    Finger,
    GiTract,
    Mouth,
    Rectum,
    Toe,
    Tympanum,
    /// A reserved value (0 or 10–255), kept as sent.
    Unknown(u8),
}

impl TemperatureType {
    #[must_use]
    pub const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Armpit,
            2 => Self::Body,
            3 => Self::Ear,
            4 => Self::Finger,
            5 => Self::GiTract,
            6 => Self::Mouth,
            7 => Self::Rectum,
            8 => Self::Toe,
            9 => Self::Tympanum,
            other => Self::Unknown(other),
        }
    }

    #[must_use]
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Armpit => 1,
            Self::Body => 2,
            Self::Ear => 3,
            Self::Finger => 4,
            Self::GiTract => 5,
            Self::Mouth => 6,
            Self::Rectum => 7,
            Self::Toe => 8,
            Self::Tympanum => 9,
            Self::Unknown(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TemperatureMeasurement {
    /// Sent as Intermediate Temperature (0x2A1E) rather than a final
    /// Temperature Measurement (0x2A1C).
    pub intermediate: bool,
    pub unit: TemperatureUnit,
    /// In `unit`; [`TemperatureMeasurement::celsius`] normalises.
    pub temperature: FloatValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_type: Option<TemperatureType>,
    /// Reserved flag bits 3–7 as sent, kept for exact round trips.
    #[serde(skip_serializing_if = "is_zero")]
    pub other_flag_bits: u8,
}

const fn characteristic(intermediate: bool) -> Characteristic {
    if intermediate { Characteristic::IntermediateTemperature } else { Characteristic::TemperatureMeasurement }
}

/// Decode 0x2A1C (`intermediate == false`) or 0x2A1E.
#[inline]
pub fn decode(p: &[u8], intermediate: bool) -> Result<TemperatureMeasurement, DecodeError> {
    let c = characteristic(intermediate);
    let flags = flags_byte(c, p, 5)?;
    let has_time = flags & FLAG_TIME_STAMP != 0;
    let has_type = flags & FLAG_TYPE != 0;
    let expected = 5 + if has_time { DATE_TIME_LEN } else { 0 } + usize::from(has_type);
    check_len(c, Some(flags), p, expected)?;

    let timestamp = has_time.then(|| {
        let mut b = [0u8; DATE_TIME_LEN];
        b.copy_from_slice(&p[5..5 + DATE_TIME_LEN]);
        DateTime::from_bytes(b)
    });
    Ok(TemperatureMeasurement {
        intermediate,
        unit: if flags & FLAG_FAHRENHEIT != 0 { TemperatureUnit::Fahrenheit } else { TemperatureUnit::Celsius },
        temperature: FloatValue::from_bits(le_u32(p, 1)),
        timestamp,
        temperature_type: has_type.then(|| TemperatureType::from_u8(p[expected - 1])),
        other_flag_bits: flags & FLAGS_RESERVED,
    })
}

impl TemperatureMeasurement {
    /// The temperature in °C, `None` for the special FLOAT values.
    #[must_use]
    pub fn celsius(&self) -> Option<f64> {
        let v = self.temperature.to_f64()?;
        Some(match self.unit {
            TemperatureUnit::Celsius => v,
            TemperatureUnit::Fahrenheit => (v - 32.0) * 5.0 / 9.0,
        })
    }

    pub fn encode_into(&self, out: &mut Payload) {
        let mut flags = self.other_flag_bits & FLAGS_RESERVED;
        if self.unit == TemperatureUnit::Fahrenheit {
            flags |= FLAG_FAHRENHEIT;
        }
        if self.timestamp.is_some() {
            flags |= FLAG_TIME_STAMP;
        }
        if self.temperature_type.is_some() {
            flags |= FLAG_TYPE;
        }
        out.push(flags);
        out.extend_from_slice(&self.temperature.to_bits().to_le_bytes());
        if let Some(t) = self.timestamp {
            out.extend_from_slice(&t.to_bytes());
        }
        if let Some(t) = self.temperature_type {
            out.push(t.to_u8());
        }
    }

    // Inlined with `decode` into `gatt::decode_samples`, where the
    // measurement then never leaves registers.
    #[inline]
    pub(crate) fn samples(&self, sink: &mut SampleSink<'_>) {
        sink.device_time_ns = self.timestamp.and_then(DateTime::unix_nanos);
        sink.push(Quantity::BodyTemperatureC, self.celsius().unwrap_or(f64::NAN));
    }
}
