//! The scenario file format (`devices/simulated/*.toml`) and its checks.
//!
//! ```toml
//! # What the scenario shows and which alarms to expect (the header).
//! name = "example"
//! description = "one line for `vigil simulate --list`"
//! duration = "2h"              # 90s, 15m, 2h, 1h30m, 1:30:00 (H:MM[:SS])
//! seed = 1                     # default seed; --seed overrides
//! device_clock = "2026-03-14T09:00:00Z"  # what the devices' own clocks say at 0:00
//!
//! [[devices]]
//! label = "chest"              # the device label in samples and alarms
//! profile = "polar-h10"        # a profile from devices/*.toml
//! name = "Polar H10 8C4D2A1F"  # advertised name
//! address = "A0:9E:1A:8C:4D:2A"
//! # optional: interval (notification or measurement period), offset (first
//! # reading), battery_pct, battery_drain_pct_per_h, site (thermometer:
//! # armpit body ear finger gi_tract mouth rectum toe tympanum), contact
//! # (strap reports contact), rr (strap sends RR), energy (strap sends kJ),
//! # noise (measurement noise, in the quantity's unit), ecg (a strap whose
//! # profile offers Polar PMD streams raw ECG), ecg_rate_hz (its true ECG
//! # rate, 120–140, default 130: a strap's differs from nominal)
//!
//! [physiology]
//! respiration_rate_bpm = 14
//! hrv_scale = 1.0
//! [physiology.heart_rate_bpm]  # also core_temperature_c, skin_temperature_c,
//! baseline = 70                # ambient_temperature_c, spo2_pct,
//! keyframes = [["0:45", 72], ["1:30", 115]]   # systolic_mmhg, diastolic_mmhg
//! interpolation = "smooth"     # linear | smooth | step
//! noise = 2.0                  # sd of the slow wander
//! noise_period = "60s"         # how slowly it wanders
//!
//! [[events]]                   # kinds: marker, action, contact_loss, dropout,
//! at = "0:30"                  # disconnect, invalid, malformed, battery
//! kind = "marker"
//! label = "dose 120 mg"
//! marker = "dose"              # dose | supplemental_dose | note
//! amount_mg = 120
//! ```
//!
//! Every mistake is reported with the file, the line and the key.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::physiology::{Interpolation, Physiology, Signal};
use super::{ScenarioError, ScriptEvent, ScriptEventKind, SimDevice, SpecialValue};
use crate::devices::{self, line_of};
use crate::ecg;
use crate::gatt::pmd;
use crate::model::{Characteristic, DeviceLabel, Marker, MarkerKind, OperatorAction, Payload, SessionTime};

/// Default for what the simulated devices' clocks say at session start.
const DEFAULT_DEVICE_CLOCK: &str = "2026-01-01T09:00:00Z";

/// The ECG rates a simulated strap may run at: the H10's 130 Hz ± 2 %,
/// with room to show that readers measure the rate.
const ECG_RATES_HZ: std::ops::RangeInclusive<f64> = 120.0..=140.0;

