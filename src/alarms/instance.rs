//! One alarm instance: a (condition, device) pair's onset timers and its
//! annunciation state.
//!
//! Two layers:
//! - **levels**: for each priority with a limit, since when the value has
//!   been beyond the limit (strictly, so flapping around it restarts the
//!   timer) and whether it has held for the onset delay ("qualified"). A
//!   qualified level stays qualified until the value is back past the limit
//!   by the hysteresis. When a level qualifies, the lower levels the value
//!   also satisfies qualify with it, so an alarm that rose straight to high
//!   does not end when the value drops into the medium band.
//! - **annunciation**: the highest qualified level drives the state
//!   (idle → active → escalated → acknowledged → cleared, latched for a high
//!   priority alarm that ends unacknowledged). The priority of an alarm never
//!   drops while it lasts: the medical monitor should see the worst it got
//!   until it clears.
//!
//! All times are session nanoseconds; [`NEVER`] means "not set".

use crate::model::{AlarmEvent, AlarmState, Condition, DeviceLabel, Priority, SessionTime};

pub(super) const NEVER: u64 = u64::MAX;

/// Where transitions go: the caller's output vector, plus the earliest
/// timer set while handling one input (the engine folds it into its lower
/// bounds on the next deadline).
pub(super) struct Sink<'a> {
    pub out: &'a mut Vec<AlarmEvent>,
    pub lowest: u64,
}

impl<'a> Sink<'a> {
    pub fn new(out: &'a mut Vec<AlarmEvent>) -> Self {
        Self { out, lowest: NEVER }
    }

    #[inline]
    pub fn timer(&mut self, at: u64) {
        self.lowest = self.lowest.min(at);
    }
}

/// What an instance needs to name itself in an event.
#[derive(Clone, Copy)]
pub(super) struct Ident<'a> {
    pub condition: Condition,
    pub device: Option<&'a DeviceLabel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    Active,
    Escalated,
    Acknowledged,
    Latched,
}

/// Laid out (`repr(C)`, one instance per 64-byte line start) so that what
/// the per-notification staleness re-arm and the quiet/deadline checks read
/// is the first cache line: with many devices each line is a miss.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(super) struct Instance {
    // First cache line: 4 + 4 (padding) + 24 + 24 + 8 bytes.
    /// Bit `p` set: level `p` has held for its onset delay.
    qualified: u8,
    /// Last hysteresis mask seen (levels the value still holds), for
    /// qualifying lower levels at a deadline.
    last_hold: u8,
    pub phase: Phase,
    pub priority: Priority,
    /// Per priority level: since when the value is beyond the limit.
    since: [u64; 3],
    /// Per priority level: the onset delay, `NEVER` if there is no such level
    /// (or the condition is turned off).
    pub onset: [u64; 3],
    /// Earliest pending timer, `NEVER` if none.
    pub deadline: u64,
    // The rest: alarms in progress, events and statuses.
    /// Per priority level: the value that crossed the limit at `since`.
    since_value: [Option<f64>; 3],
    /// Escalation by time, `NEVER` when off.
    pub escalate_after: u64,
    pub active_since: u64,
    pub changed: u64,
    /// Last time it became active or escalated (audio-pause break-through).
    pub annunciated: u64,
    /// When it escalates by time; `NEVER` unless the phase is active or
    /// escalated (`schedule_escalation` keeps it so), which lets `rearm`
    /// skip reading it on the hot path.
    escalate_at: u64,
    /// Latest observed value, reported by transitions fired at a deadline.
    last_value: Option<f64>,
    /// The value that triggered or escalated it: for a level, the value
    /// that crossed its limit; for escalation by time, the latest value.
    pub trigger: Option<f64>,
}

// The hot part must stay within the first cache line.
const _: () = assert!(std::mem::offset_of!(Instance, since_value) == 64);

const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

impl Instance {
    pub fn new(onset: [u64; 3], escalate_after: u64) -> Self {
        Self {
            since: [NEVER; 3],
            since_value: [None; 3],
            onset,
            qualified: 0,
            last_hold: 0,
            escalate_after,
            phase: Phase::Idle,
            priority: Priority::Low,
            active_since: 0,
            changed: 0,
            annunciated: 0,
            escalate_at: NEVER,
            last_value: None,
            trigger: None,
            deadline: NEVER,
        }
    }

    /// Levels that exist (have an onset).
    pub fn levels(&self) -> u8 {
        let mut m = 0;
        for (l, onset) in self.onset.iter().enumerate() {
            if *onset != NEVER {
                m |= 1 << l;
            }
        }
        m
    }

    pub fn is_qualified(&self) -> bool {
        self.qualified != 0
    }

    /// Whether nothing is going on: no timer, no alarm. Lets hot paths skip
    /// an observation that cannot change anything.
    #[inline]
    pub fn is_quiet(&self) -> bool {
        self.phase == Phase::Idle && self.qualified == 0 && self.deadline == NEVER
    }

