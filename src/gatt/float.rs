//! IEEE 11073-20601 medical floats, as the Bluetooth SIG characteristics carry
//! them (little-endian on the wire).
//!
//! - `FLOAT` (32 bit): bits 0–23 a two's-complement mantissa, bits 24–31 a
//!   two's-complement base-10 exponent. Special values (whole 32-bit words,
//!   i.e. exponent 0): NaN `0x007FFFFF`, NRes `0x00800000`, +INF `0x007FFFFE`,
//!   −INF `0x00800002`, reserved `0x00800001`.
//! - `SFLOAT` (16 bit): bits 0–11 mantissa, bits 12–15 exponent. Specials:
//!   NaN `0x07FF`, NRes `0x0800`, +INF `0x07FE`, −INF `0x0802`, reserved
//!   `0x0801`.
//!
//! The special values are defined with exponent 0 (IEEE 11073-20601 Annex F),
//! so a special mantissa with another exponent is a (huge) finite number and
//! decodes as one: "impossible but well-formed numbers decode as they are"
//! (DESIGN.md), and every bit pattern maps to exactly one value and back,
//! which the byte-exact round-trip tests rely on.

use serde::{Serialize, Serializer};

/// A 32-bit IEEE-11073 `FLOAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloatValue {
    /// `mantissa × 10^exponent`; mantissa fits 24 bits signed.
    Finite {
        mantissa: i32,
        exponent: i8,
    },
    NaN,
    /// Not at this resolution.
    NRes,
    PositiveInfinity,
    NegativeInfinity,
    /// `0x00800001`, reserved for future use: not a number either.
    Reserved,
}

/// A 16-bit IEEE-11073 `SFLOAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SFloat {
    /// `mantissa × 10^exponent`; mantissa fits 12 bits signed, exponent 4.
    Finite {
        mantissa: i16,
        exponent: i8,
    },
    NaN,
    NRes,
    PositiveInfinity,
    NegativeInfinity,
    /// `0x0801`, reserved for future use.
    Reserved,
}

const FLOAT_MANTISSA_MAX: i32 = (1 << 23) - 1;
const FLOAT_MANTISSA_MIN: i32 = -(1 << 23);
const SFLOAT_MANTISSA_MAX: i16 = (1 << 11) - 1;
const SFLOAT_MANTISSA_MIN: i16 = -(1 << 11);
const SFLOAT_EXPONENT_MAX: i8 = 7;
const SFLOAT_EXPONENT_MIN: i8 = -8;

/// `mantissa × 10^exponent`, rounded once: dividing by an exact power of ten
/// gives 37.6 for 3760e-2, where multiplying by 0.01 would not.
fn scale(mantissa: f64, exponent: i8) -> f64 {
    let magnitude = u32::from(exponent.unsigned_abs());
    if exponent < 0 { mantissa / pow10(magnitude) } else { mantissa * pow10(magnitude) }
}

/// 10^0 ..= 10^22, every power of ten an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `10f64.powi(n)`, without its library call for the exponents sensors use
/// (every decoded sample scales by one). For n ≤ 22, `powi`'s square-and-
/// multiply only ever multiplies exact powers of ten below 2^53 × 2^k, so it
/// returns exactly the table's value (a test checks every entry).
fn pow10(n: u32) -> f64 {
    match POW10.get(n as usize) {
        Some(&p) => p,
        None => 10f64.powi(n.cast_signed()),
    }
}

/// The mantissa that represents `value` at `exponent`, if it is a whole
/// number within `[min, max]`.
fn mantissa_for(value: f64, exponent: i8, min: i32, max: i32) -> Option<i32> {
    let m =
        if exponent < 0 { value * 10f64.powi(-i32::from(exponent)) } else { value / 10f64.powi(i32::from(exponent)) }
            .round();
    if m < f64::from(min) || m > f64::from(max) {
        return None;
    }
    // In range, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    Some(m as i32)
}

impl FloatValue {
    /// From the 32-bit word as read little-endian from the payload.
    #[must_use]
    pub const fn from_bits(raw: u32) -> Self {
        match raw {
            0x007F_FFFF => Self::NaN,
            0x0080_0000 => Self::NRes,
            0x007F_FFFE => Self::PositiveInfinity,
            0x0080_0002 => Self::NegativeInfinity,
            0x0080_0001 => Self::Reserved,
            _ => {
                #[allow(clippy::cast_possible_wrap)]
                let exponent = (raw >> 24) as u8 as i8;
                // Sign-extend the 24-bit mantissa.
                #[allow(clippy::cast_possible_wrap)]
                let mantissa = ((raw << 8) as i32) >> 8;
                Self::Finite { mantissa, exponent }
            }
        }
    }

