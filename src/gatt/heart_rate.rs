//! Heart Rate Measurement, 0x2A37 (Heart Rate service 0x180D).
//!
//! Layout (GATT Specification Supplement "Heart Rate Measurement";
//! `org.bluetooth.characteristic.heart_rate_measurement`), little-endian:
//!
//! | offset | field | present when |
//! |---|---|---|
//! | 0 | flags u8 | always |
//! | 1 | heart rate, u8 or u16 bpm | always (u16 if flags bit 0) |
//! | next | energy expended, u16 kJ | flags bit 3 |
//! | next … end | RR intervals, u16 each, 1/1024 s, oldest first | flags bit 4 (one or more) |
//!
//! Flags: bit 0 value format (0 = u8, 1 = u16); bits 1–2 sensor contact
//! (0 or 1 = not supported, 2 = supported but not detected, 3 = supported and
//! detected); bit 3 energy expended present; bit 4 RR intervals present;
//! bits 5–7 reserved.
//!
//! The RR field runs to the end of the payload, so it is the only place
//! where a longer payload is not an error; it must be a whole number of u16
//! values and, when flagged, hold at least one.

use serde::Serialize;
use smallvec::SmallVec;

use super::{DecodeError, SampleSink, flags_byte, is_zero, le_u16};
use crate::model::{Characteristic, Payload, Quantity, SessionTime};

const C: Characteristic = Characteristic::HeartRateMeasurement;

const FLAG_U16: u8 = 0x01;
const FLAG_CONTACT_DETECTED: u8 = 0x02;
const FLAG_CONTACT_SUPPORTED: u8 = 0x04;
const FLAG_ENERGY: u8 = 0x08;
const FLAG_RR: u8 = 0x10;
const FLAGS_RESERVED: u8 = 0xE0;

/// RR intervals held inline: a 20-byte payload has room for at most 9.
pub type RrIntervals = SmallVec<[u16; RR_INLINE]>;

const RR_INLINE: usize = 10;

/// How the sensor encoded the heart-rate value (kept for exact round trips).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartRateFormat {
    U8,
    U16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorContact {
    /// The strap cannot tell; the sample's `contact` is `None`.
    NotSupported,
    NotDetected,
    Detected,
}