/// PMD's epoch, 2000-01-01T00:00:00 UTC.
fn pmd_epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(pmd::EPOCH_2000_UNIX_S, 0).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    description: String,
    duration: Dur,
    #[serde(default)]
    seed: u64,
    device_clock: Option<Spanned<String>>,
    #[serde(default)]
    physiology: PhysiologyFile,
    devices: Vec<Spanned<DeviceFile>>,
    #[serde(default)]
    events: Vec<Spanned<EventFile>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PhysiologyFile {
    respiration_rate_bpm: Option<f64>,
    hrv_scale: Option<f64>,
    heart_rate_bpm: Option<Spanned<SignalFile>>,
    core_temperature_c: Option<Spanned<SignalFile>>,
    skin_temperature_c: Option<Spanned<SignalFile>>,
    ambient_temperature_c: Option<Spanned<SignalFile>>,
    spo2_pct: Option<Spanned<SignalFile>>,
    systolic_mmhg: Option<Spanned<SignalFile>>,
    diastolic_mmhg: Option<Spanned<SignalFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalFile {
    baseline: Option<f64>,
    #[serde(default)]
    keyframes: Vec<(Dur, f64)>,
    #[serde(default)]
    interpolation: Interpolation,
    noise: Option<f64>,
    noise_period: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceFile {
    label: String,
    profile: String,
    name: String,
    address: String,
    interval: Option<Dur>,
    offset: Option<Dur>,
    battery_pct: Option<f64>,
    battery_drain_pct_per_h: Option<f64>,
    site: Option<String>,
    contact: Option<bool>,
    rr: Option<bool>,
    energy: Option<bool>,
    noise: Option<f64>,
    ecg: Option<bool>,
    ecg_rate_hz: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    at: Dur,
    kind: String,
    device: Option<String>,
    duration: Option<Dur>,
    label: Option<String>,
    marker: Option<MarkerKind>,
    amount_mg: Option<f64>,
    reason: Option<String>,
    value: Option<String>,
    characteristic: Option<String>,
    payload: Option<String>,
    pct: Option<u8>,
    action: Option<toml::Table>,
}

/// A duration in a scenario file: `"90s"`, `"15m"`, `"2h"`, `"1h30m"`,
/// `"500ms"`, `"1:30"` (H:MM), `"1:30:05"`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dur(Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a time such as \"90s\", \"15m\", \"2h\", \"1:30\" (H:MM) or a number of seconds")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|s| Dur(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a time cannot be negative"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                Duration::try_from_secs_f64(v)
                    .map(Dur)
                    .map_err(|_| E::custom("a time must be a positive number of seconds"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse a scenario time or duration (see [`Dur`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || format!("`{text}` is not a time: write 90s, 15m, 2h, 1h30m, 500ms or H:MM[:SS]");
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |p: &str| p.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        let secs = match parts.as_slice() {
            [h, m] => num(h).zip(num(m)).filter(|(_, m)| *m < 60.0).map(|(h, m)| h * 3600.0 + m * 60.0),
            [h, m, sec] => num(h)
                .zip(num(m))
                .zip(num(sec))
                .filter(|((_, m), s)| *m < 60.0 && *s < 60.0)
                .map(|((h, m), s)| h * 3600.0 + m * 60.0 + s),
            _ => None,
        };
        return secs.and_then(|s| Duration::try_from_secs_f64(s).ok()).ok_or_else(bad);
    }
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(split);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        total += value
            * match unit.trim() {
                "ms" => 0.001,
                "s" | "" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
        rest = after;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Comment lines at the top of the file: the scenario's documentation.
fn header(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
        .map(|l| {
            l.trim_start().trim_start_matches('#').strip_prefix(' ').unwrap_or(l.trim_start().trim_start_matches('#'))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: Some(key.into()).filter(|k: &String| !k.is_empty()),
            message: message.into(),
        }
    }
}

pub(super) fn parse(file: &str, text: &str) -> Result<super::Scenario, ScenarioError> {
    let cx = Ctx { file, text };
    let raw: ScenarioFile =
        toml::from_str(text).map_err(|e| cx.err(e.span(), "", crate::excerpt::excerpt_quoted(e.message())))?;
    let duration = raw.duration.0;
    if duration.is_zero() {
        return Err(cx.err(None, "duration", "a scenario must last longer than zero"));
    }
    let device_clock = match &raw.device_clock {
        Some(s) => DateTime::parse_from_rfc3339(s.get_ref())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| cx.err(Some(s.span()), "device_clock", format!("not an RFC 3339 time ({e})")))?,
        None => DateTime::parse_from_rfc3339(DEFAULT_DEVICE_CLOCK)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| cx.err(None, "device_clock", format!("built-in default is not RFC 3339 ({e})")))?,
    };
    let physiology = physiology(&cx, &raw.physiology)?;

    let mut sim_devices: Vec<SimDevice> = Vec::new();
    for (i, d) in raw.devices.iter().enumerate() {
        let sim = device(&cx, i, d)?;
        if sim.ecg && device_clock < pmd_epoch() {
            let span = raw.device_clock.as_ref().map(Spanned::span);
            return Err(cx.err(
                span,
                "device_clock",
                format!(
                    "devices[{i}] streams ECG, whose timestamps count from 2000-01-01: the clock must not be earlier"
                ),
            ));
        }
        sim_devices.push(sim);
    }
    if sim_devices.is_empty() {
        return Err(cx.err(None, "devices", "a scenario needs at least one [[devices]] entry"));
    }

    let mut events = Vec::new();
    for (i, e) in raw.events.iter().enumerate() {
        let event = event(&cx, i, e, &sim_devices, duration)?;
        events.push(event);
    }
    // Stable: events at the same time keep file order.
    events.sort_by_key(|e: &ScriptEvent| e.at);

    Ok(super::Scenario {
        name: raw.name,
        description: raw.description,
        header: header(text),
        duration,
        seed: raw.seed,
        device_clock,
        physiology,
        devices: sim_devices,
        events,
    })
}

/// A plausible range of a signal, `(low, high)`.
type Range = (f64, f64);

fn physiology(cx: &Ctx, raw: &PhysiologyFile) -> Result<Physiology, ScenarioError> {
    let mut p = Physiology::default();
    // (key, as written, signal to set, plausible range)
    let signals: [(&str, &Option<Spanned<SignalFile>>, &mut Signal, Range); 7] = [
        ("heart_rate_bpm", &raw.heart_rate_bpm, &mut p.heart_rate_bpm, (25.0, 240.0)),
        ("core_temperature_c", &raw.core_temperature_c, &mut p.core_temperature_c, (30.0, 44.0)),
        ("skin_temperature_c", &raw.skin_temperature_c, &mut p.skin_temperature_c, (20.0, 42.0)),
        ("ambient_temperature_c", &raw.ambient_temperature_c, &mut p.ambient_temperature_c, (-30.0, 60.0)),
        ("spo2_pct", &raw.spo2_pct, &mut p.spo2_pct, (50.0, 100.0)),
        ("systolic_mmhg", &raw.systolic_mmhg, &mut p.systolic_mmhg, (60.0, 260.0)),
        ("diastolic_mmhg", &raw.diastolic_mmhg, &mut p.diastolic_mmhg, (30.0, 160.0)),
    ];
    for (name, file, signal, (lo, hi)) in signals {
        let Some(file) = file else { continue };
        let key = |k: &str| format!("physiology.{name}.{k}");
        let span = Some(file.span());
        let f = file.get_ref();
        let mut keyframes = Vec::with_capacity(f.keyframes.len());
        for (t, v) in &f.keyframes {
            let secs = t.0.as_secs_f64();
            if !(lo..=hi).contains(v) {
                return Err(cx.err(span.clone(), key("keyframes"), format!("{v} at {secs} s is outside {lo}–{hi}")));
            }
            if keyframes.last().is_some_and(|(prev, _)| *prev >= secs) {
                return Err(cx.err(span.clone(), key("keyframes"), format!("keyframe times must increase ({secs} s)")));
            }
            keyframes.push((secs, *v));
        }
        let baseline = f.baseline.or(keyframes.first().map(|k| k.1)).unwrap_or(signal.baseline);
        if !(lo..=hi).contains(&baseline) {
            return Err(cx.err(span.clone(), key("baseline"), format!("{baseline} is outside {lo}–{hi}")));
        }
        let noise = f.noise.unwrap_or(signal.noise);
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(cx.err(span.clone(), key("noise"), "noise must be zero or a positive number"));
        }
        let noise_period_s = f.noise_period.map_or(signal.noise_period_s, |d| d.0.as_secs_f64());
        if noise_period_s <= 0.0 {
            return Err(cx.err(span, key("noise_period"), "noise_period must be longer than zero"));
        }
        *signal = Signal::new(keyframes, baseline, f.interpolation, noise, noise_period_s);
    }
    if let Some(r) = raw.respiration_rate_bpm {
        if !(4.0..=40.0).contains(&r) {
            return Err(cx.err(None, "physiology.respiration_rate_bpm", format!("{r} is outside 4–40 breaths/min")));
        }
        p.respiration_rate_bpm = r;
    }
    if let Some(h) = raw.hrv_scale {
        if !(0.0..=5.0).contains(&h) {
            return Err(cx.err(None, "physiology.hrv_scale", format!("{h} is outside 0–5")));
        }
        p.hrv_scale = h;
    }
    Ok(p)
}

/// Temperature type codes of the Health Thermometer service (0x2A1D).
const SITES: [(&str, u8); 9] = [
    ("armpit", 1),
    ("body", 2),
    ("ear", 3),
    ("finger", 4),
    ("gi_tract", 5),
    ("mouth", 6),
    ("rectum", 7),
    ("toe", 8),
    ("tympanum", 9),
];

fn device(cx: &Ctx, i: usize, d: &Spanned<DeviceFile>) -> Result<SimDevice, ScenarioError> {
    let span = Some(d.span());
    let f = d.get_ref();
    let key = |k: &str| format!("devices[{i}].{k}");
    let profile = devices::profile(&f.profile).ok_or_else(|| {
        let known: Vec<String> = devices::builtin_profiles().into_iter().map(|p| p.id).collect();
        cx.err(span.clone(), key("profile"), format!("no profile `{}` (profiles: {})", f.profile, known.join(", ")))
    })?;
    if f.label.is_empty() || f.label.contains(char::is_whitespace) {
        return Err(cx.err(span, key("label"), "a label is one word (chest, thermo)"));
    }
    let interval = match (f.interval, profile.expected_interval) {
        (Some(d), _) => d.0,
        (None, Some(d)) => d,
        // A cuff in a supervised session typically measures every 15 min.
        (None, None) => Duration::from_secs(15 * 60),
    };
    if interval < Duration::from_millis(100) {
        return Err(cx.err(span, key("interval"), "an interval shorter than 100 ms is not a BLE sensor"));
    }
    let site = match &f.site {
        None => None,
        Some(s) => Some(SITES.iter().find(|(n, _)| n == s).map(|(_, code)| *code).ok_or_else(|| {
            let names: Vec<&str> = SITES.iter().map(|(n, _)| *n).collect();
            cx.err(span.clone(), key("site"), format!("no site `{s}` (sites: {})", names.join(", ")))
        })?),
    };
    let battery_pct = f.battery_pct.unwrap_or(100.0);
    if !(0.0..=100.0).contains(&battery_pct) {
        return Err(cx.err(span, key("battery_pct"), "battery_pct is 0–100"));
    }
    let battery_drain_pct_per_h = f.battery_drain_pct_per_h.unwrap_or(1.0);
    if !(battery_drain_pct_per_h.is_finite() && battery_drain_pct_per_h >= 0.0) {
        return Err(cx.err(span, key("battery_drain_pct_per_h"), "must be zero or positive"));
    }
    if f.noise.is_some_and(|n| !(n.is_finite() && n >= 0.0)) {
        return Err(cx.err(span, key("noise"), "noise must be zero or a positive number"));
    }
    let ecg = f.ecg.unwrap_or(false);
    if ecg && !profile.offers(pmd::DATA_CHARACTERISTIC) {
        return Err(cx.err(
            span,
            key("ecg"),
            format!(
                "profile `{}` offers no Polar PMD ECG stream (the data characteristic {}); polar-h10 does",
                profile.id,
                pmd::DATA_CHARACTERISTIC
            ),
        ));
    }
    let ecg_rate_hz = match f.ecg_rate_hz {
        None => ecg::NOMINAL_RATE_HZ,
        Some(_) if !ecg => return Err(cx.err(span, key("ecg_rate_hz"), "ecg_rate_hz applies only with `ecg = true`")),
        Some(r) if ECG_RATES_HZ.contains(&r) => r,
        Some(r) => {
            return Err(cx.err(
                span,
                key("ecg_rate_hz"),
                format!(
                    "{r} Hz is outside {}–{} Hz (a strap's ECG runs near 130 Hz)",
                    ECG_RATES_HZ.start(),
                    ECG_RATES_HZ.end()
                ),
            ));
        }
    };
    let i_u64 = u64::try_from(i).unwrap_or(u64::MAX);
    // Stagger devices so their notifications do not all land on the same
    // nanosecond, as real radios never do.
    let default_offset =
        if profile.intermittent { Duration::from_secs(60) } else { Duration::from_millis(250 + 137 * (i_u64 % 7)) };
    Ok(SimDevice {
        label: DeviceLabel::from(f.label.as_str()),
        name: f.name.clone(),
        address: f.address.clone(),
        interval,
        offset: f.offset.map_or(default_offset, |d| d.0),
        battery_pct,
        battery_drain_pct_per_h,
        site,
        contact: f.contact.unwrap_or(profile.has_quirk("contact_reported") || profile.has_quirk("contact_optional")),
        rr: f.rr.unwrap_or(true),
        energy: f.energy.unwrap_or(false),
        noise: f.noise,
        ecg,
        ecg_rate_hz,
        profile,
    })
}

fn special(text: &str) -> Option<SpecialValue> {
    Some(match text.to_ascii_lowercase().as_str() {
        "nan" => SpecialValue::NaN,
        "nres" => SpecialValue::NRes,
        "+inf" | "inf" => SpecialValue::PositiveInfinity,
        "-inf" => SpecialValue::NegativeInfinity,
        _ => return None,
    })
}

/// The optional keys each event kind takes; any other given key is a mistake.
fn allowed_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "marker" => &["label", "marker", "amount_mg"],
        "action" => &["action"],
        "contact_loss" | "dropout" => &["device", "duration"],
        "disconnect" => &["device", "duration", "reason"],
        "invalid" => &["device", "duration", "value"],
        "malformed" => &["device", "characteristic", "payload"],
        "battery" => &["device", "pct"],
        _ => return None,
    })
}

