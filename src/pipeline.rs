//! The pipeline: the one owner of decoders, history and the alarm engine.
//!
//! [`Pipeline`] is synchronous and does no I/O: the session's task feeds it
//! batches and forwards what it produces to the sinks. That keeps the hot
//! path free of channels and locks, and lets tests and benchmarks drive the
//! exact code a session runs.
//!
//! Per batch it appends to two caller-owned, reused buffers: the decoded
//! [`Sample`]s and the [`OutputEvent`]s (alarms, operator actions,
//! connections, decode errors, gaps). Nothing is allocated per notification.

use std::time::Duration;

use crate::alarms::AlarmEngine;
use crate::analysis::alarms::EpisodeCounter;
use crate::config::TechStale;
use crate::device_table::{DeviceId, DeviceTable, TableFull};
use crate::devices::DeviceSetup;
use crate::gatt::{self, DecodeError};
use crate::history::{History, Point};
use crate::model::{
    AlarmEvent, Characteristic, ConnectionChange, DeviceInfo, DeviceLabel, EventBody, MANUAL_DEVICE, Marker,
    MarkerKind, OperatorAction, OutputEvent, Quantity, Sample, SessionTime, SourceEvent,
};
use crate::snapshot::{Counters, DeviceView, Mode, NetworkLink, Reading, ReadingStatus, Snapshot};
use crate::verdict::{Latest, Staleness, judge};

/// Default width of the dashboard's recent-window charts.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// RMSSD is computed over this much of the most recent RR intervals.
const RMSSD_WINDOW: Duration = Duration::from_secs(60);

/// What the pipeline knows about one device that a notification does not
/// touch (see [`Hot`] for what it does).
#[derive(Debug, Clone, Default)]
struct DeviceState {
    info: DeviceInfo,
    rssi: Option<i16>,
    /// Written by battery samples only (one notification in thirty).
    battery_pct: Option<f64>,
    decode_errors: u64,
}

/// Everything a notification of a device reads or writes in the pipeline,
/// in one cache line of its own, in a dense `Vec` apart from the names and
/// device information: with 100 devices round-robin, a device's state has
/// left L1 by its next notification, so each line it spans is a miss
/// (docs/performance.md, branch `dev100`).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Hot {
    contact: Option<bool>,
    connected: bool,
    /// `setup.env_quantity`'s copy, which decoding reads per notification.
    env_quantity: Quantity,
}

const _: () = assert!(size_of::<Hot>() == 64);
const _: () = assert!(std::mem::offset_of!(Hot, env_quantity) < 64);

impl Hot {
    fn new() -> Self {
        Self { contact: None, connected: false, env_quantity: DeviceSetup::default().env_quantity }
    }
}

/// A device's cold part, indexed like `Pipeline::hot`.
#[derive(Debug)]
struct Device {
    id: DeviceId,
    label: DeviceLabel,
    state: DeviceState,
}

/// Move a batch's samples out for the recorder, leaving `samples` empty
/// with its capacity.
///
/// The recorder gets an exactly sized `Vec`: handing over the whole buffer
/// and reserving a new one of the same capacity per batch would make every
/// batch allocate, and the recorder thread free, far more memory than the
/// batch used.
#[must_use]
// `mem::take` (clippy's advice) would hand over the buffer and leave this
// side to regrow one from nothing every batch.
#[allow(clippy::drain_collect)]
pub fn take_samples(samples: &mut Vec<Sample>) -> Vec<Sample> {
    samples.drain(..).collect()
}

/// Whether a value is physically possible: the rule `tech.invalid` uses,
/// so the dashboard's `--` and the alarm always agree.
pub use crate::verdict::plausible;

/// Running totals for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub counters: Counters,
    /// Alarm episodes by the highest priority each reached (low, medium,
    /// high), open ones at the highest so far: `analysis::alarms`'s
    /// definition, the one `vigil summary` counts a recording by.
    pub alarms: crate::analysis::alarms::PriorityCounts,
}

