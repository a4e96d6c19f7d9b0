//! Configuration: the alarm limits and a few session settings, validated once
//! into typed values.
//!
//! Layering: a TOML file (`--config`) overrides the built-in defaults key by
//! key (a table that is present but partial keeps the defaults of the keys it
//! omits); the command line over the file is the CLI's job. Unknown keys are
//! rejected, and every error names the file, the line and the key.
//!
//! Durations have keys ending `_s` and take seconds or a humantime text
//! (`90`, `"1m 30s"`), thresholds carry their unit (`above_bpm`,
//! `from_celsius`, `below_pct`, …), so a file reads without a manual. [`default_toml`] prints the defaults, with their clinical source,
//! as a file that loads back to exactly [`Config::default`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::excerpt::number;

mod duration;
mod limits;
use crate::model::{Condition, Priority};
use duration::secs;
pub use limits::*;
use toml::de::{DeTable, DeValue};

/// Everything a config file can set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub session: SessionConfig,
    pub alarms: AlarmConfig,
    pub dashboard: DashboardConfig,
}

/// `[session] max_devices` unless the configuration says otherwise.
pub const DEFAULT_MAX_DEVICES: usize = 32;

/// Highest `max_devices` accepted: one bed's sensors, with room to spare.
pub const MAX_DEVICES_LIMIT: usize = 256;

/// `[session]`: what one session takes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Most sensors one session monitors: a device table entry, history
    /// rings and alarm state are kept for each, so input naming ever new
    /// devices is refused past this many (the `manual` readings excepted).
    pub max_devices: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { max_devices: DEFAULT_MAX_DEVICES }
    }
}

/// The longest recent window the dashboard can show (the history rings
/// are sized for it).
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// Width of the recent-window charts when the dashboard opens.
    #[serde(rename = "window_s", with = "secs")]
    pub window: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self { window: Duration::from_secs(10 * 60) }
    }
}

/// The alarm rules of DESIGN.md's table, one table per condition.
///
/// `tech.recording`, `tech.stalled` and `tech.alarm_command` are not
/// configurable: they are high priority at once, because each means vigil
/// itself, or the path an alarm takes out of it, is failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlarmConfig {
    /// How long the audio pause silences the audible signal.
    #[serde(rename = "audio_pause_s", with = "secs")]
    pub audio_pause: Duration,
    pub hr_high: HrHigh,
    pub hr_low: HrLow,
    pub hr_rise: HrRise,
    pub temp_high: TempHigh,
    pub temp_rise: TempRise,
    pub spo2_low: Spo2Low,
    pub bp_high: BpHigh,
    pub tech_stale: TechStale,
    pub tech_disconnected: TechDisconnected,
    pub tech_no_contact: TechNoContact,
    pub tech_invalid: TechInvalid,
    pub tech_battery_low: TechBatteryLow,
    pub tech_ecg: TechEcg,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        Self {
            audio_pause: Duration::from_secs(120),
            hr_high: HrHigh::default(),
            hr_low: HrLow::default(),
            hr_rise: HrRise::default(),
            temp_high: TempHigh::default(),
            temp_rise: TempRise::default(),
            spo2_low: Spo2Low::default(),
            bp_high: BpHigh::default(),
            tech_stale: TechStale::default(),
            tech_disconnected: TechDisconnected::default(),
            tech_no_contact: TechNoContact::default(),
            tech_invalid: TechInvalid::default(),
            tech_battery_low: TechBatteryLow::default(),
            tech_ecg: TechEcg::default(),
        }
    }
}

/// A limit that is out of order or out of range: the dotted key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct LimitError {
    /// Dotted config key, e.g. `alarms.hr_high.medium.above_bpm`.
    pub key: String,
    pub message: String,
    /// The other key of a failed comparison (an order check): an error
    /// is reported at whichever of the two the file sets.
    pub other: Option<String>,
}

impl LimitError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into(), other: None }
    }

    fn against(mut self, other: impl Into<String>) -> Self {
        self.other = Some(other.into());
        self
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key, or a value of the wrong type.
    #[error("{}: {message}", Location { path, line: *line, column: *column, key: key.as_deref() })]
    Parse { path: PathBuf, line: Option<usize>, column: Option<usize>, key: Option<String>, message: String },
    /// Well-formed, but a limit is out of order or out of range.
    #[error("{}: {message}", Location { path, line: *line, column: None, key: Some(key) })]
    Invalid { path: PathBuf, line: Option<usize>, key: String, message: String },
}

