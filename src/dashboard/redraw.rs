//! When the event loop draws: only when something on the screen would
//! change, judged at the granularity the screen shows (whole seconds for
//! clocks and ages, the flash phase of the banner), never per sample.
//!
//! A frame is a pure function of `(Snapshot, ViewState)` ([`super::render`]),
//! so "would the picture change?" is answered by comparing the inputs the
//! last frame was drawn from with the current ones:
//!
//! - [`change`] classifies a new snapshot against the one last drawn.
//!   Anything that bears on safety — alarms, a reading turning stale, no
//!   contact, invalid or disconnected, the STALLED or ENDED state, audio
//!   pause — is [`Change::Now`]: drawn on arrival. Other visible changes
//!   (values, charts, counters, the session clock's second) are
//!   [`Change::Later`]: drawn at the next tick, so several sensors reporting
//!   within one tick cost one frame. A snapshot that differs only below the
//!   screen's resolution (`now` and ages within the same second) is
//!   [`Change::Same`].
//! - [`Face`] is what time alone changes without a new snapshot: the wall
//!   clock's second, the banner's flash phase, the STALLED countdown and
//!   whether the last action's notice is still shown. The loop compares it
//!   at each tick with the face last drawn.

use super::theme::{Flash, unacknowledged};
use super::view::{ViewState, top_alarm};
use crate::snapshot::{DeviceView, Reading, Snapshot};

/// How urgently a new snapshot must be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Nothing the screen shows differs.
    Same,
    /// Visible but not urgent: draw at the next tick.
    Later,
    /// Safety-relevant: draw now.
    Now,
}

/// The time-driven part of a frame, at the resolution it is shown with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Face {
    wall_second: i64,
    /// The banner's flash phase while it shows an unacknowledged alarm
    /// that flashes; `None` when nothing flashes.
    lit: Option<bool>,
    stalled_secs: Option<u64>,
    notice: bool,
}

impl Face {
    #[must_use]
    pub fn of(snapshot: &Snapshot, view: &ViewState) -> Self {
        let lit = top_alarm(&snapshot.alarms)
            .filter(|a| unacknowledged(a))
            .map(|a| Flash::for_priority(a.priority))
            .filter(|f| *f != Flash::Steady)
            .map(|f| f.lit(view.flash_clock));
        Self {
            wall_second: view.wall_clock.timestamp(),
            lit,
            stalled_secs: view.stalled_for.map(|d| d.as_secs()),
            notice: view.current_notice().is_some(),
        }
    }
}

/// How `next` differs from `drawn`, the snapshot on screen.
///
/// The fields are destructured, not compared with `..`, so a field added
/// to the snapshot does not compile until it is placed in a class here.
#[must_use]
pub fn change(drawn: &Snapshot, next: &Snapshot) -> Change {
    // `now` and `last_dose_at` count through `clocks`.
    let Snapshot {
        now: _,
        start_utc,
        participant,
        record_dir,
        mode,
        devices,
        alarms,
        audio_paused_until,
        markers,
        last_dose_at: _,
        counters,
        limits,
        window,
        stalled,
        finished,
    } = next;
    let urgent = *alarms != drawn.alarms
        || *stalled != drawn.stalled
        || *finished != drawn.finished
        || *mode != drawn.mode
        || *audio_paused_until != drawn.audio_paused_until
        || devices.len() != drawn.devices.len()
        || devices.iter().zip(&drawn.devices).any(|(n, d)| device_change(d, n) == Change::Now);
    if urgent {
        return Change::Now;
    }
    let visible = clocks(next) != clocks(drawn)
        || *start_utc != drawn.start_utc
        || *participant != drawn.participant
        || *record_dir != drawn.record_dir
        || *markers != drawn.markers
        || *counters != drawn.counters
        || *limits != drawn.limits
        || *window != drawn.window
        || devices.iter().zip(&drawn.devices).any(|(n, d)| device_change(d, n) != Change::Same);
    if visible { Change::Later } else { Change::Same }
}

/// The session-time readouts, in the whole seconds they are shown in:
/// time since start, since the last dose, and the audio-pause countdown
/// (each ticks over at its own phase).
fn clocks(s: &Snapshot) -> (u64, Option<u64>, Option<u64>) {
    let secs = |d: std::time::Duration| d.as_secs();
    (
        secs(s.now.since(crate::model::SessionTime::ZERO)),
        s.last_dose_at.map(|at| secs(s.now.since(at))),
        s.audio_paused_until.filter(|u| *u > s.now).map(|u| secs(u.since(s.now))),
    )
}

fn device_change(drawn: &DeviceView, next: &DeviceView) -> Change {
    let DeviceView { label, name, address, connected, rssi, battery_pct, contact, decode_errors, readings, ecg } = next;
    let ecg_status = |v: &DeviceView| v.ecg.as_ref().map(|e| e.status.clone());
    let urgent = *label != drawn.label
        || *connected != drawn.connected
        || ecg_status(next) != ecg_status(drawn)
        || *contact != drawn.contact
        || readings.len() != drawn.readings.len()
        || readings.iter().zip(&drawn.readings).any(|(n, d)| n.quantity != d.quantity || n.status != d.status);
    if urgent {
        return Change::Now;
    }
    let visible = *name != drawn.name
        || *address != drawn.address
        || *rssi != drawn.rssi
        || *battery_pct != drawn.battery_pct
        || *decode_errors != drawn.decode_errors
        // New ECG samples scroll a strip only where one is drawn: the loop
        // asks `ecg_scrolled` when the last frame had a trace.
        || ecg.as_ref().map(|e| e.rate_hz.round()) != drawn.ecg.as_ref().map(|e| e.rate_hz.round())
        || readings.iter().zip(&drawn.readings).any(|(n, d)| reading_differs(d, n));
    if visible { Change::Later } else { Change::Same }
}