/// The pipeline's state.
#[derive(Debug)]
pub struct Pipeline {
    alarms: AlarmEngine,
    history: History,
    /// The session's devices (the alarm engine's table): `hot[i]` and
    /// `devices[i]` are the two parts of the device whose id has index `i`.
    table: DeviceTable,
    hot: Vec<Hot>,
    devices: Vec<Device>,
    markers: Vec<(SessionTime, Marker)>,
    last_dose_at: Option<SessionTime>,
    totals: Totals,
    /// The alarm counts of [`Totals::alarms`].
    episodes: EpisodeCounter,
    now: SessionTime,
    window: Duration,
    recording_failed: bool,
    stalled: bool,
    alarm_command_failed: bool,
    network_failed: bool,
    /// Reused per call so the alarm engine never allocates on the hot path.
    alarm_scratch: Vec<AlarmEvent>,
    manual_device: DeviceLabel,
}

impl Pipeline {
    /// A pipeline knowing devices by the alarm engine's table (see
    /// [`AlarmEngine::with_devices`]), so both number them alike.
    #[must_use]
    pub fn new(alarms: AlarmEngine) -> Self {
        let table = alarms.devices().clone();
        Self {
            alarms,
            history: History::default(),
            table,
            hot: Vec::new(),
            devices: Vec::new(),
            markers: Vec::new(),
            last_dose_at: None,
            totals: Totals::default(),
            episodes: EpisodeCounter::new(),
            now: SessionTime::ZERO,
            window: DEFAULT_WINDOW,
            recording_failed: false,
            stalled: false,
            alarm_command_failed: false,
            network_failed: false,
            alarm_scratch: Vec::with_capacity(16),
            manual_device: DeviceLabel::from(MANUAL_DEVICE),
        }
    }

    /// Declare a device before its data arrives (from a profile).
    pub fn set_device(&mut self, device: &DeviceLabel, setup: DeviceSetup) {
        let id = match self.table.declare(device, setup) {
            Ok(id) => id,
            Err(full) => {
                tracing::warn!("{full}");
                return;
            }
        };
        self.alarms.set_device_timing(device, setup.timing);
        self.grow_to(id);
        self.hot[id.index()].env_quantity = setup.env_quantity;
    }

    /// A device nobody declared (`monitor --device ADDR`, a stream) gets the
    /// profile its advertised name or services match when it connects, so a
    /// cuff or thermometer is known to be intermittent (no false
    /// `tech.stale` between measurements) and a skin patch's 0x2A6E reads
    /// as skin temperature.
    fn adopt_profile(&mut self, id: DeviceId, name: Option<&str>, services: &[u16]) {
        // Known from the session plan or an earlier match: not guessed again.
        if self.table.setup(id).is_some() {
            return;
        }
        if let Some(profile) = crate::devices::match_connected(name, services) {
            let device = self.devices[id.index()].label.clone();
            tracing::info!(device = %device, profile = %profile.id, "device profile matched on connection");
            self.set_device(&device, profile.setup());
        }
    }

    /// The id of `label`'s device, admitting it to the table if new;
    /// `None`, with a `decode_error` said, if the table has no room.
    #[inline]
    fn device_id(&mut self, at: SessionTime, label: &DeviceLabel, output: &mut Vec<OutputEvent>) -> Option<DeviceId> {
        match self.table.admit(label) {
            Ok((id, _)) => {
                self.grow_to(id);
                Some(id)
            }
            Err(full) => {
                self.refuse_device(at, label, &full, output);
                None
            }
        }
    }

    #[cold]
    fn refuse_device(&mut self, at: SessionTime, label: &DeviceLabel, full: &TableFull, output: &mut Vec<OutputEvent>) {
        self.totals.counters.bad_lines += 1;
        output.push(OutputEvent::DecodeError {
            at,
            device: Some(label.clone()),
            characteristic: None,
            line: None,
            message: full.to_string(),
        });
    }

