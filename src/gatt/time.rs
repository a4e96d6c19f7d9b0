//! The 7-byte Bluetooth SIG Date Time (0x2A08), as embedded in the
//! thermometer's and the cuff's Time Stamp field.
//!
//! Layout (GATT Specification Supplement, Date Time): `year` u16 LE
//! (1582–9999, 0 = not known), `month` u8 (1–12, 0 = not known), `day` u8
//! (1–31, 0 = not known), `hours` u8 (0–23), `minutes` u8 (0–59), `seconds`
//! u8 (0–59).
//!
//! Decoding keeps the raw fields, whatever they are, so the payload encodes
//! back byte for byte; only [`DateTime::unix_nanos`] judges validity. The
//! field carries no time zone: vigil takes it as UTC, as the device believes
//! it (the recording keeps it in its own column, next to the receive time).

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

/// Length of the Date Time field on the wire.
pub const DATE_TIME_LEN: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hours: u8,
    pub minutes: u8,
    pub seconds: u8,
}

impl DateTime {
    /// From the 7 bytes of the field.
    #[must_use]
    pub const fn from_bytes(b: [u8; DATE_TIME_LEN]) -> Self {
        Self {
            year: u16::from_le_bytes([b[0], b[1]]),
            month: b[2],
            day: b[3],
            hours: b[4],
            minutes: b[5],
            seconds: b[6],
        }
    }

    #[must_use]
    pub const fn to_bytes(self) -> [u8; DATE_TIME_LEN] {
        let y = self.year.to_le_bytes();
        [y[0], y[1], self.month, self.day, self.hours, self.minutes, self.seconds]
    }

    /// Nanoseconds since the Unix epoch, taking the fields as UTC; `None`
    /// when any part is "not known" (0) or out of range (Feb 30, 24:00, a
    /// year before the Gregorian calendar).
    #[must_use]
    pub fn unix_nanos(self) -> Option<i64> {
        if self.year < 1582 || self.year > 9999 {
            return None;
        }
        NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), u32::from(self.day))?
            .and_hms_opt(u32::from(self.hours), u32::from(self.minutes), u32::from(self.seconds))?
            .and_utc()
            .timestamp_nanos_opt()
    }
}

impl Serialize for DateTime {
    /// As `2012-12-05T11:50:27`, zero-padded even where a part is "not
    /// known" (`0000-00-00T…`), so a reader sees exactly what the device sent.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hours, self.minutes, self.seconds
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_is_utc_nanos() {
        let t = DateTime::from_bytes([0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B]);
        assert_eq!((t.year, t.month, t.day, t.hours, t.minutes, t.seconds), (2012, 12, 5, 11, 50, 27));
        // 2012-12-05T11:50:27Z
        assert_eq!(t.unix_nanos(), Some(1_354_708_227_000_000_000));
        assert_eq!(t.to_bytes(), [0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B]);
    }

    #[test]
    fn unknown_or_impossible_parts_give_no_time() {
        let ok = DateTime { year: 2024, month: 2, day: 29, hours: 23, minutes: 59, seconds: 59 };
        assert!(ok.unix_nanos().is_some());
        for bad in [
            DateTime { year: 0, ..ok },
            DateTime { month: 0, ..ok },
            DateTime { day: 0, ..ok },
            DateTime { day: 30, ..ok },
            DateTime { hours: 24, ..ok },
            DateTime { seconds: 60, ..ok },
            DateTime { year: 1000, ..ok },
        ] {
            assert_eq!(bad.unix_nanos(), None, "{bad:?}");
        }
    }
}
