//! The topic tree: `vigil/v1/{site}/{room}/{kind}`, names exact, no
//! sub-topics (DESIGN.md "Central station (MQTT 5)").

use std::fmt;

use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

/// The first two levels of every topic.
pub const ROOT: &str = "vigil/v1";

/// The last level of a topic: what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, AsRefStr, IntoStaticStr, EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    Status,
    Vitals,
    Alarms,
    AlarmState,
    Events,
    Ack,
}

/// One room's topic of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    pub site: String,
    pub room: String,
    pub kind: Kind,
}

impl Topic {
    /// The topic of `kind` for `site`/`room` (both checked by [`check_name`]).
    #[must_use]
    pub fn new(site: &str, room: &str, kind: Kind) -> Self {
        Self { site: site.to_owned(), room: room.to_owned(), kind }
    }

    /// A topic name as a broker delivers it; `None` if it is not one of
    /// vigil's (wrong root, missing level, unknown kind, sub-topic).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(ROOT)?.strip_prefix('/')?;
        let mut levels = rest.split('/');
        let (site, room, kind) = (levels.next()?, levels.next()?, levels.next()?);
        if levels.next().is_some() || check_name("site", site).is_err() || check_name("room", room).is_err() {
            return None;
        }
        Some(Self { site: site.to_owned(), room: room.to_owned(), kind: kind.parse().ok()? })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ROOT}/{}/{}/{}", self.site, self.room, self.kind)
    }
}

/// The filter a station subscribes to: every room of `site`, every kind.
#[must_use]
pub fn site_filter(site: &str) -> String {
    format!("{ROOT}/{site}/+/+")
}

/// Longest site or room name.
pub const MAX_NAME_LEN: usize = 64;

/// A site or room name is one topic level a person can type: 1 to 64 of
/// `A–Z a–z 0–9 - _ .`. MQTT's own separators and wildcards (`/ + #`) and
/// anything invisible are refused, so a name can never widen a filter or
/// reach another room's topics.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a {what} name: use 1 to {MAX_NAME_LEN} letters, digits, `-`, `_` or `.`",
            crate::excerpt::excerpt(name)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_round_trips_through_its_name() {
        let t = Topic::new("clinic-1", "room.3", Kind::AlarmState);
        assert_eq!(t.to_string(), "vigil/v1/clinic-1/room.3/alarm_state");
        assert_eq!(Topic::parse(&t.to_string()), Some(t));
    }

    #[test]
    fn foreign_or_malformed_topics_are_not_vigils() {
        for name in [
            "vigil/v2/s/r/status",
            "vigil/v1/s/r",
            "vigil/v1/s/r/status/extra",
            "vigil/v1/s/r/bogus",
            "vigil/v1/s/+/status",
            "vigil/v1//r/status",
            "other/v1/s/r/status",
        ] {
            assert_eq!(Topic::parse(name), None, "{name}");
        }
    }

    #[test]
    fn names_that_could_widen_a_filter_are_refused() {
        for bad in ["", "a/b", "+", "#", "a b", "é", &"x".repeat(65)] {
            assert!(check_name("room", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("room", "ICU-2_b.1").is_ok());
    }
}