    /// Per-device state for every table device up to `id`. Another holder
    /// of the table (a stream source) may have admitted devices whose events
    /// have not reached the pipeline yet; they get their state now.
    #[inline]
    fn grow_to(&mut self, id: DeviceId) {
        if self.devices.len() > id.index() {
            return;
        }
        for (id, label) in self.table.devices_from(self.devices.len()) {
            self.hot.push(Hot::new());
            self.devices.push(Device { id, label, state: DeviceState::default() });
        }
    }

    /// Devices' ids in label order (the snapshot and `session.json` list
    /// devices sorted).
    fn sorted_devices(&self) -> Vec<DeviceId> {
        let mut order: Vec<&Device> = self.devices.iter().collect();
        order.sort_by(|a, b| a.label.cmp(&b.label));
        order.into_iter().map(|d| d.id).collect()
    }

    #[must_use]
    pub fn now(&self) -> SessionTime {
        self.now
    }

    #[must_use]
    pub fn totals(&self) -> Totals {
        Totals { alarms: self.episodes.counts(), ..self.totals }
    }

    #[must_use]
    pub fn alarms(&self) -> &AlarmEngine {
        &self.alarms
    }

    #[must_use]
    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn set_window(&mut self, window: Duration) {
        self.window = window.min(crate::history::MAX_WINDOW);
    }

    /// Count recorder messages lost to a full channel.
    pub fn count_recorder_drop(&mut self) {
        self.totals.counters.recorder_drops += 1;
    }

    /// What a failed recording has not held so far, as its recorder counts it.
    pub fn set_not_recorded(&mut self, not_recorded: crate::model::NotRecorded) {
        self.totals.counters.not_recorded = not_recorded;
    }

    /// Process one batch of source events in order, then advance timers to
    /// the batch's watermark.
    pub fn process(
        &mut self,
        events: &[SourceEvent],
        until: SessionTime,
        samples: &mut Vec<Sample>,
        output: &mut Vec<OutputEvent>,
    ) {
        for event in events {
            self.process_event(event, samples, output);
        }
        self.advance_to(until, output);
    }

    /// When the next timed alarm transition (an onset delay ending, a
    /// reading turning stale, an escalation) falls due.
    #[must_use]
    pub fn next_deadline(&self) -> Option<SessionTime> {
        self.alarms.next_deadline()
    }

    /// Fire timed alarm transitions due by `now`.
    pub fn advance_to(&mut self, now: SessionTime, output: &mut Vec<OutputEvent>) {
        if now > self.now {
            self.now = now;
        }
        self.alarms.advance_to(self.now, &mut self.alarm_scratch);
        self.flush_alarms(output);
    }

    #[inline]
    fn flush_alarms(&mut self, output: &mut Vec<OutputEvent>) {
        // Called several times per event and almost always with nothing to
        // do: the check is inlined, the drain is not.
        if !self.alarm_scratch.is_empty() {
            self.drain_alarms(output);
        }
    }

    #[cold]
    #[inline(never)]
    fn drain_alarms(&mut self, output: &mut Vec<OutputEvent>) {
        for alarm in self.alarm_scratch.drain(..) {
            self.episodes.observe(&alarm);
            output.push(OutputEvent::Alarm(alarm));
        }
    }

