//! `vigil summary`: what a researcher wants to know about a recording before
//! opening it — duration, devices, each quantity's statistics, data quality
//! and time beyond the alarm limits, alarms, gaps, decode errors and markers.
//!
//! The figures are `analysis`'s: vital statistics and their exclusions from
//! `analysis::stats`, alarm episodes and time in alarm from
//! `analysis::alarms` (the headless summary line counts with the same code).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{RecordError, Recording};
use crate::analysis::alarms::{AlarmTime, count, time_in_alarm};
use crate::analysis::stats::{Holes, VitalStats, exclusion, series, vital_stats};
use crate::model::{AlarmEvent, Condition, OperatorAction, OutputEvent, Priority, Quantity, Sample, SessionTime};

/// Where `vigil report` finds the alarm episodes (moved to
/// `analysis::alarms`, their one definition).
pub(crate) use crate::analysis::alarms::{Episode, episodes};

/// How the text output states what an alarm count is.
pub const ALARM_COUNT_DEFINITION: &str =
    "episodes from onset to clear, each counted once at the highest priority it reached";

/// A sample counts towards "time beyond a limit" until the next sample of
/// its series, but never longer than this: a sensor that went quiet does not
/// keep a value beyond its limit for hours.
pub const MAX_HOLD_S: f64 = 10.0;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub participant: Option<String>,
    /// `--protocol`, `--visit`, `--note` (format 3; none before).
    pub protocol: Option<String>,
    pub visit: Option<String>,
    pub notes: Vec<String>,
    /// The scenario and seed of a simulated session.
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub start_utc: String,
    pub end_utc: Option<String>,
    pub duration_s: f64,
    /// Every file has its footer.
    pub complete: bool,
    /// Files that could be read only in part (unfinished or damaged): where
    /// each stopped and why. The figures cover what was read.
    pub damaged: Vec<String>,
    pub clean_shutdown: bool,
    pub segments: usize,
    pub devices: Vec<DeviceSummary>,
    pub quantities: Vec<QuantitySummary>,
    pub alarms: AlarmSummary,
    pub gaps: Vec<GapSummary>,
    pub decode_errors: DecodeErrors,
    pub markers: Vec<MarkerSummary>,
    /// `session.json` (the config recorded with the session), `defaults`
    /// (DESIGN.md's table), or the `--config` file the alarms were re-run
    /// under.
    pub limits_from: String,
}

