//! Durations in configuration files: (fractional) seconds, keys ending `_s`.

/// `Duration` as (fractional) seconds.
pub mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    // serde's `with` hands the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        to_duration(s).map_err(serde::de::Error::custom)
    }

    pub fn to_duration(s: f64) -> Result<Duration, String> {
        if s.is_finite() && (0.0..=1e9).contains(&s) {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(format!("{} is not a duration in seconds (0 or more)", crate::excerpt::number(s)))
        }
    }
}

/// `Option<Duration>` as (fractional) seconds, absent when `None`.
pub mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = f64::deserialize(d)?;
        super::secs::to_duration(s).map(Some).map_err(serde::de::Error::custom)
    }
}
