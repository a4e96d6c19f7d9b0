//! How each kind of message changes a [`Room`]: its status, vitals, alarm
//! transitions and alarm pictures, and the lines that report the change.

use std::time::Duration;

use super::{
    AlarmBook, AlarmLine, COMM_LOST, GAP_WAIT, HISTORY_LEN, Line, Lost, MAX_PENDING, Now, Point, Room, RoomAlarm,
    RoomLine, STATION_ALARM_PRIORITY,
};
use crate::mqtt::payload::{AlarmState, AlarmTransition, RoomState, Status, Vitals};

impl Room {
    pub(super) fn status_message(&mut self, mut status: Status, retained: bool, now: Now, out: &mut Vec<Line>) {
        // A Will written without the participant still names the same
        // session's participant: a lost room keeps its code on screen.
        if status.participant.is_none()
            && let Some(old) = self.status.as_ref().filter(|old| old.session == status.session)
        {
            status.participant.clone_from(&old.participant);
        }
        match status.state {
            RoomState::Online => {
                self.seen_online = true;
                self.heard_at = now.at;
                self.status = Some(status);
                self.regain(now, out);
            }
            RoomState::Stopped => {
                self.status = Some(status);
                self.regain(now, out);
            }
            RoomState::Offline => {
                // A Will delivered live, or retained for a bedside this
                // station saw online, is a room that went away; a retained
                // one of a room never seen is history.
                let went_away = !retained || self.seen_online;
                self.status = Some(status);
                if went_away {
                    self.lose(Lost::Will, now, out);
                }
            }
        }
        self.report_link(out);
    }

    pub(super) fn vitals_message(&mut self, vitals: Vitals, retained: bool, now: Now, out: &mut Vec<Line>) {
        self.interval = Duration::from_millis(vitals.interval_ms);
        self.heard_at = now.at;
        if retained {
            // Up to its expiry old: proof the room exists, not live numbers.
            self.report_link(out);
            return;
        }
        let point = Point { at: now.at, hr: first_value(&vitals, "heart_rate_bpm"), temp: temperature(&vitals) };
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(point);
        self.vitals = Some(vitals);
        self.vitals_at = Some(now.at);
        if self.comm_lost() == Some(Lost::Silence) {
            self.regain(now, out);
        }
        self.report_link(out);
    }

    pub(super) fn transition(&mut self, t: AlarmTransition, now: Now, out: &mut Vec<Line>) {
        self.follow(&t.session, &t.at, now, out);
        if t.seq <= self.alarms.seq {
            return; // already applied
        }
        if self.alarms.pending.len() >= MAX_PENDING {
            self.flush_pending(now, true, out);
        }
        self.alarms.pending.insert(t.seq, (t, now.at));
        self.flush_pending(now, false, out);
    }

    /// A picture as new as the transitions applied replaces the list: of
    /// the same `seq` it can only add acknowledgements (which have no
    /// transition); of a newer one the station missed transitions. What it
    /// changes is reported (`seq` null), so the headless output and the
    /// alarm command learn what no transition told them.
    pub(super) fn alarm_state(&mut self, state: AlarmState, now: Now, out: &mut Vec<Line>) {
        self.follow(&state.session, &state.at, now, out);
        if state.seq >= self.alarms.seq {
            let before = std::mem::take(&mut self.alarms.active);
            self.alarms.seq = state.seq;
            self.alarms.active = state
                .alarms
                .into_iter()
                .map(|a| RoomAlarm {
                    alarm: a.alarm,
                    device: a.device,
                    priority: a.priority,
                    state: a.state,
                    onset: a.onset,
                    value: a.value,
                })
                .collect();
            for a in &self.alarms.active {
                let known = before.iter().any(|b| b.same_alarm(a) && b.state == a.state && b.priority == a.priority);
                if !known {
                    let at = if a.state == "active" { a.onset.clone() } else { state.at.clone() };
                    out.push(self.learned_line(a, &a.state, at));
                }
            }
            for b in before.iter().filter(|b| !self.alarms.active.iter().any(|a| a.same_alarm(b))) {
                out.push(self.learned_line(b, "cleared", state.at.clone()));
            }
            let seq = self.alarms.seq;
            self.alarms.pending.retain(|s, _| *s > seq);
        }
        self.flush_pending(now, false, out);
    }

