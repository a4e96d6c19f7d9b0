//! Blood Pressure Measurement 0x2A35 (indicated; Blood Pressure service
//! 0x1810).
//!
//! Layout (GATT Specification Supplement "Blood Pressure Measurement";
//! `org.bluetooth.characteristic.blood_pressure_measurement`), little-endian:
//!
//! | offset | field | present when |
//! |---|---|---|
//! | 0 | flags u8 | always |
//! | 1 | systolic, SFLOAT, mmHg or kPa | always |
//! | 3 | diastolic, SFLOAT | always |
//! | 5 | mean arterial pressure, SFLOAT | always |
//! | 7 | time stamp, Date Time (7 bytes) | flags bit 1 |
//! | next | pulse rate, SFLOAT bpm | flags bit 2 |
//! | next | user id u8 (255 = unknown user) | flags bit 3 |
//! | next | measurement status, 16 bits | flags bit 4 |
//!
//! Flags: bit 0 unit (0 = mmHg, 1 = kPa); bits 1–4 as above; 5–7 reserved.
//!
//! Measurement status: bit 0 body movement during measurement; bit 1 cuff
//! too loose; bit 2 irregular pulse; bits 3–4 pulse-rate range (0 within
//! range, 1 exceeds upper limit, 2 below lower limit, 3 reserved); bit 5
//! improper measurement position; bits 6–15 reserved.
//!
//! Samples are in mmHg: kPa values are converted with 1 kPa = 7.50062 mmHg.

use serde::Serialize;

use super::float::SFloat;
use super::time::{DATE_TIME_LEN, DateTime};
use super::{DecodeError, SampleSink, check_len, flags_byte, is_zero, le_u16};
use crate::model::{Characteristic, Payload, Quantity};

const C: Characteristic = Characteristic::BloodPressureMeasurement;

const FLAG_KPA: u8 = 0x01;
const FLAG_TIME_STAMP: u8 = 0x02;
const FLAG_PULSE: u8 = 0x04;
const FLAG_USER: u8 = 0x08;
const FLAG_STATUS: u8 = 0x10;
const FLAGS_RESERVED: u8 = 0xE0;

/// mmHg per kPa.
pub const MMHG_PER_KPA: f64 = 7.50062;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PressureUnit {
    Mmhg,
    Kpa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PulseRateRange {
    #[default]
    WithinRange,
    ExceedsUpperLimit,
    BelowLowerLimit,
    /// The reserved value 3.
    Reserved,
}

/// The Measurement Status field, bit by bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct BloodPressureStatus {
    pub body_movement: bool,
    pub cuff_too_loose: bool,
    pub irregular_pulse: bool,
    pub pulse_rate_range: PulseRateRange,
    pub improper_position: bool,
    /// Reserved bits 6–15 as sent, kept for exact round trips.
    #[serde(skip_serializing_if = "is_zero")]
    pub reserved_bits: u16,
}

const STATUS_RESERVED: u16 = 0xFFC0;

impl BloodPressureStatus {
    #[must_use]
    pub const fn from_bits(raw: u16) -> Self {
        Self {
            body_movement: raw & 0x01 != 0,
            cuff_too_loose: raw & 0x02 != 0,
            irregular_pulse: raw & 0x04 != 0,
            pulse_rate_range: match (raw >> 3) & 0x03 {
                0 => PulseRateRange::WithinRange,
                1 => PulseRateRange::ExceedsUpperLimit,
                2 => PulseRateRange::BelowLowerLimit,
                _ => PulseRateRange::Reserved,
            },
            improper_position: raw & 0x20 != 0,
            reserved_bits: raw & STATUS_RESERVED,
        }
    }

