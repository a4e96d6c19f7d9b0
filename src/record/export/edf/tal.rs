//! EDF+ annotations: time-stamped annotation lists (TALs) and their
//! packing into the annotations signal of each data record.
//!
//! A TAL is `+<onset>[\x15<duration>]\x14<text>\x14\x00`, onset and
//! duration in seconds from the file's start. Each data record's
//! annotations begin with its time-keeping TAL `+<t>\x14\x14\x00` (`t`: the
//! record's start) and are padded with `\x00` to the signal's size.

use std::collections::VecDeque;
use std::time::Duration;

use crate::model::{AlarmEvent, AlarmState, ConnectionChange, MarkerKind, OperatorAction, OutputEvent, SessionTime};

/// Longest annotation text in bytes; longer marker texts are cut (at a
/// character boundary), so one TAL always fits a record.
pub const MAX_TEXT: usize = 120;

/// Seconds with nanosecond precision as EDF+ writes them: `12`, `12.5`,
/// `0.000001` (no exponent, no trailing zeros).
#[must_use]
pub fn seconds(ns: u64) -> String {
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if frac == 0 {
        return s.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{s}.{}", digits.trim_end_matches('0'))
}

/// The time-keeping TAL of the data record starting `record` seconds after
/// the file's start.
#[must_use]
pub fn timekeeping(record: u64) -> Vec<u8> {
    format!("+{record}\x14\x14\0").into_bytes()
}

/// One annotation's TAL; `text` is cleaned of the TAL separators and other
/// control characters (each becomes a space) and cut to [`MAX_TEXT`].
#[must_use]
pub fn tal(onset_ns: u64, duration: Option<Duration>, text: &str) -> Vec<u8> {
    let mut out = format!("+{}", seconds(onset_ns)).into_bytes();
    if let Some(d) = duration {
        out.push(0x15);
        out.extend_from_slice(seconds(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).as_bytes());
    }
    out.push(0x14);
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut end = clean.len().min(MAX_TEXT);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&clean.as_bytes()[..end]);
    out.extend_from_slice(b"\x14\0");
    out
}

/// An annotation of one recorded event: when it happened, how long it
/// lasted, its text; `None` for events the export does not annotate
/// (decode errors, acknowledgements of all alarms, limit changes, …).
#[must_use]
pub fn annotation(event: &OutputEvent) -> Option<(SessionTime, Option<Duration>, String)> {
    match event {
        OutputEvent::Alarm(a) => Some((a.at, None, alarm_text(a))),
        OutputEvent::Operator { at, action: OperatorAction::Marker(m) } => {
            let dose = |what: &str| match m.amount_mg {
                Some(mg) => format!("{what} {mg} mg"),
                None => format!("{what}: {}", m.label),
            };
            let text = match m.kind {
                Some(MarkerKind::Dose) => dose("dose"),
                Some(MarkerKind::SupplementalDose) => dose("supplemental dose"),
                Some(MarkerKind::Note) | None => m.label.clone(),
            };
            Some((*at, None, text))
        }
        OutputEvent::Connection { at, device, change } => {
            let text = match change {
                ConnectionChange::Connected { .. } => format!("connected {device}"),
                ConnectionChange::Disconnected { reason: Some(r) } => format!("disconnected {device}: {r}"),
                ConnectionChange::Disconnected { reason: None } => format!("disconnected {device}"),
            };
            Some((*at, None, text))
        }
        // A gap event is stamped at the end of the jump it reports.
        OutputEvent::Gap { at, duration } => {
            Some((at.saturating_sub(*duration), Some(*duration), format!("gap {:.1} s", duration.as_secs_f64())))
        }
        OutputEvent::Operator { .. } | OutputEvent::DecodeError { .. } => None,
    }
}

/// `hr.high high chest` at onset, `hr.high cleared chest` at clear, and
/// the state between (`hr.high escalated high chest`, `… acknowledged …`).
fn alarm_text(a: &AlarmEvent) -> String {
    let what = match a.state {
        AlarmState::Active => a.priority.as_str().to_owned(),
        AlarmState::Escalated => format!("escalated {}", a.priority.as_str()),
        other => other.as_str().to_owned(),
    };
    match &a.device {
        Some(d) => format!("{} {what} {d}", a.condition.as_str()),
        None => format!("{} {what}", a.condition.as_str()),
    }
}

/// Annotations waiting for room in a data record, oldest first.
///
/// Each record takes its time-keeping TAL and then as many waiting TALs as
/// fit, in order; the rest wait for the next record. The export sizes the
/// signal so that nothing waits (see `edf::annotation_bytes`); waiting is
/// the fallback for a burst larger than the size cap.
#[derive(Debug, Default)]
pub struct Packer {
    waiting: VecDeque<Vec<u8>>,
}