fn event(
    cx: &Ctx,
    i: usize,
    e: &Spanned<EventFile>,
    sim_devices: &[SimDevice],
    duration: Duration,
) -> Result<ScriptEvent, ScenarioError> {
    let span = Some(e.span());
    let f = e.get_ref();
    let key = |k: &str| format!("events[{i}].{k}");
    let err = |k: &str, m: String| cx.err(span.clone(), key(k), m);
    if f.at.0 >= duration {
        return Err(err("at", format!("{:?} is not within the scenario's {duration:?}", f.at.0)));
    }
    let unknown_kind = || {
        err(
            "kind",
            format!(
                "no event kind `{}` (kinds: marker, action, contact_loss, dropout, disconnect, invalid, malformed, battery)",
                f.kind
            ),
        )
    };
    let allowed = allowed_keys(&f.kind).ok_or_else(unknown_kind)?;
    let given = [
        ("device", f.device.is_some()),
        ("duration", f.duration.is_some()),
        ("label", f.label.is_some()),
        ("marker", f.marker.is_some()),
        ("amount_mg", f.amount_mg.is_some()),
        ("reason", f.reason.is_some()),
        ("value", f.value.is_some()),
        ("characteristic", f.characteristic.is_some()),
        ("payload", f.payload.is_some()),
        ("pct", f.pct.is_some()),
        ("action", f.action.is_some()),
    ];
    if let Some((k, _)) = given.iter().find(|(k, present)| *present && !allowed.contains(k)) {
        return Err(err(k, format!("`{k}` does not apply to a `{}` event", f.kind)));
    }
    let device = || -> Result<&SimDevice, ScenarioError> {
        let label = f.device.as_deref().ok_or_else(|| err("device", format!("a `{}` event needs `device`", f.kind)))?;
        sim_devices.iter().find(|d| &*d.label == label).ok_or_else(|| {
            let labels: Vec<&str> = sim_devices.iter().map(|d| &*d.label).collect();
            err("device", format!("no device `{label}` in this scenario (devices: {})", labels.join(", ")))
        })
    };
    let window = || -> Result<Duration, ScenarioError> {
        let d = f.duration.ok_or_else(|| err("duration", format!("a `{}` event needs `duration`", f.kind)))?.0;
        if d.is_zero() {
            return Err(err("duration", "a window must last longer than zero".to_owned()));
        }
        Ok(d)
    };
    let kind = match f.kind.as_str() {
        "marker" => {
            let label = f.label.clone().ok_or_else(|| err("label", "a marker needs `label`".to_owned()))?;
            ScriptEventKind::Operator(OperatorAction::Marker(Marker { label, kind: f.marker, amount_mg: f.amount_mg }))
        }
        "action" => {
            let table = f.action.clone().ok_or_else(|| {
                err("action", "an `action` event needs `action = { action = \"ack\", … }`".to_owned())
            })?;
            let action: OperatorAction = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| err("action", format!("not an operator action: {}", e.message())))?;
            ScriptEventKind::Operator(action)
        }
        "contact_loss" => {
            let d = device()?;
            if !(d.profile.offers(Characteristic::HeartRateMeasurement) && d.contact) {
                return Err(err("device", format!("`{}` does not report skin contact", d.label)));
            }
            ScriptEventKind::ContactLoss { device: d.label.clone(), duration: window()? }
        }
        "dropout" => ScriptEventKind::Dropout { device: device()?.label.clone(), duration: window()? },
        "disconnect" => ScriptEventKind::Disconnect {
            device: device()?.label.clone(),
            duration: window()?,
            reason: f.reason.clone(),
        },
        "invalid" => {
            let d = device()?;
            let floats = [
                Characteristic::TemperatureMeasurement,
                Characteristic::PlxContinuousMeasurement,
                Characteristic::BloodPressureMeasurement,
            ];
            if !floats.iter().any(|c| d.profile.offers(*c)) {
                return Err(err("device", format!("`{}` sends no IEEE-11073 FLOAT/SFLOAT to make invalid", d.label)));
            }
            let value = match &f.value {
                None => SpecialValue::NaN,
                Some(v) => special(v).ok_or_else(|| err("value", format!("`{v}` is not nan, nres, +inf or -inf")))?,
            };
            ScriptEventKind::Invalid { device: d.label.clone(), duration: f.duration.map(|d| d.0), value }
        }
        "malformed" => {
            let d = device()?;
            let text = f
                .characteristic
                .as_deref()
                .ok_or_else(|| err("characteristic", "a malformed event needs `characteristic`".to_owned()))?;
            let characteristic = Characteristic::parse(text).map_err(|e| err("characteristic", e.to_string()))?;
            let hex_text = f
                .payload
                .as_deref()
                .ok_or_else(|| err("payload", "a malformed event needs `payload` (hex)".to_owned()))?;
            let bytes = hex::decode(hex_text.replace(' ', "")).map_err(|e| err("payload", format!("not hex: {e}")))?;
            if crate::gatt::decode(characteristic, &bytes).is_ok() {
                return Err(err(
                    "payload",
                    format!(
                        "`{hex_text}` is a well-formed {characteristic} payload; a malformed event must break the format"
                    ),
                ));
            }
            ScriptEventKind::Malformed { device: d.label.clone(), characteristic, payload: Payload::from_vec(bytes) }
        }
        "battery" => {
            let d = device()?;
            let pct = f
                .pct
                .filter(|p| *p <= 100)
                .ok_or_else(|| err("pct", "a battery event needs `pct` 0–100".to_owned()))?;
            ScriptEventKind::Battery { device: d.label.clone(), pct }
        }
        _ => return Err(unknown_kind()),
    };
    Ok(ScriptEvent { at: SessionTime::ZERO.saturating_add(f.at.0), kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_spelling() {
        let s = |t: &str| parse_duration(t).map(|d| d.as_secs_f64());
        assert_eq!(s("90s"), Ok(90.0));
        assert_eq!(s("15m"), Ok(900.0));
        assert_eq!(s("2h"), Ok(7200.0));
        assert_eq!(s("1h30m"), Ok(5400.0));
        assert_eq!(s("500ms"), Ok(0.5));
        assert_eq!(s("1:30"), Ok(5400.0));
        assert_eq!(s("0:00:05"), Ok(5.0));
        assert_eq!(s("2.5"), Ok(2.5));
        for bad in ["", "soon", "1:75", "5 parsecs", "1:2:3:4", "-5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_is_the_leading_comment() {
        assert_eq!(header("# One\n#\n# two\nname = 1\n# not this"), "One\n\ntwo");
    }
}