    /// The 32-bit word to write little-endian.
    #[must_use]
    pub const fn to_bits(self) -> u32 {
        match self {
            Self::NaN => 0x007F_FFFF,
            Self::NRes => 0x0080_0000,
            Self::PositiveInfinity => 0x007F_FFFE,
            Self::NegativeInfinity => 0x0080_0002,
            Self::Reserved => 0x0080_0001,
            #[allow(clippy::cast_sign_loss)]
            Self::Finite { mantissa, exponent } => ((exponent as u8 as u32) << 24) | (mantissa as u32 & 0x00FF_FFFF),
        }
    }

    /// A finite value, if `mantissa` fits 24 bits and the pair is not one of
    /// the special words.
    #[must_use]
    pub const fn finite(mantissa: i32, exponent: i8) -> Option<Self> {
        if mantissa < FLOAT_MANTISSA_MIN || mantissa > FLOAT_MANTISSA_MAX {
            return None;
        }
        let v = Self::Finite { mantissa, exponent };
        match Self::from_bits(v.to_bits()) {
            Self::Finite { .. } => Some(v),
            _ => None,
        }
    }

    /// Encode `value` with the given decimal exponent (e.g. −2 for 0.01 °C
    /// resolution). NaN and ±∞ map to the special values; `None` if the
    /// rounded mantissa does not fit.
    #[must_use]
    pub fn from_f64(value: f64, exponent: i8) -> Option<Self> {
        if value.is_nan() {
            return Some(Self::NaN);
        }
        if value.is_infinite() {
            return Some(if value > 0.0 { Self::PositiveInfinity } else { Self::NegativeInfinity });
        }
        let m = mantissa_for(value, exponent, FLOAT_MANTISSA_MIN, FLOAT_MANTISSA_MAX)?;
        Self::finite(m, exponent)
    }

    /// The number, or `None` for the special values (no valid measurement).
    #[must_use]
    pub fn to_f64(self) -> Option<f64> {
        match self {
            Self::Finite { mantissa, exponent } => Some(scale(f64::from(mantissa), exponent)),
            _ => None,
        }
    }

    /// The number, or NaN for the special values (what a `Sample` carries).
    #[must_use]
    pub fn value_or_nan(self) -> f64 {
        self.to_f64().unwrap_or(f64::NAN)
    }
}

impl SFloat {
    /// From the 16-bit word as read little-endian from the payload.
    #[must_use]
    pub const fn from_bits(raw: u16) -> Self {
        match raw {
            0x07FF => Self::NaN,
            0x0800 => Self::NRes,
            0x07FE => Self::PositiveInfinity,
            0x0802 => Self::NegativeInfinity,
            0x0801 => Self::Reserved,
            _ => {
                #[allow(clippy::cast_possible_wrap)]
                let exponent = ((raw as i16) >> 12) as i8;
                #[allow(clippy::cast_possible_wrap)]
                let mantissa = ((raw << 4) as i16) >> 4;
                Self::Finite { mantissa, exponent }
            }
        }
    }

    /// The 16-bit word to write little-endian.
    #[must_use]
    pub const fn to_bits(self) -> u16 {
        match self {
            Self::NaN => 0x07FF,
            Self::NRes => 0x0800,
            Self::PositiveInfinity => 0x07FE,
            Self::NegativeInfinity => 0x0802,
            Self::Reserved => 0x0801,
            #[allow(clippy::cast_sign_loss)]
            Self::Finite { mantissa, exponent } => {
                (((exponent as u8) & 0x0F) as u16) << 12 | (mantissa as u16 & 0x0FFF)
            }
        }
    }

    /// A finite value, if mantissa and exponent fit 12 and 4 bits and the
    /// pair is not one of the special words.
    #[must_use]
    pub const fn finite(mantissa: i16, exponent: i8) -> Option<Self> {
        if mantissa < SFLOAT_MANTISSA_MIN
            || mantissa > SFLOAT_MANTISSA_MAX
            || exponent < SFLOAT_EXPONENT_MIN
            || exponent > SFLOAT_EXPONENT_MAX
        {
            return None;
        }
        let v = Self::Finite { mantissa, exponent };
        match Self::from_bits(v.to_bits()) {
            Self::Finite { .. } => Some(v),
            _ => None,
        }
    }

