//! Alarm episodes, their counts and time in alarm: the one definition that
//! the headless summary line, `vigil summary`, `vigil report` and
//! `vigil analyze` all read (`docs/analysis.md`, "Alarm episodes and time in
//! alarm").
//!
//! An **episode** is one alarm instance (condition, device) from its first
//! non-cleared state to `cleared`, or to the end of the recording if it never
//! clears. `acknowledged` and `latched` are still inside the episode; a
//! latched alarm that turns `active` again is the same episode. An episode is
//! counted once, at the highest priority it reached.
//!
//! [`EpisodeCounter`] is the definition, fed one alarm event at a time: the
//! pipeline feeds it live (the headless summary's counts) and [`episodes`]
//! feeds it a recording's events, so the two count alike by construction.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{AlarmEvent, AlarmState, Condition, DeviceLabel, OutputEvent, Priority, SessionTime};

/// One alarm instance from its first non-cleared state to `cleared` (or the
/// recording's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub condition: Condition,
    /// `None` for session-wide technical alarms.
    pub device: Option<DeviceLabel>,
    pub start: SessionTime,
    /// When it cleared, or the recording's end if it did not.
    pub end: SessionTime,
    /// The highest priority it reached: the one it is counted at.
    pub priority: Priority,
    /// When it first stood at each priority (low, medium, high); `None` for
    /// a priority it skipped or never reached. The priority of an alarm
    /// never drops while it lasts (`alarms::instance`), so these times rise
    /// with the priority.
    pub reached: [Option<SessionTime>; 3],
    /// `false` when the recording ended before the episode cleared.
    pub cleared: bool,
}

impl Episode {
    fn new(a: &AlarmEvent) -> Self {
        let mut reached = [None; 3];
        reached[a.priority as usize] = Some(a.at);
        Episode {
            condition: a.condition,
            device: a.device.clone(),
            start: a.at,
            end: a.at,
            priority: a.priority,
            reached,
            cleared: false,
        }
    }

    /// The span `[from, to)` during which the episode stood at `priority`:
    /// from when it reached that priority until it reached a higher one or
    /// ended. `None` if it never stood there.
    #[must_use]
    pub fn at_priority(&self, priority: Priority) -> Option<(SessionTime, SessionTime)> {
        let p = priority as usize;
        let from = self.reached[p]?;
        let to = self.reached[p + 1..].iter().flatten().next().copied().unwrap_or(self.end);
        (to > from).then_some((from, to))
    }
}

/// Counts by priority: `[low, medium, high]`.
pub type PriorityCounts = [u64; 3];

/// An open episode and whether it counts in this run (see
/// [`EpisodeCounter::restart`]).
#[derive(Debug, Clone)]
struct Open {
    episode: Episode,
    counted: bool,
}

/// The incremental form of the definition: feed it every alarm event in
/// session-time order.
#[derive(Debug, Clone, Default)]
pub struct EpisodeCounter {
    open: BTreeMap<(Condition, Option<DeviceLabel>), Open>,
    /// Episodes that cleared, by the highest priority they reached.
    closed: PriorityCounts,
}

impl EpisodeCounter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one alarm event; returns the episode it ends, if it is a
    /// `cleared` that ends one. A `cleared` for an instance with no open
    /// episode (the recording began after it was raised) is ignored.
    pub fn observe(&mut self, a: &AlarmEvent) -> Option<Episode> {
        let key = (a.condition, a.device.clone());
        if a.state == AlarmState::Cleared {
            let Open { mut episode, counted } = self.open.remove(&key)?;
            episode.end = a.at.max(episode.start);
            episode.cleared = true;
            if counted {
                self.closed[episode.priority as usize] += 1;
            }
            return Some(episode);
        }
        match self.open.get_mut(&key) {
            Some(open) => {
                let e = &mut open.episode;
                if a.priority > e.priority {
                    e.priority = a.priority;
                    e.reached[a.priority as usize] = Some(a.at);
                }
                e.end = e.end.max(a.at);
            }
            None => {
                self.open.insert(key, Open { episode: Episode::new(a), counted: true });
            }
        }
        None
    }

    /// Episodes so far by the highest priority each reached, open ones at
    /// the highest they have reached yet: what [`count`] gives for
    /// [`Self::finish`]'s episodes plus those already returned.
    #[must_use]
    pub fn counts(&self) -> PriorityCounts {
        let mut counts = self.closed;
        for open in self.open.values().filter(|o| o.counted) {
            counts[open.episode.priority as usize] += 1;
        }
        counts
    }

    /// Count only episodes that begin from now on (a `--resume`d run counts
    /// what it processed): the counts restart at zero, and alarms open now
    /// stay known, uncounted, so their later escalation or clearing starts
    /// no episode of their own.
    pub fn restart(&mut self) {
        self.closed = PriorityCounts::default();
        for open in self.open.values_mut() {
            open.counted = false;
        }
    }

    /// The episodes still open, ended at `end` (the recording's end).
    #[must_use]
    pub fn finish(self, end: SessionTime) -> Vec<Episode> {
        self.open
            .into_values()
            .map(|Open { mut episode, .. }| {
                episode.end = end.max(episode.end);
                episode
            })
            .collect()
    }
}

