use super::*;
use serde_json::json;

const SITE: &str = "ward";

fn at(base: Instant, ms: u64) -> Now {
    let wall = DateTime::parse_from_rfc3339("2026-12-07T16:00:00Z").unwrap().with_timezone(&Utc);
    Now { at: base + Duration::from_millis(ms), wall: wall + chrono::Duration::milliseconds(ms as i64) }
}

fn topic(room: &str, kind: &str) -> String {
    format!("vigil/v1/{SITE}/{room}/{kind}")
}

fn status(state: &str) -> Vec<u8> {
    json!({"v":1,"state":state,"session":"s1","participant":"P-007","started":"2026-12-07T15:00:00.000Z",
           "vigil_version":"0.1.0","devices":["hr"]})
    .to_string()
    .into_bytes()
}

fn vitals(hr: Option<f64>, interval_ms: u64) -> Vec<u8> {
    json!({"v":1,"session":"s1","at":"2026-12-07T16:00:00.000Z","at_ms":1000,"interval_ms":interval_ms,
           "since_dose_ms":60000,
           "devices":[{"device":"hr","connected":true,"readings":{"heart_rate_bpm":
               {"value":hr,"age_ms":200,"contact":true,"stale":false,"status":"live"}}}]})
    .to_string()
    .into_bytes()
}

fn transition(seq: u64, alarm: &str, priority: &str, state: &str, at: &str) -> Vec<u8> {
    json!({"v":1,"seq":seq,"session":"s1","at":at,"at_ms":seq*1000,"alarm":alarm,"device":"hr",
           "priority":priority,"state":state,"value":150.0})
    .to_string()
    .into_bytes()
}

/// A connected ward with `room` online and one live vitals message at 0.
fn online(room: &str) -> (Ward, Instant) {
    let base = Instant::now();
    let mut ward = Ward::new(SITE);
    ward.broker_connected(at(base, 0));
    ward.handle(&topic(room, "status"), &status("online"), true, at(base, 0)).unwrap();
    ward.handle(&topic(room, "vitals"), &vitals(Some(72.0), 1000), false, at(base, 0)).unwrap();
    (ward, base)
}

fn alarm_lines(lines: &[Line]) -> Vec<(Option<String>, String, String, Option<u64>)> {
    lines
        .iter()
        .filter_map(|l| match l {
            Line::Alarm(a) => Some((a.room.clone(), a.alarm.clone(), a.state.clone(), a.seq)),
            _ => None,
        })
        .collect()
}

fn room_states(lines: &[Line]) -> Vec<Link> {
    lines
        .iter()
        .filter_map(|l| match l {
            Line::Room(r) => Some(r.state),
            _ => None,
        })
        .collect()
}

#[test]
fn a_live_room_shows_the_bedsides_values() {
    let (ward, base) = online("room-1");
    let room = ward.room("room-1").unwrap();
    assert_eq!(room.link(), Some(Link::Online));
    assert_eq!(room.value("heart_rate_bpm"), Some(72.0));
    assert_eq!(room.participant(), Some("P-007"));
    assert_eq!(room.since_dose(base + Duration::from_secs(2)), Some(Duration::from_secs(62)));
    assert_eq!(room.history().len(), 1);
}

#[test]
fn a_null_value_stays_unshown() {
    let (mut ward, base) = online("room-1");
    ward.handle(&topic("room-1", "vitals"), &vitals(None, 1000), false, at(base, 1000)).unwrap();
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), None);
}

#[test]
fn a_last_will_is_comm_lost_at_once_and_hides_the_numbers() {
    let (mut ward, base) = online("room-1");
    let lines = ward.handle(&topic("room-1", "status"), &status("offline"), false, at(base, 500)).unwrap();
    assert_eq!(alarm_lines(&lines), [(Some("room-1".into()), COMM_LOST.into(), "active".into(), None)]);
    assert_eq!(room_states(&lines), [Link::CommLost]);
    let room = ward.room("room-1").unwrap();
    assert_eq!(room.comm_lost(), Some(Lost::Will));
    assert_eq!(room.value("heart_rate_bpm"), None, "never the last value");
    assert_eq!(room.top_alarm().unwrap().alarm, COMM_LOST);
    // Vitals alone do not undo a Will; the bedside's online status does.
    ward.handle(&topic("room-1", "vitals"), &vitals(Some(80.0), 1000), false, at(base, 900)).unwrap();
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), None);
    let lines = ward.handle(&topic("room-1", "status"), &status("online"), true, at(base, 1000)).unwrap();
    assert_eq!(alarm_lines(&lines), [(Some("room-1".into()), COMM_LOST.into(), "cleared".into(), None)]);
    assert_eq!(room_states(&lines), [Link::Online]);
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), Some(80.0));
}

