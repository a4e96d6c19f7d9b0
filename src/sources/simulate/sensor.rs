//! One simulated sensor: reads the participant, encodes GATT payloads with
//! the [`crate::gatt`] encoders, and plays its scripted link events.

use chrono::{DateTime, Datelike, Timelike, Utc};
use smallvec::SmallVec;

use super::ecg::{EcgConfig, EcgSynth, HeartBeats};
use super::physiology::{Heart, Physiology, Stream, gauss, hash3};
use super::{ScriptEvent, ScriptEventKind, SimDevice, SpecialValue};
use crate::devices::EnvTemperatureRole;
use crate::gatt::blood_pressure::PressureUnit;
use crate::gatt::health_thermometer::{TemperatureType, TemperatureUnit};
use crate::gatt::heart_rate::{HeartRateFormat, RrIntervals, SensorContact};
use crate::gatt::pmd::{self, EcgFrame};
use crate::gatt::{
    BatteryLevel, BloodPressureMeasurement, EnvironmentalTemperature, FloatValue, HeartRateMeasurement, Measurement,
    PlxContinuous, SFloat, TemperatureMeasurement,
};
use crate::model::{Characteristic, DeviceInfo, EventBody, Payload, SessionTime, SourceEvent};

/// How often the battery level is looked at; a notification goes out only
/// when the whole percent changes, as real sensors do.
const BATTERY_CHECK_NS: u64 = 60_000_000_000;
/// RR values that fit a 20-byte notification next to flags and a u8 rate.
const MAX_RR_PER_NOTIFICATION: usize = 9;
/// A strap averages its displayed rate over the last few beats.
const HR_AVERAGE_BEATS: usize = 4;
/// Straps that report energy include it every 10th notification (the
/// Heart Rate service recommendation).
const ENERGY_EVERY: u64 = 10;
/// An oximeter's pulse rate lags the heart by its averaging window.
const OXIMETER_LAG_S: f64 = 3.0;
/// Samples in one PMD ECG frame: what an H10 sends at the default MTU.
const ECG_FRAME_SAMPLES: u64 = 73;
/// From a connection to the first ECG sample the strap streams: the
/// central discovers PMD and writes the start command first.
const ECG_START_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// What the sensor measures, with its per-kind state.
#[derive(Debug, Clone)]
enum Kind {
    HeartRate(Box<Strap>),
    BodyTemperature,
    EnvTemperature(EnvTemperatureRole),
    Oximeter,
    Cuff,
    /// A profile with nothing vigil simulates (battery only).
    BatteryOnly,
}

#[derive(Debug, Clone)]
struct Strap {
    heart: Heart,
    /// The next beat the heart will make: `(time, rr)` in seconds.
    next_beat: (f64, f64),
    /// Beats since the last notification that got out.
    pending: SmallVec<[f64; 12]>,
    recent: SmallVec<[f64; HR_AVERAGE_BEATS]>,
    energy_kj: f64,
    ecg: Option<StrapEcg>,
}

/// A strap's raw ECG: the same heart's beats as its RR, as PMD frames.
#[derive(Debug, Clone)]
struct StrapEcg {
    synth: EcgSynth<HeartBeats>,
    /// Session time from which the stream runs: set at a connection (plus
    /// the start), cleared at a disconnection. Frames that begin before it
    /// are not sent.
    streaming_since: Option<SessionTime>,
    /// Strap clock at session time 0, ns since 2000-01-01.
    clock_at_zero_ns: u64,
}

impl StrapEcg {
    /// Session time of sample `n`.
    fn at(&self, n: u64) -> SessionTime {
        // Sample indices stay far below 2^53.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ns = (self.synth.time_s(i64::try_from(n).unwrap_or(i64::MAX)) * 1e9).round().max(0.0) as u64;
        SessionTime(ns)
    }

    /// When the frame being made next is notified: at its last sample.
    fn next_frame_at(&self) -> SessionTime {
        self.at(self.synth.next_index() + ECG_FRAME_SAMPLES - 1)
    }
}