/// The alarms of a recording re-run under another configuration
/// (`vigil summary --config F`), as `vigil replay --config F` makes them.
#[derive(Debug, Clone)]
pub struct Rerun {
    /// The configuration file.
    pub file: PathBuf,
    /// Its configuration, as `session.json` records one (read for the
    /// limits of "time beyond a limit").
    pub config: serde_json::Value,
    /// Every alarm event of the re-run, in order.
    pub alarms: Vec<AlarmEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    pub label: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuantitySummary {
    pub device: String,
    pub quantity: &'static str,
    pub unit: &'static str,
    /// Every sample of the series, used or not.
    pub samples: usize,
    /// Statistics of the used samples and the counts of those excluded
    /// (`no_contact`, `invalid`, `in_gap`).
    #[serde(flatten)]
    pub stats: VitalStats,
    pub beyond: Vec<Beyond>,
}

/// Time a series spent beyond one alarm limit, from its used samples only.
#[derive(Debug, Clone, Serialize)]
pub struct Beyond {
    pub condition: &'static str,
    pub priority: &'static str,
    /// e.g. `> 100`.
    pub limit: String,
    pub seconds: f64,
    pub samples: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AlarmSummary {
    /// `recorded` (the recording's own alarm events) or `re-run under FILE`.
    pub from: String,
    /// Alarm episodes (first non-cleared state to clear) by the highest
    /// priority each reached.
    pub by_priority: BTreeMap<&'static str, u64>,
    pub by_condition: BTreeMap<&'static str, u64>,
    /// Time at each priority per condition (an escalating episode's time
    /// split by the priority it stood at).
    pub time: Vec<AlarmTime>,
    /// Time during which at least one alarm was not cleared.
    pub total_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapSummary {
    pub at: String,
    pub at_s: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DecodeErrors {
    pub total: usize,
    /// Per device label (`stream` for bad input lines without one).
    pub by_device: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkerSummary {
    pub at: String,
    pub at_s: f64,
    pub label: String,
    pub kind: Option<String>,
    pub amount_mg: Option<f64>,
}

/// Print the summary of the recording in `dir`, as text or JSON.
pub fn summary(dir: &Path, json: bool, out: &mut dyn Write) -> Result<(), RecordError> {
    Summary::of(&Recording::open(dir)?)?.write(json, out)
}

impl Summary {
    /// The summary of a recording as it was recorded.
    pub fn of(r: &Recording) -> Result<Summary, RecordError> {
        Self::build(r, None)
    }

    /// The summary with the alarms and limits of a re-run under another
    /// configuration; everything else is the recording's.
    pub fn with_rerun(r: &Recording, rerun: &Rerun) -> Result<Summary, RecordError> {
        Self::build(r, Some(rerun))
    }

    /// As text or pretty JSON.
    pub fn write(&self, json: bool, out: &mut dyn Write) -> Result<(), RecordError> {
        let io = |source| RecordError::Io { path: "stdout".into(), source };
        if json {
            serde_json::to_writer_pretty(&mut *out, self).map_err(|e| RecordError::Other(e.to_string()))?;
            writeln!(out).map_err(io)?;
        } else {
            self.write_text(out).map_err(io)?;
        }
        Ok(())
    }

    fn build(r: &Recording, rerun: Option<&Rerun>) -> Result<Summary, RecordError> {
        let samples = r.samples()?;
        let mut events = r.events()?;
        let end = r.end()?;
        let holes = Holes::from_events(&events, end);
        let (limits, limits_from, alarms_from) = match rerun {
            None => {
                let (limits, from) = Limit::from_config(&r.meta.config);
                (limits, from.to_owned(), "recorded".to_owned())
            }
            Some(rerun) => {
                let file = rerun.file.display().to_string();
                events.retain(|e| !matches!(e, OutputEvent::Alarm(_)));
                events.extend(rerun.alarms.iter().cloned().map(OutputEvent::Alarm));
                (Limit::from_config(&rerun.config).0, file.clone(), format!("re-run under {file}"))
            }
        };
        Ok(Summary {
            id: r.meta.id.clone(),
            participant: r.meta.participant.clone(),
            protocol: r.meta.protocol.clone(),
            visit: r.meta.visit.clone(),
            notes: r.meta.notes.clone(),
            scenario: r.meta.scenario.clone(),
            seed: r.meta.seed,
            start_utc: r.meta.start_utc.to_rfc3339(),
            end_utc: r.meta.end_utc.map(|t| t.to_rfc3339()),
            duration_s: end.as_secs_f64(),
            complete: r.complete(),
            damaged: r.damage()?.iter().map(ToString::to_string).collect(),
            clean_shutdown: r.meta.clean_shutdown,
            segments: r.meta.segments.len(),
            devices: r
                .meta
                .devices
                .iter()
                .map(|(label, d)| DeviceSummary {
                    label: label.clone(),
                    name: d.name.clone(),
                    address: d.address.clone(),
                    model: d.info.model.clone(),
                    firmware: d.info.firmware.clone(),
                })
                .collect(),
            quantities: quantities(&samples, &limits, &holes),
            alarms: alarms(&events, end, alarms_from),
            gaps: events
                .iter()
                .filter_map(|e| match e {
                    OutputEvent::Gap { at, duration } => {
                        Some(GapSummary { at: at.to_string(), at_s: at.as_secs_f64(), seconds: duration.as_secs_f64() })
                    }
                    _ => None,
                })
                .collect(),
            decode_errors: decode_errors(&events),
            markers: events
                .iter()
                .filter_map(|e| match e {
                    OutputEvent::Operator { at, action: OperatorAction::Marker(m) } => Some(MarkerSummary {
                        at: at.to_string(),
                        at_s: at.as_secs_f64(),
                        label: m.label.clone(),
                        kind: m.kind.map(|k| {
                            serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
                        }),
                        amount_mg: m.amount_mg,
                    }),
                    _ => None,
                })
                .collect(),
            limits_from,
        })
    }

    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let state = match (self.complete, self.clean_shutdown) {
            (true, true) => "complete, clean shutdown",
            (true, false) => "complete (recovered after a crash)",
            (false, _) => "UNFINISHED: run `vigil recover` to finalise",
        };
        writeln!(out, "recording   {}  ({state})", self.id)?;
        for damage in &self.damaged {
            writeln!(out, "PARTIAL     {damage}; the figures below cover what was read")?;
        }
        writeln!(out, "participant {}", self.participant.as_deref().unwrap_or("anon"))?;
        let about: Vec<String> = [("protocol", &self.protocol), ("visit", &self.visit), ("scenario", &self.scenario)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
            .chain(self.seed.map(|s| format!("seed {s}")))
            .collect();
        if !about.is_empty() {
            writeln!(out, "session     {}", about.join("  "))?;
        }
        for note in &self.notes {
            writeln!(out, "note        {note}")?;
        }
        writeln!(
            out,
            "time        {} to {}  ({}; {} segment{})",
            self.start_utc,
            self.end_utc.as_deref().unwrap_or("?"),
            hms(self.duration_s),
            self.segments,
            if self.segments == 1 { "" } else { "s" }
        )?;
        for d in &self.devices {
            let mut line = format!("device      {}", d.label);
            for (k, v) in [("", &d.name), ("", &d.address), ("model ", &d.model), ("firmware ", &d.firmware)] {
                if let Some(v) = v {
                    line.push_str(&format!("  {k}{v}"));
                }
            }
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:<24} {:<10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "quantity", "device", "samples", "used", "min", "median", "mean", "max"
        )?;
        let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        for q in &self.quantities {
            let st = &q.stats;
            let excluded: Vec<String> =
                [(st.no_contact, "no contact"), (st.invalid, "invalid"), (st.in_gap, "in a gap")]
                    .iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, why)| format!("{n} {why}"))
                    .collect();
            writeln!(
                out,
                "{:<24} {:<10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}  {}{}",
                q.quantity,
                q.device,
                q.samples,
                st.n,
                num(st.min),
                num(st.median),
                num(st.mean),
                num(st.max),
                q.unit,
                if excluded.is_empty() { String::new() } else { format!("  (excluded: {})", excluded.join(", ")) }
            )?;
            for b in q.beyond.iter().filter(|b| b.samples > 0) {
                writeln!(
                    out,
                    "    {} {:<6} {:<9} {:>9}  ({} samples)",
                    b.condition,
                    b.priority,
                    b.limit,
                    hms(b.seconds),
                    b.samples
                )?;
            }
        }
        writeln!(out)?;
        let by: Vec<String> = ["low", "medium", "high"]
            .iter()
            .map(|p| format!("{p} {}", self.alarms.by_priority.get(p).copied().unwrap_or(0)))
            .collect();
        writeln!(
            out,
            "alarms      {}; total alarm time {}  ({ALARM_COUNT_DEFINITION}; {})",
            by.join(", "),
            hms(self.alarms.total_seconds),
            self.alarms.from
        )?;
        for (c, n) in &self.alarms.by_condition {
            let times: Vec<String> = self
                .alarms
                .time
                .iter()
                .filter(|t| t.condition.as_str() == *c)
                .map(|t| format!("{} {}", t.priority.as_str(), hms(t.seconds)))
                .collect();
            writeln!(out, "    {c:<18} {n:>3}   {}", times.join(", "))?;
        }
        writeln!(out, "gaps        {}", self.gaps.len())?;
        for g in &self.gaps {
            writeln!(out, "    at {} for {:.1} s", g.at, g.seconds)?;
        }
        let per: Vec<String> = self.decode_errors.by_device.iter().map(|(d, n)| format!("{d} {n}")).collect();
        writeln!(
            out,
            "decode errors {}{}",
            self.decode_errors.total,
            if per.is_empty() { String::new() } else { format!(" ({})", per.join(", ")) }
        )?;
        writeln!(out, "markers     {}", self.markers.len())?;
        for m in &self.markers {
            writeln!(out, "    {}  {}", m.at, m.label)?;
        }
        writeln!(
            out,
            "limits      from {}; time beyond a limit holds each sample until the next, at most {MAX_HOLD_S} s",
            self.limits_from
        )?;
        Ok(())
    }
}

fn hms(secs: f64) -> String {
    SessionTime::from_secs_f64(secs).to_string()
}

fn quantities(samples: &[Sample], limits: &[Limit], holes: &Holes) -> Vec<QuantitySummary> {
    series(samples)
        .into_iter()
        .map(|((device, quantity), rows)| {
            let beyond = limits
                .iter()
                .filter(|l| l.quantity == quantity)
                .map(|l| {
                    let mut seconds = 0.0;
                    let mut n = 0;
                    // A used sample holds until the next sample of its
                    // series, used or not: that one says what came after.
                    for (i, s) in rows.iter().enumerate() {
                        if exclusion(s, holes).is_none() && l.beyond(s.value) {
                            n += 1;
                            if let Some(next) = rows.get(i + 1) {
                                seconds += next.at.since(s.at).as_secs_f64().min(MAX_HOLD_S);
                            }
                        }
                    }
                    Beyond {
                        condition: l.condition.as_str(),
                        priority: l.priority.as_str(),
                        limit: l.describe(),
                        seconds,
                        samples: n,
                    }
                })
                .collect();
            QuantitySummary {
                device: device.to_string(),
                quantity: quantity.as_str(),
                unit: quantity.unit(),
                samples: rows.len(),
                stats: vital_stats(rows.iter().copied(), None, holes),
                beyond,
            }
        })
        .collect()
}

fn alarms(events: &[OutputEvent], end: SessionTime, from: String) -> AlarmSummary {
    let episodes = episodes(events, end);
    let mut by_condition: BTreeMap<&'static str, u64> = BTreeMap::new();
    for e in &episodes {
        *by_condition.entry(e.condition.as_str()).or_default() += 1;
    }
    let counts = count(&episodes);
    let time = time_in_alarm(&episodes, SessionTime::ZERO, SessionTime::MAX);
    AlarmSummary {
        from,
        by_priority: [Priority::Low, Priority::Medium, Priority::High]
            .into_iter()
            .filter(|p| counts[*p as usize] > 0)
            .map(|p| (p.as_str(), counts[p as usize]))
            .collect(),
        by_condition,
        time: time.by_condition,
        total_seconds: time.any_seconds,
    }
}

fn decode_errors(events: &[OutputEvent]) -> DecodeErrors {
    let mut d = DecodeErrors::default();
    for e in events {
        if let OutputEvent::DecodeError { device, .. } = e {
            d.total += 1;
            *d.by_device.entry(device.as_deref().unwrap_or(super::schema::STREAM).to_owned()).or_default() += 1;
        }
    }
    d
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Above,
    AtLeast,
    Below,
}

/// One alarm threshold applied to one quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    pub(crate) condition: Condition,
    pub(crate) priority: Priority,
    pub(crate) quantity: Quantity,
    op: Op,
    pub(crate) threshold: f64,
}

impl Limit {
    fn beyond(&self, v: f64) -> bool {
        match self.op {
            Op::Above => v > self.threshold,
            Op::AtLeast => v >= self.threshold,
            Op::Below => v < self.threshold,
        }
    }

