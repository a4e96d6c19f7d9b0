//! Temperature 0x2A6E (Environmental Sensing service 0x181A).
//!
//! Layout (GATT Specification Supplement "Temperature";
//! `org.bluetooth.characteristic.temperature`): one sint16, little-endian,
//! in units of 0.01 °C (decimal exponent −2); `0x8000` means "value is not
//! known". Exactly 2 bytes; no flags.
//!
//! Whether it is skin or ambient temperature is not in the payload: the
//! device profile says so, and [`crate::gatt::Measurement::samples`] takes it
//! as a parameter.

use serde::Serialize;

use super::{DecodeError, SampleSink, check_len};
use crate::model::{Characteristic, Payload, Quantity};

/// The "value is not known" code.
pub const UNKNOWN: i16 = i16::MIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EnvironmentalTemperature {
    /// Hundredths of a degree Celsius as sent; [`UNKNOWN`] is "not known".
    pub temperature_centi_c: i16,
}

#[inline]
pub fn decode(p: &[u8]) -> Result<EnvironmentalTemperature, DecodeError> {
    check_len(Characteristic::Temperature, None, p, 2)?;
    Ok(EnvironmentalTemperature { temperature_centi_c: i16::from_le_bytes([p[0], p[1]]) })
}

impl EnvironmentalTemperature {
    /// °C, or `None` for "not known".
    #[must_use]
    pub fn celsius(&self) -> Option<f64> {
        (self.temperature_centi_c != UNKNOWN).then(|| f64::from(self.temperature_centi_c) / 100.0)
    }

    pub fn encode_into(&self, out: &mut Payload) {
        out.extend_from_slice(&self.temperature_centi_c.to_le_bytes());
    }

    // Inlined with `decode` into `gatt::decode_samples`, where the
    // measurement then never leaves registers.
    #[inline]
    pub(crate) fn samples(&self, quantity: Quantity, sink: &mut SampleSink<'_>) {
        sink.push(quantity, self.celsius().unwrap_or(f64::NAN));
    }
}