#[derive(Debug, Clone)]
enum Action {
    Connect,
    Disconnect(Option<String>),
    Malformed(Characteristic, Payload),
    Battery(u8),
}

/// `[start, end)` in session nanoseconds.
type Window = (u64, u64);

#[derive(Debug, Clone)]
pub(super) struct SensorSim {
    device: SimDevice,
    index: u64,
    kind: Kind,
    timeline: Vec<(SessionTime, Action)>,
    next_action: usize,
    contact_loss: Vec<Window>,
    dropouts: Vec<Window>,
    invalid: Vec<(Window, SpecialValue)>,
    connected: bool,
    info_sent: bool,
    next_reading: SessionTime,
    interval_ns: u64,
    readings: u64,
    /// Battery level at `battery_anchor` and the drain from there.
    battery_level: f64,
    battery_anchor: SessionTime,
    battery_sent: Option<u8>,
    next_battery_check: SessionTime,
}

fn window(at: SessionTime, duration: std::time::Duration) -> Window {
    (at.as_nanos(), at.saturating_add(duration).as_nanos())
}

fn inside(windows: &[Window], t: SessionTime) -> bool {
    windows.iter().any(|(a, b)| (*a..*b).contains(&t.as_nanos()))
}

impl SensorSim {
    pub(super) fn new(
        device: &SimDevice,
        index: u64,
        events: &[ScriptEvent],
        seed: u64,
        phys: &Physiology,
        device_clock: DateTime<Utc>,
    ) -> Self {
        let p = &device.profile;
        let kind = if p.offers(Characteristic::HeartRateMeasurement) {
            // Every strap on the participant carries the same heart.
            let mut heart = Heart::new(seed);
            let next_beat = heart.next_beat(phys);
            let ecg = device.ecg.then(|| {
                let config = EcgConfig {
                    rate_hz: device.ecg_rate_hz,
                    respiration_hz: phys.respiration_rate_bpm / 60.0,
                    ..EcgConfig::default()
                };
                let since_2000 =
                    device_clock.timestamp_nanos_opt().unwrap_or(0) - pmd::EPOCH_2000_UNIX_S * 1_000_000_000;
                StrapEcg {
                    synth: EcgSynth::new(config, hash3(seed, 0xEC6, index), HeartBeats::new(seed, phys)),
                    streaming_since: None,
                    clock_at_zero_ns: u64::try_from(since_2000).unwrap_or(0),
                }
            });
            Kind::HeartRate(Box::new(Strap {
                heart,
                next_beat,
                pending: SmallVec::new(),
                recent: SmallVec::new(),
                energy_kj: 0.0,
                ecg,
            }))
        } else if p.offers(Characteristic::TemperatureMeasurement) {
            Kind::BodyTemperature
        } else if p.offers(Characteristic::Temperature) {
            Kind::EnvTemperature(p.env_temperature)
        } else if p.offers(Characteristic::PlxContinuousMeasurement) {
            Kind::Oximeter
        } else if p.offers(Characteristic::BloodPressureMeasurement) {
            Kind::Cuff
        } else {
            Kind::BatteryOnly
        };
        let interval_ns = u64::try_from(device.interval.as_nanos()).unwrap_or(u64::MAX);
        // Devices come up one after another, as a central connects them.
        let mut timeline = vec![(SessionTime::from_millis(40 * index), Action::Connect)];
        let mut s = Self {
            device: device.clone(),
            index,
            kind,
            timeline: Vec::new(),
            next_action: 0,
            contact_loss: Vec::new(),
            dropouts: Vec::new(),
            invalid: Vec::new(),
            connected: false,
            info_sent: false,
            next_reading: SessionTime::ZERO.saturating_add(device.offset),
            interval_ns,
            readings: 0,
            battery_level: device.battery_pct,
            battery_anchor: SessionTime::ZERO,
            battery_sent: None,
            next_battery_check: SessionTime(BATTERY_CHECK_NS),
        };
        for e in events {
            match &e.kind {
                ScriptEventKind::ContactLoss { device: d, duration } if *d == device.label => {
                    s.contact_loss.push(window(e.at, *duration));
                }
                ScriptEventKind::Dropout { device: d, duration } if *d == device.label => {
                    s.dropouts.push(window(e.at, *duration));
                }
                ScriptEventKind::Disconnect { device: d, duration, reason } if *d == device.label => {
                    timeline.push((e.at, Action::Disconnect(reason.clone())));
                    timeline.push((e.at.saturating_add(*duration), Action::Connect));
                }
                ScriptEventKind::Invalid { device: d, duration, value } if *d == device.label => {
                    // Without a duration only the next reading: every
                    // reading falls within one interval of any time.
                    let span = duration.unwrap_or(device.interval);
                    s.invalid.push((window(e.at, span), *value));
                }
                ScriptEventKind::Malformed { device: d, characteristic, payload } if *d == device.label => {
                    timeline.push((e.at, Action::Malformed(*characteristic, payload.clone())));
                }
                ScriptEventKind::Battery { device: d, pct } if *d == device.label => {
                    timeline.push((e.at, Action::Battery(*pct)));
                }
                _ => {}
            }
        }
        timeline.sort_by_key(|(at, _)| *at);
        s.timeline = timeline;
        s
    }