    fn process_event(&mut self, event: &SourceEvent, samples: &mut Vec<Sample>, output: &mut Vec<OutputEvent>) {
        let at = event.at.max(self.now);
        self.now = at;
        // Timers due before this event fire first, so output stays in
        // session-time order (a stale alarm before the disconnection that
        // follows it).
        self.alarms.advance_to(at, &mut self.alarm_scratch);
        self.flush_alarms(output);
        let device = event.device.as_ref();
        match &event.body {
            EventBody::Notification { characteristic, payload } => {
                let Some(device) = device else { return };
                let Some(id) = self.device_id(at, device, output) else { return };
                self.notification(at, id, device, *characteristic, payload, samples, output);
            }
            EventBody::Connected { name, address, services } => {
                let Some(device) = device else { return };
                let Some(id) = self.device_id(at, device, output) else { return };
                self.adopt_profile(id, name.as_deref(), services);
                self.hot[id.index()].connected = true;
                self.table.set_link(id, name.as_deref(), address.as_deref());
                self.alarms.on_connection(at, device, true, &mut self.alarm_scratch);
                output.push(OutputEvent::Connection {
                    at,
                    device: device.clone(),
                    change: ConnectionChange::Connected {
                        name: name.clone(),
                        address: address.clone(),
                        services: services.clone(),
                    },
                });
                self.flush_alarms(output);
            }
            EventBody::Disconnected { reason } => {
                let Some(device) = device else { return };
                let Some(id) = self.device_id(at, device, output) else { return };
                self.hot[id.index()].connected = false;
                self.alarms.on_connection(at, device, false, &mut self.alarm_scratch);
                output.push(OutputEvent::Connection {
                    at,
                    device: device.clone(),
                    change: ConnectionChange::Disconnected { reason: reason.clone() },
                });
                self.flush_alarms(output);
            }
            EventBody::Rssi(rssi) => {
                if let Some(device) = device {
                    let Some(id) = self.device_id(at, device, output) else { return };
                    self.devices[id.index()].state.rssi = Some(*rssi);
                }
            }
            EventBody::DeviceInfo(info) => {
                if let Some(device) = device {
                    let Some(id) = self.device_id(at, device, output) else { return };
                    self.devices[id.index()].state.info = info.clone();
                }
            }
            EventBody::Operator(action) => self.operator(at, action, samples, output),
            EventBody::BadInput { line, message } => {
                self.totals.counters.bad_lines += 1;
                output.push(OutputEvent::DecodeError {
                    at,
                    device: device.cloned(),
                    characteristic: None,
                    line: Some(*line),
                    message: message.clone(),
                });
            }
            EventBody::Gap { duration } => {
                self.alarms.on_gap(at, *duration);
                output.push(OutputEvent::Gap { at, duration: *duration });
            }
            // tech.ecg is the ECG branch's; the BLE side only reports.
            EventBody::EcgStatus { .. } => {}
        }
    }

    #[allow(clippy::too_many_arguments)] // the hot path: no struct to build per event
    fn notification(
        &mut self,
        at: SessionTime,
        id: DeviceId,
        device: &DeviceLabel,
        characteristic: Characteristic,
        payload: &[u8],
        samples: &mut Vec<Sample>,
        output: &mut Vec<OutputEvent>,
    ) {
        self.totals.counters.notifications += 1;
        let hot = &mut self.hot[id.index()];
        // A device that sends data is evidently connected, even if the
        // source never said so (a stream without a `connected` line).
        hot.connected = true;
        let env_quantity = hot.env_quantity;
        // Decode straight into the caller's buffer; apply what was added.
        let first = samples.len();
        match gatt::decode_samples(characteristic, payload, at, device, env_quantity, samples) {
            Ok(()) => {
                if samples.len() == first {
                    // Samples feed staleness themselves; only a
                    // notification without any must say it arrived.
                    self.alarms.on_device_data(at, id, &mut self.alarm_scratch);
                }
                for sample in &samples[first..] {
                    self.apply_sample(id, sample);
                }
                self.totals.counters.samples += (samples.len() - first) as u64;
            }
            // Characteristics vigil does not decode are recorded raw only.
            Err(DecodeError::Unsupported(_)) => {
                self.alarms.on_device_data(at, id, &mut self.alarm_scratch);
            }
            Err(error) => {
                self.alarms.on_device_data(at, id, &mut self.alarm_scratch);
                self.devices[id.index()].state.decode_errors += 1;
                self.totals.counters.decode_errors += 1;
                output.push(OutputEvent::DecodeError {
                    at,
                    device: Some(device.clone()),
                    characteristic: Some(characteristic),
                    line: None,
                    message: error.to_string(),
                });
            }
        }
        self.flush_alarms(output);
    }

