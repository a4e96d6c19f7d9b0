use super::*;
use crate::model::Condition;
use crate::verdict::DeviceTiming;

#[test]
fn status_never_shows_stale_or_contactless_values() {
    let config = TechStale::default();
    let mut staleness = Staleness::default();
    let p = Point { at: SessionTime::ZERO, value: 70.0 };
    let hr = Quantity::HeartRateBpm;
    let status = |s: &Staleness, connected, p, contact, now_ms| {
        reading_status(s, &config, connected, hr, p, contact, SessionTime::from_millis(now_ms))
    };
    assert_eq!(status(&staleness, true, p, Some(true), 1_000), ReadingStatus::Live);
    assert_eq!(status(&staleness, true, p, Some(false), 1_000), ReadingStatus::NoContact);
    assert_eq!(status(&staleness, true, p, None, 4_999), ReadingStatus::Live);
    assert_eq!(status(&staleness, true, p, None, 5_000), ReadingStatus::Stale);
    let nan = Point { at: SessionTime::ZERO, value: f64::NAN };
    assert_eq!(status(&staleness, true, nan, None, 0), ReadingStatus::Invalid);
    assert_eq!(status(&staleness, false, p, None, 0), ReadingStatus::Disconnected);
    staleness.set_timing(DeviceTiming { expected_interval: None, intermittent: true });
    assert_eq!(status(&staleness, false, p, None, 900_000), ReadingStatus::Intermittent);
}

/// A device of no profile notifying every 4 s: the snapshot's limit is
/// the engine's learned one (S = 3 × 4 s = 12 s), and the reading turns
/// stale in the same call that raises `tech.stale`.
#[test]
fn learned_interval_sets_staleness_for_screen_and_alarm_alike() {
    let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
    let slow = DeviceLabel::from("slow");
    let events: Vec<SourceEvent> = (0..10)
        .map(|k| {
            SourceEvent::notification(
                SessionTime::from_secs(4 * k),
                slow.clone(),
                Characteristic::HeartRateMeasurement,
                &[0x06, 70],
            )
        })
        .collect();
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    p.process(&events, SessionTime::from_secs(36), &mut samples, &mut out);
    let base = SnapshotBase { start_utc: chrono::Utc::now(), participant: None, record_dir: None, mode: Mode::Live };
    for (now_ms, status, raised) in [(47_999, ReadingStatus::Live, false), (48_000, ReadingStatus::Stale, true)] {
        out.clear();
        p.advance_to(SessionTime::from_millis(now_ms), &mut out);
        let stale_raised =
            out.iter().any(|e| matches!(e, OutputEvent::Alarm(a) if a.condition == Condition::TechStale));
        assert_eq!(stale_raised, raised, "at {now_ms} ms: {out:?}");
        let snapshot = p.snapshot(&base);
        assert_eq!(snapshot.devices[0].readings[0].status, status, "at {now_ms} ms");
    }
}

fn hr_batch(from_s: u64, to_s: u64, bpm: u8, actions: &[(u64, OperatorAction)]) -> crate::model::Batch {
    let chest: DeviceLabel = DeviceLabel::from("chest");
    let mut events: Vec<SourceEvent> = (from_s..to_s)
        .map(|s| {
            SourceEvent::notification(
                SessionTime::from_secs(s),
                chest.clone(),
                Characteristic::HeartRateMeasurement,
                &[0x06, bpm],
            )
        })
        .collect();
    for (at, action) in actions {
        events.push(SourceEvent {
            at: SessionTime::from_secs(*at),
            device: None,
            body: EventBody::Operator(action.clone()),
        });
    }
    events.sort_by_key(|e| e.at);
    crate::model::Batch { events, until: SessionTime::from_secs(to_s) }
}

