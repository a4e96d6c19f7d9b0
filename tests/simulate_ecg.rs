//! The simulated Polar H10 with raw ECG (`polar-h10-ecg`): PMD frames of 73
//! samples timestamped by the strap's clock at its true rate (131.2 Hz),
//! none while disconnected, noise only without skin contact, and R-peaks
//! on the very beats whose RR the strap reports in 0x2A37.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use vigil::analysis::rpeaks::{RPeaks, agreement};
use vigil::ecg::EcgClock;
use vigil::gatt::{self, Measurement, pmd};
use vigil::model::{EventBody, SessionTime};
use vigil::sources::simulate::physiology::Heart;
use vigil::sources::simulate::{self, Scenario};

struct Strap {
    /// `(arrival, frame)` of every PMD notification of `chest`.
    frames: Vec<(SessionTime, pmd::EcgFrame)>,
    /// RR intervals (1/1024 s) of `chest`'s 0x2A37 notifications, in order.
    rr: Vec<u16>,
    connects: Vec<SessionTime>,
    disconnects: Vec<SessionTime>,
}

fn strap(s: &Scenario, until: SessionTime) -> Strap {
    let mut out = Strap { frames: Vec::new(), rr: Vec::new(), connects: Vec::new(), disconnects: Vec::new() };
    for batch in s.batches(s.seed) {
        if batch.until > until {
            break;
        }
        for e in batch.events.into_iter().filter(|e| e.device.as_deref() == Some("chest")) {
            match e.body {
                EventBody::Notification { characteristic, payload } => match gatt::decode(characteristic, &payload) {
                    Ok(Measurement::Ecg(f)) => {
                        assert_eq!(characteristic, pmd::DATA_CHARACTERISTIC);
                        out.frames.push((e.at, f));
                    }
                    Ok(Measurement::HeartRate(hr)) => out.rr.extend(hr.rr_intervals_1024.iter()),
                    Ok(_) => {}
                    Err(err) => panic!("{} at {}: {err}", characteristic, e.at),
                },
                EventBody::Connected { .. } => out.connects.push(e.at),
                EventBody::Disconnected { .. } => out.disconnects.push(e.at),
                _ => {}
            }
        }
    }
    out
}

fn hms(h: u64, m: u64, s: u64) -> SessionTime {
    SessionTime::from_secs((h * 60 + m) * 60 + s)
}

#[test]
fn the_scenario_parses_and_says_what_it_shows() {
    let s = simulate::load("polar-h10-ecg").unwrap();
    assert_eq!(s.duration.as_secs(), 8 * 3600);
    let chest = s.devices.iter().find(|d| &*d.label == "chest").unwrap();
    assert!(chest.ecg);
    assert!((chest.ecg_rate_hz - 131.2).abs() < 1e-9);
    assert!(chest.profile.offers(pmd::DATA_CHARACTERISTIC));
    assert!(s.header.contains("Expected alarms") && s.header.contains("131.2 Hz"), "{}", s.header);
    // Every other shipped scenario streams no ECG.
    for (name, _) in simulate::list().into_iter().filter(|(n, _)| n != "polar-h10-ecg") {
        assert!(simulate::load(&name).unwrap().devices.iter().all(|d| !d.ecg), "{name}");
    }
}

#[test]
fn frames_carry_73_samples_at_the_straps_rate_and_stop_while_disconnected() {
    let s = simulate::load("polar-h10-ecg").unwrap();
    let strap = strap(&s, hms(3, 10, 0));
    let clock_at_zero_ns =
        u64::try_from(s.device_clock.timestamp_nanos_opt().unwrap() - pmd::EPOCH_2000_UNIX_S * 1_000_000_000).unwrap();
    assert!(strap.frames.len() > 20_000, "{} frames", strap.frames.len());
    for (at, f) in &strap.frames {
        assert_eq!(f.samples_uv.len(), 73);
        // Notified at its last sample, stamped with the strap's clock.
        assert_eq!(f.timestamp_ns, clock_at_zero_ns + at.as_nanos());
    }
    // The strap's timestamps advance at 131.2 Hz, which the one placing
    // rule measures.
    let mut clock = EcgClock::new();
    let mut periods = Vec::new();
    for (at, f) in &strap.frames {
        let t = clock.place(*at, f.timestamp_ns, f.samples_uv.len());
        if !t.new_run {
            periods.push(t.period_ns);
        }
    }
    let mean = periods.iter().sum::<f64>() / periods.len() as f64;
    assert!((1e9 / mean - 131.2).abs() < 0.01, "measured {} Hz", 1e9 / mean);
    assert!(periods.iter().all(|p| (p - 1e9 / 131.2).abs() < 0.1), "every frame's period");

    // The disconnection at 3:05:00 for 30 s: no frame meanwhile; the
    // stream restarts half a second after the reconnection.
    assert_eq!(strap.disconnects, vec![hms(3, 5, 0)]);
    assert_eq!(strap.connects.last(), Some(&hms(3, 5, 30)));
    let (down, up) = (hms(3, 5, 0), hms(3, 5, 30));
    assert!(strap.frames.iter().all(|(at, _)| *at < down || *at >= up), "a frame while disconnected");
    let before = strap.frames.iter().rev().find(|(at, _)| *at < down).unwrap().0;
    let after = strap.frames.iter().find(|(at, _)| *at >= up).unwrap().0;
    assert!(down.since(before).as_secs_f64() < 73.0 / 131.2, "frames up to the disconnection");
    let first_sample_after = after.as_secs_f64() - 72.0 / 131.2;
    assert!((30.5 * 1.0..31.5).contains(&(first_sample_after - down.as_secs_f64())), "{first_sample_after}");
}

