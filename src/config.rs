//! Configuration. PLACEHOLDER until branch `alarms` (issue 3) is merged.

use std::path::Path;

use crate::alarms::AlarmConfig;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Config {
    pub alarms: AlarmConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}: configuration files are not yet supported")]
pub struct ConfigError(String);

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Err(ConfigError(path.display().to_string()))
    }
}

#[must_use]
pub fn default_toml() -> String {
    String::new()
}