    /// Update history, device state and alarms from one sample of device
    /// `id`.
    #[inline(always)]
    fn apply_sample(&mut self, id: DeviceId, sample: &Sample) {
        let hot = &mut self.hot[id.index()];
        if sample.contact.is_some() {
            hot.contact = sample.contact;
        }
        if sample.quantity == Quantity::BatteryPct {
            self.devices[id.index()].state.battery_pct = Some(sample.value);
        }
        self.history.push(id, sample);
        self.alarms.on_device_sample(id, sample, &mut self.alarm_scratch);
    }

    /// Apply an operator action (from the dashboard, a stream line or a
    /// replay) and report it.
    pub fn operator(
        &mut self,
        at: SessionTime,
        action: &OperatorAction,
        samples: &mut Vec<Sample>,
        output: &mut Vec<OutputEvent>,
    ) {
        let at = at.max(self.now);
        self.now = at;
        match action {
            OperatorAction::Marker(marker) => {
                if matches!(marker.kind, Some(MarkerKind::Dose | MarkerKind::SupplementalDose))
                    || marker.label.to_ascii_lowercase().contains("dose")
                {
                    self.last_dose_at = Some(at);
                }
                self.markers.push((at, marker.clone()));
            }
            OperatorAction::Manual { quantity, value } => {
                let sample = Sample {
                    at,
                    device: self.manual_device.clone(),
                    quantity: *quantity,
                    value: *value,
                    contact: None,
                    device_time_ns: None,
                };
                let manual = self.manual_device.clone();
                // The table always has room for `manual`.
                let Some(id) = self.device_id(at, &manual, output) else { return };
                self.apply_sample(id, &sample);
                self.totals.counters.samples += 1;
                samples.push(sample);
            }
            OperatorAction::AckRefused { .. } => {}
            OperatorAction::Ack { .. }
            | OperatorAction::RemoteAck { .. }
            | OperatorAction::AudioPause
            | OperatorAction::Baseline { .. }
            | OperatorAction::Limit { .. } => {
                if let Err(error) = self.alarms.on_operator(at, action, &mut self.alarm_scratch) {
                    output.push(OutputEvent::DecodeError {
                        at,
                        device: None,
                        characteristic: None,
                        line: None,
                        message: format!("operator action `{}` refused: {error}", action.name()),
                    });
                    self.flush_alarms(output);
                    return;
                }
            }
        }
        output.push(OutputEvent::Operator { at, action: action.clone() });
        self.flush_alarms(output);
    }

    /// Raise or clear `tech.recording` (the recorder failed or recovered).
    pub fn set_recording_failed(&mut self, at: SessionTime, failed: bool, output: &mut Vec<OutputEvent>) {
        if failed != self.recording_failed {
            self.recording_failed = failed;
            self.session_flag(at, crate::model::Condition::TechRecording, failed, output);
        }
    }

    /// Raise or clear `tech.alarm_command` (the alarm command died or
    /// stopped reading, or reads again after a restart).
    pub fn set_alarm_command_failed(&mut self, at: SessionTime, failed: bool, output: &mut Vec<OutputEvent>) {
        if failed != self.alarm_command_failed {
            self.alarm_command_failed = failed;
            self.session_flag(at, crate::model::Condition::TechAlarmCommand, failed, output);
        }
    }

    /// The central-station link (`--publish`); `overflowing` (its queue dropped
    /// messages and has not delivered its backlog yet) raises `tech.network`.
    pub fn set_network(&mut self, at: SessionTime, link: NetworkLink, overflowing: bool, out: &mut Vec<OutputEvent>) {
        self.totals.counters.network = Some(link);
        if overflowing != self.network_failed {
            self.network_failed = overflowing;
            self.session_flag(at, crate::model::Condition::TechNetwork, overflowing, out);
        }
    }

