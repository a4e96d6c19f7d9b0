//! Which operator markers are doses: one rule for `vigil analyze`'s
//! `dose:`/`dose2:` windows, the report's time axis and the export's
//! sessions table.
//!
//! A dose is a marker of kind `dose` or `supplemental_dose`. Recordings made
//! before markers had kinds say so in words: an untyped marker whose text
//! mentions "dose" is a dose, the first such one the initial dose and the
//! second the supplemental one.

use crate::model::{Marker, MarkerKind, OperatorAction, OutputEvent, SessionTime};

/// Whether `m` is a dose marker.
#[must_use]
pub fn is_dose(m: &Marker) -> bool {
    match m.kind {
        Some(kind) => matches!(kind, MarkerKind::Dose | MarkerKind::SupplementalDose),
        None => m.label.to_lowercase().contains("dose"),
    }
}

/// The dose markers, in time order.
pub fn doses(events: &[OutputEvent]) -> impl Iterator<Item = (SessionTime, &Marker)> {
    markers(events).filter(|(_, m)| is_dose(m))
}

/// The initial dose: the first marker of kind `dose`, else the first untyped
/// dose marker.
#[must_use]
pub fn first_dose(events: &[OutputEvent]) -> Option<SessionTime> {
    markers(events)
        .find(|(_, m)| m.kind == Some(MarkerKind::Dose))
        .or_else(|| markers(events).find(|(_, m)| m.kind.is_none() && is_dose(m)))
        .map(|(at, _)| at)
}

/// The supplemental dose: the first marker of kind `supplemental_dose`,
/// else the second untyped dose marker.
#[must_use]
pub fn supplemental_dose(events: &[OutputEvent]) -> Option<SessionTime> {
    markers(events)
        .find(|(_, m)| m.kind == Some(MarkerKind::SupplementalDose))
        .or_else(|| markers(events).filter(|(_, m)| m.kind.is_none() && is_dose(m)).nth(1))
        .map(|(at, _)| at)
}

fn markers(events: &[OutputEvent]) -> impl Iterator<Item = (SessionTime, &Marker)> {
    events.iter().filter_map(|e| match e {
        OutputEvent::Operator { at, action: OperatorAction::Marker(m) } => Some((*at, m)),
        _ => None,
    })
}