    /// Start over when the room's bedside began another session: the old
    /// session's held transitions are applied, then its alarms end with it.
    fn follow(&mut self, session: &str, at: &str, now: Now, out: &mut Vec<Line>) {
        if self.alarms.session.as_deref() == Some(session) {
            return;
        }
        self.flush_pending(now, true, out);
        let old = std::mem::replace(
            &mut self.alarms,
            AlarmBook { session: Some(session.to_owned()), ..AlarmBook::default() },
        );
        for a in &old.active {
            out.push(self.learned_line(a, "cleared", at.to_owned()));
        }
    }

    /// A line for an alarm known from a picture, not a transition.
    fn learned_line(&self, a: &RoomAlarm, state: &str, at: String) -> Line {
        Line::Alarm(AlarmLine {
            room: Some(self.name.clone()),
            alarm: a.alarm.clone(),
            device: a.device.clone(),
            priority: a.priority.clone(),
            state: state.to_owned(),
            seq: None,
            at,
        })
    }

    /// Apply held transitions that are next in line; with `force`, or once
    /// the oldest has waited [`GAP_WAIT`], skip the gap before it.
    pub(super) fn flush_pending(&mut self, now: Now, force: bool, out: &mut Vec<Line>) {
        while let Some(entry) = self.alarms.pending.first_entry() {
            let (seq, (_, arrived)) = (*entry.key(), entry.get());
            let next = seq == self.alarms.seq + 1;
            let waited = now.at.saturating_duration_since(*arrived) >= GAP_WAIT;
            if !(next || force || waited) {
                break;
            }
            if !next {
                tracing::warn!(room = %self.name, from = self.alarms.seq + 1, to = seq - 1, "central: alarm transitions never arrived");
            }
            let (t, _) = entry.remove();
            self.alarms.apply(&t);
            out.push(Line::Alarm(AlarmLine {
                room: Some(self.name.clone()),
                alarm: t.alarm,
                device: t.device,
                priority: t.priority,
                state: t.state,
                seq: Some(t.seq),
                at: t.at,
            }));
        }
    }

    pub(super) fn lose(&mut self, why: Lost, now: Now, out: &mut Vec<Line>) {
        if self.lost.is_some() {
            if why == Lost::Will {
                // A Will after silence: still lost, now for good reason.
                self.lost = self.lost.take().map(|(_, onset)| (why, onset));
            }
            return;
        }
        let at = now.wall_text();
        self.lost = Some((why, at.clone()));
        out.push(self.comm_line("active", at));
        self.report_link(out);
    }

    pub(super) fn regain(&mut self, now: Now, out: &mut Vec<Line>) {
        if self.lost.take().is_some() {
            out.push(self.comm_line("cleared", now.wall_text()));
        }
        self.report_link(out);
    }

    fn comm_line(&self, state: &str, at: String) -> Line {
        Line::Alarm(AlarmLine {
            room: Some(self.name.clone()),
            alarm: COMM_LOST.to_owned(),
            device: None,
            priority: STATION_ALARM_PRIORITY.to_owned(),
            state: state.to_owned(),
            seq: None,
            at,
        })
    }

    pub(super) fn report_link(&mut self, out: &mut Vec<Line>) {
        let link = self.link();
        if link.is_some() && link != self.shown {
            self.shown = link;
            out.extend(link.map(|state| Line::Room(RoomLine { room: self.name.clone(), state })));
        }
    }
}

fn first_value(vitals: &Vitals, quantity: &str) -> Option<f64> {
    vitals.devices.iter().find_map(|d| d.readings.get(quantity)).and_then(|r| r.value)
}

/// The temperature a chart shows: body if the room measures it, else skin.
fn temperature(vitals: &Vitals) -> Option<f64> {
    first_value(vitals, "body_temperature_c").or_else(|| first_value(vitals, "skin_temperature_c"))
}
