//! Polar Measurement Data (PMD): the vendor service beside the standard
//! heart-rate service on which a Polar H10 streams raw ECG.
//!
//! Layout (Polar BLE SDK, "Polar Measurement Data specification"):
//!
//! - Service `FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8`; control point
//!   `…5C81` (write, indicate); data `…5C82` (notify).
//! - Start ECG: `02 00 00 01 82 00 01 01 0E 00` (op 2 = start, measurement
//!   type 0 = ECG, setting 0 = sample rate: one u16 value, 130; setting 1 =
//!   resolution: one u16 value, 14 bits). Stop: `03 00`.
//! - The control point answers `F0 <op> <type> <status> <more> <params…>`;
//!   status 0 is success.
//! - A data notification: byte 0 the measurement type (0 = ECG); bytes 1–8
//!   a u64 LE timestamp, nanoseconds since 2000-01-01T00:00:00 UTC, of the
//!   frame's last sample; byte 9 the frame type (bit 7 set = compressed,
//!   which the H10 never sends for ECG, so it is a decode error here; type
//!   0 = 3-byte samples); then samples, 3 bytes each, signed LE, µV.

use serde::Serialize;

use super::DecodeError;
use crate::model::{Characteristic, Payload};

/// The PMD service.
pub const SERVICE: u128 = 0xFB00_5C80_02E7_F387_1CAD_8ACD_2D8D_F0C8;
/// The PMD control point (write, indicate).
pub const CONTROL_POINT: u128 = 0xFB00_5C81_02E7_F387_1CAD_8ACD_2D8D_F0C8;
/// The PMD data characteristic (notify).
pub const DATA: u128 = 0xFB00_5C82_02E7_F387_1CAD_8ACD_2D8D_F0C8;

/// The data characteristic as recordings name it.
pub const DATA_CHARACTERISTIC: Characteristic = Characteristic::Uuid128(DATA);

/// Start ECG at 130 Hz, 14-bit resolution.
pub const START_ECG: [u8; 10] = [0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00];
/// Stop ECG.
pub const STOP_ECG: [u8; 2] = [0x03, 0x00];

/// Measurement type of ECG.
const ECG: u8 = 0;
/// Frame type bit that marks a compressed (delta-coded) frame.
const COMPRESSED: u8 = 0x80;
/// Bytes before the samples.
const HEADER: usize = 10;
/// Seconds from the Unix epoch to 2000-01-01T00:00:00 UTC, PMD's epoch.
pub const EPOCH_2000_UNIX_S: i64 = 946_684_800;

/// One ECG data notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcgFrame {
    /// Time of the frame's last sample, ns since 2000-01-01 UTC (the
    /// strap's clock).
    pub timestamp_ns: u64,
    /// Samples, oldest first, µV (24-bit signed on the wire).
    pub samples_uv: Vec<i32>,
}

impl EcgFrame {
    /// The frame's time as nanoseconds since the Unix epoch, where it fits.
    #[must_use]
    pub fn unix_ns(&self) -> Option<i64> {
        i64::try_from(self.timestamp_ns).ok()?.checked_add(EPOCH_2000_UNIX_S * 1_000_000_000)
    }

    /// The payload that decodes to this frame. Samples outside the 24-bit
    /// range are clamped to it.
    pub fn encode_into(&self, out: &mut Payload) {
        out.push(ECG);
        out.extend_from_slice(&self.timestamp_ns.to_le_bytes());
        out.push(0);
        for &s in &self.samples_uv {
            let s = s.clamp(-(1 << 23), (1 << 23) - 1);
            out.extend_from_slice(&s.to_le_bytes()[..3]);
        }
    }
}

fn bad(field: &'static str, offset: usize, value: u8) -> DecodeError {
    DecodeError::BadValue { characteristic: DATA_CHARACTERISTIC, field, offset, value: u32::from(value) }
}

/// Decode one PMD data notification that must hold ECG.
///
/// # Errors
/// Shorter than the 10-byte header, another measurement type, a compressed
/// or unknown frame type, or a sample field that is not whole 3-byte
/// samples.
pub fn decode_data(p: &[u8]) -> Result<EcgFrame, DecodeError> {
    let view = EcgFrameRef::decode(p)?;
    Ok(EcgFrame { timestamp_ns: view.timestamp_ns, samples_uv: view.samples_uv().collect() })
}

/// A checked ECG data notification read in place: what [`decode_data`]
/// decodes, without the sample vector (the pipeline's per-notification
/// path allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcgFrameRef<'a> {
    /// As [`EcgFrame::timestamp_ns`].
    pub timestamp_ns: u64,
    /// The sample bytes, a whole number of 3-byte samples.
    body: &'a [u8],
}