#[test]
fn without_contact_the_frames_carry_noise_only() {
    let s = simulate::load("polar-h10-ecg").unwrap();
    let strap = strap(&s, hms(2, 11, 0));
    let span = 72.0 / 131.2;
    let (off, on) = (hms(2, 10, 0).as_secs_f64(), hms(2, 10, 20).as_secs_f64());
    let inside: Vec<&pmd::EcgFrame> = strap
        .frames
        .iter()
        .filter(|(at, _)| at.as_secs_f64() - span >= off && at.as_secs_f64() < on)
        .map(|(_, f)| f)
        .collect();
    assert!(inside.len() >= 30, "frames keep coming without contact: {}", inside.len());
    let max = inside.iter().flat_map(|f| f.samples_uv.iter()).map(|v| v.abs()).max().unwrap();
    assert!(max < 100, "largest |sample| without contact {max} µV");
    // With contact, R waves of about a millivolt.
    let with = strap.frames.iter().rfind(|(at, _)| at.as_secs_f64() < off - 5.0).unwrap();
    assert!(with.1.samples_uv.iter().max().unwrap() > &800);
}

#[test]
fn the_ecg_beats_are_the_beats_whose_rr_the_strap_reports() {
    let s = simulate::load("polar-h10-ecg").unwrap();
    let hour = hms(1, 0, 0);
    let strap = strap(&s, hour);
    // The strap's heart, replayed: its RR in 0x2A37 are these beats'.
    let mut heart = Heart::new(s.seed);
    let beats: Vec<(f64, f64)> =
        std::iter::from_fn(|| Some(heart.next_beat(&s.physiology))).take_while(|b| b.0 < hour.as_secs_f64()).collect();
    let rr_1024: Vec<u16> = beats.iter().map(|b| (b.1 * 1024.0).round() as u16).collect();
    // No gap in the first hour: every beat's RR went out, in order (the
    // last few are still pending at the cut).
    assert!(
        strap.rr.len() + 3 >= rr_1024.len() && strap.rr.len() <= rr_1024.len(),
        "{} of {}",
        strap.rr.len(),
        rr_1024.len()
    );
    assert_eq!(strap.rr[..], rr_1024[..strap.rr.len()]);

    // R-peaks found in the ECG (placed in session time by the one rule)
    // fall on those beats.
    let mut clock = EcgClock::new();
    let mut detector = RPeaks::new(vigil::ecg::NOMINAL_RATE_HZ);
    let mut found = Vec::new();
    for (at, f) in &strap.frames {
        let t = clock.place(*at, f.timestamp_ns, f.samples_uv.len());
        detector.push(t.first_ns, t.period_ns, &f.samples_uv, &mut found);
    }
    detector.finish(&mut found);
    let first_sample = strap.frames[0].0.as_secs_f64() - 72.0 / 131.2;
    let last_sample = strap.frames.last().unwrap().0.as_secs_f64();
    let reference: Vec<f64> = beats
        .iter()
        .map(|b| b.0)
        .filter(|t| *t > first_sample + 0.1 && *t < last_sample - 0.1)
        .map(|t| t * 1e9)
        .collect();
    let a = agreement(&reference, &found, 50e6);
    println!(
        "first hour of polar-h10-ecg: {} beats, sensitivity {:.4} %, positive predictivity {:.4} %",
        reference.len(),
        100.0 * a.sensitivity(),
        100.0 * a.positive_predictivity()
    );
    assert!(a.sensitivity() >= 0.995 && a.positive_predictivity() >= 0.995, "{a:?}");
}

#[test]
fn ecg_is_refused_where_it_cannot_be() {
    let base = |device: &str, extra: &str| {
        format!(
            "name = \"x\"\ndescription = \"d\"\nduration = \"1m\"\n{extra}\n[[devices]]\nlabel = \"chest\"\n{device}name = \"n\"\naddress = \"a\"\n"
        )
    };
    let err = |text: &str| simulate::parse("e.toml", text).unwrap_err().to_string();
    let e = err(&base("profile = \"generic-hr\"\necg = true\n", ""));
    assert!(e.starts_with("e.toml:5: devices[0].ecg: profile `generic-hr` offers no Polar PMD ECG"), "{e}");
    let e = err(&base("profile = \"polar-h10\"\necg_rate_hz = 131\n", ""));
    assert!(e.contains("devices[0].ecg_rate_hz: ecg_rate_hz applies only with `ecg = true`"), "{e}");
    let e = err(&base("profile = \"polar-h10\"\necg = true\necg_rate_hz = 150\n", ""));
    assert!(e.contains("devices[0].ecg_rate_hz: 150 Hz is outside 120–140 Hz"), "{e}");
    let e = err(&base("profile = \"polar-h10\"\necg = true\n", "device_clock = \"1999-12-31T23:00:00Z\""));
    assert!(e.starts_with("e.toml:4: device_clock: devices[0] streams ECG"), "{e}");
    let ok = simulate::parse("e.toml", &base("profile = \"polar-h10\"\necg = true\n", "")).unwrap();
    assert!(ok.devices[0].ecg && (ok.devices[0].ecg_rate_hz - 130.0).abs() < 1e-12);
}