/// `file:line:column: key `k``, for error messages.
struct Location<'a> {
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
    key: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(key) = self.key {
            write!(f, ": key `{key}`")?;
        }
        Ok(())
    }
}

impl Config {
    /// Read and validate a config file; keys it omits keep their defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        Self::from_toml_str(&text, path)
    }

    /// Parse and validate `text`; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let doc = DeTable::parse(text).map_err(|e| parse_error(text, origin, None, &e))?;
        // serde_path_to_error follows the keys down to the one at fault;
        // toml gives the error the span of that key or its value.
        let config: Config = serde_path_to_error::deserialize(toml::Deserializer::from(doc.clone())).map_err(|e| {
            let key = (e.path().iter().len() > 0).then(|| e.path().to_string());
            parse_error(text, origin, key, e.inner())
        })?;
        config.validate().map_err(|e| {
            // The key the file sets (the one at fault, else the other side
            // of a comparison), else the deepest table on the key's path.
            let line = |span: std::ops::Range<usize>| line_col(text, span.start).0;
            let (key, line) = [Some(&e.key), e.other.as_ref()]
                .into_iter()
                .flatten()
                .find_map(|k| match key_span(doc.get_ref(), k) {
                    Some((true, span)) => Some((k.clone(), Some(line(span)))),
                    _ => None,
                })
                .unwrap_or_else(|| (e.key.clone(), key_span(doc.get_ref(), &e.key).map(|(_, span)| line(span))));
            ConfigError::Invalid { path: origin.to_owned(), line, key, message: e.message }
        })?;
        Ok(config)
    }

    /// Check every limit for range and order.
    pub fn validate(&self) -> Result<(), LimitError> {
        let w = self.dashboard.window;
        if w < Duration::from_secs(10) || w > MAX_WINDOW {
            return Err(LimitError::new(
                "dashboard.window_s",
                format!("must be between 10 and {} s", MAX_WINDOW.as_secs()),
            ));
        }
        if !(1..=MAX_DEVICES_LIMIT).contains(&self.session.max_devices) {
            return Err(LimitError::new("session.max_devices", format!("must be between 1 and {MAX_DEVICES_LIMIT}")));
        }
        self.alarms.validate()
    }
}