impl<'a> EcgFrameRef<'a> {
    /// Check a notification as [`decode_data`] does.
    ///
    /// # Errors
    /// As [`decode_data`].
    pub fn decode(p: &'a [u8]) -> Result<Self, DecodeError> {
        if p.len() < HEADER {
            return Err(DecodeError::TooShort {
                characteristic: DATA_CHARACTERISTIC,
                flags: None,
                needed: HEADER,
                got: p.len(),
            });
        }
        if p[0] != ECG {
            return Err(bad("measurement type (only ECG, 0, is decoded)", 0, p[0]));
        }
        if p[9] & COMPRESSED != 0 {
            return Err(bad("frame type (compressed ECG frames are not sent by the H10)", 9, p[9]));
        }
        if p[9] != 0 {
            return Err(bad("frame type", 9, p[9]));
        }
        let body = &p[HEADER..];
        if !body.len().is_multiple_of(3) {
            return Err(DecodeError::TrailingBytes {
                characteristic: DATA_CHARACTERISTIC,
                flags: None,
                expected: HEADER + body.len() / 3 * 3,
                got: p.len(),
            });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&p[1..9]);
        Ok(Self { timestamp_ns: u64::from_le_bytes(ts), body })
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.body.len() / 3
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The samples, oldest first, µV.
    pub fn samples_uv(&self) -> impl ExactSizeIterator<Item = i32> + 'a {
        // Sign-extend the 24-bit value: place it in the top three bytes,
        // then shift back arithmetically.
        self.body.chunks_exact(3).map(|b| i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8)
    }
}

/// A control point answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlResponse {
    /// The operation answered (2 = start, 3 = stop, 1 = get settings).
    pub op: u8,
    pub measurement_type: u8,
    pub status: u8,
    /// Whether more answer frames follow.
    pub more: bool,
    pub params: Vec<u8>,
}

impl ControlResponse {
    /// Whether the operation succeeded.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.status == 0
    }

    /// The status by name, as Polar's SDK names them.
    #[must_use]
    pub fn status_name(&self) -> &'static str {
        match self.status {
            0 => "success",
            1 => "invalid op code",
            2 => "invalid measurement type",
            3 => "not supported",
            4 => "invalid length",
            5 => "invalid parameter",
            6 => "already in state",
            7 => "invalid resolution",
            8 => "invalid sample rate",
            9 => "invalid range",
            10 => "invalid MTU",
            11 => "invalid number of channels",
            12 => "invalid state",
            13 => "device in charger",
            _ => "unknown status",
        }
    }
}

/// Decode a control point indication.
///
/// # Errors
/// Shorter than 5 bytes, or not an answer (`F0`).
pub fn decode_control(p: &[u8]) -> Result<ControlResponse, DecodeError> {
    let control = Characteristic::Uuid128(CONTROL_POINT);
    if p.len() < 5 {
        return Err(DecodeError::TooShort { characteristic: control, flags: None, needed: 5, got: p.len() });
    }
    if p[0] != 0xF0 {
        return Err(DecodeError::BadValue {
            characteristic: control,
            field: "response code (an answer starts with F0)",
            offset: 0,
            value: u32::from(p[0]),
        });
    }
    Ok(ControlResponse { op: p[1], measurement_type: p[2], status: p[3], more: p[4] != 0, params: p[5..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_vector_decodes() {
        let p = hex::decode("000094357700000000000280ff028000").unwrap();
        let f = decode_data(&p).unwrap();
        assert_eq!(f.timestamp_ns, 2_000_000_000);
        assert_eq!(f.samples_uv, vec![-32_766, 32_770]);
        let mut back = Payload::new();
        f.encode_into(&mut back);
        assert_eq!(back.as_slice(), p.as_slice());
        assert_eq!(f.unix_ns(), Some(EPOCH_2000_UNIX_S * 1_000_000_000 + 2_000_000_000));
    }

    #[test]
    fn bad_frames_are_decode_errors_that_say_why() {
        let vector = hex::decode("000094357700000000000280ff028000").unwrap();
        let mut compressed = vector.clone();
        compressed[9] = 0x80;
        let mut acc = vector.clone();
        acc[0] = 2;
        for (p, says) in [
            (&vector[..9], "10"),
            (&compressed[..], "compressed"),
            (&acc[..], "measurement type"),
            (&vector[..15], "unexpected bytes from offset 13"),
        ] {
            let e = decode_data(p).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn control_answers_name_their_status() {
        let ok = decode_control(&[0xF0, 0x02, 0x00, 0x00, 0x00]).unwrap();
        assert!(ok.ok());
        let refused = decode_control(&[0xF0, 0x02, 0x00, 0x06, 0x00]).unwrap();
        assert_eq!((refused.ok(), refused.status_name()), (false, "already in state"));
        assert!(decode_control(&[0x02, 0, 0, 0, 0]).is_err());
        assert!(decode_control(&[0xF0]).is_err());
    }
}
