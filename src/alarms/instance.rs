//! One alarm instance: a (condition, device) pair's onset timers and its
//! annunciation state.
//!
//! Two layers:
//! - **levels**: for each priority with a limit, since when the value has
//!   been beyond the limit (strictly, so flapping around it restarts the
//!   timer) and whether it has held for the onset delay ("qualified"). A
//!   qualified level stays qualified until the value is back past the limit
//!   by the hysteresis. When a level qualifies, the lower levels the value
//!   still holds qualify with it, so an alarm that rose straight to high
//!   does not end when the value drops into the medium band.
//! - **annunciation**: the highest qualified level drives the state
//!   (idle → active → escalated → acknowledged → cleared, latched for a high
//!   priority alarm that ends unacknowledged). The priority of an alarm never
//!   drops while it lasts: the monitoring clinician should see the worst it
//!   got until it clears.

use std::time::Duration;

use crate::model::{AlarmEvent, AlarmState, Condition, DeviceLabel, Priority, SessionTime};

/// Priorities by level index: a level's index is its priority's.
pub(super) const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

/// Where one observation stands against each level's limit, by level index
/// (low, medium, high; `false` where the level does not exist).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Judgement {
    /// Beyond the limit: starts (or keeps running) the level's onset timer.
    pub beyond: [bool; 3],
    /// Not yet back past the limit by the hysteresis: a qualified level
    /// stays qualified. Always true where `beyond` is.
    pub holds: [bool; 3],
}