    /// A new observation: `sat` has bit `p` set where the value is beyond
    /// level `p`'s limit, `hold` where it is within hysteresis of it (a
    /// superset of `sat`). `value` is what events report.
    #[inline]
    pub fn observe(&mut self, at: u64, sat: u8, hold: u8, value: Option<f64>, id: Ident<'_>, sink: &mut Sink<'_>) {
        self.last_value = value;
        self.last_hold = hold;
        let lost = self.qualified & !hold;
        if lost != 0 {
            self.qualified &= hold;
            for l in 0..3 {
                if lost & (1 << l) != 0 {
                    self.since[l] = NEVER;
                }
            }
        }
        let mut newly = 0;
        for l in 0..3 {
            let b = 1 << l;
            if self.onset[l] == NEVER || self.qualified & b != 0 {
                continue;
            }
            if sat & b == 0 {
                self.since[l] = NEVER;
                continue;
            }
            if self.since[l] == NEVER {
                self.since[l] = at;
                self.since_value[l] = value;
            }
            if at.saturating_sub(self.since[l]) >= self.onset[l] {
                newly |= b;
            }
        }
        if newly != 0 {
            self.qualify(newly);
        }
        self.annunciate(at, id, sink);
        self.refresh_deadline(sink);
    }

    /// The condition is known to hold from `at` on (e.g. "no data since"):
    /// end any current qualification, then start every level's timer at `at`.
    pub fn rearm(&mut self, at: u64, id: Ident<'_>, sink: &mut Sink<'_>) {
        if self.qualified != 0 {
            self.qualified = 0;
            self.annunciate(at, id, sink);
        }
        let deadline = self.restart(at);
        sink.timer(deadline);
    }

    /// [`rearm`](Self::rearm) of an instance with no level qualified: start
    /// every level's timer at `at`. Emits nothing; returns the new deadline.
    pub fn restart(&mut self, at: u64) -> u64 {
        debug_assert_eq!(self.qualified, 0);
        debug_assert!(self.escalate_at == NEVER || matches!(self.phase, Phase::Active | Phase::Escalated));
        let mut deadline =
            if matches!(self.phase, Phase::Active | Phase::Escalated) { self.escalate_at } else { NEVER };
        for l in 0..3 {
            if self.onset[l] != NEVER {
                self.since[l] = at;
                deadline = deadline.min(at.saturating_add(self.onset[l]));
            }
        }
        self.deadline = deadline;
        deadline
    }

    /// The condition can no longer be judged (suppressed, disconnected):
    /// forget timers and end the alarm (latching if it must).
    pub fn end(&mut self, at: u64, id: Ident<'_>, sink: &mut Sink<'_>) {
        self.since = [NEVER; 3];
        self.qualified = 0;
        self.annunciate(at, id, sink);
        self.refresh_deadline(sink);
    }

    /// The value was not usable: onset timers restart, an alarm in progress
    /// is kept as it is.
    #[inline]
    pub fn reset_pending(&mut self) {
        for l in 0..3 {
            if self.qualified & (1 << l) == 0 {
                self.since[l] = NEVER;
            }
        }
        self.deadline = self.escalate_at;
    }

    /// Fire whatever is due at `d` (the instance's deadline).
    pub fn on_deadline(&mut self, d: u64, id: Ident<'_>, sink: &mut Sink<'_>) {
        let mut newly = 0;
        for l in 0..3 {
            if self.qualified & (1 << l) == 0
                && self.since[l] != NEVER
                && self.since[l].saturating_add(self.onset[l]) <= d
            {
                newly |= 1 << l;
            }
        }
        if newly != 0 {
            self.qualify(newly);
            self.annunciate(d, id, sink);
        }
        if self.escalate_at <= d && matches!(self.phase, Phase::Active | Phase::Escalated) {
            self.priority = next_priority(self.priority);
            self.phase = Phase::Escalated;
            self.changed = d;
            self.annunciated = d;
            self.trigger = self.last_value;
            self.emit(d, AlarmState::Escalated, self.trigger, id, sink);
            self.schedule_escalation();
        }
        self.refresh_deadline(sink);
    }

    /// The operator acknowledged it. A latched alarm clears; an active one
    /// stops sounding and stops escalating by time. Returns whether anything
    /// changed.
    pub fn acknowledge(&mut self, at: u64, id: Ident<'_>, sink: &mut Sink<'_>) -> bool {
        match self.phase {
            Phase::Active | Phase::Escalated => {
                // Deliberately no `acknowledged` alarm event: the operator
                // event records it (DESIGN.md's headless example prints only
                // the operator line for an ack).
                self.phase = Phase::Acknowledged;
                self.changed = at;
                self.escalate_at = NEVER;
                self.refresh_deadline(sink);
                true
            }
            Phase::Latched => {
                self.phase = Phase::Idle;
                self.changed = at;
                self.emit(at, AlarmState::Cleared, None, id, sink);
                true
            }
            Phase::Idle | Phase::Acknowledged => false,
        }
    }