    /// Encode `value` with the given decimal exponent (−8..=7). NaN and ±∞
    /// map to the special values; `None` if the rounded mantissa does not fit.
    #[must_use]
    pub fn from_f64(value: f64, exponent: i8) -> Option<Self> {
        if value.is_nan() {
            return Some(Self::NaN);
        }
        if value.is_infinite() {
            return Some(if value > 0.0 { Self::PositiveInfinity } else { Self::NegativeInfinity });
        }
        let m = mantissa_for(value, exponent, i32::from(SFLOAT_MANTISSA_MIN), i32::from(SFLOAT_MANTISSA_MAX))?;
        // mantissa_for kept it within the 12-bit range.
        #[allow(clippy::cast_possible_truncation)]
        Self::finite(m as i16, exponent)
    }

    /// The number, or `None` for the special values.
    #[must_use]
    pub fn to_f64(self) -> Option<f64> {
        match self {
            Self::Finite { mantissa, exponent } => Some(scale(f64::from(mantissa), exponent)),
            _ => None,
        }
    }

    /// The number, or NaN for the special values (what a `Sample` carries).
    #[must_use]
    pub fn value_or_nan(self) -> f64 {
        self.to_f64().unwrap_or(f64::NAN)
    }
}

/// JSON has no NaN: finite values print as numbers, the specials by name.
fn serialize_special<S: Serializer>(name: &'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(name)
}

impl Serialize for FloatValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Finite { mantissa, exponent } => s.serialize_f64(scale(f64::from(*mantissa), *exponent)),
            Self::NaN => serialize_special("NaN", s),
            Self::NRes => serialize_special("NRes", s),
            Self::PositiveInfinity => serialize_special("+INF", s),
            Self::NegativeInfinity => serialize_special("-INF", s),
            Self::Reserved => serialize_special("reserved", s),
        }
    }
}

impl Serialize for SFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Finite { mantissa, exponent } => s.serialize_f64(scale(f64::from(*mantissa), *exponent)),
            Self::NaN => serialize_special("NaN", s),
            Self::NRes => serialize_special("NRes", s),
            Self::PositiveInfinity => serialize_special("+INF", s),
            Self::NegativeInfinity => serialize_special("-INF", s),
            Self::Reserved => serialize_special("reserved", s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow10_table_is_what_powi_gives() {
        for n in 0..=140u32 {
            assert_eq!(pow10(n).to_bits(), 10f64.powi(n.cast_signed()).to_bits(), "10^{n}");
        }
    }

    #[test]
    fn float_bits_round_trip_for_every_exponent_and_edge_mantissa() {
        for exponent in [i8::MIN, -2, 0, 1, i8::MAX] {
            for mantissa in [FLOAT_MANTISSA_MIN, -8_388_605, -1, 0, 1, 3760, 8_388_605, FLOAT_MANTISSA_MAX] {
                let raw = (u32::from(exponent.cast_unsigned()) << 24) | (mantissa.cast_unsigned() & 0x00FF_FFFF);
                assert_eq!(FloatValue::from_bits(raw).to_bits(), raw);
            }
        }
    }

    #[test]
    fn float_specials_only_at_exponent_zero() {
        assert_eq!(FloatValue::from_bits(0x007F_FFFF), FloatValue::NaN);
        assert_eq!(FloatValue::from_bits(0x017F_FFFF), FloatValue::Finite { mantissa: 8_388_607, exponent: 1 });
        assert_eq!(FloatValue::finite(8_388_607, 0), None);
        assert_eq!(FloatValue::finite(8_388_608, 1), None);
    }

    #[test]
    fn sfloat_decodes_negative_exponent_and_mantissa() {
        // 0xF02E: exponent −1, mantissa 46 → 4.6
        assert_eq!(SFloat::from_bits(0xF02E).to_f64(), Some(4.6));
        // 0x0FFF: exponent 0, mantissa −1
        assert_eq!(SFloat::from_bits(0x0FFF).to_f64(), Some(-1.0));
        assert_eq!(SFloat::finite(100, 8), None);
        assert_eq!(SFloat::from_f64(98.0, 0), Some(SFloat::Finite { mantissa: 98, exponent: 0 }));
        assert_eq!(SFloat::from_f64(5000.0, 0), None);
    }

    #[test]
    fn from_f64_rounds_to_the_exponent() {
        assert_eq!(FloatValue::from_f64(37.6, -2), Some(FloatValue::Finite { mantissa: 3760, exponent: -2 }));
        assert_eq!(FloatValue::from_f64(f64::NAN, -2), Some(FloatValue::NaN));
        assert_eq!(FloatValue::from_f64(f64::NEG_INFINITY, 0), Some(FloatValue::NegativeInfinity));
        assert_eq!(FloatValue::from_f64(37.6, -2).and_then(FloatValue::to_f64), Some(37.6));
    }
}