impl Judgement {
    /// Every existing level beyond and holding (a yes/no condition that holds).
    pub fn all(levels: [bool; 3]) -> Self {
        Self { beyond: levels, holds: levels }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    Active,
    Escalated,
    Acknowledged,
    Latched,
}

#[derive(Debug, Clone, Copy, Default)]
struct Level {
    /// How long the condition must hold; `None`: there is no such level (or
    /// the condition is turned off).
    onset: Option<Duration>,
    /// Since when the value has been beyond the limit.
    since: Option<SessionTime>,
    /// The value that crossed the limit at `since` (the "triggering value").
    crossed_with: Option<f64>,
    /// Has held for the onset delay.
    qualified: bool,
}

impl Level {
    /// When the running onset timer falls due.
    fn due(&self) -> Option<SessionTime> {
        match (self.qualified, self.since, self.onset) {
            (false, Some(since), Some(onset)) => Some(since.saturating_add(onset)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Instance {
    pub condition: Condition,
    levels: [Level; 3],
    /// `holds` of the last observation: which lower levels come along when a
    /// level qualifies at its deadline.
    last_holds: [bool; 3],
    pub phase: Phase,
    pub priority: Priority,
    /// Escalation by time after this long unacknowledged; `None`: off.
    escalate_after: Option<Duration>,
    /// When it escalates by time; `Some` only while active or escalated.
    escalate_at: Option<SessionTime>,
    pub active_since: SessionTime,
    pub changed: SessionTime,
    /// Last time it became active or escalated (audio-pause break-through;
    /// escalation by time counts from it).
    pub annunciated: SessionTime,
    /// Latest observed value, reported by transitions fired at a deadline.
    last_value: Option<f64>,
    /// The value that triggered or escalated it: for a level, the value
    /// that crossed its limit; for escalation by time, the latest value.
    pub trigger: Option<f64>,
}

impl Instance {
    pub fn new(condition: Condition, onsets: [Option<Duration>; 3], escalate_after: Option<Duration>) -> Self {
        let mut levels = [Level::default(); 3];
        for (level, onset) in levels.iter_mut().zip(onsets) {
            level.onset = onset;
        }
        Self {
            condition,
            levels,
            last_holds: [false; 3],
            phase: Phase::Idle,
            priority: Priority::Low,
            escalate_after,
            escalate_at: None,
            active_since: SessionTime::ZERO,
            changed: SessionTime::ZERO,
            annunciated: SessionTime::ZERO,
            last_value: None,
            trigger: None,
        }
    }

    /// Whether some level has held for its onset delay: the condition is
    /// established (what suppression looks at).
    pub fn is_qualified(&self) -> bool {
        self.levels.iter().any(|l| l.qualified)
    }

    /// The earliest pending timer: a running onset or the escalation.
    pub fn deadline(&self) -> Option<SessionTime> {
        self.levels.iter().filter_map(Level::due).chain(self.escalate_at).min()
    }

    /// A new observation at `at`; `value` is what events report.
    pub fn observe(
        &mut self,
        at: SessionTime,
        judgement: Judgement,
        value: Option<f64>,
        device: Option<&DeviceLabel>,
        out: &mut Vec<AlarmEvent>,
    ) {
        self.last_value = value;
        self.last_holds = judgement.holds;
        let mut newly = [false; 3];
        for (l, level) in self.levels.iter_mut().enumerate() {
            if level.qualified && !judgement.holds[l] {
                level.qualified = false;
                level.since = None;
            }
            let Some(onset) = level.onset else { continue };
            if level.qualified {
                continue;
            }
            if !judgement.beyond[l] {
                level.since = None;
                continue;
            }
            let since = *level.since.get_or_insert_with(|| {
                level.crossed_with = value;
                at
            });
            newly[l] = at.since(since) >= onset;
        }
        self.qualify(newly);
        self.annunciate(at, device, out);
    }

    /// The condition is known to hold from `at` on (e.g. "no data since"):
    /// end any current qualification, then start every level's timer at `at`.
    pub fn rearm(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        if self.is_qualified() {
            for level in &mut self.levels {
                level.qualified = false;
            }
            self.annunciate(at, device, out);
        }
        for level in &mut self.levels {
            if level.onset.is_some() {
                level.since = Some(at);
            }
        }
    }

    /// The condition is established at `at` without its onset delay (a
    /// refused ECG start: nothing will change by waiting). Every existing
    /// level qualifies; the event carries no value.
    pub fn raise_now(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        let mut newly = [false; 3];
        for (l, level) in self.levels.iter_mut().enumerate() {
            if level.onset.is_some() && !level.qualified {
                level.since = Some(at);
                level.crossed_with = None;
                newly[l] = true;
            }
        }
        self.last_value = None;
        self.last_holds = newly;
        self.qualify(newly);
        self.annunciate(at, device, out);
    }

    /// The condition can no longer be judged (suppressed, disconnected):
    /// forget the timers and end the alarm (latching if it must).
    pub fn end(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        for level in &mut self.levels {
            level.since = None;
            level.qualified = false;
        }
        self.annunciate(at, device, out);
    }

    /// The value was not usable: onset timers restart, an alarm in progress
    /// is kept as it is.
    pub fn reset_pending(&mut self) {
        for level in &mut self.levels {
            if !level.qualified {
                level.since = None;
            }
        }
    }

    /// Fire whatever is due at `at` (the instance's deadline, or later when
    /// a delay was shortened below the time already waited).
    pub fn on_deadline(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        let newly = self.levels.map(|l| l.due().is_some_and(|due| due <= at));
        if newly.contains(&true) {
            self.qualify(newly);
            self.annunciate(at, device, out);
        }
        if self.escalate_at.is_some_and(|e| e <= at) && matches!(self.phase, Phase::Active | Phase::Escalated) {
            self.priority = next_priority(self.priority);
            self.phase = Phase::Escalated;
            self.changed = at;
            self.annunciated = at;
            self.trigger = self.last_value;
            self.emit(at, AlarmState::Escalated, self.trigger, device, out);
            self.schedule_escalation();
        }
        if self.deadline().is_some_and(|d| d <= at) {
            // Only a zero escalation delay could get here (every due onset
            // qualified above); a monitor must not spin on one timer.
            tracing::error!(condition = %self.condition, "alarm timer did not advance; dropped");
            self.escalate_at = None;
        }
    }

    /// The operator acknowledged it. A latched alarm clears; an active one
    /// stops sounding and stops escalating by time.
    pub fn acknowledge(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        match self.phase {
            Phase::Active | Phase::Escalated => {
                // Deliberately no `acknowledged` alarm event: the operator
                // event records it (DESIGN.md's headless example prints only
                // the operator line for an ack).
                self.phase = Phase::Acknowledged;
                self.changed = at;
                self.escalate_at = None;
            }
            Phase::Latched => {
                self.phase = Phase::Idle;
                self.changed = at;
                self.emit(at, AlarmState::Cleared, None, device, out);
            }
            Phase::Idle | Phase::Acknowledged => {}
        }
    }

    /// Move every timer set before `at` later by `by` (no later than `at`):
    /// the span of a clock gap does not count towards any delay.
    pub fn shift(&mut self, at: SessionTime, by: Duration) {
        let move_it = |t: SessionTime| if t < at { t.saturating_add(by).min(at) } else { t };
        for level in &mut self.levels {
            level.since = level.since.map(move_it);
        }
        if self.escalate_at.is_some() {
            self.annunciated = move_it(self.annunciated);
            self.schedule_escalation();
        }
    }

    /// New onset delays (`tech.stale`'s follow the device's interval): the
    /// timers already running keep their start and fall due by the new
    /// delays.
    pub fn set_onsets(&mut self, onsets: [Option<Duration>; 3]) {
        for (level, onset) in self.levels.iter_mut().zip(onsets) {
            level.onset = onset;
        }
    }

    /// Mark `newly` qualified; the lower levels the value still holds come
    /// along (see the module doc).
    fn qualify(&mut self, newly: [bool; 3]) {
        let Some(top) = newly.iter().rposition(|n| *n) else { return };
        let before = self.levels.iter().rposition(|l| l.qualified);
        // The value that crossed the limit of the highest level now
        // established is the "triggering value" (DESIGN.md's example
        // reports the 104 bpm that started the minute, not the 123 that
        // came after).
        if before.is_none_or(|b| top > b) {
            self.trigger = self.levels[top].crossed_with.or(self.last_value);
        }
        for (l, level) in self.levels.iter_mut().enumerate().take(top + 1) {
            if newly[l] || (l < top && self.last_holds[l] && level.onset.is_some()) {
                level.qualified = true;
            }
        }
    }

    /// The priority of the highest qualified level.
    fn target(&self) -> Option<Priority> {
        self.levels.iter().rposition(|l| l.qualified).map(|l| PRIORITIES[l])
    }

    fn annunciate(&mut self, at: SessionTime, device: Option<&DeviceLabel>, out: &mut Vec<AlarmEvent>) {
        match (self.phase, self.target()) {
            (Phase::Idle, Some(p)) => {
                self.phase = Phase::Active;
                self.priority = p;
                self.active_since = at;
                self.become_active(at, AlarmState::Active, device, out);
            }
            (Phase::Latched, Some(p)) => {
                // The condition is back before anyone acknowledged the
                // latched alarm: active again, at no lower a priority.
                self.phase = Phase::Active;
                self.priority = self.priority.max(p);
                self.active_since = at;
                self.become_active(at, AlarmState::Active, device, out);
            }
            (Phase::Active | Phase::Escalated | Phase::Acknowledged, Some(p)) if p > self.priority => {
                self.phase = Phase::Escalated;
                self.priority = p;
                self.become_active(at, AlarmState::Escalated, device, out);
            }
            (Phase::Active | Phase::Escalated, None) => {
                self.changed = at;
                self.escalate_at = None;
                if self.priority == Priority::High {
                    self.phase = Phase::Latched;
                    self.emit(at, AlarmState::Latched, None, device, out);
                } else {
                    self.phase = Phase::Idle;
                    self.emit(at, AlarmState::Cleared, None, device, out);
                }
            }
            (Phase::Acknowledged, None) => {
                self.phase = Phase::Idle;
                self.changed = at;
                self.emit(at, AlarmState::Cleared, None, device, out);
            }
            _ => {}
        }
    }

    fn become_active(
        &mut self,
        at: SessionTime,
        state: AlarmState,
        device: Option<&DeviceLabel>,
        out: &mut Vec<AlarmEvent>,
    ) {
        self.changed = at;
        self.annunciated = at;
        self.schedule_escalation();
        self.emit(at, state, self.trigger, device, out);
    }

    fn schedule_escalation(&mut self) {
        let sounding = matches!(self.phase, Phase::Active | Phase::Escalated);
        self.escalate_at = match self.escalate_after {
            Some(after) if sounding && self.priority < Priority::High => Some(self.annunciated.saturating_add(after)),
            _ => None,
        };
    }

    fn emit(
        &self,
        at: SessionTime,
        state: AlarmState,
        value: Option<f64>,
        device: Option<&DeviceLabel>,
        out: &mut Vec<AlarmEvent>,
    ) {
        out.push(AlarmEvent {
            at,
            condition: self.condition,
            device: device.cloned(),
            priority: self.priority,
            state,
            value: value.filter(|v| v.is_finite()),
        });
    }
}

const fn next_priority(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Medium,
        Priority::Medium | Priority::High => Priority::High,
    }
}