impl AlarmConfig {
    /// Check every limit for range and order (low < medium < high for
    /// rising limits, the reverse for falling ones).
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.audio_pause.is_zero() {
            return Err(LimitError::new("alarms.audio_pause_s", "must be more than 0"));
        }
        check_threshold("alarms.hr_high", &self.hr_high.view(), 1.0..=300.0)?;
        check_threshold("alarms.hr_low", &self.hr_low.view(), 1.0..=300.0)?;
        check_threshold("alarms.hr_rise", &self.hr_rise.view(), 1.0..=200.0)?;
        check_threshold("alarms.temp_high", &self.temp_high.view(), 30.0..=45.0)?;
        check_threshold("alarms.spo2_low", &self.spo2_low.view(), 50.0..=100.0)?;
        if self.hr_rise.baseline_window < Duration::from_secs(10) {
            return Err(LimitError::new("alarms.hr_rise.baseline_window_s", "must be at least 10 s"));
        }
        let r = &self.temp_rise;
        if !(r.rise_celsius.is_finite() && r.rise_celsius > 0.0 && r.rise_celsius <= 10.0) {
            return Err(LimitError::new("alarms.temp_rise.rise_celsius", "must be between 0 and 10 °C"));
        }
        if !(r.hysteresis_celsius.is_finite() && r.hysteresis_celsius >= 0.0 && r.hysteresis_celsius < r.rise_celsius) {
            return Err(LimitError::new(
                "alarms.temp_rise.hysteresis_celsius",
                "must be at least 0 and less than rise_celsius",
            ));
        }
        if r.within < Duration::from_secs(60) || r.within > Duration::from_secs(6 * 3600) {
            return Err(LimitError::new("alarms.temp_rise.within_s", "must be between 60 s and 6 h"));
        }
        self.validate_bp()?;
        let s = &self.tech_stale;
        if s.min.is_zero() {
            return Err(LimitError::new("alarms.tech_stale.min_s", "must be more than 0"));
        }
        if !(s.interval_factor.is_finite() && s.interval_factor >= 1.0) {
            return Err(LimitError::new("alarms.tech_stale.interval_factor", "must be at least 1"));
        }
        if !(s.medium_factor.is_finite() && s.medium_factor > 1.0) {
            return Err(LimitError::new("alarms.tech_stale.medium_factor", "must be more than 1"));
        }
        if s.default_interval.is_zero() {
            return Err(LimitError::new("alarms.tech_stale.default_interval_s", "must be more than 0"));
        }
        if self.tech_ecg.after.is_zero() {
            return Err(LimitError::new("alarms.tech_ecg.after_s", "must be more than 0"));
        }
        let b = self.tech_battery_low.at_or_below_pct;
        if !(0.0..=100.0).contains(&b) {
            return Err(LimitError::new("alarms.tech_battery_low.at_or_below_pct", "must be between 0 and 100"));
        }
        for (key, after) in [
            ("alarms.hr_high", self.hr_high.escalate_after),
            ("alarms.hr_low", self.hr_low.escalate_after),
            ("alarms.hr_rise", self.hr_rise.escalate_after),
            ("alarms.temp_high", self.temp_high.escalate_after),
            ("alarms.temp_rise", self.temp_rise.escalate_after),
            ("alarms.spo2_low", self.spo2_low.escalate_after),
            ("alarms.bp_high", self.bp_high.escalate_after),
            ("alarms.tech_disconnected", self.tech_disconnected.escalate_after),
            ("alarms.tech_no_contact", self.tech_no_contact.escalate_after),
            ("alarms.tech_invalid", self.tech_invalid.escalate_after),
            ("alarms.tech_ecg", self.tech_ecg.escalate_after),
        ] {
            if after.is_some_and(|d| d.is_zero()) {
                return Err(LimitError::new(
                    format!("{key}.escalate_after_s"),
                    "must be more than 0 (omit it to turn escalation off)",
                ));
            }
        }
        Ok(())
    }

    fn validate_bp(&self) -> Result<(), LimitError> {
        let bp = &self.bp_high;
        for (name, level) in [("medium", bp.medium), ("high", bp.high)] {
            if let Some(l) = level {
                for (field, v) in
                    [("systolic_above_mmhg", l.systolic_above_mmhg), ("diastolic_above_mmhg", l.diastolic_above_mmhg)]
                {
                    if !(v.is_finite() && (40.0..=300.0).contains(&v)) {
                        return Err(LimitError::new(
                            format!("alarms.bp_high.{name}.{field}"),
                            format!("{} mmHg is outside 40–300 mmHg", number(v)),
                        ));
                    }
                }
            }
        }
        if let (Some(m), Some(h)) = (bp.medium, bp.high) {
            if h.systolic_above_mmhg <= m.systolic_above_mmhg {
                return Err(LimitError::new(
                    "alarms.bp_high.high.systolic_above_mmhg",
                    format!(
                        "high ({} mmHg) must be above medium ({} mmHg)",
                        h.systolic_above_mmhg, m.systolic_above_mmhg
                    ),
                )
                .against("alarms.bp_high.medium.systolic_above_mmhg"));
            }
            if h.diastolic_above_mmhg <= m.diastolic_above_mmhg {
                return Err(LimitError::new(
                    "alarms.bp_high.high.diastolic_above_mmhg",
                    format!(
                        "high ({} mmHg) must be above medium ({} mmHg)",
                        h.diastolic_above_mmhg, m.diastolic_above_mmhg
                    ),
                )
                .against("alarms.bp_high.medium.diastolic_above_mmhg"));
            }
        }
        Ok(())
    }

    /// The threshold rule of a condition that has one (`None` for
    /// `temp.rise`, `bp.high` and the technical conditions).
    #[must_use]
    pub fn threshold(&self, condition: Condition) -> Option<ThresholdView> {
        Some(match condition {
            Condition::HrHigh => self.hr_high.view(),
            Condition::HrLow => self.hr_low.view(),
            Condition::HrRise => self.hr_rise.view(),
            Condition::TempHigh => self.temp_high.view(),
            Condition::Spo2Low => self.spo2_low.view(),
            _ => return None,
        })
    }

    /// Change one limit (the operator's `limit` action). The changed
    /// configuration is validated as a whole; on error nothing changes.
    ///
    /// For `bp.high` the value is the systolic limit; for `temp.rise` the
    /// rise in °C; for `tech.battery_low` the percentage.
    pub fn set_limit(&mut self, condition: Condition, priority: Priority, value: f64) -> Result<(), LimitError> {
        let key = config_key(condition);
        let level_key = format!("{key}.{}", priority.as_str());
        if !value.is_finite() {
            return Err(LimitError::new(level_key, "the value must be a finite number"));
        }
        let mut changed = self.clone();
        let missing = || LimitError::new(level_key.clone(), format!("{condition} has no {priority} limit"));
        match condition {
            Condition::HrHigh => changed.hr_high.slot(priority).as_mut().ok_or_else(missing)?.threshold = value,
            Condition::HrLow => changed.hr_low.slot(priority).as_mut().ok_or_else(missing)?.threshold = value,
            Condition::HrRise => changed.hr_rise.slot(priority).as_mut().ok_or_else(missing)?.threshold = value,
            Condition::TempHigh => changed.temp_high.slot(priority).as_mut().ok_or_else(missing)?.threshold = value,
            Condition::Spo2Low => changed.spo2_low.slot(priority).as_mut().ok_or_else(missing)?.threshold = value,
            Condition::TempRise if priority == changed.temp_rise.priority => changed.temp_rise.rise_celsius = value,
            Condition::BpHigh => {
                let level = match priority {
                    Priority::Medium => changed.bp_high.medium.as_mut(),
                    Priority::High => changed.bp_high.high.as_mut(),
                    Priority::Low => None,
                };
                level.ok_or_else(missing)?.systolic_above_mmhg = value;
            }
            Condition::TechBatteryLow if priority == changed.tech_battery_low.priority => {
                changed.tech_battery_low.at_or_below_pct = value;
            }
            Condition::TempRise | Condition::TechBatteryLow => return Err(missing()),
            _ => {
                return Err(LimitError::new(key, format!("{condition} has no adjustable limit")));
            }
        }
        changed.validate()?;
        *self = changed;
        Ok(())
    }
}

