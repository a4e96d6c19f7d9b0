//! The alarm engine. PLACEHOLDER with the agreed interface until branch
//! `alarms` (issue 3) is merged; it raises nothing.

use std::time::Duration;

use crate::model::{AlarmEvent, AlarmStatus, Condition, DeviceLabel, OperatorAction, Sample, SessionTime};
use crate::snapshot::LimitView;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AlarmConfig {}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DeviceTiming {
    pub expected_interval: Option<Duration>,
    pub intermittent: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("alarm engine placeholder")]
pub struct AlarmError;

#[derive(Debug, Default)]
pub struct AlarmEngine {
    config: AlarmConfig,
}

#[allow(clippy::unused_self, clippy::needless_pass_by_value, clippy::ptr_arg, unused_variables)]
impl AlarmEngine {
    #[must_use]
    pub fn new(config: AlarmConfig) -> Self {
        Self { config }
    }
    #[must_use]
    pub fn config(&self) -> &AlarmConfig {
        &self.config
    }
    pub fn set_device_timing(&mut self, device: &DeviceLabel, timing: DeviceTiming) {}
    pub fn on_sample(&mut self, sample: &Sample, out: &mut Vec<AlarmEvent>) {}
    pub fn on_data(&mut self, at: SessionTime, device: &DeviceLabel, out: &mut Vec<AlarmEvent>) {}
    pub fn on_connection(&mut self, at: SessionTime, device: &DeviceLabel, connected: bool, out: &mut Vec<AlarmEvent>) {
    }
    pub fn on_operator(
        &mut self,
        at: SessionTime,
        action: &OperatorAction,
        out: &mut Vec<AlarmEvent>,
    ) -> Result<(), AlarmError> {
        Ok(())
    }
    pub fn set_technical(
        &mut self,
        at: SessionTime,
        condition: Condition,
        device: Option<&DeviceLabel>,
        on: bool,
        out: &mut Vec<AlarmEvent>,
    ) {
    }
    pub fn on_gap(&mut self, at: SessionTime, duration: Duration) {}
    pub fn advance_to(&mut self, now: SessionTime, out: &mut Vec<AlarmEvent>) {}
    #[must_use]
    pub fn next_deadline(&self) -> Option<SessionTime> {
        None
    }
    #[must_use]
    pub fn statuses(&self) -> Vec<AlarmStatus> {
        Vec::new()
    }
    #[must_use]
    pub fn audio_paused_until(&self) -> Option<SessionTime> {
        None
    }
    #[must_use]
    pub fn limit_views(&self) -> Vec<LimitView> {
        Vec::new()
    }
}
