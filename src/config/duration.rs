//! Durations in configuration files, keys ending `_s`: seconds (`90`,
//! `0.5`) or a text `humantime` reads (`"90s"`, `"1m 30s"`, `"2h"`).
//! Written back as seconds.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};

/// Longest duration a key takes (about 31 years): far past any session,
/// and short of what `Duration::from_secs_f64` cannot hold.
const MAX_SECS: f64 = 1e9;

/// `Duration` as seconds, or a humantime text.
pub mod secs {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    // serde's `with` hands the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(super::DurationVisitor)
    }
}

/// `Option<Duration>` as seconds or a humantime text, absent when `None`.
pub mod opt_secs {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(super::DurationVisitor).map(Some)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: seconds (90) or a text such as \"1m 30s\"")
    }

    fn visit_f64<E: de::Error>(self, s: f64) -> Result<Duration, E> {
        if s.is_finite() && (0.0..=MAX_SECS).contains(&s) {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(E::custom(format_args!("{} is not a duration in seconds (0 or more)", crate::excerpt::number(s))))
        }
    }

    // A TOML integer; i64 to f64 loses nothing below 2^53, and MAX_SECS
    // refuses anything larger.
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, s: i64) -> Result<Duration, E> {
        self.visit_f64(s as f64)
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, s: u64) -> Result<Duration, E> {
        self.visit_f64(s as f64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        let d = humantime::parse_duration(text).map_err(|e| {
            E::custom(format_args!(
                "`{}` is not a duration ({e}): write seconds (90) or a text such as \"90s\" or \"1m 30s\"",
                crate::excerpt::excerpt(text)
            ))
        })?;
        if d.as_secs_f64() > MAX_SECS {
            return Err(E::custom(format_args!("`{}` is longer than 31 years", crate::excerpt::excerpt(text))));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Keys {
        #[serde(with = "super::secs")]
        delay_s: Duration,
        #[serde(default, with = "super::opt_secs")]
        escalate_after_s: Option<Duration>,
    }

    fn read(text: &str) -> Result<Keys, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn seconds_and_humantime_texts_read_alike() {
        for (value, secs) in [("90", 90.0), ("0.5", 0.5), ("0", 0.0), ("\"90s\"", 90.0), ("\"1m 30s\"", 90.0)] {
            let keys = read(&format!("delay_s = {value}\nescalate_after_s = {value}")).unwrap();
            assert_eq!(keys.delay_s, Duration::from_secs_f64(secs), "{value}");
            assert_eq!(keys.escalate_after_s, Some(Duration::from_secs_f64(secs)), "{value}");
        }
        assert_eq!(read("delay_s = \"2h 500ms\"").unwrap().delay_s, Duration::from_millis(7_200_500));
        assert_eq!(read("delay_s = 1").unwrap().escalate_after_s, None);
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let e = read("delay_s = \"ninety\"").unwrap_err();
        assert!(e.contains("`ninety` is not a duration") && e.contains("1m 30s"), "{e}");
        let e = read("delay_s = -1").unwrap_err();
        assert!(e.contains("-1 is not a duration in seconds"), "{e}");
        let e = read("delay_s = \"-1s\"").unwrap_err();
        assert!(e.contains("`-1s` is not a duration"), "{e}");
        let e = read("delay_s = \"40years\"").unwrap_err();
        assert!(e.contains("longer than 31 years"), "{e}");
        let e = read("delay_s = true").unwrap_err();
        assert!(e.contains("expected a duration"), "{e}");
    }
}
