//! Device profiles: what vigil expects from each kind of sensor.
//!
//! A profile (`devices/*.toml`) names the services and characteristics a kind
//! of sensor offers, how often it notifies, whether it measures continuously
//! or now and then (a cuff), whether its Environmental Sensing temperature is
//! skin or ambient, and its known quirks. The alarm engine takes the expected
//! interval for `tech.stale` from here; the BLE source picks a profile from
//! the advertised name or the offered services; the simulator builds its
//! payloads from it.
//!
//! The shipped profiles are embedded with `include_str!`, so the binary works
//! from any directory; they are parsed once, on first use.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Characteristic, Quantity};
use crate::verdict::DeviceTiming;

/// How a device's data is to be interpreted, from its profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceSetup {
    pub timing: DeviceTiming,
    /// What 0x2A6E temperature means for this device (skin or ambient).
    pub env_quantity: Quantity,
}

impl Default for DeviceSetup {
    fn default() -> Self {
        Self { timing: DeviceTiming::default(), env_quantity: Quantity::AmbientTemperatureC }
    }
}

/// What an Environmental Sensing temperature (0x2A6E) measures on this kind
/// of device. DESIGN.md: ambient unless the profile says skin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvTemperatureRole {
    Skin,
    #[default]
    Ambient,
}

impl EnvTemperatureRole {
    /// The quantity 0x2A6E decodes to on such a device.
    #[must_use]
    pub const fn quantity(self) -> Quantity {
        match self {
            EnvTemperatureRole::Skin => Quantity::SkinTemperatureC,
            EnvTemperatureRole::Ambient => Quantity::AmbientTemperatureC,
        }
    }
}

/// One kind of sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceProfile {
    /// Short id, the file name without `.toml` (`polar-h10`).
    pub id: String,
    /// Human name (`Polar H10`).
    pub name: String,
    /// One line on what this profile covers.
    pub description: String,
    /// Device Information strings a real unit reports, where known.
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    /// Advertised-name prefixes that identify this kind (case-insensitive).
    pub match_names: Vec<String>,
    /// 16-bit SIG services offered (0x180D …).
    pub services: Vec<u16>,
    /// Characteristics vigil subscribes to.
    pub characteristics: Vec<Characteristic>,
    /// Typical time between notifications of a continuous sensor; `None` for
    /// an intermittent one, whose period the user sets on the device.
    pub expected_interval: Option<Duration>,
    /// Measures now and then (a cuff): never stale, its value shows with its age.
    pub intermittent: bool,
    pub env_temperature: EnvTemperatureRole,
    /// Known behaviours, as short ids documented in the profile file
    /// (`rr_batched`, `contact_reported`, `indicate_once_per_measurement`…).
    pub quirks: Vec<String>,
}

impl DeviceProfile {
    #[must_use]
    pub fn has_quirk(&self, quirk: &str) -> bool {
        self.quirks.iter().any(|q| q == quirk)
    }

    #[must_use]
    pub fn offers(&self, characteristic: Characteristic) -> bool {
        self.characteristics.contains(&characteristic)
    }

    /// How the pipeline and the alarm engine treat a device of this kind.
    #[must_use]
    pub fn setup(&self) -> DeviceSetup {
        DeviceSetup {
            timing: DeviceTiming { expected_interval: self.expected_interval, intermittent: self.intermittent },
            env_quantity: self.env_temperature.quantity(),
        }
    }
}

/// A profile file that does not describe a profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ProfileError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// The shipped profiles, `(file name, text)`.
const BUILTIN: [(&str, &str); 7] = [
    ("generic-hr.toml", include_str!("../devices/generic-hr.toml")),
    ("polar-h10.toml", include_str!("../devices/polar-h10.toml")),
    ("health-thermometer.toml", include_str!("../devices/health-thermometer.toml")),
    ("env-thermometer.toml", include_str!("../devices/env-thermometer.toml")),
    ("skin-thermometer.toml", include_str!("../devices/skin-thermometer.toml")),
    ("pulse-oximeter.toml", include_str!("../devices/pulse-oximeter.toml")),
    ("bp-cuff.toml", include_str!("../devices/bp-cuff.toml")),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    id: String,
    name: String,
    description: String,
    manufacturer: Option<String>,
    model: Option<String>,
    #[serde(default)]
    match_names: Vec<String>,
    services: Vec<String>,
    characteristics: Vec<String>,
    expected_interval_ms: Option<u64>,
    #[serde(default)]
    intermittent: bool,
    #[serde(default)]
    env_temperature: EnvTemperatureRole,
    #[serde(default)]
    quirks: Vec<String>,
}

