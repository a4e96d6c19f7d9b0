//! Every NDJSON line kind of DESIGN.md, and the bad lines, with line numbers.

// Helpers outside `#[test]` functions are test code too (clippy.toml only
// allows unwrap/expect inside the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use vigil::model::{
    Characteristic, Condition, DeviceInfo, EventBody, Marker, MarkerKind, OperatorAction, Payload, Priority, Quantity,
    SessionTime,
};
use vigil::sources::stream::{ParsedLine, Stamp, StreamDecoder, parse_line};

fn event(text: &str) -> (Option<SessionTime>, Option<String>, EventBody) {
    match parse_line(1, text).unwrap_or_else(|e| panic!("{e}")) {
        ParsedLine::Event { at, device, body } => (at, device, body),
        ParsedLine::Blank => panic!("blank: {text}"),
    }
}

#[test]
fn design_md_example_lines_parse() {
    let (at, device, body) = event(
        r#"{"at_ms": 0,    "device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}"#,
    );
    assert_eq!((at, device.as_deref()), (Some(SessionTime::ZERO), Some("chest")));
    assert_eq!(
        body,
        EventBody::Connected {
            name: Some("Polar H10 1234".into()),
            address: Some("A0:9E:1A:00:00:01".into()),
            services: vec![]
        }
    );

    let (at, device, body) =
        event(r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "163c1104"}"#);
    assert_eq!((at, device.as_deref()), (Some(SessionTime::from_millis(1000)), Some("chest")));
    assert_eq!(
        body,
        EventBody::Notification {
            characteristic: Characteristic::HeartRateMeasurement,
            payload: Payload::from_slice(&[0x16, 0x3c, 0x11, 0x04])
        }
    );

    assert_eq!(event(r#"{"at_ms": 1500, "device": "chest", "event": "rssi", "rssi": -61}"#).2, EventBody::Rssi(-61));
    let (_, device, body) = event(r#"{"at_ms": 2000, "action": "marker", "label": "dose 120 mg"}"#);
    assert_eq!(device, None, "operator lines carry their target inside the action");
    assert_eq!(
        body,
        EventBody::Operator(OperatorAction::Marker(Marker {
            label: "dose 120 mg".into(),
            kind: None,
            amount_mg: None
        }))
    );
    assert_eq!(
        event(r#"{"at_ms": 2500, "action": "ack", "alarm": "hr.high", "device": "chest"}"#).2,
        EventBody::Operator(OperatorAction::Ack { alarm: Some(Condition::HrHigh), device: Some("chest".into()) })
    );
    assert_eq!(
        event(r#"{"at_ms": 9000, "device": "chest", "event": "disconnected"}"#).2,
        EventBody::Disconnected { reason: None }
    );
}

#[test]
fn other_line_kinds_parse() {
    assert_eq!(
        event(r#"{"device": "thermo", "event": "connected", "services": ["1809", "0x180f"]}"#),
        (
            None,
            Some("thermo".into()),
            EventBody::Connected { name: None, address: None, services: vec![0x1809, 0x180F] }
        )
    );
    assert_eq!(
        event(r#"{"at_ms": 5, "device": "chest", "event": "disconnected", "reason": "out of range"}"#).2,
        EventBody::Disconnected { reason: Some("out of range".into()) }
    );
    assert_eq!(
        event(r#"{"device": "chest", "event": "device_info", "manufacturer": "Polar Electro Oy", "model": "H10"}"#).2,
        EventBody::DeviceInfo(DeviceInfo {
            manufacturer: Some("Polar Electro Oy".into()),
            model: Some("H10".into()),
            firmware: None
        })
    );
    assert_eq!(
        event(r#"{"at_ms": 7, "device": "chest", "event": "ecg", "started": false, "reason": "invalid state"}"#).2,
        EventBody::EcgStatus { started: false, reason: Some("invalid state".into()) }
    );
    assert_eq!(
        event(r#"{"device": "chest", "event": "ecg", "started": true}"#).2,
        EventBody::EcgStatus { started: true, reason: None }
    );
    // Full UUIDs and spaced hex are accepted.
    let (_, _, body) =
        event(r#"{"device": "x", "characteristic": "00002a19-0000-1000-8000-00805f9b34fb", "payload": "5 A"}"#);
    assert_eq!(
        body,
        EventBody::Notification { characteristic: Characteristic::BatteryLevel, payload: Payload::from_slice(&[0x5a]) }
    );
    assert_eq!(parse_line(3, "   "), Ok(ParsedLine::Blank));
    assert_eq!(parse_line(4, "# a comment"), Ok(ParsedLine::Blank));
    // Fractional milliseconds keep their precision.
    assert_eq!(event(r#"{"at_ms": 1.5, "action": "audio_pause"}"#).0, Some(SessionTime(1_500_000)));
}

/// Each action line becomes the `OperatorAction` whose serde form (model.rs)
/// is exactly the line without `at_ms`: DESIGN.md's stream form and the
/// model's serde form agree.
#[test]
fn action_lines_are_the_operator_action_serde_form() {
    let lines = [
        (r#"{"at_ms": 1, "action": "ack"}"#, OperatorAction::Ack { alarm: None, device: None }),
        (
            r#"{"at_ms": 2, "action": "ack", "alarm": "tech.no_contact", "device": "chest"}"#,
            OperatorAction::Ack { alarm: Some(Condition::TechNoContact), device: Some("chest".into()) },
        ),
        (r#"{"at_ms": 3, "action": "audio_pause"}"#, OperatorAction::AudioPause),
        (
            r#"{"at_ms": 4, "action": "marker", "label": "supplemental dose 60 mg", "kind": "supplemental_dose", "amount_mg": 60.0}"#,
            OperatorAction::Marker(Marker {
                label: "supplemental dose 60 mg".into(),
                kind: Some(MarkerKind::SupplementalDose),
                amount_mg: Some(60.0),
            }),
        ),
        (r#"{"at_ms": 5, "action": "baseline"}"#, OperatorAction::Baseline { device: None }),
        (
            r#"{"at_ms": 6, "action": "baseline", "device": "chest"}"#,
            OperatorAction::Baseline { device: Some("chest".into()) },
        ),
        (
            r#"{"at_ms": 7, "action": "limit", "condition": "hr.high", "priority": "medium", "value": 125.0}"#,
            OperatorAction::Limit { condition: Condition::HrHigh, priority: Priority::Medium, value: 125.0 },
        ),
        (
            r#"{"at_ms": 8, "action": "manual", "quantity": "systolic_mmhg", "value": 150.0}"#,
            OperatorAction::Manual { quantity: Quantity::SystolicMmhg, value: 150.0 },
        ),
    ];
    for (line, expected) in lines {
        assert_eq!(event(line).2, EventBody::Operator(expected.clone()), "{line}");
        let mut json: Value = serde_json::from_str(line).unwrap();
        json.as_object_mut().unwrap().remove("at_ms");
        assert_eq!(serde_json::to_value(&expected).unwrap(), json, "model.rs serde form of {line}");
    }
    // Integers are fine where DESIGN.md writes them.
    assert_eq!(
        event(r#"{"action": "limit", "condition": "hr.high", "priority": "medium", "value": 125}"#).2,
        EventBody::Operator(OperatorAction::Limit {
            condition: Condition::HrHigh,
            priority: Priority::Medium,
            value: 125.0
        })
    );
}

fn bad(line_no: u64, text: &str) -> (Option<String>, String) {
    let Err(e) = parse_line(line_no, text) else { panic!("accepted: {text}") };
    assert_eq!(e.line, line_no);
    assert!(e.to_string().starts_with(&format!("line {line_no}: ")), "{e}");
    (e.field.clone(), e.to_string())
}

#[test]
fn bad_lines_name_line_and_field() {
    let (field, msg) = bad(7, r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "163c"#);
    assert_eq!(field, None);
    assert!(msg.contains("not valid JSON"), "{msg}");
    let (field, msg) = bad(8, r#"{"device": "chest", "characteristic": "heart_rate", "payload": "063c"}"#);
    assert_eq!(field.as_deref(), Some("characteristic"), "{msg}");
    assert!(msg.contains("heart_rate"));
    let (field, _) = bad(9, r#"{"device": "chest", "characteristic": "2a3", "payload": "063c"}"#);
    assert_eq!(field.as_deref(), Some("characteristic"));
    let (field, msg) = bad(10, r#"{"device": "chest", "characteristic": "2a37", "payload": "06zz"}"#);
    assert_eq!(field.as_deref(), Some("payload"), "{msg}");
    let (field, msg) = bad(11, r#"{"at_ms": 5, "action": "snooze"}"#);
    assert_eq!(field.as_deref(), Some("action"));
    assert!(msg.contains("snooze") && msg.contains("audio_pause"), "{msg}");
    let (field, msg) = bad(12, r#"{"action": "ack", "alarm": "hr.hgh"}"#);
    assert_eq!(field.as_deref(), Some("alarm"));
    assert!(msg.contains("hr.hgh") && msg.contains("hr.high"), "{msg}");
    let (field, _) = bad(13, r#"{"action": "marker", "lable": "dose"}"#);
    assert_eq!(field.as_deref(), Some("lable"));
    let (field, _) = bad(14, r#"{"action": "limit", "condition": "hr.high", "priority": "urgent", "value": 1}"#);
    assert_eq!(field.as_deref(), Some("priority"));
    let (field, _) = bad(15, r#"{"action": "manual", "quantity": "weight_kg", "value": 80}"#);
    assert_eq!(field.as_deref(), Some("quantity"));
    let (field, _) = bad(16, r#"{"device": "chest", "event": "connnected"}"#);
    assert_eq!(field.as_deref(), Some("event"));
    let (field, _) = bad(17, r#"{"at_ms": -5, "device": "chest", "event": "disconnected"}"#);
    assert_eq!(field.as_deref(), Some("at_ms"));
    let (field, _) = bad(18, r#"{"event": "disconnected"}"#);
    assert_eq!(field.as_deref(), Some("device"));
    let (field, _) = bad(19, r#"{"device": "chest", "event": "rssi", "rssi": 12.5}"#);
    assert_eq!(field.as_deref(), Some("rssi"));
    let (field, msg) = bad(20, r#"[1, 2]"#);
    assert_eq!(field, None);
    assert!(msg.contains("object"));
    let (_, msg) = bad(21, r#"{"at_ms": 5}"#);
    assert!(msg.contains("characteristic") && msg.contains("action"), "{msg}");
}

#[test]
fn going_back_in_time_is_a_bad_line_and_the_stream_goes_on() {
    let mut d = StreamDecoder::new();
    let lines = [
        r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "063c"}"#,
        r#"{"at_ms": 900, "device": "chest", "characteristic": "2a37", "payload": "063d"}"#,
        "",
        r#"not json"#,
        r#"{"device": "chest", "characteristic": "2a37", "payload": "063e"}"#,
        r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "063f"}"#,
    ];
    let events: Vec<_> =
        lines.iter().enumerate().filter_map(|(i, l)| d.line(i as u64 + 1, l, Stamp::Scheduled)).collect();
    assert_eq!(events.len(), 5, "the blank line is skipped silently");
    match &events[1].body {
        EventBody::BadInput { line, message } => {
            assert_eq!(*line, 2);
            assert!(message.contains("at_ms") && message.contains("back in time"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&events[2].body, EventBody::BadInput { line: 4, .. }));
    // No at_ms: the previous line's time; equal times are not going back.
    assert_eq!(events[3].at, SessionTime::from_millis(1000));
    assert_eq!(events[4].at, SessionTime::from_millis(1000));
    assert!(events.iter().all(|e| e.at == SessionTime::from_millis(1000)));
    assert_eq!((d.stats.lines, d.stats.events, d.stats.bad_lines), (6, 3, 2));
    // Labels are interned: one allocation per device.
    let a = events[0].device.clone().unwrap();
    let b = events[4].device.clone().unwrap();
    assert!(std::ptr::eq(a.as_str(), b.as_str()));
}

#[test]
fn arrival_stamps_replace_at_ms_when_unpaced() {
    let mut d = StreamDecoder::new();
    let e =
        d.line(1, r#"{"at_ms": 5000, "action": "audio_pause"}"#, Stamp::Arrival(SessionTime::from_millis(70))).unwrap();
    assert_eq!(e.at, SessionTime::from_millis(70));
    let e = d.line(2, r#"{"action": "baseline"}"#, Stamp::Arrival(SessionTime::from_millis(90))).unwrap();
    assert_eq!(e.at, SessionTime::from_millis(90));
    // at_ms is still checked for order, so a file reports the same bad
    // lines at any speed.
    let e =
        d.line(3, r#"{"at_ms": 10, "action": "audio_pause"}"#, Stamp::Arrival(SessionTime::from_millis(95))).unwrap();
    assert!(matches!(e.body, EventBody::BadInput { line: 3, .. }));
}

/// A recording stamps `t` as i64 nanoseconds since 1970, which ends in
/// 2262: an `at_ms` whose time would not fit is refused, not merged.
#[test]
fn at_ms_beyond_what_a_recording_holds_is_refused() {
    let (field, msg) = bad(4, r#"{"at_ms": 1e12, "device": "chest", "event": "rssi", "rssi": -50}"#);
    assert_eq!(field.as_deref(), Some("at_ms"), "{msg}");
    let (field, _) = bad(5, r#"{"at_ms": 100000000001, "device": "chest", "event": "rssi", "rssi": -50}"#);
    assert_eq!(field.as_deref(), Some("at_ms"));
    // The largest accepted time: 10^11 ms.
    assert_eq!(
        event(r#"{"at_ms": 100000000000, "device": "chest", "event": "rssi", "rssi": -50}"#).0,
        Some(SessionTime::from_millis(100_000_000_000))
    );
}

/// serde_json's `Value` would keep the last of two equal keys; which value
/// was meant is unknowable, so the line is refused, whichever key it is.
#[test]
fn a_duplicate_key_is_a_bad_line() {
    let (_, msg) = bad(6, r#"{"at_ms": 1, "at_ms": 2, "device": "chest", "event": "rssi", "rssi": -50}"#);
    assert!(msg.contains("duplicate field `at_ms`"), "{msg}");
    let (_, msg) = bad(7, r#"{"action": "marker", "label": "a", "label": "b"}"#);
    assert!(msg.contains("duplicate field `label`"), "{msg}");
    let (_, msg) = bad(8, r#"{"device": "chest", "event": "rssi", "rssi": -50, "rssi": -51}"#);
    assert!(msg.contains("duplicate field `rssi`"), "{msg}");
    let (_, msg) = bad(9, r#"{"device": "chest", "device": "wrist", "characteristic": "2a37", "payload": "063c"}"#);
    assert!(msg.contains("duplicate field `device`"), "{msg}");
    let (_, msg) = bad(10, r#"{"action": "ack", "action": "audio_pause"}"#);
    assert!(msg.contains("duplicate field `action`"), "{msg}");
    // No key holds an object, so none can hide a duplicate inside one.
    let (field, msg) = bad(11, r#"{"device": "chest", "event": "connected", "services": [{"a": 1, "a": 2}]}"#);
    assert_eq!(field.as_deref(), Some("services[0]"), "{msg}");
}

/// Each line kind is read by serde into a typed form, and an error names
/// the key it is about, as the line writes it.
#[test]
fn errors_name_the_key() {
    // A wrong-typed key of an action, and of a marker inside one.
    let (field, msg) = bad(7, r#"{"action": "limit", "condition": "hr.high", "priority": "high", "value": "x"}"#);
    assert_eq!(field.as_deref(), Some("value"));
    assert_eq!(msg, r#"line 7: `value`: invalid type: string "x", expected f64"#);
    let (field, msg) = bad(8, r#"{"action": "marker", "label": "dose", "amount_mg": [5]}"#);
    assert_eq!(field.as_deref(), Some("amount_mg"), "{msg}");
    let (field, msg) = bad(9, r#"{"action": "marker", "label": "dose", "amount_mg": -5}"#);
    assert_eq!(msg, "line 9: `amount_mg`: a dose cannot be negative");
    assert_eq!(field.as_deref(), Some("amount_mg"));
    // A wrong-typed item of a list: its index.
    let (field, msg) = bad(10, r#"{"device": "thermo", "event": "connected", "services": ["1809", 6157]}"#);
    assert_eq!(field.as_deref(), Some("services[1]"));
    assert_eq!(msg, "line 10: `services[1]`: invalid type: integer `6157`, expected a string");
    let (field, msg) = bad(11, r#"{"device": "thermo", "event": "connected", "services": ["1809", "zz"]}"#);
    assert_eq!(field.as_deref(), Some("services[1]"));
    assert!(msg.contains("`zz` is not a 16-bit service number"), "{msg}");
    // An unknown action or event: the tag key, and every value it takes.
    let (field, msg) = bad(12, r#"{"action": "silence"}"#);
    assert_eq!(field.as_deref(), Some("action"));
    assert_eq!(
        msg,
        "line 12: `action`: unknown variant `silence`, expected one of \
         `ack`, `audio_pause`, `marker`, `baseline`, `limit`, `manual`"
    );
    let (field, msg) = bad(13, r#"{"device": "chest", "event": "paired"}"#);
    assert_eq!(field.as_deref(), Some("event"));
    assert_eq!(
        msg,
        "line 13: `event`: unknown variant `paired`, expected one of `connected`, `disconnected`, `rssi`, \
         `device_info`, `ecg`"
    );
    // A missing required key: serde's message names it.
    let (_, msg) = bad(14, r#"{"action": "limit", "condition": "hr.high", "value": 120}"#);
    assert_eq!(msg, "line 14: missing field `priority`");
    let (_, msg) = bad(15, r#"{"device": "chest", "characteristic": "2a37"}"#);
    assert_eq!(msg, "line 15: missing field `payload`");
    let (field, msg) = bad(16, r#"{"characteristic": "2a37", "payload": "063c"}"#);
    assert_eq!(field.as_deref(), Some("device"), "{msg}");
    // A key the line kind does not take, and a wrong-typed shared key.
    let (field, msg) = bad(17, r#"{"action": "audio_pause", "device": "chest"}"#);
    assert_eq!(field.as_deref(), Some("device"));
    assert!(msg.contains("unknown field `device`, there are no fields"), "{msg}");
    let (field, msg) = bad(18, r#"{"at_ms": "soon", "action": "audio_pause"}"#);
    assert_eq!(field.as_deref(), Some("at_ms"));
    assert_eq!(msg, r#"line 18: `at_ms`: invalid type: string "soon", expected f64"#);
    let (field, msg) = bad(19, r#"{"device": "chest", "event": 5}"#);
    assert_eq!(field.as_deref(), Some("event"), "{msg}");
}

/// The line number travels beside the message (`line` of a decode_error),
/// so the message itself does not repeat it.
#[test]
fn a_bad_input_message_does_not_repeat_its_line_number() {
    let mut d = StreamDecoder::new();
    for (no, text) in [(3, "not json"), (4, r#"{"device": "chest", "event": "rssi", "rssi": "x"}"#)] {
        match d.line(no, text, Stamp::Scheduled).map(|e| e.body) {
            Some(EventBody::BadInput { line, message }) => {
                assert_eq!(line, no);
                assert!(!message.contains("line 3") && !message.contains("line 4"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// What a line said is echoed cut short and escaped: a 5,000-character
/// value or a terminal escape sequence must not reach the screen or log.
#[test]
fn echoed_input_is_cut_and_escaped() {
    let long = "x".repeat(5000);
    let (_, msg) = bad(9, &format!(r#"{{"device": "chest", "event": "{long}"}}"#));
    assert!(msg.len() < 300 && msg.contains('…'), "{} chars: {msg}", msg.len());
    let (_, msg) = bad(10, r#"{"device": "chest", "event": "\u001b[2J\u001b]0;pwned\u0007"}"#);
    assert!(!msg.chars().any(char::is_control), "{msg:?}");
    // The message lists every condition name, but quotes the input short.
    let (_, msg) = bad(11, &format!(r#"{{"action": "ack", "alarm": "{long}"}}"#));
    assert!(msg.len() < 600 && msg.contains('…'), "{} chars", msg.len());
    let (_, msg) = bad(12, &format!(r#"{{"action": "marker", "{long}": 1}}"#));
    assert!(msg.len() < 300, "{} chars", msg.len());
    // A number is echoed short too (1e300 displays as 301 digits).
    let (_, msg) = bad(14, r#"{"device": "chest", "event": "rssi", "rssi": 1e300}"#);
    assert!(msg.contains("1e300") && msg.len() < 120, "{msg}");
    let (_, msg) = bad(13, "{\"device\": \"chest\", \"event\": \"rssi\", \"rssi\": -50, \"x\u{1b}[31m\": 1}");
    assert!(!msg.chars().any(char::is_control), "{msg:?}");
}

/// A marker label is shown on screen and kept in the recording: text that
/// shows as something else (a bidirectional override, an escape sequence)
/// is refused, naming the field.
#[test]
fn a_marker_label_with_hidden_characters_is_refused() {
    for label in [r"dose\u202e gm 021", r"note\u001b[2J", r"a\u2066b\u2069", "tab\\there"] {
        let (field, msg) = bad(14, &format!(r#"{{"action": "marker", "label": "{label}"}}"#));
        assert_eq!(field.as_deref(), Some("label"), "{msg}");
        assert!(!msg.chars().any(|c| c.is_control() || vigil::excerpt::is_invisible_format(c)), "{msg:?}");
    }
    assert!(parse_line(15, r#"{"action": "marker", "label": "dose 120 mg — ok ✓"}"#).is_ok());
}

/// An `ecg` event line that is not the start command's answer says which
/// key is wrong.
#[test]
fn bad_ecg_lines_name_their_key() {
    for (line, says) in [
        (r#"{"device": "chest", "event": "ecg"}"#, "missing field `started`"),
        (r#"{"device": "chest", "event": "ecg", "started": "no"}"#, "`started`"),
        (r#"{"device": "chest", "event": "ecg", "started": false, "why": "x"}"#, "`why`"),
        (r#"{"event": "ecg", "started": false}"#, "`device`"),
    ] {
        let e = parse_line(9, line).unwrap_err().to_string();
        assert!(e.starts_with("line 9: ") && e.contains(says), "{line}: {e}");
    }
}