/// The config table of a condition (`hr.high` → `alarms.hr_high`).
#[must_use]
pub fn config_key(condition: Condition) -> String {
    format!("alarms.{}", condition.as_str().replace('.', "_"))
}

fn check_threshold(key: &str, view: &ThresholdView, range: std::ops::RangeInclusive<f64>) -> Result<(), LimitError> {
    const NAMES: [&str; 3] = ["low", "medium", "high"];
    let field = |i: usize| format!("{key}.{}", NAMES[i]);
    let mut previous: Option<(usize, f64)> = None;
    for (i, level) in view.levels.iter().enumerate() {
        let Some(level) = level else { continue };
        let t = level.threshold;
        if !(t.is_finite() && range.contains(&t)) {
            return Err(LimitError::new(
                field(i),
                format!("{} {} is outside {}–{} {}", number(t), view.unit, range.start(), range.end(), view.unit),
            ));
        }
        if let Some((j, p)) = previous {
            let ordered = if view.direction.rising() { t > p } else { t < p };
            if !ordered {
                let relation = if view.direction.rising() { "above" } else { "below" };
                return Err(LimitError::new(
                    field(i),
                    format!(
                        "{} limit {} {} must be {relation} the {} limit {} {}",
                        NAMES[i],
                        number(t),
                        view.unit,
                        NAMES[j],
                        number(p),
                        view.unit
                    ),
                )
                .against(field(j)));
            }
        }
        previous = Some((i, t));
    }
    if !(view.hysteresis.is_finite() && view.hysteresis >= 0.0) {
        return Err(LimitError::new(format!("{key}.{}", view.hysteresis_key), "must be a number at least 0"));
    }
    Ok(())
}

fn parse_error(text: &str, origin: &Path, key: Option<String>, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    let key = key.map(|k| crate::excerpt::excerpt(&k));
    let message = crate::excerpt::excerpt_quoted(e.message().trim());
    ConfigError::Parse { path: origin.to_owned(), line, column, key, message }
}

/// Where the file writes the dotted key `dotted`, from toml's spans: the
/// span of its last part and `true`; or, when the file does not set the key
/// itself, of the deepest part of its path that it sets (the table the key
/// would go in) and `false`.
fn key_span(doc: &DeTable, dotted: &str) -> Option<(bool, std::ops::Range<usize>)> {
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut table = doc;
    let mut deepest = None;
    for (i, part) in parts.iter().enumerate() {
        let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *part) else { break };
        deepest = Some((i + 1 == parts.len(), key.span()));
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    deepest
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    (line, column)
}

