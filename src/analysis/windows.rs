//! Analysis windows (`vigil analyze --window SPEC`) and their resolution
//! against one recording.
//!
//! | spec | windows |
//! |---|---|
//! | `all` | the whole recording |
//! | `every:5m` | consecutive windows of that length from the start; the last one may be shorter |
//! | `range:1h..2h` | session time from..to |
//! | `dose:-30m..4h` | relative to the first dose marker |
//! | `dose2:0m..2h` | relative to the supplemental dose marker |
//! | `marker:TEXT:-10m..10m` | relative to the first marker whose text contains TEXT (case-insensitive) |
//!
//! Durations are humantime's (`90s`, `5m`, `1h 30m`), signed where an
//! offset may lie before its anchor. Every window is `[from, to)` and is
//! clipped to the recording.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::doses;
use crate::model::{OperatorAction, OutputEvent, SessionTime};

/// One `--window` as given.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// The text as given: the `window` of every output row.
    pub text: String,
    pub kind: SpecKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SpecKind {
    All,
    Every(Duration),
    /// Session time, seconds.
    Range(f64, f64),
    /// Offsets in seconds from an anchor.
    Anchored(Anchor, f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Anchor {
    Dose,
    SupplementalDose,
    /// The first marker whose text contains this (lower-cased).
    Marker(String),
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anchor::Dose => f.write_str("no dose marker"),
            Anchor::SupplementalDose => f.write_str("no supplemental dose marker"),
            Anchor::Marker(text) => write!(f, "no marker containing `{text}`"),
        }
    }
}

/// The shortest `every:` window: shorter ones make thousands of rows that
/// no HRV measure can fill.
const MIN_EVERY: Duration = Duration::from_secs(10);

impl FromStr for WindowSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "window `{text}`: {why}; give all, every:5m, range:1h..2h, dose:-30m..4h, dose2:0m..1h \
                 or marker:TEXT:-10m..10m"
            )
        };
        let kind = if text == "all" {
            SpecKind::All
        } else if let Some(d) = text.strip_prefix("every:") {
            let d = humantime::parse_duration(d).map_err(|e| bad(&e.to_string()))?;
            if d < MIN_EVERY {
                return Err(bad("windows shorter than 10 s"));
            }
            SpecKind::Every(d)
        } else if let Some(r) = text.strip_prefix("range:") {
            let (a, b) = span(r).map_err(|e| bad(&e))?;
            if a < 0.0 {
                return Err(bad("session time starts at 0"));
            }
            SpecKind::Range(a, b)
        } else if let Some(r) = text.strip_prefix("dose:") {
            let (a, b) = span(r).map_err(|e| bad(&e))?;
            SpecKind::Anchored(Anchor::Dose, a, b)
        } else if let Some(r) = text.strip_prefix("dose2:") {
            let (a, b) = span(r).map_err(|e| bad(&e))?;
            SpecKind::Anchored(Anchor::SupplementalDose, a, b)
        } else if let Some(rest) = text.strip_prefix("marker:") {
            let (marker, r) = rest.rsplit_once(':').ok_or_else(|| bad("no offsets after the marker text"))?;
            if marker.is_empty() {
                return Err(bad("empty marker text"));
            }
            let (a, b) = span(r).map_err(|e| bad(&e))?;
            SpecKind::Anchored(Anchor::Marker(marker.to_lowercase()), a, b)
        } else {
            return Err(bad("unknown kind"));
        };
        Ok(WindowSpec { text: text.to_owned(), kind })
    }
}

/// `FROM..TO`, signed durations, FROM < TO, in seconds.
fn span(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once("..").ok_or("no `..` between the two offsets")?;
    let (a, b) = (signed(a)?, signed(b)?);
    if a >= b {
        return Err("the window ends before it starts".to_owned());
    }
    Ok((a, b))
}

fn signed(s: &str) -> Result<f64, String> {
    let (sign, d) = match s.trim().strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.trim().strip_prefix('+').unwrap_or(s.trim())),
    };
    Ok(sign * humantime::parse_duration(d).map_err(|e| format!("`{s}`: {e}"))?.as_secs_f64())
}

/// One window of one recording, in session seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The spec as given.
    pub spec: String,
    /// Position within an `every:` spec (0 for the others).
    pub index: usize,
    pub from_s: f64,
    pub to_s: f64,
}

