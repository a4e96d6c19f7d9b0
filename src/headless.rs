//! The lines of headless output: one JSON object per line on stdout
//! (DESIGN.md "Headless output"), and the alarm command's lines.
//!
//! Lines are built here and only here, as the types below, so a live run
//! and a replay print the same bytes for the same events. The session's
//! writer thread prints them.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::model::{ConnectionChange, OperatorAction, OutputEvent, SessionTime};

/// One headless line: `at_ms` first, then `type` and that type's fields
/// in DESIGN.md's order (the declaration order below).
#[derive(Debug, Serialize)]
pub struct Line<'a> {
    pub at_ms: u64,
    #[serde(flatten)]
    pub body: Body<'a>,
}

/// What a line says; its `type` is the variant's name.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body<'a> {
    Alarm {
        alarm: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<&'a str>,
        priority: &'static str,
        state: &'static str,
        /// Left out when not finite: JSON has no NaN.
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
    },
    /// The action's own serde form (`"action": "ack", "alarm": …`) is the
    /// stream's action line, so a printed operator line can be fed back as
    /// input.
    Operator {
        #[serde(flatten)]
        action: &'a OperatorAction,
    },
    Connection {
        device: &'a str,
        #[serde(flatten)]
        change: Change<'a>,
    },
    /// Also how a failed task is reported: DESIGN.md's headless types have
    /// no general error.
    DecodeError {
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        characteristic: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        message: &'a str,
    },
    Gap {
        duration_ms: u64,
    },
    Summary(&'a Summary),
    /// The alarm command's last line.
    MonitoringStopped {
        reason: &'static str,
    },
    /// The alarm command's sign of life, with the wall time it was sent.
    Heartbeat {
        wall: String,
    },
}

/// A connection line's `event` and its details.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Change<'a> {
    Connected {
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<&'a str>,
    },
    Disconnected {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
}

/// What the last line of a headless session counts (built by the session
/// from the pipeline's totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub duration_ms: u64,
    pub notifications: u64,
    pub samples: u64,
    /// Alarm episodes by the highest priority each reached, counted as
    /// `vigil summary` counts a recording (`analysis::alarms`,
    /// docs/analysis.md "Alarm episodes and time in alarm"): an alarm that
    /// rose from low to medium is one medium episode.
    pub alarms: ByPriority,
    pub decode_errors: u64,
    /// Stream lines that were not events.
    pub skipped_lines: u64,
    /// Recorder messages dropped because its channel was full.
    pub drops: u64,
    pub alarm_command_missed: u64,
    pub not_recorded: NotRecorded,
    /// `--publish` only: messages for the central station the full queue
    /// dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_dropped: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ByPriority {
    pub low: u64,
    pub medium: u64,
    pub high: u64,
}

/// Rows a failed recording does not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NotRecorded {
    pub notifications: u64,
    pub samples: u64,
    pub events: u64,
}

impl<'a> Line<'a> {
    /// The line of one output event.
    #[must_use]
    pub fn event(event: &'a OutputEvent) -> Self {
        let body = match event {
            OutputEvent::Alarm(a) => Body::Alarm {
                alarm: a.condition.as_str(),
                device: a.device.as_deref(),
                priority: a.priority.as_str(),
                state: a.state.as_str(),
                value: a.value.filter(|v| v.is_finite()),
            },
            OutputEvent::Operator { action, .. } => Body::Operator { action },
            OutputEvent::Connection { device, change, .. } => Body::Connection {
                device,
                change: match change {
                    ConnectionChange::Connected { name, address, .. } => {
                        Change::Connected { name: name.as_deref(), address: address.as_deref() }
                    }
                    ConnectionChange::Disconnected { reason } => Change::Disconnected { reason: reason.as_deref() },
                },
            },
            OutputEvent::DecodeError { device, characteristic, line, message, .. } => Body::DecodeError {
                device: device.as_deref(),
                characteristic: characteristic.map(|c| c.to_string()),
                line: *line,
                message,
            },
            OutputEvent::Gap { duration, .. } => {
                Body::Gap { duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX) }
            }
        };
        Line { at_ms: event.at().as_millis(), body }
    }

    /// A failure that is not an event's (a task failing), on a
    /// `decode_error` line whose message names it.
    #[must_use]
    pub fn error(at: SessionTime, message: &'a str) -> Self {
        let body = Body::DecodeError { device: None, characteristic: None, line: None, message };
        Line { at_ms: at.as_millis(), body }
    }

    #[must_use]
    pub fn summary(end: SessionTime, summary: &'a Summary) -> Self {
        Line { at_ms: end.as_millis(), body: Body::Summary(summary) }
    }

    /// As a JSON value, for the alarm command's channel.
    #[must_use]
    pub fn to_value(&self) -> Value {
        // A line is plain data under string keys: serialising it to a
        // value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The JSON object of one output event.
#[must_use]
pub fn event_json(event: &OutputEvent) -> Value {
    Line::event(event).to_value()
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
        self.write_line(&Line::event(event))
    }

    pub fn write_line(&mut self, line: &Line<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
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
                OutputEvent::Connection {
                    at,
                    device: chest(),
                    change: ConnectionChange::Disconnected { reason: None },
                },
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

    #[test]
    fn summary_line_keeps_its_bytes() {
        let summary = Summary {
            duration_ms: 9_000,
            notifications: 5,
            samples: 4,
            alarms: ByPriority { low: 1, medium: 2, high: 3 },
            decode_errors: 6,
            skipped_lines: 7,
            drops: 8,
            alarm_command_missed: 9,
            not_recorded: NotRecorded { notifications: 10, samples: 11, events: 12 },
            network_dropped: None,
        };
        let mut out = Vec::new();
        HeadlessWriter::new(&mut out).write_line(&Line::summary(SessionTime::from_millis(9_000), &summary)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"at_ms":9000,"type":"summary","duration_ms":9000,"notifications":5,"samples":4,"#,
                r#""alarms":{"low":1,"medium":2,"high":3},"decode_errors":6,"skipped_lines":7,"drops":8,"#,
                r#""alarm_command_missed":9,"not_recorded":{"notifications":10,"samples":11,"events":12}}"#,
                "\n"
            )
        );
    }
}