/// The built-in defaults as a commented TOML file (`vigil config`). It loads
/// back to exactly [`Config::default`] (tested).
#[must_use]
pub fn default_toml() -> String {
    DEFAULT_TOML.to_owned()
}

const DEFAULT_TOML: &str = include_str!("config/default.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("test.toml"))
    }

    #[test]
    fn default_toml_loads_back_to_the_defaults() {
        let config = parse(&default_toml()).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn serialized_defaults_load_back() {
        let text = toml::to_string(&Config::default()).unwrap();
        assert_eq!(parse(&text).unwrap(), Config::default());
    }

    #[test]
    fn defaults_match_the_design_table() {
        let a = Config::default().alarms;
        assert_eq!(a.audio_pause, Duration::from_secs(120));
        assert_eq!(a.hr_high.medium, Some(AboveBpm::new(120.0, 30)));
        assert_eq!(a.hr_low.low, None);
        assert_eq!(a.temp_high.medium, Some(FromCelsius::new(38.5, 120)));
        assert_eq!(a.spo2_low.high, Some(BelowPct::new(85.0, 10)));
        assert_eq!(a.tech_disconnected.escalate_after, Some(Duration::from_secs(60)));
        assert_eq!(a.tech_no_contact.onset, Duration::from_secs(10));
        Config::default().validate().unwrap();
    }

    #[test]
    fn partial_file_overrides_only_what_it_names() {
        let config = parse("[alarms.hr_high]\nmedium = { above_bpm = 125, for_s = 20 }\n").unwrap();
        let mut expected = Config::default();
        expected.alarms.hr_high.medium = Some(AboveBpm::new(125.0, 20));
        assert_eq!(config, expected);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[alarms]\naudio_pause_s = 60\n\n[alarms.hr_high]\nhysteresis_bmp = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("test.toml:5:"), "{text}");
        assert!(text.contains("alarms.hr_high.hysteresis_bmp"), "{text}");
        assert!(text.contains("unknown field"), "{text}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let err = parse("[alarms]\naudio_pause_s = \"two minutes\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("test.toml:2:"), "{text}");
        assert!(text.contains("alarms.audio_pause_s"), "{text}");
    }

    /// serde_path_to_error follows the key down through tables and inline
    /// tables; toml's span gives its line.
    #[test]
    fn a_wrong_value_deep_in_the_file_names_its_whole_key() {
        let text = "[alarms]\naudio_pause_s = 60\n\n[alarms.hr_high]\nmedium = { above_bpm = \"fast\", for_s = 20 }\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:5:"), "{err}");
        assert!(err.contains("key `alarms.hr_high.medium.above_bpm`: invalid type: string \"fast\""), "{err}");
        let err = parse("[alarms.tech_stale]\nmin_s = \"soon\"\n").unwrap_err().to_string();
        assert!(err.starts_with("test.toml:2:") && err.contains("key `alarms.tech_stale.min_s`"), "{err}");
        // Bad TOML has no key to name, only its place.
        let err = parse("[alarms\n").unwrap_err().to_string();
        assert!(err.starts_with("test.toml:1:") && !err.contains("key `"), "{err}");
    }

    /// Durations take seconds or a humantime text (`"1m 30s"`).
    #[test]
    fn durations_take_humantime_texts() {
        let config =
            parse("[alarms]\naudio_pause_s = \"2m\"\nhr_high.medium = { above_bpm = 125, for_s = \"1m 30s\" }\n")
                .unwrap();
        assert_eq!(config.alarms.audio_pause, Duration::from_secs(120));
        assert_eq!(config.alarms.hr_high.medium, Some(AboveBpm::new(125.0, 90)));
    }

    #[test]
    fn negative_duration_is_rejected() {
        let err = parse("[alarms.tech_no_contact]\nfor_s = -1\n").unwrap_err();
        assert!(err.to_string().starts_with("test.toml:2:"), "{err}");
    }

    /// A validation error points at the key's own line, named as the file
    /// spells it.
    #[test]
    fn hysteresis_errors_name_the_unit_key_on_its_line() {
        let err = parse("# mine\n[alarms.hr_high]\nenabled = true\nhysteresis_bpm = -1\n").unwrap_err().to_string();
        assert!(err.starts_with("test.toml:4: key `alarms.hr_high.hysteresis_bpm`"), "{err}");
        let err = parse("\n\nalarms.spo2_low.hysteresis_pct = -1\n").unwrap_err().to_string();
        assert!(err.starts_with("test.toml:3: key `alarms.spo2_low.hysteresis_pct`"), "{err}");
        let err = parse("[alarms]\n\ntemp_high = { hysteresis_celsius = -0.5 }\n").unwrap_err().to_string();
        assert!(err.starts_with("test.toml:3: key `alarms.temp_high.hysteresis_celsius`"), "{err}");
    }

    /// An order check between a level the file sets and one it leaves at
    /// its default names the one in the file, where the mistake is.
    #[test]
    fn order_errors_name_the_level_the_file_sets() {
        let text = "[alarms]\n# raised\nhr_high.medium = { above_bpm = 150, for_s = 30 }\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:3: key `alarms.hr_high.medium`"), "{err}");
        assert!(err.contains("150") && err.contains("140"), "{err}");
        let text = "[alarms.hr_high]\nlow = { above_bpm = 90, for_s = 60 }\n\nhigh = { above_bpm = 110, for_s = 15 }\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:4: key `alarms.hr_high.high`"), "{err}");
        // Keys in inline tables on one line, and quoted keys.
        let text = "\n[alarms]\n\"bp_high\" = { medium = { systolic_above_mmhg = 190, diastolic_above_mmhg = 100 } }\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:3: key `alarms.bp_high.medium.systolic_above_mmhg`"), "{err}");
    }

    /// An absurd number is quoted short (1e300 displays as 301 digits).
    #[test]
    fn a_huge_number_is_quoted_short() {
        for text in [
            "[alarms.hr_high]\nhigh = { above_bpm = 1e300, for_s = 15 }\n",
            "[alarms.bp_high]\nhigh = { systolic_above_mmhg = 1e300, diastolic_above_mmhg = 110 }\n",
            "[alarms.tech_no_contact]\nfor_s = 1e300\n",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("1e300") && err.len() < 200, "{err}");
        }
    }

    /// What a parse error quotes of the file is cut and escaped.
    #[test]
    fn a_long_or_hostile_key_is_quoted_short() {
        let key = format!("x\u{1b}[2J{}", "k".repeat(5000));
        let err = parse(&format!("[alarms]\n\"{key}\" = 1\n")).unwrap_err().to_string();
        assert!(err.len() < 600 && !err.contains('\u{1b}'), "{} bytes: {err:?}", err.len());
        assert!(err.starts_with("test.toml:2:"), "{err}");
    }

    #[test]
    fn limits_out_of_order_are_rejected_with_line_and_key() {
        let text = "# my limits\n[alarms.hr_high]\nmedium = { above_bpm = 95, for_s = 30 }\n";
        let err = parse(text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("test.toml:3: key `alarms.hr_high.medium`"), "{msg}");
        assert!(msg.contains("must be above the low limit 100"), "{msg}");

        let err = parse("[alarms.spo2_low]\nhigh = { below_pct = 92, for_s = 10 }\n").unwrap_err();
        assert!(err.to_string().contains("must be below the medium limit 90"), "{err}");

        let err =
            parse("[alarms.bp_high]\nhigh = { systolic_above_mmhg = 150, diastolic_above_mmhg = 120 }\n").unwrap_err();
        assert!(err.to_string().contains("alarms.bp_high.high.systolic_above_mmhg"), "{err}");
    }

    #[test]
    fn set_limit_validates_order_and_leaves_config_unchanged_on_error() {
        let mut a = AlarmConfig::default();
        a.set_limit(Condition::HrHigh, Priority::Medium, 125.0).unwrap();
        assert_eq!(a.hr_high.medium.unwrap().threshold, 125.0);
        let before = a.clone();
        assert!(a.set_limit(Condition::HrHigh, Priority::Medium, 150.0).is_err());
        assert!(a.set_limit(Condition::HrLow, Priority::Low, 50.0).is_err());
        assert!(a.set_limit(Condition::TechStale, Priority::Low, 5.0).is_err());
        assert!(a.set_limit(Condition::HrHigh, Priority::Low, f64::NAN).is_err());
        assert_eq!(a, before);
        a.set_limit(Condition::BpHigh, Priority::Medium, 150.0).unwrap();
        assert_eq!(a.bp_high.medium.unwrap().systolic_above_mmhg, 150.0);
    }

    #[test]
    fn load_names_a_missing_file() {
        let err = Config::load(Path::new("/nonexistent/vigil.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/vigil.toml"), "{err}");
    }
}