    /// Append every event of this sensor before `until`, in time order.
    pub(super) fn emit(
        &mut self,
        until: SessionTime,
        phys: &Physiology,
        seed: u64,
        device_clock: DateTime<Utc>,
        out: &mut Vec<SourceEvent>,
    ) {
        loop {
            let action_at = self.timeline.get(self.next_action).map_or(SessionTime::MAX, |a| a.0);
            let ecg_at = match &self.kind {
                Kind::HeartRate(strap) => strap.ecg.as_ref().map_or(SessionTime::MAX, StrapEcg::next_frame_at),
                _ => SessionTime::MAX,
            };
            let next = action_at.min(self.next_reading).min(self.next_battery_check).min(ecg_at);
            if next >= until {
                return;
            }
            if action_at == next {
                let action = self.timeline[self.next_action].1.clone();
                self.next_action += 1;
                self.act(next, action, out);
            } else if self.next_reading == next {
                self.next_reading = SessionTime(next.0.saturating_add(self.interval_ns));
                self.readings += 1;
                self.read(next, phys, seed, device_clock, out);
            } else if self.next_battery_check == next {
                self.next_battery_check = SessionTime(next.0.saturating_add(BATTERY_CHECK_NS));
                if self.connected {
                    self.send_battery(next, false, out);
                }
            } else {
                self.ecg_frame(out);
            }
        }
    }

    /// Make the next ECG frame and notify it if the stream runs, the link
    /// is up and not silent. Samples taken without skin contact are noise.
    fn ecg_frame(&mut self, out: &mut Vec<SourceEvent>) {
        let Kind::HeartRate(strap) = &mut self.kind else { return };
        let Some(ecg) = strap.ecg.as_mut() else { return };
        let first = ecg.synth.next_index();
        let first_at = ecg.at(first);
        let samples_uv: Vec<i32> = (first..first + ECG_FRAME_SAMPLES)
            .map(|n| {
                let contact = !inside(&self.contact_loss, ecg.at(n));
                ecg.synth.next_sample(contact)
            })
            .collect();
        let at = ecg.at(first + ECG_FRAME_SAMPLES - 1);
        let streaming = ecg.streaming_since.is_some_and(|since| first_at >= since);
        if !(streaming && self.connected && !inside(&self.dropouts, at)) {
            return;
        }
        let frame = EcgFrame { timestamp_ns: ecg.clock_at_zero_ns.saturating_add(at.as_nanos()), samples_uv };
        let mut payload = Payload::new();
        frame.encode_into(&mut payload);
        self.push(at, EventBody::Notification { characteristic: pmd::DATA_CHARACTERISTIC, payload }, out);
    }

