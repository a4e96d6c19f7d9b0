//! PLX Continuous Measurement 0x2A5F (Pulse Oximeter service 0x1822).
//!
//! Layout (Pulse Oximeter Service spec / GATT Specification Supplement "PLX
//! Continuous Measurement"; `org.bluetooth.characteristic.plx_continuous_measurement`),
//! little-endian:
//!
//! | offset | field | present when |
//! |---|---|---|
//! | 0 | flags u8 | always |
//! | 1 | SpO2PR-Normal: SpO2 SFLOAT %, PR SFLOAT bpm | always |
//! | 5 | SpO2PR-Fast: SpO2, PR | flags bit 0 |
//! | next | SpO2PR-Slow: SpO2, PR | flags bit 1 |
//! | next | measurement status, 16 bits | flags bit 2 |
//! | next | device and sensor status, 24 bits | flags bit 3 |
//! | next | pulse amplitude index, SFLOAT % | flags bit 4 |
//!
//! Flags bits 5–7 are reserved. Measurement status: bits 0–4 reserved; 5
//! measurement ongoing, 6 early estimated data, 7 validated data, 8 fully
//! qualified data, 9 data from measurement storage, 10 data for
//! demonstration, 11 data for testing, 12 calibration ongoing, 13
//! measurement unavailable, 14 questionable measurement detected, 15 invalid
//! measurement detected. Device and sensor status: 0 extended display update
//! ongoing, 1 equipment malfunction, 2 signal processing irregularity, 3
//! inadequate signal, 4 poor signal, 5 low perfusion, 6 erratic signal, 7
//! nonpulsatile signal, 8 questionable pulse, 9 signal analysis ongoing, 10
//! sensor interference, 11 sensor unconnected to user, 12 unknown sensor
//! connected, 13 sensor displaced, 14 sensor malfunctioning, 15 sensor
//! disconnected; 16–23 reserved.
//!
//! Samples: `spo2_pct` and `pulse_rate_bpm` from SpO2PR-Normal. When the
//! oximeter itself says the reading is not a measurement (measurement
//! unavailable, invalid measurement detected, sensor unconnected to user,
//! sensor disconnected), both samples are NaN, so the monitor sees
//! `tech.invalid` rather than a number the device disowns. Questionable or
//! low-perfusion readings are passed on as they are; the status is in the
//! decoded fields and the raw recording.

use serde::Serialize;

use super::float::SFloat;
use super::{DecodeError, SampleSink, check_len, flags_byte, is_zero, le_u16};
use crate::model::{Characteristic, Payload, Quantity};

const C: Characteristic = Characteristic::PlxContinuousMeasurement;

const FLAG_FAST: u8 = 0x01;
const FLAG_SLOW: u8 = 0x02;
const FLAG_MEASUREMENT_STATUS: u8 = 0x04;
const FLAG_DEVICE_STATUS: u8 = 0x08;
const FLAG_PAI: u8 = 0x10;
const FLAGS_RESERVED: u8 = 0xE0;