#[test]
fn silence_is_comm_lost_after_five_seconds_or_three_intervals() {
    let (mut ward, base) = online("room-1");
    assert!(ward.tick(at(base, 5000)).is_empty(), "5 s is not yet more than 5 s");
    let lines = ward.tick(at(base, 5001));
    assert_eq!(alarm_lines(&lines), [(Some("room-1".into()), COMM_LOST.into(), "active".into(), None)]);
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), None);
    assert!(ward.tick(at(base, 6000)).is_empty(), "raised once");
    // Vitals again: back online, alarm cleared.
    let lines = ward.handle(&topic("room-1", "vitals"), &vitals(Some(75.0), 3000), false, at(base, 7000)).unwrap();
    assert_eq!(alarm_lines(&lines)[0].2, "cleared");
    assert_eq!(room_states(&lines), [Link::Online]);
    // A 3 s interval allows 9 s.
    assert!(ward.tick(at(base, 7000 + 9000)).is_empty());
    assert_eq!(alarm_lines(&ward.tick(at(base, 7000 + 9001))).len(), 1);
}

#[test]
fn a_stopped_room_is_not_lost_by_silence_and_shows_no_numbers() {
    let (mut ward, base) = online("room-1");
    let lines = ward.handle(&topic("room-1", "status"), &status("stopped"), true, at(base, 100)).unwrap();
    assert_eq!(room_states(&lines), [Link::Stopped]);
    assert!(ward.tick(at(base, 60_000)).is_empty());
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), None);
}

#[test]
fn a_retained_will_of_a_room_never_seen_is_history_not_an_alarm() {
    let base = Instant::now();
    let mut ward = Ward::new(SITE);
    ward.broker_connected(at(base, 0));
    let lines = ward.handle(&topic("room-9", "status"), &status("offline"), true, at(base, 0)).unwrap();
    assert!(alarm_lines(&lines).is_empty());
    assert_eq!(room_states(&lines), [Link::Offline]);
    // But one this station saw online, learnt on reconnecting, is lost.
    let (mut ward, base) = online("room-1");
    ward.broker_down(at(base, 100));
    ward.broker_connected(at(base, 200));
    let lines = ward.handle(&topic("room-1", "status"), &status("offline"), true, at(base, 300)).unwrap();
    assert_eq!(alarm_lines(&lines)[0].1, COMM_LOST);
}

#[test]
fn retained_vitals_prove_the_room_but_are_not_shown_as_live() {
    let base = Instant::now();
    let mut ward = Ward::new(SITE);
    ward.broker_connected(at(base, 0));
    ward.handle(&topic("room-1", "status"), &status("online"), true, at(base, 0)).unwrap();
    ward.handle(&topic("room-1", "vitals"), &vitals(Some(72.0), 1000), true, at(base, 0)).unwrap();
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), None);
}

#[test]
fn transitions_apply_once_each_in_seq_order() {
    let (mut ward, base) = online("room-1");
    let t = |seq, state| transition(seq, "hr.high", "high", state, "2026-12-07T16:00:01.000Z");
    let mut seqs = Vec::new();
    for (seq, state) in [(1, "active"), (2, "acknowledged"), (2, "acknowledged"), (4, "active"), (3, "cleared")] {
        let lines = ward.handle(&topic("room-1", "alarms"), &t(seq, state), false, at(base, 100)).unwrap();
        seqs.extend(alarm_lines(&lines).into_iter().map(|l| (l.3.unwrap(), l.2)));
    }
    assert_eq!(seqs, [(1, "active".into()), (2, "acknowledged".into()), (3, "cleared".into()), (4, "active".into())]);
    let room = ward.room("room-1").unwrap();
    assert_eq!(room.alarms().count(), 1);
    assert_eq!(room.top_alarm().unwrap().state, "active");
}

#[test]
fn a_gap_waits_then_is_skipped() {
    let (mut ward, base) = online("room-1");
    let t = |seq| transition(seq, "hr.high", "high", "active", "2026-12-07T16:00:01.000Z");
    ward.handle(&topic("room-1", "alarms"), &t(1), false, at(base, 0)).unwrap();
    let held = ward.handle(&topic("room-1", "alarms"), &t(3), false, at(base, 100)).unwrap();
    assert!(held.is_empty(), "seq 3 waits for seq 2");
    ward.handle(&topic("room-1", "vitals"), &vitals(Some(72.0), 1000), false, at(base, 1000)).unwrap();
    assert!(ward.tick(at(base, 1000)).is_empty());
    let lines = ward.tick(at(base, 100 + GAP_WAIT.as_millis() as u64));
    assert_eq!(alarm_lines(&lines).iter().map(|l| l.3).collect::<Vec<_>>(), [Some(3)]);
    // A late seq 2 is older than what was applied: dropped.
    assert!(ward.handle(&topic("room-1", "alarms"), &t(2), false, at(base, 2200)).unwrap().is_empty());
}

