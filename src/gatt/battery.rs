//! Battery Level 0x2A19 (Battery service 0x180F).
//!
//! Layout (GATT Specification Supplement "Battery Level";
//! `org.bluetooth.characteristic.battery_level`): one uint8, percent,
//! 0–100; 101–255 are reserved for future use. Exactly 1 byte.
//!
//! A reserved value is a [`DecodeError::BadValue`]: unlike a temperature
//! type, this byte is the whole measurement, and 150 is not a percentage
//! the low-battery alarm could reason about.

use serde::Serialize;

use super::{DecodeError, SampleSink, check_len};
use crate::model::{Characteristic, Payload, Quantity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct BatteryLevel {
    pub level_pct: u8,
}

#[inline]
pub fn decode(p: &[u8]) -> Result<BatteryLevel, DecodeError> {
    check_len(Characteristic::BatteryLevel, None, p, 1)?;
    if p[0] > 100 {
        return Err(DecodeError::BadValue {
            characteristic: Characteristic::BatteryLevel,
            field: "battery level",
            offset: 0,
            value: u32::from(p[0]),
        });
    }
    Ok(BatteryLevel { level_pct: p[0] })
}

impl BatteryLevel {
    pub fn encode_into(&self, out: &mut Payload) {
        out.push(self.level_pct);
    }

    // Inlined with `decode` into `gatt::decode_samples`, where the
    // measurement then never leaves registers.
    #[inline]
    pub(crate) fn samples(&self, sink: &mut SampleSink<'_>) {
        sink.push(Quantity::BatteryPct, f64::from(self.level_pct));
    }
}
