//! The pipeline's ECG path: Polar PMD data notifications into the
//! device's ECG ring (`history`) and `tech.ecg`'s inputs, the source's
//! report of a refused start, and the snapshot's [`EcgStrip`].
//!
//! A PMD frame carries no vital sample: heart rate keeps coming from
//! 0x2A37, and the frame counts as the device's data for `tech.stale`
//! like any notification.

use crate::device_table::DeviceId;
use crate::gatt::pmd::{DATA_CHARACTERISTIC, EcgFrameRef};
use crate::history::ECG_WINDOW;
use crate::model::{DeviceLabel, OutputEvent, SessionTime};
use crate::snapshot::{EcgStatus, EcgStrip};
use crate::verdict::judge_ecg;

use super::Pipeline;

impl Pipeline {
    /// A PMD data notification of device `id`.
    pub(super) fn ecg_notification(
        &mut self,
        at: SessionTime,
        id: DeviceId,
        device: &DeviceLabel,
        payload: &[u8],
        output: &mut Vec<OutputEvent>,
    ) {
        self.alarms.on_device_data(at, id, &mut self.alarm_scratch);
        match EcgFrameRef::decode(payload) {
            Ok(frame) if !frame.is_empty() => {
                self.history.push_ecg(id, at, frame.timestamp_ns, frame.samples_uv());
                self.alarms.on_ecg_frame(at, id, &mut self.alarm_scratch);
            }
            // A frame without samples carries no ECG: it restarts nothing.
            Ok(_) => {}
            Err(error) => {
                self.devices[id.index()].state.decode_errors += 1;
                self.totals.counters.decode_errors += 1;
                output.push(OutputEvent::DecodeError {
                    at,
                    device: Some(device.clone()),
                    characteristic: Some(DATA_CHARACTERISTIC),
                    line: None,
                    message: error.to_string(),
                });
            }
        }
        self.flush_alarms(output);
    }

    /// The device's answer to the ECG start command, as its source reported.
    pub(super) fn ecg_status(
        &mut self,
        at: SessionTime,
        device: &DeviceLabel,
        started: bool,
        reason: Option<&str>,
        output: &mut Vec<OutputEvent>,
    ) {
        if !started {
            tracing::warn!(device = %device, reason = reason.unwrap_or("none given"), "ECG start refused");
        }
        self.alarms.on_ecg_start(at, device, started, reason, &mut self.alarm_scratch);
        self.flush_alarms(output);
    }

    /// What the dashboard draws of device `id`'s ECG at `now`; `None` when
    /// no ECG is expected from it. The verdict is `tech.ecg`'s own.
    pub(super) fn ecg_strip(&mut self, id: DeviceId, connected: bool, now: SessionTime) -> Option<EcgStrip> {
        let watch = self.alarms.ecg_watch(id)?;
        let status = judge_ecg(watch, &self.alarms.config().tech_ecg, connected, now);
        if status == EcgStatus::NotExpected {
            return None;
        }
        let mut samples = Vec::new();
        let mut rate_hz = crate::ecg::NOMINAL_RATE_HZ;
        if let Some(trace) = self.history.ecg_mut(id) {
            rate_hz = trace.rate_hz();
            if status.shows_strip() {
                let since = i64::try_from(now.saturating_sub(ECG_WINDOW).as_nanos()).unwrap_or(i64::MAX);
                trace.since(since, &mut samples);
            }
        }
        Some(EcgStrip { status, rate_hz, samples })
    }
}