#[test]
fn a_newer_alarm_state_replaces_the_list_and_covers_its_transitions() {
    let (mut ward, base) = online("room-1");
    let on = "2026-12-07T16:00:01.000Z";
    ward.handle(&topic("room-1", "alarms"), &transition(1, "hr.high", "high", "active", on), false, at(base, 0))
        .unwrap();
    let state = json!({"v":1,"session":"s1","seq":3,"at":on,"alarms":[
        {"alarm":"temp.high","device":"hr","priority":"medium","state":"active","onset":on}]});
    let lines = ward.handle(&topic("room-1", "alarm_state"), state.to_string().as_bytes(), true, at(base, 10)).unwrap();
    let names: Vec<String> = ward.room("room-1").unwrap().alarms().map(|a| a.alarm).collect();
    assert_eq!(names, ["temp.high"]);
    // What the picture changed is reported, without a seq (its
    // transitions 2 and 3 never came).
    let room = Some("room-1".to_owned());
    assert_eq!(
        alarm_lines(&lines),
        [(room.clone(), "temp.high".into(), "active".into(), None), (room, "hr.high".into(), "cleared".into(), None)]
    );
    // Transitions it includes are not applied again; the next one is.
    let dup = transition(3, "hr.high", "high", "cleared", on);
    assert!(ward.handle(&topic("room-1", "alarms"), &dup, false, at(base, 20)).unwrap().is_empty());
    let next = transition(4, "temp.high", "medium", "cleared", on);
    assert_eq!(ward.handle(&topic("room-1", "alarms"), &next, false, at(base, 30)).unwrap().len(), 1);
    assert_eq!(ward.room("room-1").unwrap().alarms().count(), 0);
    // An older picture changes nothing.
    let old = json!({"v":1,"session":"s1","seq":2,"at":on,"alarms":[
        {"alarm":"hr.high","device":"hr","priority":"high","state":"active","onset":on}]});
    ward.handle(&topic("room-1", "alarm_state"), old.to_string().as_bytes(), true, at(base, 40)).unwrap();
    assert_eq!(ward.room("room-1").unwrap().alarms().count(), 0);
}

#[test]
fn a_new_session_starts_its_seq_over() {
    let (mut ward, base) = online("room-1");
    let on = "2026-12-07T16:00:01.000Z";
    ward.handle(&topic("room-1", "alarms"), &transition(5, "hr.high", "high", "active", on), false, at(base, 0))
        .unwrap();
    let mut other: serde_json::Value =
        serde_json::from_slice(&transition(1, "hr.low", "medium", "active", on)).unwrap();
    other["session"] = json!("s2");
    let lines = ward.handle(&topic("room-1", "alarms"), other.to_string().as_bytes(), false, at(base, 10)).unwrap();
    // The old session's transition, held for its gap, is applied, then its
    // alarm ends with it; the new session's seq 1 applies.
    let room = Some("room-1".to_owned());
    assert_eq!(
        alarm_lines(&lines),
        [
            (room.clone(), "hr.high".into(), "active".into(), Some(5)),
            (room.clone(), "hr.high".into(), "cleared".into(), None),
            (room, "hr.low".into(), "active".into(), Some(1))
        ]
    );
    let names: Vec<String> = ward.room("room-1").unwrap().alarms().map(|a| a.alarm).collect();
    assert_eq!(names, ["hr.low"]);
}