    #[must_use]
    pub const fn bits(&self) -> u16 {
        let range: u16 = match self.pulse_rate_range {
            PulseRateRange::WithinRange => 0,
            PulseRateRange::ExceedsUpperLimit => 1,
            PulseRateRange::BelowLowerLimit => 2,
            PulseRateRange::Reserved => 3,
        };
        (self.reserved_bits & STATUS_RESERVED)
            | (self.body_movement as u16)
            | (self.cuff_too_loose as u16) << 1
            | (self.irregular_pulse as u16) << 2
            | range << 3
            | (self.improper_position as u16) << 5
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BloodPressureMeasurement {
    pub unit: PressureUnit,
    /// In `unit`; the samples are in mmHg.
    pub systolic: SFloat,
    pub diastolic: SFloat,
    pub mean_arterial: SFloat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulse_rate_bpm: Option<SFloat>,
    /// 255 is "unknown user".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BloodPressureStatus>,
    /// Reserved flag bits 5–7 as sent, kept for exact round trips.
    #[serde(skip_serializing_if = "is_zero")]
    pub other_flag_bits: u8,
}

pub fn decode(p: &[u8]) -> Result<BloodPressureMeasurement, DecodeError> {
    let flags = flags_byte(C, p, 7)?;
    let has_time = flags & FLAG_TIME_STAMP != 0;
    let has_pulse = flags & FLAG_PULSE != 0;
    let has_user = flags & FLAG_USER != 0;
    let has_status = flags & FLAG_STATUS != 0;
    let expected = 7
        + if has_time { DATE_TIME_LEN } else { 0 }
        + if has_pulse { 2 } else { 0 }
        + usize::from(has_user)
        + if has_status { 2 } else { 0 };
    check_len(C, Some(flags), p, expected)?;

    let mut at = 7;
    let timestamp = has_time.then(|| {
        let mut b = [0u8; DATE_TIME_LEN];
        b.copy_from_slice(&p[at..at + DATE_TIME_LEN]);
        at += DATE_TIME_LEN;
        DateTime::from_bytes(b)
    });
    let pulse_rate_bpm = has_pulse.then(|| {
        let v = SFloat::from_bits(le_u16(p, at));
        at += 2;
        v
    });
    let user_id = has_user.then(|| {
        let v = p[at];
        at += 1;
        v
    });
    let status = has_status.then(|| BloodPressureStatus::from_bits(le_u16(p, at)));
    Ok(BloodPressureMeasurement {
        unit: if flags & FLAG_KPA != 0 { PressureUnit::Kpa } else { PressureUnit::Mmhg },
        systolic: SFloat::from_bits(le_u16(p, 1)),
        diastolic: SFloat::from_bits(le_u16(p, 3)),
        mean_arterial: SFloat::from_bits(le_u16(p, 5)),
        timestamp,
        pulse_rate_bpm,
        user_id,
        status,
        other_flag_bits: flags & FLAGS_RESERVED,
    })
}

impl BloodPressureMeasurement {
    /// A pressure field in mmHg, NaN for the special values.
    #[must_use]
    pub fn mmhg(&self, v: SFloat) -> f64 {
        match self.unit {
            PressureUnit::Mmhg => v.value_or_nan(),
            PressureUnit::Kpa => v.value_or_nan() * MMHG_PER_KPA,
        }
    }

    pub fn encode_into(&self, out: &mut Payload) {
        let mut flags = self.other_flag_bits & FLAGS_RESERVED;
        if self.unit == PressureUnit::Kpa {
            flags |= FLAG_KPA;
        }
        if self.timestamp.is_some() {
            flags |= FLAG_TIME_STAMP;
        }
        if self.pulse_rate_bpm.is_some() {
            flags |= FLAG_PULSE;
        }
        if self.user_id.is_some() {
            flags |= FLAG_USER;
        }
        if self.status.is_some() {
            flags |= FLAG_STATUS;
        }
        out.push(flags);
        for v in [self.systolic, self.diastolic, self.mean_arterial] {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        if let Some(t) = self.timestamp {
            out.extend_from_slice(&t.to_bytes());
        }
        if let Some(v) = self.pulse_rate_bpm {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        if let Some(u) = self.user_id {
            out.push(u);
        }
        if let Some(s) = self.status {
            out.extend_from_slice(&s.bits().to_le_bytes());
        }
    }

    pub(crate) fn samples(&self, sink: &mut SampleSink<'_>) {
        sink.device_time_ns = self.timestamp.and_then(DateTime::unix_nanos);
        sink.push(Quantity::SystolicMmhg, self.mmhg(self.systolic));
        sink.push(Quantity::DiastolicMmhg, self.mmhg(self.diastolic));
        sink.push(Quantity::MapMmhg, self.mmhg(self.mean_arterial));
        if let Some(p) = self.pulse_rate_bpm {
            sink.push(Quantity::PulseRateBpm, p.value_or_nan());
        }
    }
}