    fn push(&self, at: SessionTime, body: EventBody, out: &mut Vec<SourceEvent>) {
        out.push(SourceEvent { at, device: Some(self.device.label.clone()), body });
    }

    fn notify(&self, at: SessionTime, m: &Measurement, out: &mut Vec<SourceEvent>) {
        self.push(at, EventBody::Notification { characteristic: m.characteristic(), payload: m.encode() }, out);
    }

    fn act(&mut self, at: SessionTime, action: Action, out: &mut Vec<SourceEvent>) {
        match action {
            Action::Connect => {
                self.connected = true;
                if let Kind::HeartRate(strap) = &mut self.kind
                    && let Some(ecg) = strap.ecg.as_mut()
                {
                    // The central starts the stream anew on every connection.
                    ecg.streaming_since = Some(at.saturating_add(ECG_START_DELAY));
                }
                let d = &self.device;
                let body = EventBody::Connected {
                    name: Some(d.name.clone()),
                    address: Some(d.address.clone()),
                    services: d.profile.services.clone(),
                };
                self.push(at, body, out);
                if !self.info_sent && (d.profile.manufacturer.is_some() || d.profile.model.is_some()) {
                    let info = DeviceInfo {
                        manufacturer: d.profile.manufacturer.clone(),
                        model: d.profile.model.clone(),
                        firmware: Some("vigil-sim".to_owned()),
                    };
                    self.push(at, EventBody::DeviceInfo(info), out);
                    self.info_sent = true;
                }
                self.send_battery(at, true, out);
            }
            Action::Disconnect(reason) => {
                self.connected = false;
                if let Kind::HeartRate(strap) = &mut self.kind
                    && let Some(ecg) = strap.ecg.as_mut()
                {
                    ecg.streaming_since = None;
                }
                self.push(at, EventBody::Disconnected { reason }, out);
            }
            Action::Malformed(characteristic, payload) => {
                if self.connected {
                    self.push(at, EventBody::Notification { characteristic, payload }, out);
                }
            }
            Action::Battery(pct) => {
                self.battery_level = f64::from(pct);
                self.battery_anchor = at;
                if self.connected {
                    self.send_battery(at, false, out);
                }
            }
        }
    }

    fn battery_now(&self, at: SessionTime) -> u8 {
        let hours = at.since(self.battery_anchor).as_secs_f64() / 3600.0;
        let level = (self.battery_level - self.device.battery_drain_pct_per_h * hours).clamp(0.0, 100.0);
        // Within 0..=100 after the clamp.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let pct = level.ceil() as u8;
        pct
    }

    fn send_battery(&mut self, at: SessionTime, always: bool, out: &mut Vec<SourceEvent>) {
        if !self.device.profile.offers(Characteristic::BatteryLevel) {
            return;
        }
        let pct = self.battery_now(at);
        if always || self.battery_sent != Some(pct) {
            self.battery_sent = Some(pct);
            self.notify(at, &Measurement::Battery(BatteryLevel { level_pct: pct }), out);
        }
    }

    /// Measurement noise of this device's `n`th reading, sd `default` unless
    /// the scenario sets one.
    fn noise(&self, seed: u64, default: f64, channel: u64) -> f64 {
        let sd = self.device.noise.unwrap_or(default);
        sd * gauss(seed, 1000 + self.index * 16 + channel, self.readings)
    }

    fn special(&self, at: SessionTime) -> Option<SpecialValue> {
        self.invalid.iter().find(|((a, b), _)| (*a..*b).contains(&at.as_nanos())).map(|(_, v)| *v)
    }