/// Whether any device's ECG samples differ: a visible strip scrolls, drawn
/// at the next tick ([`Change::Later`]), never per ECG frame. The status
/// of a strip is compared by [`change`] (urgent).
#[must_use]
pub fn ecg_scrolled(drawn: &Snapshot, next: &Snapshot) -> bool {
    let samples = |d: &DeviceView| d.ecg.as_ref().map(|e| e.samples.last().copied());
    next.devices.len() != drawn.devices.len()
        || next.devices.iter().zip(&drawn.devices).any(|(n, d)| samples(n) != samples(d))
}

/// Quantity and status are compared by the caller (they are urgent).
fn reading_differs(drawn: &Reading, next: &Reading) -> bool {
    let Reading { quantity: _, last, age, status: _, recent, trend, rmssd_ms } = next;
    // Ages are shown in whole seconds (or coarser).
    *last != drawn.last
        || age.map(|a| a.as_secs()) != drawn.age.map(|a| a.as_secs())
        || *rmssd_ms != drawn.rmssd_ms
        || *recent != drawn.recent
        || *trend != drawn.trend
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::model::{AlarmState, AlarmStatus, Condition, Priority, SessionTime};
    use crate::snapshot::ReadingStatus;

    fn snapshot(now_ms: u64, status: ReadingStatus, last: f64) -> Snapshot {
        let at = now_ms as f64 / 1000.0;
        let mut s = super::super::fixtures::snapshot(SessionTime::from_millis(now_ms), Vec::new());
        // The last sample came at 10.0 s.
        let age = Duration::from_millis(now_ms.saturating_sub(10_000));
        s.devices.push(super::super::fixtures::chest(last, age, status, vec![(at.min(10.0), last)]));
        s
    }

    #[test]
    fn time_within_the_shown_second_is_no_change() {
        let live = ReadingStatus::Live;
        let a = snapshot(12_100, live, 70.0);
        assert_eq!(change(&a, &snapshot(12_900, live, 70.0)), Change::Same);
        // The session clock (and the age) show the next second.
        assert_eq!(change(&a, &snapshot(13_000, live, 70.0)), Change::Later);
    }

    #[test]
    fn a_new_value_is_drawn_at_the_next_tick() {
        let live = ReadingStatus::Live;
        assert_eq!(change(&snapshot(12_100, live, 70.0), &snapshot(12_200, live, 71.0)), Change::Later);
    }

    #[test]
    fn safety_changes_are_drawn_at_once() {
        let a = snapshot(12_100, ReadingStatus::Live, 70.0);
        // A reading turning stale with no new sample: same second, same value.
        assert_eq!(change(&a, &snapshot(12_200, ReadingStatus::Stale, 70.0)), Change::Now);
        assert_eq!(change(&a, &snapshot(12_200, ReadingStatus::NoContact, 70.0)), Change::Now);
        let mut b = snapshot(12_200, ReadingStatus::Live, 70.0);
        b.devices[0].connected = false;
        assert_eq!(change(&a, &b), Change::Now);
        let mut c = snapshot(12_200, ReadingStatus::Live, 70.0);
        c.alarms.push(hr_high_at_12s());
        assert_eq!(change(&a, &c), Change::Now);
        let mut d = snapshot(12_200, ReadingStatus::Live, 70.0);
        d.stalled = true;
        assert_eq!(change(&a, &d), Change::Now);
    }

    /// A high `hr.high` on `chest`, active since 12 s.
    fn hr_high_at_12s() -> AlarmStatus {
        AlarmStatus {
            condition: Condition::HrHigh,
            device: Some("chest".into()),
            priority: Priority::High,
            state: AlarmState::Active,
            since: SessionTime::from_secs(12),
            changed: SessionTime::from_secs(12),
            value: Some(150.0),
            audible: true,
        }
    }

    #[test]
    fn face_follows_flash_phase_only_while_an_alarm_flashes() {
        let wall = chrono::FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
        let mut view = ViewState::new(false, false, wall);
        let mut s = snapshot(12_100, ReadingStatus::Live, 70.0);
        let quiet = Face::of(&s, &view);
        view.flash_clock = Duration::from_millis(250);
        assert_eq!(Face::of(&s, &view), quiet, "nothing flashes: a phase change is invisible");
        s.alarms.push(hr_high_at_12s());
        let on = Face::of(&s, &view);
        view.flash_clock = Duration::from_millis(500);
        assert_ne!(Face::of(&s, &view), on, "a high alarm flashes at 2 Hz");
        view.wall_clock = wall + chrono::Duration::seconds(1);
        view.flash_clock = Duration::from_millis(250);
        assert_ne!(Face::of(&s, &view), on, "the wall clock's second");
    }
}