impl SensorContact {
    /// The `contact` of the samples: `Some(detected)` where supported.
    #[must_use]
    pub const fn as_option(self) -> Option<bool> {
        match self {
            SensorContact::NotSupported => None,
            SensorContact::NotDetected => Some(false),
            SensorContact::Detected => Some(true),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeartRateMeasurement {
    pub heart_rate_bpm: u16,
    /// The encoder writes u16 when the value does not fit u8, whatever this says.
    pub format: HeartRateFormat,
    pub sensor_contact: SensorContact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_expended_kj: Option<u16>,
    /// In 1/1024 s, oldest first; empty when the field is absent.
    #[serde(skip_serializing_if = "SmallVec::is_empty")]
    pub rr_intervals_1024: RrIntervals,
    /// Flag bits without meaning here (reserved bits 5–7, and bit 1 while
    /// contact is not supported), kept so `encode` gives back the same bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub other_flag_bits: u8,
}

/// RR interval in 1/1024 s to milliseconds.
#[must_use]
pub fn rr_ms(rr_1024: u16) -> f64 {
    f64::from(rr_1024) * 1000.0 / 1024.0
}

/// RR interval in 1/1024 s to nanoseconds (rounded down).
#[must_use]
pub const fn rr_nanos(rr_1024: u16) -> u64 {
    rr_1024 as u64 * 1_000_000_000 / 1024
}

/// The fields of a payload, once its length is known to match its flags;
/// the RR intervals are left as the bytes from `rr_offset` to the end.
struct Fields {
    flags: u8,
    heart_rate_bpm: u16,
    format: HeartRateFormat,
    sensor_contact: SensorContact,
    energy_expended_kj: Option<u16>,
    rr_offset: usize,
}

#[inline]
fn fields(p: &[u8]) -> Result<Fields, DecodeError> {
    let flags = flags_byte(C, p, 2)?;
    let u16_format = flags & FLAG_U16 != 0;
    let has_energy = flags & FLAG_ENERGY != 0;
    let has_rr = flags & FLAG_RR != 0;
    let rr_offset = 1 + if u16_format { 2 } else { 1 } + if has_energy { 2 } else { 0 };
    let needed = rr_offset + if has_rr { 2 } else { 0 };
    if p.len() < needed {
        return Err(DecodeError::TooShort { characteristic: C, flags: Some(flags), needed, got: p.len() });
    }
    if !has_rr && p.len() > needed {
        return Err(DecodeError::TrailingBytes {
            characteristic: C,
            flags: Some(flags),
            expected: needed,
            got: p.len(),
        });
    }
    let rr_len = p.len() - rr_offset;
    if !rr_len.is_multiple_of(2) {
        return Err(DecodeError::OddRrBytes { offset: rr_offset, len: rr_len });
    }

    let (heart_rate_bpm, format) =
        if u16_format { (le_u16(p, 1), HeartRateFormat::U16) } else { (u16::from(p[1]), HeartRateFormat::U8) };
    let sensor_contact = match (flags & FLAG_CONTACT_SUPPORTED != 0, flags & FLAG_CONTACT_DETECTED != 0) {
        (false, _) => SensorContact::NotSupported,
        (true, false) => SensorContact::NotDetected,
        (true, true) => SensorContact::Detected,
    };
    let energy_expended_kj = has_energy.then(|| le_u16(p, rr_offset - 2));
    Ok(Fields { flags, heart_rate_bpm, format, sensor_contact, energy_expended_kj, rr_offset })
}

// Inlined into `gatt::decode` so the measurement is built in place rather
// than moved through the stack.
#[inline]
pub fn decode(p: &[u8]) -> Result<HeartRateMeasurement, DecodeError> {
    let f = fields(p)?;
    let mut other_flag_bits = f.flags & FLAGS_RESERVED;
    if f.sensor_contact == SensorContact::NotSupported {
        other_flag_bits |= f.flags & FLAG_CONTACT_DETECTED;
    }
    Ok(HeartRateMeasurement {
        heart_rate_bpm: f.heart_rate_bpm,
        format: f.format,
        sensor_contact: f.sensor_contact,
        energy_expended_kj: f.energy_expended_kj,
        rr_intervals_1024: read_rr(&p[f.rr_offset..]),
        other_flag_bits,
    })
}

/// [`decode`] then [`HeartRateMeasurement::samples`] for
/// `gatt::decode_samples`: the RR intervals go from the payload bytes
/// straight into samples, without the `SmallVec` in between.
#[inline]
pub(crate) fn decode_samples(p: &[u8], sink: &mut SampleSink<'_>) -> Result<(), DecodeError> {
    let f = fields(p)?;
    let rr = p[f.rr_offset..].chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    push_samples(f.heart_rate_bpm, f.sensor_contact, f.energy_expended_kj, rr, sink);
    Ok(())
}

/// The samples of one notification; `rr`: the RR intervals, oldest first.
fn push_samples(
    heart_rate_bpm: u16,
    sensor_contact: SensorContact,
    energy_expended_kj: Option<u16>,
    rr: impl Iterator<Item = u16> + Clone,
    sink: &mut SampleSink<'_>,
) {
    sink.contact = sensor_contact.as_option();
    sink.push(Quantity::HeartRateBpm, f64::from(heart_rate_bpm));
    // The last beat is at `at`; each earlier one lies the following
    // interval before it. Pushed oldest first, as they arrived.
    // `later`: the sum of the intervals after the current one.
    let mut later: u64 = rr.clone().skip(1).map(rr_nanos).sum();
    let mut intervals = rr.peekable();
    while let Some(rr) = intervals.next() {
        let at = SessionTime(sink.at.0.saturating_sub(later));
        sink.push_at(at, Quantity::RrIntervalMs, rr_ms(rr));
        if let Some(&next) = intervals.peek() {
            later -= rr_nanos(next);
        }
    }
    if let Some(e) = energy_expended_kj {
        sink.push(Quantity::EnergyExpendedKj, f64::from(e));
    }
}

/// The RR field as u16 values. Filling a plain array and handing it to
/// `SmallVec` in one move is several times faster than `collect()`, which
/// checks capacity per element; this is the hottest decoder.
fn read_rr(field: &[u8]) -> RrIntervals {
    let n = field.len() / 2;
    if n > RR_INLINE {
        return field.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
    }
    let mut buf = [0u16; RR_INLINE];
    for (slot, b) in buf.iter_mut().zip(field.chunks_exact(2)) {
        *slot = u16::from_le_bytes([b[0], b[1]]);
    }
    RrIntervals::from_buf_and_len(buf, n)
}

impl HeartRateMeasurement {
    pub fn encode_into(&self, out: &mut Payload) {
        let u16_format = self.format == HeartRateFormat::U16 || self.heart_rate_bpm > 0xFF;
        let mut flags = self.other_flag_bits & (FLAGS_RESERVED | FLAG_CONTACT_DETECTED);
        if u16_format {
            flags |= FLAG_U16;
        }
        match self.sensor_contact {
            SensorContact::NotSupported => {}
            SensorContact::NotDetected => flags = (flags & !FLAG_CONTACT_DETECTED) | FLAG_CONTACT_SUPPORTED,
            SensorContact::Detected => flags |= FLAG_CONTACT_SUPPORTED | FLAG_CONTACT_DETECTED,
        }
        if self.energy_expended_kj.is_some() {
            flags |= FLAG_ENERGY;
        }
        if !self.rr_intervals_1024.is_empty() {
            flags |= FLAG_RR;
        }
        out.push(flags);
        if u16_format {
            out.extend_from_slice(&self.heart_rate_bpm.to_le_bytes());
        } else {
            // Checked above: fits u8.
            #[allow(clippy::cast_possible_truncation)]
            out.push(self.heart_rate_bpm as u8);
        }
        if let Some(e) = self.energy_expended_kj {
            out.extend_from_slice(&e.to_le_bytes());
        }
        for rr in &self.rr_intervals_1024 {
            out.extend_from_slice(&rr.to_le_bytes());
        }
    }

    pub(crate) fn samples(&self, sink: &mut SampleSink<'_>) {
        let rr = self.rr_intervals_1024.iter().copied();
        push_samples(self.heart_rate_bpm, self.sensor_contact, self.energy_expended_kj, rr, sink);
    }
}