    pub(crate) fn describe(&self) -> String {
        let op = match self.op {
            Op::Above => ">",
            Op::AtLeast => "≥",
            Op::Below => "<",
        };
        format!("{op} {}", self.threshold)
    }

    /// DESIGN.md's default table: the one place the summary hard-codes it.
    /// (The alarm engine's own defaults live in `config`; a recording's
    /// `session.json` normally carries the limits actually used.)
    fn defaults() -> Vec<Limit> {
        use Condition::*;
        use Op::*;
        use Priority::*;
        use Quantity::*;
        let l = |condition, priority, quantity, op, threshold| Limit { condition, priority, quantity, op, threshold };
        vec![
            l(HrHigh, Low, HeartRateBpm, Above, 100.0),
            l(HrHigh, Medium, HeartRateBpm, Above, 120.0),
            l(HrHigh, High, HeartRateBpm, Above, 140.0),
            l(HrLow, Medium, HeartRateBpm, Below, 45.0),
            l(HrLow, High, HeartRateBpm, Below, 40.0),
            l(TempHigh, Low, BodyTemperatureC, AtLeast, 38.0),
            l(TempHigh, Medium, BodyTemperatureC, AtLeast, 38.5),
            l(TempHigh, High, BodyTemperatureC, AtLeast, 39.0),
            l(Spo2Low, Low, Spo2Pct, Below, 94.0),
            l(Spo2Low, Medium, Spo2Pct, Below, 90.0),
            l(Spo2Low, High, Spo2Pct, Below, 85.0),
            l(BpHigh, Medium, SystolicMmhg, Above, 160.0),
            l(BpHigh, High, SystolicMmhg, Above, 180.0),
            l(BpHigh, Medium, DiastolicMmhg, Above, 100.0),
            l(BpHigh, High, DiastolicMmhg, Above, 110.0),
        ]
    }