impl WindowSpec {
    /// The windows of this spec in a recording of `end_s` seconds with
    /// these events; an anchor the recording lacks is an error that names
    /// it (the caller names the recording).
    ///
    /// # Errors
    /// The anchor marker is missing, or the window lies wholly outside the
    /// recording.
    pub fn resolve(&self, end_s: f64, events: &[OutputEvent]) -> Result<Vec<Window>, String> {
        let window = |index, from_s: f64, to_s: f64| Window { spec: self.text.clone(), index, from_s, to_s };
        let clipped = |from_s: f64, to_s: f64| {
            let (from_s, to_s) = (from_s.max(0.0), to_s.min(end_s));
            if from_s < to_s {
                Ok(vec![window(0, from_s, to_s)])
            } else {
                Err(format!("window `{}` lies outside the recording (0 to {end_s:.0} s)", self.text))
            }
        };
        match &self.kind {
            SpecKind::All => Ok(vec![window(0, 0.0, end_s)]),
            SpecKind::Every(d) => {
                let step = d.as_secs_f64();
                let mut out = Vec::new();
                let mut from = 0.0;
                while from < end_s {
                    out.push(window(out.len(), from, (from + step).min(end_s)));
                    from += step;
                }
                Ok(out)
            }
            SpecKind::Range(a, b) => clipped(*a, *b),
            SpecKind::Anchored(anchor, a, b) => {
                let at = anchor_time(anchor, events).ok_or_else(|| format!("window `{}`: {anchor}", self.text))?;
                clipped(at + a, at + b)
            }
        }
    }
}

/// When the anchor happened, session seconds (doses by [`super::doses`]).
fn anchor_time(anchor: &Anchor, events: &[OutputEvent]) -> Option<f64> {
    let at = match anchor {
        Anchor::Dose => doses::first_dose(events),
        Anchor::SupplementalDose => doses::supplemental_dose(events),
        Anchor::Marker(text) => events.iter().find_map(|e| match e {
            OutputEvent::Operator { at, action: OperatorAction::Marker(m) }
                if m.label.to_lowercase().contains(text) =>
            {
                Some(*at)
            }
            _ => None,
        }),
    };
    at.map(SessionTime::as_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Marker, MarkerKind};

    fn marker(s: u64, label: &str, kind: Option<MarkerKind>) -> OutputEvent {
        OutputEvent::Operator {
            at: SessionTime::from_secs(s),
            action: OperatorAction::Marker(Marker { label: label.into(), kind, amount_mg: None }),
        }
    }

    fn spans(spec: &str, end_s: f64, events: &[OutputEvent]) -> Result<Vec<(f64, f64)>, String> {
        let spec: WindowSpec = spec.parse()?;
        Ok(spec.resolve(end_s, events)?.iter().map(|w| (w.from_s, w.to_s)).collect())
    }

    #[test]
    fn specs_resolve_to_clipped_windows() {
        let events = vec![
            marker(600, "music on", Some(MarkerKind::Note)),
            marker(1_800, "dose 120 mg", Some(MarkerKind::Dose)),
            marker(7_200, "dose 60 mg", Some(MarkerKind::SupplementalDose)),
        ];
        assert_eq!(spans("all", 9_000.0, &events), Ok(vec![(0.0, 9_000.0)]));
        assert_eq!(
            spans("every:1h", 9_000.0, &events),
            Ok(vec![(0.0, 3_600.0), (3_600.0, 7_200.0), (7_200.0, 9_000.0)])
        );
        assert_eq!(spans("range:1h..2h", 9_000.0, &events), Ok(vec![(3_600.0, 7_200.0)]));
        assert_eq!(spans("dose:-30m..0m", 9_000.0, &events), Ok(vec![(0.0, 1_800.0)]));
        assert_eq!(spans("dose:-1h..+1h", 9_000.0, &events), Ok(vec![(0.0, 5_400.0)]));
        assert_eq!(spans("dose2:0m..1h", 9_000.0, &events), Ok(vec![(7_200.0, 9_000.0)]));
        assert_eq!(spans("marker:MUSIC:-10m..10m", 9_000.0, &events), Ok(vec![(0.0, 1_200.0)]));
        assert_eq!(spans("marker:a:b:0s..1m", 9_000.0, &[marker(5, "x a:b y", None)]), Ok(vec![(5.0, 65.0)]));
    }

    #[test]
    fn unkinded_markers_that_mention_a_dose_are_doses() {
        let events = vec![marker(100, "Dose 1", None), marker(200, "dose 2", None)];
        assert_eq!(spans("dose:0s..10s", 1_000.0, &events), Ok(vec![(100.0, 110.0)]));
        assert_eq!(spans("dose2:0s..10s", 1_000.0, &events), Ok(vec![(200.0, 210.0)]));
    }

    #[test]
    fn bad_specs_and_missing_anchors_say_what_is_wrong() {
        for (spec, says) in [
            ("every:1s", "shorter than 10 s"),
            ("every:soon", "every:5m"),
            ("range:2h..1h", "ends before it starts"),
            ("range:-1h..1h", "starts at 0"),
            ("dose:30m", "no `..`"),
            ("marker:-1m..1m", "no offsets"),
            ("weekly", "unknown kind"),
        ] {
            let e = spec.parse::<WindowSpec>().unwrap_err();
            assert!(e.contains(spec) && e.contains(says), "{spec}: {e}");
        }
        assert_eq!(spans("dose:0s..1m", 100.0, &[]), Err("window `dose:0s..1m`: no dose marker".to_owned()));
        let e = spans("range:1h..2h", 100.0, &[]).unwrap_err();
        assert!(e.contains("outside the recording"), "{e}");
    }
}
