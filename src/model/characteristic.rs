//! GATT characteristics as recordings, streams and `vigil decode` name them.

use std::fmt;

/// A GATT characteristic, identified the way recordings and streams spell it:
/// 4 lowercase hex digits for SIG 16-bit UUIDs, the full UUID otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Characteristic {
    /// 0x2A37
    HeartRateMeasurement,
    /// 0x2A1C (indicated)
    TemperatureMeasurement,
    /// 0x2A1E
    IntermediateTemperature,
    /// 0x2A6E (Environmental Sensing)
    Temperature,
    /// 0x2A35 (indicated)
    BloodPressureMeasurement,
    /// 0x2A5F
    PlxContinuousMeasurement,
    /// 0x2A19
    BatteryLevel,
    /// Any other SIG 16-bit characteristic.
    Sig16(u16),
    /// A vendor characteristic with a full 128-bit UUID.
    Uuid128(u128),
}

/// The Bluetooth base UUID `0000xxxx-0000-1000-8000-00805f9b34fb` with the
/// 16-bit part zeroed.
pub const BLUETOOTH_BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5f9b_34fb;

impl Characteristic {
    #[must_use]
    pub const fn from_u16(short: u16) -> Self {
        match short {
            0x2A37 => Self::HeartRateMeasurement,
            0x2A1C => Self::TemperatureMeasurement,
            0x2A1E => Self::IntermediateTemperature,
            0x2A6E => Self::Temperature,
            0x2A35 => Self::BloodPressureMeasurement,
            0x2A5F => Self::PlxContinuousMeasurement,
            0x2A19 => Self::BatteryLevel,
            other => Self::Sig16(other),
        }
    }

    /// The SIG 16-bit assigned number, if this is a SIG characteristic.
    #[must_use]
    pub const fn short(self) -> Option<u16> {
        Some(match self {
            Self::HeartRateMeasurement => 0x2A37,
            Self::TemperatureMeasurement => 0x2A1C,
            Self::IntermediateTemperature => 0x2A1E,
            Self::Temperature => 0x2A6E,
            Self::BloodPressureMeasurement => 0x2A35,
            Self::PlxContinuousMeasurement => 0x2A5F,
            Self::BatteryLevel => 0x2A19,
            Self::Sig16(s) => s,
            Self::Uuid128(_) => return None,
        })
    }

    /// The full 128-bit UUID.
    #[must_use]
    pub const fn uuid(self) -> u128 {
        match self {
            Self::Uuid128(u) => u,
            other => match other.short() {
                Some(s) => BLUETOOTH_BASE_UUID | ((s as u128) << 96),
                None => 0,
            },
        }
    }

    /// From a full UUID; SIG base UUIDs become their 16-bit form.
    #[must_use]
    pub const fn from_uuid(uuid: u128) -> Self {
        let mask: u128 = !(0xFFFF_FFFFu128 << 96);
        if uuid & mask == BLUETOOTH_BASE_UUID && (uuid >> 112) == 0 {
            Self::from_u16(((uuid >> 96) & 0xFFFF) as u16)
        } else {
            Self::Uuid128(uuid)
        }
    }

    /// Parse `2a37`, `0x2A37` or a full UUID (with or without dashes).
    pub fn parse(text: &str) -> Result<Self, ParseCharacteristicError> {
        let t = text.trim();
        let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
        let hex: String = t.chars().filter(|c| *c != '-').collect();
        let err = || ParseCharacteristicError(text.to_owned());
        match hex.len() {
            4 => u16::from_str_radix(&hex, 16).map(Self::from_u16).map_err(|_| err()),
            32 => u128::from_str_radix(&hex, 16).map(Self::from_uuid).map_err(|_| err()),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Characteristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short() {
            Some(s) => write!(f, "{s:04x}"),
            None => {
                let u = self.uuid();
                write!(
                    f,
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    (u >> 96) as u32,
                    (u >> 80) as u16,
                    (u >> 64) as u16,
                    (u >> 48) as u16,
                    u & 0xFFFF_FFFF_FFFF
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a characteristic: give 4 hex digits (2a37) or a full UUID", crate::excerpt::excerpt(.0))]
pub struct ParseCharacteristicError(pub String);