    /// Move every timer set before `at` later by `by` (no later than `at`):
    /// the span of a clock gap does not count towards any delay.
    pub fn shift(&mut self, at: u64, by: u64) {
        let move_it = |t: &mut u64| {
            if *t != NEVER && *t < at {
                *t = t.saturating_add(by).min(at);
            }
        };
        for s in &mut self.since {
            move_it(s);
        }
        if self.escalate_at != NEVER {
            // Escalation counts from the last annunciation.
            move_it(&mut self.annunciated);
            self.schedule_escalation();
        }
        self.deadline = self.pending_deadline();
    }

    fn qualify(&mut self, newly: u8) {
        let before = self.qualified;
        self.qualified |= newly;
        let top = 7 - newly.leading_zeros() as u8;
        // The value that crossed the limit of the highest level now
        // established: the "triggering value" (DESIGN.md's example reports
        // the 104 bpm that started the minute, not the 123 that came after).
        if u32::from(newly) > u32::from(before) {
            self.trigger = self.since_value[top as usize].or(self.last_value);
        }
        // Lower levels the value still satisfies come along (see module doc).
        let below = (1u8 << top) - 1;
        self.qualified |= below & self.last_hold & self.levels();
    }

    fn target(&self) -> Option<Priority> {
        (0..3).rev().find(|l| self.qualified & (1 << l) != 0).map(|l| PRIORITIES[l])
    }

    fn annunciate(&mut self, at: u64, id: Ident<'_>, sink: &mut Sink<'_>) {
        match (self.phase, self.target()) {
            (Phase::Idle, Some(p)) => {
                self.phase = Phase::Active;
                self.priority = p;
                self.active_since = at;
                self.become_active(at, sink, id, AlarmState::Active);
            }
            (Phase::Latched, Some(p)) => {
                // The condition is back before anyone acknowledged the
                // latched alarm: active again, at no lower a priority.
                self.phase = Phase::Active;
                self.priority = self.priority.max(p);
                self.active_since = at;
                self.become_active(at, sink, id, AlarmState::Active);
            }
            (Phase::Active | Phase::Escalated | Phase::Acknowledged, Some(p)) if p > self.priority => {
                self.phase = Phase::Escalated;
                self.priority = p;
                self.become_active(at, sink, id, AlarmState::Escalated);
            }
            (Phase::Active | Phase::Escalated, None) => {
                self.changed = at;
                self.escalate_at = NEVER;
                if self.priority == Priority::High {
                    self.phase = Phase::Latched;
                    self.emit(at, AlarmState::Latched, None, id, sink);
                } else {
                    self.phase = Phase::Idle;
                    self.emit(at, AlarmState::Cleared, None, id, sink);
                }
            }
            (Phase::Acknowledged, None) => {
                self.phase = Phase::Idle;
                self.changed = at;
                self.emit(at, AlarmState::Cleared, None, id, sink);
            }
            _ => {}
        }
    }

    fn become_active(&mut self, at: u64, sink: &mut Sink<'_>, id: Ident<'_>, state: AlarmState) {
        self.changed = at;
        self.annunciated = at;
        self.schedule_escalation();
        self.emit(at, state, self.trigger, id, sink);
    }

    fn schedule_escalation(&mut self) {
        self.escalate_at = if self.escalate_after != NEVER
            && self.priority < Priority::High
            && matches!(self.phase, Phase::Active | Phase::Escalated)
        {
            self.annunciated.saturating_add(self.escalate_after)
        } else {
            NEVER
        };
    }

    fn refresh_deadline(&mut self, sink: &mut Sink<'_>) {
        self.deadline = self.pending_deadline();
        sink.timer(self.deadline);
    }

    /// The earliest of the escalation and the onset timers running.
    fn pending_deadline(&self) -> u64 {
        let mut deadline = self.escalate_at;
        for l in 0..3 {
            if self.qualified & (1 << l) == 0 && self.since[l] != NEVER {
                deadline = deadline.min(self.since[l].saturating_add(self.onset[l]));
            }
        }
        deadline
    }

    /// New onset delays at `at`: the onset timers already running keep
    /// their start and fall due by the new delays, at `at` at the earliest
    /// (a shorter delay may already have run out). Returns the deadline.
    pub fn set_onsets(&mut self, onset: [u64; 3], at: u64) -> u64 {
        self.onset = onset;
        self.deadline = self.pending_deadline().max(at);
        self.deadline
    }

    fn emit(&self, at: u64, state: AlarmState, value: Option<f64>, id: Ident<'_>, sink: &mut Sink<'_>) {
        sink.out.push(AlarmEvent {
            at: SessionTime(at),
            condition: id.condition,
            device: id.device.cloned(),
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
