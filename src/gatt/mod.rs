//! Decoders and encoders for the Bluetooth SIG characteristics vigil reads.
//!
//! (Being written: see issue 2.)

use crate::model::{Characteristic, DeviceLabel, Quantity, Sample, SessionTime};

/// A payload that breaks its characteristic's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("characteristic {0} is not one vigil decodes")]
    Unsupported(Characteristic),
}

/// One decoded notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {}

/// Decode one notification value.
pub fn decode(characteristic: Characteristic, _payload: &[u8]) -> Result<Measurement, DecodeError> {
    Err(DecodeError::Unsupported(characteristic))
}

impl Measurement {
    /// Append this measurement's samples, stamped at `at` (RR intervals
    /// backwards from `at`). `env_quantity` says whether 0x2A6E is skin or
    /// ambient temperature for this device.
    pub fn samples(&self, _at: SessionTime, _device: &DeviceLabel, _env_quantity: Quantity, _out: &mut Vec<Sample>) {
        match *self {}
    }
}

/// Decoded payload as JSON for `vigil decode` (placeholder until branch `gatt` lands).
pub fn decode_json(characteristic: Characteristic, payload: &[u8]) -> Result<serde_json::Value, DecodeError> {
    decode(characteristic, payload).map(|m| match m {})
}