    /// Raise or clear a session-wide technical alarm.
    fn session_flag(&mut self, at: SessionTime, c: crate::model::Condition, on: bool, output: &mut Vec<OutputEvent>) {
        self.alarms.set_technical(at.max(self.now), c, None, on, &mut self.alarm_scratch);
        self.flush_alarms(output);
    }

    /// Lines the alarm command has missed in the whole session.
    pub fn set_alarm_command_missed(&mut self, missed: u64) {
        self.totals.counters.alarm_command_missed = missed;
    }

    /// Raise or clear `tech.stalled` (the pipeline missed its tick).
    pub fn set_stalled(&mut self, at: SessionTime, stalled: bool, output: &mut Vec<OutputEvent>) {
        if stalled != self.stalled {
            self.stalled = stalled;
            self.session_flag(at, crate::model::Condition::TechStalled, stalled, output);
        }
    }

    /// Alarms not cleared, as the dashboard lists them.
    #[must_use]
    pub fn alarm_statuses(&self) -> Vec<crate::model::AlarmStatus> {
        self.alarms.statuses()
    }

    /// A picture of the session for the dashboard.
    pub fn snapshot(&mut self, base: &SnapshotBase) -> Snapshot {
        let now = self.now;
        let statuses = self.alarms.statuses();
        let since = now.saturating_sub(self.window);
        let stale_config = &self.alarms.config().tech_stale;
        // A device the engine has not heard of has no readings either.
        let unheard = Staleness::default();
        let mut devices = Vec::with_capacity(self.devices.len());
        let mut points: Vec<Point> = Vec::new();
        for id in self.sorted_devices() {
            let label = &self.devices[id.index()].label;
            let state = &self.devices[id.index()].state;
            let entry = self.table.entry(id);
            let hot = &self.hot[id.index()];
            let staleness = self.alarms.staleness(id).unwrap_or(&unheard);
            let mut readings = Vec::new();
            for quantity in Quantity::ALL {
                if matches!(quantity, Quantity::BatteryPct | Quantity::RrIntervalMs | Quantity::EnergyExpendedKj) {
                    continue;
                }
                let Some(series) = self.history.get_mut(id, quantity) else { continue };
                let Some(latest) = series.latest() else { continue };
                points.clear();
                series.recent_since(since, &mut points);
                let age = now.since(latest.at);
                let status = reading_status(
                    staleness,
                    stale_config,
                    hot.connected,
                    quantity,
                    latest,
                    series.latest_contact(),
                    now,
                );
                let trend = series.trend().buckets().to_vec();
                readings.push(Reading {
                    quantity,
                    last: Some(latest.value),
                    age: Some(age),
                    status,
                    // Gaps (no contact, non-finite values) are left out, as
                    // the trend leaves them out.
                    recent: points
                        .iter()
                        .filter(|p| p.value.is_finite())
                        .map(|p| (p.at.as_secs_f64(), p.value))
                        .collect(),
                    trend,
                    rmssd_ms: None,
                });
            }
            let rmssd = self.history.rmssd(id, now, RMSSD_WINDOW);
            if let Some(hr) = readings.iter_mut().find(|r| r.quantity == Quantity::HeartRateBpm) {
                // HRV is only meaningful while the heart rate itself is.
                hr.rmssd_ms = rmssd.filter(|_| hr.status.shows_value());
            }
            devices.push(DeviceView {
                label: label.clone(),
                name: entry.as_ref().and_then(|e| e.name.clone()),
                address: entry.and_then(|e| e.address),
                connected: hot.connected,
                rssi: state.rssi,
                battery_pct: state.battery_pct,
                contact: hot.contact,
                decode_errors: state.decode_errors,
                readings,
            });
        }
        Snapshot {
            now,
            start_utc: base.start_utc,
            participant: base.participant.clone(),
            record_dir: base.record_dir.clone(),
            mode: base.mode,
            devices,
            alarms: statuses,
            audio_paused_until: self.alarms.audio_paused_until(),
            markers: self.markers.clone(),
            last_dose_at: self.last_dose_at,
            counters: self.totals.counters,
            limits: self.alarms.limits(),
            window: self.window,
            stalled: self.stalled,
            finished: false,
        }
    }