#[test]
fn restore_is_silent_and_resuming_later_is_one_gap() {
    let dose = Marker { label: "dose".into(), kind: Some(MarkerKind::Dose), amount_mg: Some(120.0) };
    let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
    // 150 bpm from 100 s: hr.high high at 115 s, acknowledged at 120 s.
    p.restore([
        hr_batch(0, 100, 70, &[(50, OperatorAction::Marker(dose.clone()))]),
        hr_batch(100, 130, 150, &[(120, OperatorAction::Ack { alarm: None, device: None })]),
    ]);
    assert_eq!(p.totals(), Totals::default(), "this run has processed nothing yet");
    assert_eq!(p.now(), SessionTime::from_secs(130));
    let acked: Vec<_> = p.alarms().statuses().into_iter().map(|s| (s.condition, s.state)).collect();
    assert_eq!(acked, vec![(crate::model::Condition::HrHigh, crate::model::AlarmState::Acknowledged)]);

    let mut out = Vec::new();
    p.resume_at(SessionTime::from_secs(730), &mut out);
    assert_eq!(out, vec![OutputEvent::Gap { at: SessionTime::from_secs(730), duration: Duration::from_secs(600) }]);
    // The sensor is back, still at 150: the acknowledged alarm stays so,
    // and ten minutes away raised no staleness alarm.
    let mut samples = Vec::new();
    let b = hr_batch(730, 760, 150, &[]);
    p.process(&b.events, b.until, &mut samples, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let base = SnapshotBase { start_utc: chrono::Utc::now(), participant: None, record_dir: None, mode: Mode::Live };
    let snap = p.snapshot(&base);
    assert_eq!(snap.markers, vec![(SessionTime::from_secs(50), dose)]);
    assert_eq!(snap.last_dose_at, Some(SessionTime::from_secs(50)));
    assert_eq!(snap.alarms.len(), 1);
    assert_eq!(snap.alarms[0].state, crate::model::AlarmState::Acknowledged);
}

#[test]
fn a_restored_audio_pause_runs_out_by_the_wall_clock() {
    let paused = |resume_at_s: u64| {
        let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
        p.restore([hr_batch(0, 100, 70, &[(90, OperatorAction::AudioPause)])]);
        let mut out = Vec::new();
        p.resume_at(SessionTime::from_secs(resume_at_s), &mut out);
        p.alarms().audio_paused_until()
    };
    // Paused at 90 s for the default 120 s: until 210 s, gap or not.
    assert_eq!(paused(100), Some(SessionTime::from_secs(210)));
    assert_eq!(paused(200), Some(SessionTime::from_secs(210)));
    assert_eq!(paused(400), None);
}

fn hr(at_s: u64, device: &DeviceLabel, bpm: u8) -> SourceEvent {
    SourceEvent::notification(
        SessionTime::from_secs(at_s),
        device.clone(),
        Characteristic::HeartRateMeasurement,
        &[0x06, bpm],
    )
}

#[test]
fn a_device_is_one_device_whichever_label_value_names_it() {
    let base = SnapshotBase { start_utc: chrono::Utc::now(), participant: None, record_dir: None, mode: Mode::Live };
    let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    let first: DeviceLabel = DeviceLabel::from("chest");
    // The same name made again elsewhere (another source, a parse).
    let other: DeviceLabel = DeviceLabel::from(String::from("chest"));
    let belt: DeviceLabel = DeviceLabel::from("belt");
    p.set_device(&first, DeviceSetup::default());
    let events = [hr(1, &first, 60), hr(2, &belt, 70), hr(3, &other, 61), hr(4, &first, 62), hr(5, &other, 63)];
    p.process(&events, SessionTime::from_secs(5), &mut samples, &mut out);
    assert_eq!(samples.len(), 5);
    let snap = p.snapshot(&base);
    let labels: Vec<&str> = snap.devices.iter().map(|d| &*d.label).collect();
    assert_eq!(labels, ["belt", "chest"], "one device per name, in name order");
    let chest = p.table.id_of("chest").unwrap();
    let series = p.history.get_mut(chest, Quantity::HeartRateBpm).unwrap();
    assert_eq!(series.len(), 4, "samples of both label values in one series");
    assert_eq!(series.latest().unwrap().value, 63.0);
    assert_eq!(p.devices().count(), 2);
}

#[test]
fn take_samples_hands_over_exactly_the_batch_and_keeps_the_buffer() {
    let dev: DeviceLabel = DeviceLabel::from("x");
    let mut buffer = Vec::with_capacity(4096);
    for i in 0..3 {
        buffer.push(Sample {
            at: SessionTime::from_secs(i),
            device: dev.clone(),
            quantity: Quantity::HeartRateBpm,
            value: 60.0,
            contact: None,
            device_time_ns: None,
        });
    }
    let taken = take_samples(&mut buffer);
    assert_eq!(taken.len(), 3);
    assert!(taken.capacity() < 4096);
    assert!(buffer.is_empty());
    assert_eq!(buffer.capacity(), 4096);
}

#[test]
fn operator_marker_and_manual_reading_are_reported() {
    let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
    let mut samples = Vec::new();
    let mut out = Vec::new();
    let dose = OperatorAction::Marker(Marker { label: "dose 120 mg".into(), kind: None, amount_mg: Some(120.0) });
    p.operator(SessionTime::from_secs(30), &dose, &mut samples, &mut out);
    p.operator(
        SessionTime::from_secs(40),
        &OperatorAction::Manual { quantity: Quantity::SystolicMmhg, value: 150.0 },
        &mut samples,
        &mut out,
    );
    assert_eq!(out.len(), 2);
    assert!(matches!(&out[0], OutputEvent::Operator { at, .. } if *at == SessionTime::from_secs(30)));
    assert_eq!(samples.len(), 1);
    assert_eq!(&*samples[0].device, "manual");
    let base = SnapshotBase { start_utc: chrono::Utc::now(), participant: None, record_dir: None, mode: Mode::Live };
    let snap = p.snapshot(&base);
    assert_eq!(snap.last_dose_at, Some(SessionTime::from_secs(30)));
    let manual = snap.devices.iter().find(|d| &*d.label == "manual").unwrap();
    assert_eq!(manual.readings[0].status, ReadingStatus::Intermittent);
}

/// An undeclared cuff that connects adopts the `bp-cuff` profile by its
/// services: measurements five minutes apart raise no `tech.stale`.
#[test]
fn undeclared_cuff_adopts_its_profile_on_connection() {
    let cuff: DeviceLabel = DeviceLabel::from("cuff");
    let at = |s| SessionTime::from_secs(s);
    // Flags 0 (mmHg, no extras); systolic 120, diastolic 80, mean 93 as SFLOAT.
    let reading = || EventBody::Notification {
        characteristic: Characteristic::BloodPressureMeasurement,
        payload: crate::model::Payload::from_slice(&[0x00, 0x78, 0x00, 0x50, 0x00, 0x5d, 0x00]),
    };
    let events = vec![
        SourceEvent {
            at: at(0),
            device: Some(cuff.clone()),
            body: EventBody::Connected { name: Some("UA-651".into()), address: None, services: vec![0x1810] },
        },
        SourceEvent { at: at(1), device: Some(cuff.clone()), body: reading() },
        SourceEvent { at: at(301), device: Some(cuff.clone()), body: reading() },
    ];
    let mut p = Pipeline::new(AlarmEngine::new(crate::alarms::AlarmConfig::default()));
    let (mut samples, mut out) = (Vec::new(), Vec::new());
    p.process(&events, at(600), &mut samples, &mut out);
    assert_eq!(samples.iter().filter(|s| s.quantity == Quantity::SystolicMmhg).count(), 2);
    let stale = out.iter().any(|e| matches!(e, OutputEvent::Alarm(a) if a.condition == Condition::TechStale));
    assert!(!stale, "an intermittent cuff must not go stale between measurements: {out:?}");
}