impl Packer {
    pub fn push(&mut self, tal: Vec<u8>) {
        self.waiting.push_back(tal);
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Append data record `record`'s annotations signal, `bytes` long, to
    /// `out`.
    pub fn fill(&mut self, record: u64, bytes: usize, out: &mut Vec<u8>) {
        let end = out.len() + bytes;
        out.extend_from_slice(&timekeeping(record));
        while let Some(next) = self.waiting.front() {
            if out.len() + next.len() > end {
                break;
            }
            out.extend_from_slice(next);
            self.waiting.pop_front();
        }
        out.resize(end, 0);
    }
}

/// The sizes-only twin of [`Packer`]: whether annotations of these sizes,
/// given to records `0..records` (each pair: record, TAL bytes, in record
/// order), all find room in signals of `bytes` bytes.
#[must_use]
pub fn all_fit(sizes: &[(u64, usize)], records: u64, bytes: usize) -> bool {
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut next = sizes.iter().peekable();
    for record in 0..records {
        while let Some((_, size)) = next.next_if(|(r, _)| *r <= record) {
            waiting.push_back(*size);
        }
        let mut used = timekeeping(record).len();
        while let Some(size) = waiting.front() {
            if used + size > bytes {
                break;
            }
            used += size;
            waiting.pop_front();
        }
    }
    waiting.is_empty() && next.peek().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Condition, DeviceLabel, Marker, Priority};

    #[test]
    fn seconds_are_plain_decimals() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(12_000_000_000), "12");
        assert_eq!(seconds(1_500_000_000), "1.5");
        assert_eq!(seconds(895_393_000), "0.895393");
        assert_eq!(seconds(1), "0.000000001");
    }

    #[test]
    fn tals_follow_edf_plus() {
        assert_eq!(timekeeping(0), b"+0\x14\x14\0");
        assert_eq!(timekeeping(3600), b"+3600\x14\x14\0");
        assert_eq!(tal(1_800_895_393_000, None, "dose 120 mg"), b"+1800.895393\x14dose 120 mg\x14\0");
        assert_eq!(
            tal(10_000_000_000, Some(Duration::from_millis(12_500)), "gap 12.5 s"),
            b"+10\x1512.5\x14gap 12.5 s\x14\0"
        );
        // Separators in a marker's text cannot end the TAL early.
        assert_eq!(tal(0, None, "a\x14b\x15c\0d"), b"+0\x14a b c d\x14\0");
        let long = "é".repeat(100);
        let t = tal(0, None, &long);
        assert_eq!(t.len(), 3 + MAX_TEXT + 2);
        assert!(std::str::from_utf8(&t).is_ok(), "cut at a character boundary");
    }

    #[test]
    fn annotation_texts() {
        let at = SessionTime::from_secs(60);
        let alarm = |state, priority| {
            OutputEvent::Alarm(AlarmEvent {
                at,
                condition: Condition::HrHigh,
                device: Some(DeviceLabel::from("chest")),
                priority,
                state,
                value: Some(130.0),
            })
        };
        let text = |e: &OutputEvent| annotation(e).unwrap().2;
        assert_eq!(text(&alarm(AlarmState::Active, Priority::High)), "hr.high high chest");
        assert_eq!(text(&alarm(AlarmState::Cleared, Priority::High)), "hr.high cleared chest");
        assert_eq!(text(&alarm(AlarmState::Escalated, Priority::Medium)), "hr.high escalated medium chest");
        let marker = |kind, amount_mg, label: &str| OutputEvent::Operator {
            at,
            action: OperatorAction::Marker(Marker { label: label.to_owned(), kind, amount_mg }),
        };
        assert_eq!(text(&marker(Some(MarkerKind::Dose), Some(120.0), "dose 120 mg")), "dose 120 mg");
        assert_eq!(text(&marker(Some(MarkerKind::SupplementalDose), Some(60.0), "x")), "supplemental dose 60 mg");
        assert_eq!(text(&marker(None, None, "music starts")), "music starts");
        let gap = OutputEvent::Gap { at, duration: Duration::from_secs(12) };
        assert_eq!(
            annotation(&gap),
            Some((SessionTime::from_secs(48), Some(Duration::from_secs(12)), "gap 12.0 s".to_owned()))
        );
        let down = OutputEvent::Connection {
            at,
            device: DeviceLabel::from("chest"),
            change: ConnectionChange::Disconnected { reason: None },
        };
        assert_eq!(text(&down), "disconnected chest");
        assert_eq!(annotation(&OutputEvent::Operator { at, action: OperatorAction::AudioPause }), None);
    }

    #[test]
    fn packing_fills_each_record_and_carries_the_rest_over() {
        let mut p = Packer::default();
        let a = tal(0, None, "aaaa");
        let b = tal(0, None, "bbbb");
        p.push(a.clone());
        p.push(b.clone());
        let bytes = timekeeping(0).len() + a.len() + 2;
        let mut out = Vec::new();
        p.fill(0, bytes, &mut out);
        assert_eq!(out, [timekeeping(0), a.clone(), vec![0, 0]].concat());
        assert!(!p.is_empty(), "b did not fit");
        out.clear();
        p.fill(1, bytes, &mut out);
        assert_eq!(&out[..timekeeping(1).len() + b.len()], [timekeeping(1), b.clone()].concat().as_slice());
        assert_eq!(out.len(), bytes);
        assert!(p.is_empty());
        // The sizes-only twin agrees.
        assert!(all_fit(&[(0, a.len()), (0, b.len())], 2, bytes));
        assert!(!all_fit(&[(0, a.len()), (0, b.len())], 1, bytes));
        assert!(!all_fit(&[(1, a.len())], 1, bytes), "an annotation past the last record does not fit");
    }
}