    /// Device metadata for the recording's `session.json`.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceLabel, Option<String>, Option<String>, &DeviceInfo)> {
        self.sorted_devices().into_iter().map(|id| {
            let d = &self.devices[id.index()];
            let s = &d.state;
            let entry = self.table.entry(id);
            (&d.label, entry.as_ref().and_then(|e| e.name.clone()), entry.and_then(|e| e.address), &s.info)
        })
    }
}

/// `--resume`: picking a session up where an earlier run of it stopped.
///
/// The state is rebuilt by running the recording's own events (notifications,
/// connections, operator actions, bad lines, gaps: what `vigil replay` feeds)
/// through this pipeline once more, silently. That restores every marker
/// with its original time, the baseline (the operator's, or the automatic
/// one learnt from the first window of data), limit changes, the audio
/// pause, the alarm instances with their acknowledgements, and the history
/// and whole-session trend the dashboard draws — exactly as the alarm engine
/// had them, with no second copy of the rules. The operator actions are not
/// applied from a list of their own: an acknowledgement only means something
/// against the alarms that were active when it was given, and replaying the
/// data makes those alarms again.
impl Pipeline {
    /// Run an earlier segment's recorded batches through the pipeline
    /// without output: nothing is recorded or printed again (it is all in
    /// the recording already). The totals restart at zero afterwards, so the
    /// summary line counts what this run processed: alarm episodes that
    /// begin in it (one still open from the earlier segment is not counted
    /// again).
    pub fn restore(&mut self, batches: impl IntoIterator<Item = crate::model::Batch>) {
        let mut samples = Vec::with_capacity(4096);
        let mut output = Vec::with_capacity(64);
        for batch in batches {
            self.process(&batch.events, batch.until, &mut samples, &mut output);
            samples.clear();
            output.clear();
        }
        self.totals = Totals::default();
        self.episodes.restart();
    }

    /// Continue a restored session at session time `at`. Time between the
    /// end of what was restored and `at` (vigil was not running) is reported
    /// as a `gap` and moves the alarm timers like a suspend does (see
    /// [`AlarmEngine::on_resume_gap`]); then timers due by `at` fire.
    pub fn resume_at(&mut self, at: SessionTime, output: &mut Vec<OutputEvent>) {
        if at > self.now {
            let duration = at.since(self.now);
            self.alarms.on_resume_gap(at, duration);
            output.push(OutputEvent::Gap { at, duration });
        }
        self.advance_to(at, output);
    }
}

/// Whether a reading's latest value may be shown. Each verdict is
/// `verdict`'s, the one the alarm engine acts on: with the engine's own
/// [`Staleness`] of the device, a reading turns stale at the instant its
/// device's `tech.stale` is raised (when it is the device's latest data).
/// Its age counts from the reading itself: after a reconnection with no new
/// data the old value stays hidden, though `tech.stale`'s timer restarted.
fn reading_status(
    staleness: &Staleness,
    config: &TechStale,
    connected: bool,
    quantity: Quantity,
    latest: Point,
    contact: Option<bool>,
    now: SessionTime,
) -> ReadingStatus {
    let latest = Latest { at: latest.at, value: latest.value, contact };
    judge(staleness, config, connected, quantity, latest, now)
}

/// The session facts a snapshot carries that the pipeline does not own.
#[derive(Debug, Clone)]
pub struct SnapshotBase {
    pub start_utc: chrono::DateTime<chrono::Utc>,
    pub participant: Option<String>,
    pub record_dir: Option<std::path::PathBuf>,
    pub mode: Mode,
}

#[cfg(test)]
mod tests;