#[test]
fn a_station_joining_late_reports_the_alarms_of_the_retained_picture() {
    let (mut ward, base) = online("room-1");
    let on = "2026-12-07T15:59:00.000Z";
    let state = json!({"v":1,"session":"s1","seq":7,"at":"2026-12-07T15:59:30.000Z","alarms":[
        {"alarm":"hr.high","device":"hr","priority":"high","state":"active","onset":on},
        {"alarm":"temp.high","device":"hr","priority":"medium","state":"acknowledged","onset":on}]});
    let lines = ward.handle(&topic("room-1", "alarm_state"), state.to_string().as_bytes(), true, at(base, 10)).unwrap();
    let Line::Alarm(first) = &lines[0] else { panic!("{lines:?}") };
    assert_eq!(
        (first.alarm.as_str(), first.state.as_str(), first.at.as_str(), first.seq),
        ("hr.high", "active", on, None)
    );
    let Line::Alarm(second) = &lines[1] else { panic!("{lines:?}") };
    assert_eq!(
        (second.alarm.as_str(), second.state.as_str(), second.at.as_str()),
        ("temp.high", "acknowledged", "2026-12-07T15:59:30.000Z")
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    // The same picture again (a reconnection) reports nothing.
    let again = ward.handle(&topic("room-1", "alarm_state"), state.to_string().as_bytes(), true, at(base, 20));
    assert!(again.unwrap().is_empty());
}

#[test]
fn an_acknowledgement_comes_with_the_picture_of_the_same_seq() {
    let (mut ward, base) = online("room-1");
    let on = "2026-12-07T16:00:01.000Z";
    ward.handle(&topic("room-1", "alarms"), &transition(1, "hr.high", "high", "active", on), false, at(base, 0))
        .unwrap();
    let picture = |state: &str| {
        json!({"v":1,"session":"s1","seq":1,"at":"2026-12-07T16:00:09.000Z","alarms":[
            {"alarm":"hr.high","device":"hr","priority":"high","state":state,"onset":on}]})
        .to_string()
    };
    // The picture that follows the transition changes nothing.
    let lines = ward.handle(&topic("room-1", "alarm_state"), picture("active").as_bytes(), false, at(base, 5));
    assert!(lines.unwrap().is_empty());
    let lines = ward.handle(&topic("room-1", "alarm_state"), picture("acknowledged").as_bytes(), false, at(base, 9));
    let room = Some("room-1".to_owned());
    assert_eq!(alarm_lines(&lines.unwrap()), [(room, "hr.high".into(), "acknowledged".into(), None)]);
    assert_eq!(ward.room("room-1").unwrap().alarms().next().unwrap().state, "acknowledged");
}

#[test]
fn a_bedsides_answer_to_an_ack_is_reported() {
    let (mut ward, base) = online("room-1");
    let event = |action: &str| {
        json!({"v":1,"session":"s1","at":"2026-12-07T16:00:02.000Z","line":
            {"at_ms":2000,"type":"operator","action":action,"alarm":"hr.high","device":"hr","station":"nurses"}})
        .to_string()
    };
    let lines = ward.handle(&topic("room-1", "events"), event("ack_refused").as_bytes(), false, at(base, 10)).unwrap();
    assert_eq!(
        serde_json::to_string(&lines).unwrap(),
        r#"[{"type":"ack","room":"room-1","alarm":"hr.high","device":"hr","station":"nurses","result":"refused","at":"2026-12-07T16:00:02.000Z"}]"#
    );
    let lines = ward.handle(&topic("room-1", "events"), event("remote_ack").as_bytes(), false, at(base, 20)).unwrap();
    assert!(matches!(&lines[..], [Line::Ack(a)] if a.result == AckResult::Obeyed));
    // The rest of the bedside's log is not the station's to report.
    let lines = ward.handle(&topic("room-1", "events"), event("marker").as_bytes(), false, at(base, 30)).unwrap();
    assert!(lines.is_empty());
}

#[test]
fn rooms_are_in_counting_order() {
    let (mut ward, base) = online("room-10");
    for room in ["room-2", "room-1", "Room-3", "room-02b", "bay"] {
        ward.handle(&topic(room, "status"), &status("online"), true, at(base, 0)).unwrap();
    }
    let names: Vec<&str> = ward.rooms().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Room-3", "bay", "room-1", "room-2", "room-02b", "room-10"]);
    assert_eq!(natural_order("a9", "a10"), Ordering::Less);
    assert_eq!(natural_order("a010", "a10"), Ordering::Equal);
}

#[test]
fn the_alarm_list_is_by_priority_then_onset_across_rooms() {
    let (mut ward, base) = online("room-1");
    ward.handle(&topic("room-2", "status"), &status("online"), true, at(base, 0)).unwrap();
    let add = |ward: &mut Ward, room: &str, seq, alarm: &str, priority: &str, onset: &str| {
        ward.handle(&topic(room, "alarms"), &transition(seq, alarm, priority, "active", onset), false, at(base, 0))
            .unwrap();
    };
    add(&mut ward, "room-1", 1, "temp.high", "medium", "2026-12-07T16:00:01.000Z");
    add(&mut ward, "room-2", 1, "hr.high", "high", "2026-12-07T16:00:05.000Z");
    add(&mut ward, "room-1", 2, "hr.high", "high", "2026-12-07T16:00:03.000Z");
    add(&mut ward, "room-2", 2, "tech.battery_low", "low", "2026-12-07T16:00:00.000Z");
    let list: Vec<(String, String)> = ward.alarm_list().into_iter().map(|(room, a)| (room.unwrap(), a.alarm)).collect();
    assert_eq!(
        list,
        [
            ("room-1".into(), "hr.high".into()),
            ("room-2".into(), "hr.high".into()),
            ("room-1".into(), "temp.high".into()),
            ("room-2".into(), "tech.battery_low".into()),
        ]
    );
}

#[test]
fn bad_messages_are_counted_and_change_nothing() {
    let (mut ward, base) = online("room-1");
    let cases: [(String, &[u8]); 7] = [
        (topic("room-1", "vitals"), b"not json"),
        (topic("room-1", "vitals"), b"[1,2]"),
        (topic("room-1", "status"), br#"{"v":2,"state":"online"}"#),
        (topic("room-1", "status"), br#"{"state":"online"}"#),
        (topic("room-1", "alarms"), br#"{"v":1,"seq":"one"}"#),
        (topic("room-1", "bogus"), b"{}"),
        ("vigil/v1/other-site/room-1/status".to_owned(), &status("offline")),
    ];
    for (i, (name, body)) in cases.iter().enumerate() {
        let e = ward.handle(name, body, false, at(base, 10)).unwrap_err();
        assert_eq!(ward.bad, i as u64 + 1, "{e}");
    }
    let e = ward.handle(&topic("room-1", "alarms"), br#"{"v":1,"seq":"one"}"#, false, at(base, 10)).unwrap_err();
    assert!(e.to_string().contains("seq"), "{e}");
    assert_eq!(ward.rooms().len(), 1);
    assert_eq!(ward.room("room-1").unwrap().value("heart_rate_bpm"), Some(72.0));
}

#[test]
fn rooms_are_bounded() {
    let base = Instant::now();
    let mut ward = Ward::new(SITE);
    for i in 0..MAX_ROOMS {
        ward.handle(&topic(&format!("r{i}"), "status"), &status("online"), true, at(base, 0)).unwrap();
    }
    let e = ward.handle(&topic("one-more", "status"), &status("online"), true, at(base, 0)).unwrap_err();
    assert!(matches!(e, BadMessage::TooManyRooms { .. }));
    assert_eq!(ward.rooms().len(), MAX_ROOMS);
}

#[test]
fn broker_loss_is_one_station_alarm_and_pauses_silence() {
    let (mut ward, base) = online("room-1");
    let lines = ward.broker_down(at(base, 1000));
    assert_eq!(alarm_lines(&lines), [(None, BROKER.into(), "active".into(), None)]);
    assert!(ward.broker_down(at(base, 1500)).is_empty(), "raised once");
    assert!(!ward.broker_up());
    assert_eq!(ward.alarm_list()[0].1.alarm, BROKER);
    assert!(ward.tick(at(base, 30_000)).is_empty(), "a room is not blamed for the station's outage");
    let lines = ward.broker_connected(at(base, 30_000));
    assert_eq!(alarm_lines(&lines), [(None, BROKER.into(), "cleared".into(), None)]);
    assert!(ward.tick(at(base, 34_000)).is_empty(), "silence counts from the reconnection");
    assert_eq!(alarm_lines(&ward.tick(at(base, 35_001))).len(), 1);
}

#[test]
fn headless_lines_have_the_documented_shape() {
    let (mut ward, base) = online("room-1");
    let on = "2026-12-07T16:00:01.000Z";
    let lines =
        ward.handle(&topic("room-1", "alarms"), &transition(1, "hr.high", "high", "active", on), false, at(base, 0));
    let text = serde_json::to_string(&lines.unwrap()[0]).unwrap();
    assert_eq!(
        text,
        r#"{"type":"alarm","room":"room-1","alarm":"hr.high","device":"hr","priority":"high","state":"active","seq":1,"at":"2026-12-07T16:00:01.000Z"}"#
    );
    let room = Line::Room(RoomLine { room: "room-1".into(), state: Link::CommLost });
    assert_eq!(serde_json::to_string(&room).unwrap(), r#"{"type":"room","room":"room-1","state":"comm_lost"}"#);
}

proptest::proptest! {
    #[test]
    fn any_bytes_on_any_kind_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                                         kind in 0usize..6, retained: bool) {
        let (mut ward, base) = online("room-1");
        let kinds = ["status", "vitals", "alarms", "alarm_state", "events", "ack"];
        let _ = ward.handle(&topic("room-1", kinds[kind]), &body, retained, at(base, 10));
        let _ = ward.tick(at(base, 20));
    }
}