/// Every episode in `events` (a recording's, in recorded order), ordered by
/// start then end; episodes open at `end` end there.
#[must_use]
pub fn episodes(events: &[OutputEvent], end: SessionTime) -> Vec<Episode> {
    let mut counter = EpisodeCounter::new();
    let mut out: Vec<Episode> = events
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Alarm(a) => counter.observe(a),
            _ => None,
        })
        .collect();
    out.extend(counter.finish(end));
    out.sort_by_key(|e| (e.start, e.end, e.condition));
    out
}

/// Episodes by the highest priority each reached.
#[must_use]
pub fn count(episodes: &[Episode]) -> PriorityCounts {
    let mut counts = PriorityCounts::default();
    for e in episodes {
        counts[e.priority as usize] += 1;
    }
    counts
}

/// Seconds in alarm for one (condition, priority).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlarmTime {
    pub condition: Condition,
    pub priority: Priority,
    pub seconds: f64,
}

/// Time in alarm within a range of session time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimeInAlarm {
    /// Per (condition, priority), in that order, where not zero: the time
    /// during which at least one instance of the condition stood at that
    /// priority. An escalating episode's time is split by the priority it
    /// stood at each moment.
    pub by_condition: Vec<AlarmTime>,
    /// Time during which at least one episode of any condition was open
    /// (the union, so overlapping alarms are not counted twice).
    pub any_seconds: f64,
}

impl TimeInAlarm {
    /// Seconds at `priority` of `condition` (0 if none).
    #[must_use]
    pub fn seconds(&self, condition: Condition, priority: Priority) -> f64 {
        self.by_condition.iter().find(|t| t.condition == condition && t.priority == priority).map_or(0.0, |t| t.seconds)
    }
}

/// Time in alarm within `[from, to)` of session time. Filter `episodes` by
/// device first for one device's figures; across devices, a condition's time
/// is the union over its instances.
#[must_use]
pub fn time_in_alarm(episodes: &[Episode], from: SessionTime, to: SessionTime) -> TimeInAlarm {
    let mut spans: BTreeMap<(Condition, Priority), Vec<(SessionTime, SessionTime)>> = BTreeMap::new();
    for e in episodes {
        for p in [Priority::Low, Priority::Medium, Priority::High] {
            if let Some(span) = e.at_priority(p) {
                spans.entry((e.condition, p)).or_default().push(span);
            }
        }
    }
    let by_condition = spans
        .into_iter()
        .map(|((condition, priority), spans)| AlarmTime { condition, priority, seconds: union_secs(spans, from, to) })
        .filter(|t| t.seconds > 0.0)
        .collect();
    let any = union_secs(episodes.iter().map(|e| (e.start, e.end)).collect(), from, to);
    TimeInAlarm { by_condition, any_seconds: any }
}

