//! The headless sink: one JSON object per line on stdout (DESIGN.md
//! "Headless output").
//!
//! Lines are built here and only here, so a live run and a replay print the
//! same bytes for the same events.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::model::{ConnectionChange, OutputEvent, SessionTime};
use crate::pipeline::Totals;

/// The JSON object of one output event.
#[must_use]
pub fn event_json(event: &OutputEvent) -> Value {
    let at_ms = event.at().as_millis();
    match event {
        OutputEvent::Alarm(a) => {
            let mut m = Map::new();
            m.insert("at_ms".into(), at_ms.into());
            m.insert("type".into(), "alarm".into());
            m.insert("alarm".into(), a.condition.as_str().into());
            if let Some(d) = &a.device {
                m.insert("device".into(), Value::from(&**d));
            }
            m.insert("priority".into(), a.priority.as_str().into());
            m.insert("state".into(), a.state.as_str().into());
            if let Some(v) = a.value.filter(|v| v.is_finite()) {
                m.insert("value".into(), json!(v));
            }
            Value::Object(m)
        }
        OutputEvent::Operator { action, .. } => {
            let mut m = Map::new();
            m.insert("at_ms".into(), at_ms.into());
            m.insert("type".into(), "operator".into());
            // The action's own serde form (`"action": "ack", "alarm": …`)
            // is the stream's action line, so a printed operator line can be
            // fed back as input.
            if let Ok(Value::Object(fields)) = serde_json::to_value(action) {
                m.extend(fields);
            }
            Value::Object(m)
        }
        OutputEvent::Connection { device, change, .. } => {
            let mut m = Map::new();
            m.insert("at_ms".into(), at_ms.into());
            m.insert("type".into(), "connection".into());
            m.insert("device".into(), Value::from(&**device));
            match change {
                ConnectionChange::Connected { name, address, .. } => {
                    m.insert("event".into(), "connected".into());
                    if let Some(n) = name {
                        m.insert("name".into(), n.clone().into());
                    }
                    if let Some(a) = address {
                        m.insert("address".into(), a.clone().into());
                    }
                }
                ConnectionChange::Disconnected { reason } => {
                    m.insert("event".into(), "disconnected".into());
                    if let Some(r) = reason {
                        m.insert("reason".into(), r.clone().into());
                    }
                }
            }
            Value::Object(m)
        }
        OutputEvent::DecodeError { device, characteristic, line, message, .. } => {
            let mut m = Map::new();
            m.insert("at_ms".into(), at_ms.into());
            m.insert("type".into(), "decode_error".into());
            if let Some(d) = device {
                m.insert("device".into(), Value::from(&**d));
            }
            if let Some(c) = characteristic {
                m.insert("characteristic".into(), c.to_string().into());
            }
            if let Some(l) = line {
                m.insert("line".into(), (*l).into());
            }
            m.insert("message".into(), message.clone().into());
            Value::Object(m)
        }
        OutputEvent::Gap { duration, .. } => json!({
            "at_ms": at_ms,
            "type": "gap",
            "duration_ms": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

/// The last line of a headless session.
#[must_use]
pub fn summary_json(end: SessionTime, totals: &Totals) -> Value {
    let c = &totals.counters;
    json!({
        "at_ms": end.as_millis(),
        "type": "summary",
        "duration_ms": end.as_millis(),
        "notifications": c.notifications,
        "samples": c.samples,
        "alarms": { "low": totals.alarms[0], "medium": totals.alarms[1], "high": totals.alarms[2] },
        "decode_errors": c.decode_errors,
        "skipped_lines": c.bad_lines,
        "drops": c.recorder_drops,
        "alarm_command_missed": c.alarm_command_missed,
        "not_recorded": {
            "notifications": c.not_recorded.notifications,
            "samples": c.not_recorded.samples,
            "events": c.not_recorded.events,
        },
    })
}

/// Writes lines to a buffered writer (stdout in a session).
#[derive(Debug)]
pub struct HeadlessWriter<W: Write> {
    out: W,
}

impl<W: Write> HeadlessWriter<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }

    pub fn write_event(&mut self, event: &OutputEvent) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &event_json(event))?;
        self.out.write_all(b"\n")
    }

    pub fn write_value(&mut self, value: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlarmEvent, AlarmState, Condition, OperatorAction, Priority};

    #[test]
    fn alarm_line_matches_design() {
        let e = OutputEvent::Alarm(AlarmEvent {
            at: SessionTime::from_millis(61_000),
            condition: Condition::HrHigh,
            device: Some(crate::model::DeviceLabel::from("chest")),
            priority: Priority::Low,
            state: AlarmState::Active,
            value: Some(104.0),
        });
        assert_eq!(
            event_json(&e).to_string(),
            r#"{"at_ms":61000,"type":"alarm","alarm":"hr.high","device":"chest","priority":"low","state":"active","value":104.0}"#
        );
    }

    #[test]
    fn operator_line_matches_design() {
        let e = OutputEvent::Operator {
            at: SessionTime::from_millis(95_000),
            action: OperatorAction::Ack { alarm: Some(Condition::HrHigh), device: Some("chest".into()) },
        };
        assert_eq!(
            event_json(&e).to_string(),
            r#"{"at_ms":95000,"type":"operator","action":"ack","alarm":"hr.high","device":"chest"}"#
        );
    }

    /// Every line type, byte for byte: field names, order and the fields
    /// left out when absent are part of DESIGN.md's format.
    #[test]
    fn every_line_type_keeps_its_bytes() {
        use crate::model::{Characteristic, Marker, MarkerKind};
        let at = SessionTime::from_millis(1_500);
        let chest = || crate::model::DeviceLabel::from("chest");
        let cases: Vec<(OutputEvent, &str)> = vec![
            (
                OutputEvent::Alarm(AlarmEvent {
                    at,
                    condition: Condition::TechStale,
                    device: None,
                    priority: Priority::Medium,
                    state: AlarmState::Cleared,
                    value: Some(f64::NAN),
                }),
                r#"{"at_ms":1500,"type":"alarm","alarm":"tech.stale","priority":"medium","state":"cleared"}"#,
            ),
            (
                OutputEvent::Operator {
                    at,
                    action: OperatorAction::Marker(Marker {
                        label: "dose".into(),
                        kind: Some(MarkerKind::Dose),
                        amount_mg: Some(120.0),
                    }),
                },
                r#"{"at_ms":1500,"type":"operator","action":"marker","label":"dose","kind":"dose","amount_mg":120.0}"#,
            ),
            (
                OutputEvent::Operator { at, action: OperatorAction::AudioPause },
                r#"{"at_ms":1500,"type":"operator","action":"audio_pause"}"#,
            ),
            (
                OutputEvent::Connection {
                    at,
                    device: chest(),
                    change: ConnectionChange::Connected {
                        name: Some("Polar H10".into()),
                        address: Some("A0:9E".into()),
                        services: vec![0x180D],
                    },
                },
                r#"{"at_ms":1500,"type":"connection","device":"chest","event":"connected","name":"Polar H10","address":"A0:9E"}"#,
            ),
            (
                OutputEvent::Connection {
                    at,
                    device: chest(),
                    change: ConnectionChange::Connected { name: None, address: None, services: vec![] },
                },
                r#"{"at_ms":1500,"type":"connection","device":"chest","event":"connected"}"#,
            ),
            (
                OutputEvent::Connection {
                    at,
                    device: chest(),
                    change: ConnectionChange::Disconnected { reason: Some("out of range".into()) },
                },
                r#"{"at_ms":1500,"type":"connection","device":"chest","event":"disconnected","reason":"out of range"}"#,
            ),
            (
                OutputEvent::Connection { at, device: chest(), change: ConnectionChange::Disconnected { reason: None } },
                r#"{"at_ms":1500,"type":"connection","device":"chest","event":"disconnected"}"#,
            ),
            (
                OutputEvent::DecodeError {
                    at,
                    device: Some(chest()),
                    characteristic: Some(Characteristic::HeartRateMeasurement),
                    line: Some(7),
                    message: "short".into(),
                },
                r#"{"at_ms":1500,"type":"decode_error","device":"chest","characteristic":"2a37","line":7,"message":"short"}"#,
            ),
            (
                OutputEvent::DecodeError { at, device: None, characteristic: None, line: None, message: "bad".into() },
                r#"{"at_ms":1500,"type":"decode_error","message":"bad"}"#,
            ),
            (
                OutputEvent::Gap { at, duration: std::time::Duration::from_millis(6_250) },
                r#"{"at_ms":1500,"type":"gap","duration_ms":6250}"#,
            ),
        ];
        for (event, want) in cases {
            assert_eq!(event_json(&event).to_string(), want);
        }
    }
}