/// Line (1-based) of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// Parse one profile file; `file` names it in errors.
pub fn parse_profile(file: &str, text: &str) -> Result<DeviceProfile, ProfileError> {
    let err = |line: Option<usize>, message: String| ProfileError { file: file.to_owned(), line, message };
    let raw: ProfileFile = toml::from_str(text)
        .map_err(|e| err(e.span().map(|s| line_of(text, s.start)), crate::excerpt::excerpt_quoted(e.message())))?;
    let services = raw
        .services
        .iter()
        .map(|s| {
            let hex = s.trim_start_matches("0x");
            u16::from_str_radix(hex, 16)
                .map_err(|_| err(None, format!("services: `{s}` is not a 16-bit service number (180d)")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let characteristics = raw
        .characteristics
        .iter()
        .map(|c| Characteristic::parse(c).map_err(|e| err(None, format!("characteristics: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.intermittent == raw.expected_interval_ms.is_some() {
        return Err(err(
            None,
            "a continuous profile needs expected_interval_ms; an intermittent one must not have it".to_owned(),
        ));
    }
    Ok(DeviceProfile {
        id: raw.id,
        name: raw.name,
        description: raw.description,
        manufacturer: raw.manufacturer,
        model: raw.model,
        match_names: raw.match_names,
        services,
        characteristics,
        expected_interval: raw.expected_interval_ms.map(Duration::from_millis),
        intermittent: raw.intermittent,
        env_temperature: raw.env_temperature,
        quirks: raw.quirks,
    })
}

fn builtin() -> &'static [DeviceProfile] {
    static PROFILES: OnceLock<Vec<DeviceProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        BUILTIN
            .iter()
            // The shipped files are checked by `builtin_profiles_parse`; a
            // broken one is a build defect, so it is left out rather than
            // taking the monitor down.
            .filter_map(|(file, text)| parse_profile(file, text).ok())
            .collect()
    })
}

/// Every shipped profile.
#[must_use]
pub fn builtin_profiles() -> Vec<DeviceProfile> {
    builtin().to_vec()
}

/// The shipped profile with this id.
#[must_use]
pub fn profile(id: &str) -> Option<DeviceProfile> {
    builtin().iter().find(|p| p.id == id).cloned()
}

/// The profile whose name prefix matches an advertised name
/// (`Polar H10 1234` → `polar-h10`); the longest matching prefix wins, so a
/// specific model beats a family.
#[must_use]
pub fn match_by_name(advertised_name: &str) -> Option<DeviceProfile> {
    let name = advertised_name.trim().to_lowercase();
    builtin()
        .iter()
        .flat_map(|p| p.match_names.iter().map(move |m| (p, m.to_lowercase())))
        .filter(|(_, prefix)| name.starts_with(prefix.as_str()))
        .max_by_key(|(_, prefix)| prefix.len())
        .map(|(p, _)| p.clone())
}

/// The profile of a device that connects without one declared: by its
/// advertised name, else by the services it offers. The pipeline adopts
/// it and the recorder writes its id to `session.json`.
#[must_use]
pub fn match_connected(name: Option<&str>, services: &[u16]) -> Option<DeviceProfile> {
    name.and_then(match_by_name).or_else(|| match_by_services(services))
}

/// The generic profile for a device known only by the services it offers
/// (heart rate, thermometer, oximeter, cuff, environmental sensing).
#[must_use]
pub fn match_by_services(services: &[u16]) -> Option<DeviceProfile> {
    const GENERIC: [(u16, &str); 5] = [
        (0x180D, "generic-hr"),
        (0x1810, "bp-cuff"),
        (0x1822, "pulse-oximeter"),
        (0x1809, "health-thermometer"),
        (0x181A, "env-thermometer"),
    ];
    GENERIC.iter().find(|(service, _)| services.contains(service)).and_then(|(_, id)| profile(id))
}

impl fmt::Display for DeviceProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for (file, text) in BUILTIN {
            let p = parse_profile(file, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(format!("{}.toml", p.id), file, "id matches the file name");
            assert!(!p.characteristics.is_empty());
        }
        assert_eq!(builtin_profiles().len(), BUILTIN.len());
    }

    #[test]
    fn names_match_the_specific_model() {
        assert_eq!(match_by_name("Polar H10 8C4D2A1F").map(|p| p.id), Some("polar-h10".to_owned()));
        assert_eq!(match_by_name("polar h10 1").map(|p| p.id), Some("polar-h10".to_owned()));
        assert_eq!(match_by_name("Kettle 3000"), None);
    }

    #[test]
    fn services_fall_back_to_generic_profiles() {
        assert_eq!(match_by_services(&[0x180F, 0x180D]).map(|p| p.id), Some("generic-hr".to_owned()));
        assert_eq!(match_by_services(&[0x1810]).map(|p| p.id), Some("bp-cuff".to_owned()));
        assert_eq!(match_by_services(&[0x180F]), None);
    }

    #[test]
    fn cuff_is_intermittent_and_strap_continuous() {
        let cuff = profile("bp-cuff").unwrap();
        assert!(cuff.intermittent && cuff.expected_interval.is_none());
        let h10 = profile("polar-h10").unwrap();
        assert_eq!(h10.expected_interval, Some(Duration::from_secs(1)));
        assert!(h10.has_quirk("rr_batched") && h10.has_quirk("contact_reported"));
        assert_eq!(profile("skin-thermometer").unwrap().env_temperature, EnvTemperatureRole::Skin);
        assert_eq!(profile("env-thermometer").unwrap().env_temperature, EnvTemperatureRole::Ambient);
        let setup = profile("skin-thermometer").unwrap().setup();
        assert_eq!(setup.env_quantity, Quantity::SkinTemperatureC);
        assert_eq!(setup.timing.expected_interval, Some(Duration::from_secs(10)));
        assert!(cuff.setup().timing.intermittent);
    }

    #[test]
    fn bad_profile_names_file_and_line() {
        let e = parse_profile("x.toml", "id = \"x\"\nname = \"X\"\ndescription = \"d\"\nservices = []\ncharacteristics = []\nexpected_interval_ms = 1000\ncolour = 3\n")
            .unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.to_string().starts_with("x.toml:7: "), "{e}");
        assert!(e.message.contains("colour"), "{e}");
    }
}