/// Length in seconds of the union of `spans`, each clipped to `[from, to)`.
fn union_secs(mut spans: Vec<(SessionTime, SessionTime)>, from: SessionTime, to: SessionTime) -> f64 {
    spans.retain_mut(|(a, b)| {
        *a = (*a).max(from);
        *b = (*b).min(to);
        a < b
    });
    spans.sort_unstable();
    let mut nanos: u64 = 0;
    let mut current: Option<(SessionTime, SessionTime)> = None;
    for (a, b) in spans {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                nanos += cb.0 - ca.0;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ca, cb)) = current {
        nanos += cb.0 - ca.0;
    }
    SessionTime(nanos).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlarmState::*;
    use Condition::*;
    use Priority::*;

    fn alarm(s: u64, condition: Condition, device: Option<&str>, priority: Priority, state: AlarmState) -> OutputEvent {
        OutputEvent::Alarm(AlarmEvent {
            at: SessionTime::from_secs(s),
            condition,
            device: device.map(DeviceLabel::from),
            priority,
            state,
            value: None,
        })
    }

    fn secs(s: u64) -> SessionTime {
        SessionTime::from_secs(s)
    }

    #[test]
    fn an_escalating_episode_counts_once_at_its_highest_priority() {
        let events = vec![
            alarm(10, HrHigh, Some("chest"), Low, Active),
            alarm(40, HrHigh, Some("chest"), Medium, Escalated),
            alarm(50, HrHigh, Some("chest"), Medium, Acknowledged),
            alarm(70, HrHigh, Some("chest"), Medium, Cleared),
        ];
        let eps = episodes(&events, secs(100));
        assert_eq!(eps.len(), 1);
        assert_eq!((eps[0].start, eps[0].end, eps[0].priority, eps[0].cleared), (secs(10), secs(70), Medium, true));
        assert_eq!(count(&eps), [0, 1, 0]);
    }

    #[test]
    fn a_latched_alarm_active_again_is_the_same_episode() {
        let events = vec![
            alarm(10, HrHigh, Some("chest"), High, Active),
            alarm(20, HrHigh, Some("chest"), High, Latched),
            alarm(30, HrHigh, Some("chest"), High, Active),
            alarm(40, HrHigh, Some("chest"), High, Latched),
        ];
        let eps = episodes(&events, secs(100));
        assert_eq!(eps.len(), 1, "{eps:?}");
        assert_eq!((eps[0].end, eps[0].cleared), (secs(100), false), "open at the end: ends there");
        assert_eq!(count(&eps), [0, 0, 1]);
    }

    #[test]
    fn instances_are_per_condition_and_device() {
        let events = vec![
            alarm(10, HrHigh, Some("chest"), Low, Active),
            alarm(12, HrHigh, Some("finger"), Low, Active),
            alarm(14, TechStale, None, Medium, Active),
            alarm(20, HrHigh, Some("chest"), Low, Cleared),
            alarm(30, HrHigh, Some("chest"), High, Active),
            alarm(40, HrHigh, Some("chest"), High, Cleared),
            // A clear with no episode open (recording started after the
            // onset) is no episode.
            alarm(45, TempHigh, Some("core"), Low, Cleared),
        ];
        let eps = episodes(&events, secs(50));
        assert_eq!(eps.len(), 4);
        assert_eq!(count(&eps), [2, 1, 1]);
    }

    #[test]
    fn the_live_counter_agrees_with_the_batch_count_at_every_step() {
        let events = [
            alarm(10, HrHigh, Some("chest"), Low, Active),
            alarm(11, TechStale, Some("finger"), Low, Active),
            alarm(20, TechStale, Some("finger"), Medium, Escalated),
            alarm(25, HrHigh, Some("chest"), High, Escalated),
            alarm(30, HrHigh, Some("chest"), High, Latched),
            alarm(35, TechStale, Some("finger"), Medium, Cleared),
            alarm(36, TechStale, Some("finger"), Low, Active),
            alarm(40, HrHigh, Some("chest"), High, Cleared),
        ];
        let mut live = EpisodeCounter::new();
        for (i, e) in events.iter().enumerate() {
            let OutputEvent::Alarm(a) = e else { unreachable!() };
            live.observe(a);
            assert_eq!(live.counts(), count(&episodes(&events[..=i], secs(50))), "after event {i}");
        }
        assert_eq!(live.counts(), [1, 1, 1]);
    }

    #[test]
    fn a_restarted_counter_counts_only_new_episodes() {
        let mut c = EpisodeCounter::new();
        let OutputEvent::Alarm(onset) = alarm(10, HrHigh, Some("chest"), Low, Active) else { unreachable!() };
        c.observe(&onset);
        c.restart();
        assert_eq!(c.counts(), [0, 0, 0]);
        for e in [alarm(20, HrHigh, Some("chest"), High, Escalated), alarm(30, HrHigh, Some("chest"), High, Cleared)] {
            let OutputEvent::Alarm(a) = e else { unreachable!() };
            c.observe(&a);
        }
        assert_eq!(c.counts(), [0, 0, 0], "the carried episode escalated and cleared: still not this run's");
        let OutputEvent::Alarm(again) = alarm(40, HrHigh, Some("chest"), Low, Active) else { unreachable!() };
        c.observe(&again);
        assert_eq!(c.counts(), [1, 0, 0]);
    }

    #[test]
    fn time_is_split_by_the_priority_at_each_moment_and_clipped() {
        let events = vec![
            alarm(10, HrHigh, Some("chest"), Low, Active),
            alarm(40, HrHigh, Some("chest"), High, Escalated),
            alarm(70, HrHigh, Some("chest"), High, Cleared),
            alarm(60, TempHigh, Some("core"), Medium, Active),
            alarm(90, TempHigh, Some("core"), Medium, Cleared),
        ];
        let eps = episodes(&events, secs(100));
        let all = time_in_alarm(&eps, SessionTime::ZERO, secs(100));
        assert_eq!(all.seconds(HrHigh, Low), 30.0);
        assert_eq!(all.seconds(HrHigh, Medium), 0.0, "skipped straight to high");
        assert_eq!(all.seconds(HrHigh, High), 30.0);
        assert_eq!(all.seconds(TempHigh, Medium), 30.0);
        assert_eq!(all.any_seconds, 80.0, "10..90, the overlap 60..70 once");
        let window = time_in_alarm(&eps, secs(30), secs(65));
        assert_eq!(window.seconds(HrHigh, Low), 10.0);
        assert_eq!(window.seconds(HrHigh, High), 25.0);
        assert_eq!(window.seconds(TempHigh, Medium), 5.0);
        assert_eq!(window.any_seconds, 35.0);
        assert_eq!(time_in_alarm(&eps, secs(95), secs(200)), TimeInAlarm::default());
    }

    #[test]
    fn a_condition_on_two_devices_at_once_counts_its_time_once() {
        let events = vec![
            alarm(0, HrHigh, Some("chest"), Low, Active),
            alarm(5, HrHigh, Some("finger"), Low, Active),
            alarm(10, HrHigh, Some("chest"), Low, Cleared),
            alarm(20, HrHigh, Some("finger"), Low, Cleared),
        ];
        let t = time_in_alarm(&episodes(&events, secs(30)), SessionTime::ZERO, secs(30));
        assert_eq!(t.seconds(HrHigh, Low), 20.0);
    }
}