    fn read(
        &mut self,
        at: SessionTime,
        phys: &Physiology,
        seed: u64,
        clock: DateTime<Utc>,
        out: &mut Vec<SourceEvent>,
    ) {
        let t = at.as_secs_f64();
        let silent = !self.connected || inside(&self.dropouts, at);
        if let Kind::HeartRate(strap) = &mut self.kind {
            // The heart beats on whether or not anything is listening.
            while strap.next_beat.0 <= t {
                let rr = strap.next_beat.1;
                strap.pending.push(rr);
                if strap.recent.len() == HR_AVERAGE_BEATS {
                    strap.recent.remove(0);
                }
                strap.recent.push(rr);
                strap.next_beat = strap.heart.next_beat(phys);
            }
            if self.device.energy {
                strap.energy_kj += self.device.interval.as_secs_f64() * 0.08 * phys.heart_rate(t, seed) / 70.0;
            }
        }
        if silent {
            if let Kind::HeartRate(strap) = &mut self.kind {
                // RR across a gap would be a lie: the next notification
                // carries only beats measured after it.
                strap.pending.clear();
            }
            return;
        }
        if let Kind::HeartRate(strap) = &self.kind
            && strap.recent.is_empty()
        {
            // No beat measured yet: a strap stays quiet until it has a rate.
            return;
        }
        let special = self.special(at);
        let m = match &mut self.kind {
            Kind::HeartRate(strap) => {
                let d = &self.device;
                let no_contact = inside(&self.contact_loss, at);
                let sensor_contact = match (d.contact, no_contact) {
                    (false, _) => SensorContact::NotSupported,
                    (true, true) => SensorContact::NotDetected,
                    (true, false) => SensorContact::Detected,
                };
                let (bpm, rr) = if no_contact {
                    // What straps do without skin contact: rate 0, no RR.
                    (0, RrIntervals::new())
                } else {
                    let mean = strap.recent.iter().sum::<f64>() / strap.recent.len().max(1) as f64;
                    // 60/mean is within 20..=250 bpm by the heart's clamp.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let bpm = if mean > 0.0 { (60.0 / mean).round() as u16 } else { 0 };
                    let skip = strap.pending.len().saturating_sub(MAX_RR_PER_NOTIFICATION);
                    // RR of 0.24..3 s is 245..3072 in 1/1024 s.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let rr: RrIntervals = if d.rr {
                        strap.pending[skip..].iter().map(|s| (s * 1024.0).round() as u16).collect()
                    } else {
                        RrIntervals::new()
                    };
                    (bpm, rr)
                };
                strap.pending.clear();
                // Cumulative kJ, saturating as the field does (0xFFFF).
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let energy =
                    (d.energy && self.readings % ENERGY_EVERY == 1).then(|| strap.energy_kj.min(65535.0) as u16);
                Measurement::HeartRate(HeartRateMeasurement {
                    heart_rate_bpm: bpm,
                    format: HeartRateFormat::U8,
                    sensor_contact,
                    energy_expended_kj: energy,
                    rr_intervals_1024: rr,
                    other_flag_bits: 0,
                })
            }
            Kind::BodyTemperature => {
                let v = phys.core_temperature_c.value(t, seed, Stream::Core as u64) + self.noise(seed, 0.02, 0);
                let temperature = match special {
                    Some(s) => float_special(s),
                    None => FloatValue::from_f64(v, -2).unwrap_or(FloatValue::NRes),
                };
                Measurement::Temperature(TemperatureMeasurement {
                    intermediate: false,
                    unit: TemperatureUnit::Celsius,
                    temperature,
                    timestamp: Some(device_time(clock, at)),
                    temperature_type: self.device.site.map(TemperatureType::from_u8),
                    other_flag_bits: 0,
                })
            }
            Kind::EnvTemperature(role) => {
                let v = match role {
                    // The `warm_up` quirk is not simulated: a patch reading 2 °C
                    // low at start would trip `temp.rise` in every scenario.
                    EnvTemperatureRole::Skin => phys.skin_temperature_c.value(t, seed, Stream::Skin as u64),
                    EnvTemperatureRole::Ambient => phys.ambient_temperature_c.value(t, seed, Stream::Ambient as u64),
                } + self.noise(seed, 0.03, 0);
                // Bounded well inside i16 hundredths by the scenario checks.
                #[allow(clippy::cast_possible_truncation)]
                let centi = (v * 100.0).round() as i16;
                Measurement::EnvironmentalTemperature(EnvironmentalTemperature { temperature_centi_c: centi })
            }
            Kind::Oximeter => {
                let spo2 = (phys.spo2_pct.value(t, seed, Stream::Spo2 as u64) + self.noise(seed, 0.4, 0)).min(100.0);
                let pulse = phys.heart_rate((t - OXIMETER_LAG_S).max(0.0), seed) + self.noise(seed, 1.0, 1);
                let (spo2, pulse) = match special {
                    Some(s) => (sfloat_special(s), sfloat_special(s)),
                    None => (sfloat(spo2.round()), sfloat(pulse.round())),
                };
                Measurement::Plx(PlxContinuous {
                    spo2_pct: spo2,
                    pulse_rate_bpm: pulse,
                    fast: None,
                    slow: None,
                    measurement_status: None,
                    device_and_sensor_status: None,
                    pulse_amplitude_index_pct: None,
                    other_flag_bits: 0,
                })
            }
            Kind::Cuff => {
                let sd = self.device.noise.unwrap_or(4.0);
                let sys = phys.systolic_mmhg.value(t, seed, Stream::Systolic as u64)
                    + sd * gauss(seed, 1000 + self.index * 16, self.readings);
                let dia = phys.diastolic_mmhg.value(t, seed, Stream::Diastolic as u64)
                    + 0.7 * sd * gauss(seed, 1001 + self.index * 16, self.readings);
                let (sys, dia) = (sys.round(), dia.round());
                let map = (dia + (sys - dia) / 3.0).round();
                let pulse = phys.heart_rate(t, seed).round();
                let [systolic, diastolic, mean_arterial] = match special {
                    Some(s) => [sfloat_special(s); 3],
                    None => [sfloat(sys), sfloat(dia), sfloat(map)],
                };
                Measurement::BloodPressure(BloodPressureMeasurement {
                    unit: PressureUnit::Mmhg,
                    systolic,
                    diastolic,
                    mean_arterial,
                    timestamp: Some(device_time(clock, at)),
                    pulse_rate_bpm: Some(sfloat(pulse)),
                    user_id: None,
                    status: None,
                    other_flag_bits: 0,
                })
            }
            Kind::BatteryOnly => return,
        };
        self.notify(at, &m, out);
    }
}