    /// The limits in `session.json`'s config, read generically (the alarm
    /// config's shape: `hr_high.medium.above_bpm`, `temp_high.low.from_celsius`,
    /// `bp_high.high.systolic_above_mmhg`, optionally under `alarms`), each
    /// falling back to its default; a condition with `enabled: false` is left
    /// out. Returns where the limits came from.
    pub(crate) fn from_config(config: &serde_json::Value) -> (Vec<Limit>, &'static str) {
        let alarms = config.get("alarms").unwrap_or(config);
        let mut from_config = false;
        let mut out = Vec::new();
        for mut l in Self::defaults() {
            let key = l.condition.as_str().replace('.', "_");
            let Some(cond) = alarms.get(&key) else {
                out.push(l);
                continue;
            };
            if cond.get("enabled").and_then(serde_json::Value::as_bool) == Some(false) {
                from_config = true;
                continue;
            }
            let level = cond.get(l.priority.as_str());
            if level.is_some_and(serde_json::Value::is_null) {
                from_config = true;
                continue;
            }
            let field = match l.quantity {
                Quantity::SystolicMmhg => Some("systolic_above_mmhg"),
                Quantity::DiastolicMmhg => Some("diastolic_above_mmhg"),
                _ => None,
            };
            let threshold = level.and_then(|lv| match field {
                Some(f) => lv.get(f).and_then(serde_json::Value::as_f64),
                None => lv.as_object().and_then(|o| {
                    o.iter().find(|(k, v)| !k.ends_with("_s") && v.is_number()).and_then(|(_, v)| v.as_f64())
                }),
            });
            if let Some(t) = threshold {
                l.threshold = t;
                from_config = true;
            }
            out.push(l);
        }
        (out, if from_config { "session.json" } else { "defaults (DESIGN.md)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_recorded_config_where_given() {
        let config = serde_json::json!({"alarms": {
            "hr_high": {"enabled": true, "medium": {"above_bpm": 125.0, "for_s": 30}},
            "spo2_low": {"enabled": false},
            "bp_high": {"high": {"systolic_above_mmhg": 190.0, "diastolic_above_mmhg": 115.0}}
        }});
        let (limits, from) = Limit::from_config(&config);
        assert_eq!(from, "session.json");
        let find = |c, p, q| {
            limits.iter().find(|l| l.condition == c && l.priority == p && l.quantity == q).map(|l| l.threshold)
        };
        assert_eq!(find(Condition::HrHigh, Priority::Medium, Quantity::HeartRateBpm), Some(125.0));
        assert_eq!(find(Condition::HrHigh, Priority::Low, Quantity::HeartRateBpm), Some(100.0));
        assert_eq!(find(Condition::Spo2Low, Priority::Low, Quantity::Spo2Pct), None);
        assert_eq!(find(Condition::BpHigh, Priority::High, Quantity::DiastolicMmhg), Some(115.0));
        assert_eq!(Limit::from_config(&serde_json::Value::Null).1, "defaults (DESIGN.md)");
    }

    #[test]
    fn alarm_time_is_the_union_of_episodes() {
        use crate::model::AlarmState;
        let a = |s, c, p, st| {
            OutputEvent::Alarm(AlarmEvent {
                at: SessionTime::from_secs(s),
                condition: c,
                device: None,
                priority: p,
                state: st,
                value: None,
            })
        };
        let events = vec![
            a(10, Condition::HrHigh, Priority::Low, AlarmState::Active),
            a(20, Condition::TempHigh, Priority::Medium, AlarmState::Active),
            a(25, Condition::HrHigh, Priority::Medium, AlarmState::Escalated),
            a(30, Condition::HrHigh, Priority::Medium, AlarmState::Cleared),
            a(40, Condition::TempHigh, Priority::Medium, AlarmState::Cleared),
            a(100, Condition::TechDisconnected, Priority::High, AlarmState::Active),
        ];
        let s = alarms(&events, SessionTime::from_secs(110), "recorded".into());
        assert_eq!(s.total_seconds, 40.0); // 10..40 and 100..110
        assert_eq!(s.by_priority.get("medium"), Some(&2));
        assert_eq!(s.by_priority.get("high"), Some(&1));
        assert_eq!(s.by_priority.get("low"), None);
    }
}