/// A status field as named bools plus the reserved bits, kept as sent.
macro_rules! status_bits {
    ($(#[$m:meta])* $name:ident: $raw:ty, width $width:literal { $($field:ident = $bit:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
        pub struct $name {
            $(pub $field: bool,)*
            /// Reserved bits as sent, kept for exact round trips.
            #[serde(skip_serializing_if = "is_zero")]
            pub reserved_bits: $raw,
        }

        impl $name {
            const NAMED: $raw = 0 $(| (1 << $bit))*;
            const ALL: $raw = if $width == <$raw>::BITS { <$raw>::MAX } else { (1 << $width) - 1 };
            /// The bits the specification reserves.
            pub const RESERVED: $raw = Self::ALL & !Self::NAMED;

            #[must_use]
            pub const fn from_bits(raw: $raw) -> Self {
                Self { $($field: raw & (1 << $bit) != 0,)* reserved_bits: raw & Self::RESERVED }
            }

            #[must_use]
            pub const fn bits(&self) -> $raw {
                (self.reserved_bits & Self::RESERVED) $(| ((self.$field as $raw) << $bit))*
            }
        }
    };
}

status_bits! {
    /// PLX Measurement Status (16 bits).
    PlxMeasurementStatus: u16, width 16 {
        measurement_ongoing = 5,
        early_estimated_data = 6,
        validated_data = 7,
        fully_qualified_data = 8,
        data_from_measurement_storage = 9,
        data_for_demonstration = 10,
        data_for_testing = 11,
        calibration_ongoing = 12,
        measurement_unavailable = 13,
        questionable_measurement = 14,
        invalid_measurement = 15,
    }
}

status_bits! {
    /// PLX Device and Sensor Status (24 bits on the wire).
    PlxDeviceStatus: u32, width 24 {
        extended_display_update_ongoing = 0,
        equipment_malfunction = 1,
        signal_processing_irregularity = 2,
        inadequate_signal = 3,
        poor_signal = 4,
        low_perfusion = 5,
        erratic_signal = 6,
        nonpulsatile_signal = 7,
        questionable_pulse = 8,
        signal_analysis_ongoing = 9,
        sensor_interference = 10,
        sensor_unconnected_to_user = 11,
        unknown_sensor_connected = 12,
        sensor_displaced = 13,
        sensor_malfunctioning = 14,
        sensor_disconnected = 15,
    }
}

/// One SpO2 / pulse-rate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SpO2Pr {
    pub spo2_pct: SFloat,
    pub pulse_rate_bpm: SFloat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlxContinuous {
    /// SpO2PR-Normal, always present.
    pub spo2_pct: SFloat,
    pub pulse_rate_bpm: SFloat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast: Option<SpO2Pr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<SpO2Pr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement_status: Option<PlxMeasurementStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_and_sensor_status: Option<PlxDeviceStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulse_amplitude_index_pct: Option<SFloat>,
    /// Reserved flag bits 5–7 as sent, kept for exact round trips.
    #[serde(skip_serializing_if = "is_zero")]
    pub other_flag_bits: u8,
}

fn pair(p: &[u8], at: usize) -> SpO2Pr {
    SpO2Pr { spo2_pct: SFloat::from_bits(le_u16(p, at)), pulse_rate_bpm: SFloat::from_bits(le_u16(p, at + 2)) }
}

/// Where a payload's optional fields start, from its flags, once the payload
/// is known to be exactly as long as they say.
struct Layout {
    flags: u8,
    fast: Option<usize>,
    slow: Option<usize>,
    measurement_status: Option<usize>,
    device_status: Option<usize>,
    pai: Option<usize>,
}

#[inline]
fn layout(p: &[u8]) -> Result<Layout, DecodeError> {
    let flags = flags_byte(C, p, 5)?;
    let has = |bit: u8| flags & bit != 0;
    let expected = 5
        + if has(FLAG_FAST) { 4 } else { 0 }
        + if has(FLAG_SLOW) { 4 } else { 0 }
        + if has(FLAG_MEASUREMENT_STATUS) { 2 } else { 0 }
        + if has(FLAG_DEVICE_STATUS) { 3 } else { 0 }
        + if has(FLAG_PAI) { 2 } else { 0 };
    check_len(C, Some(flags), p, expected)?;

    let mut at = 5;
    let mut take = |present: bool, len: usize| {
        let start = at;
        if present {
            at += len;
        }
        present.then_some(start)
    };
    Ok(Layout {
        flags,
        fast: take(has(FLAG_FAST), 4),
        slow: take(has(FLAG_SLOW), 4),
        measurement_status: take(has(FLAG_MEASUREMENT_STATUS), 2),
        device_status: take(has(FLAG_DEVICE_STATUS), 3),
        pai: take(has(FLAG_PAI), 2),
    })
}

fn measurement_status(p: &[u8], at: usize) -> PlxMeasurementStatus {
    PlxMeasurementStatus::from_bits(le_u16(p, at))
}

fn device_status(p: &[u8], at: usize) -> PlxDeviceStatus {
    PlxDeviceStatus::from_bits(u32::from_le_bytes([p[at], p[at + 1], p[at + 2], 0]))
}

pub fn decode(p: &[u8]) -> Result<PlxContinuous, DecodeError> {
    let at = layout(p)?;
    let normal = pair(p, 1);
    Ok(PlxContinuous {
        spo2_pct: normal.spo2_pct,
        pulse_rate_bpm: normal.pulse_rate_bpm,
        fast: at.fast.map(|i| pair(p, i)),
        slow: at.slow.map(|i| pair(p, i)),
        measurement_status: at.measurement_status.map(|i| measurement_status(p, i)),
        device_and_sensor_status: at.device_status.map(|i| device_status(p, i)),
        pulse_amplitude_index_pct: at.pai.map(|i| SFloat::from_bits(le_u16(p, i))),
        other_flag_bits: at.flags & FLAGS_RESERVED,
    })
}

/// [`decode`] then [`PlxContinuous::samples`] for `gatt::decode_samples`,
/// reading only the fields the samples depend on: the SpO2PR-Normal pair and
/// the two status words. Building the whole measurement cost more than the
/// rest of a PLX notification's decoding.
#[inline]
pub(crate) fn decode_samples(p: &[u8], sink: &mut SampleSink<'_>) -> Result<(), DecodeError> {
    let at = layout(p)?;
    let disowned = disowned(
        at.measurement_status.map(|i| measurement_status(p, i)),
        at.device_status.map(|i| device_status(p, i)),
    );
    push_samples(disowned, SFloat::from_bits(le_u16(p, 1)), SFloat::from_bits(le_u16(p, 3)), sink);
    Ok(())
}

fn disowned(measurement: Option<PlxMeasurementStatus>, device: Option<PlxDeviceStatus>) -> bool {
    measurement.is_some_and(|s| s.measurement_unavailable || s.invalid_measurement)
        || device.is_some_and(|s| s.sensor_unconnected_to_user || s.sensor_disconnected)
}

fn push_samples(disowned: bool, spo2_pct: SFloat, pulse_rate_bpm: SFloat, sink: &mut SampleSink<'_>) {
    let value = |v: SFloat| if disowned { f64::NAN } else { v.value_or_nan() };
    sink.push(Quantity::Spo2Pct, value(spo2_pct));
    sink.push(Quantity::PulseRateBpm, value(pulse_rate_bpm));
}

impl PlxContinuous {
    /// Whether the oximeter says this reading is not a measurement at all.
    #[must_use]
    pub fn disowned(&self) -> bool {
        disowned(self.measurement_status, self.device_and_sensor_status)
    }

    pub fn encode_into(&self, out: &mut Payload) {
        let mut flags = self.other_flag_bits & FLAGS_RESERVED;
        for (present, bit) in [
            (self.fast.is_some(), FLAG_FAST),
            (self.slow.is_some(), FLAG_SLOW),
            (self.measurement_status.is_some(), FLAG_MEASUREMENT_STATUS),
            (self.device_and_sensor_status.is_some(), FLAG_DEVICE_STATUS),
            (self.pulse_amplitude_index_pct.is_some(), FLAG_PAI),
        ] {
            if present {
                flags |= bit;
            }
        }
        out.push(flags);
        let mut sfloat = |v: SFloat| out.extend_from_slice(&v.to_bits().to_le_bytes());
        sfloat(self.spo2_pct);
        sfloat(self.pulse_rate_bpm);
        for p in [self.fast, self.slow].into_iter().flatten() {
            sfloat(p.spo2_pct);
            sfloat(p.pulse_rate_bpm);
        }
        if let Some(s) = self.measurement_status {
            out.extend_from_slice(&s.bits().to_le_bytes());
        }
        if let Some(s) = self.device_and_sensor_status {
            out.extend_from_slice(&s.bits().to_le_bytes()[..3]);
        }
        if let Some(v) = self.pulse_amplitude_index_pct {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }

    pub(crate) fn samples(&self, sink: &mut SampleSink<'_>) {
        push_samples(self.disowned(), self.spo2_pct, self.pulse_rate_bpm, sink);
    }
}