/// A whole number as SFLOAT (exponent 0); every simulated reading fits
/// the 12-bit mantissa.
fn sfloat(v: f64) -> SFloat {
    SFloat::from_f64(v, 0).unwrap_or(SFloat::NRes)
}

fn sfloat_special(s: SpecialValue) -> SFloat {
    match s {
        SpecialValue::NaN => SFloat::NaN,
        SpecialValue::NRes => SFloat::NRes,
        SpecialValue::PositiveInfinity => SFloat::PositiveInfinity,
        SpecialValue::NegativeInfinity => SFloat::NegativeInfinity,
    }
}

fn float_special(s: SpecialValue) -> FloatValue {
    match s {
        SpecialValue::NaN => FloatValue::NaN,
        SpecialValue::NRes => FloatValue::NRes,
        SpecialValue::PositiveInfinity => FloatValue::PositiveInfinity,
        SpecialValue::NegativeInfinity => FloatValue::NegativeInfinity,
    }
}

/// The device's clock at session time `at`, as its Date Time field.
fn device_time(start: DateTime<Utc>, at: SessionTime) -> crate::gatt::DateTime {
    let nanos = i64::try_from(at.as_nanos()).unwrap_or(i64::MAX);
    let t = start + chrono::Duration::nanoseconds(nanos);
    // Calendar fields are small by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    crate::gatt::DateTime {
        year: t.year().clamp(1582, 9999) as u16,
        month: t.month() as u8,
        day: t.day() as u8,
        hours: t.hour() as u8,
        minutes: t.minute() as u8,
        seconds: t.second() as u8,
    }
}
