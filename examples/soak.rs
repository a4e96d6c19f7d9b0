//! 24-hour soak on the virtual clock: is memory flat from 1 h to 24 h?
//!
//! `cargo run --release --example soak [HOURS]` (default 24) runs the
//! 4-device `mdma-session` scenario stretched to HOURS through the real
//! [`Pipeline`] (decoders, ring buffers, alarm engine), takes a dashboard
//! snapshot every second of session time as the dashboard's tick would, and
//! prints VmRSS / VmHWM from `/proc/self/status` at 1 h, every 4 h and at the
//! end. The recorder is left out: it runs on its own thread with its own
//! bounded buffers and is measured by `record_size` and the record bench.
//!
//! DESIGN.md's budget: RSS ≤ 30 MB, flat from 1 h to 24 h of session.
use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::model::SessionTime;
use vigil::pipeline::{Pipeline, SnapshotBase};
use vigil::snapshot::Mode;
use vigil::sources::simulate;

/// `VmRSS` and `VmHWM` in kB; Linux only, `None` elsewhere.
fn rss_kb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hours: u64 = std::env::args().nth(1).map_or(Ok(24), |a| a.parse())?;
    // The shipped 8-h scenario, stretched: physiology holds its last value
    // after the scripted part, which is what a long quiet session looks like.
    let text = include_str!("../devices/simulated/mdma-session.toml").replacen(
        "duration = \"8h\"",
        &format!("duration = \"{hours}h\""),
        1,
    );
    let scenario = simulate::parse("mdma-session (stretched)", &text)?;
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    let profiles = scenario.device_profiles();
    for (label, profile) in &profiles {
        p.set_device(label, vigil::app::device_setup(profile));
    }
    let base = SnapshotBase {
        start_utc: chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")?.with_timezone(&chrono::Utc),
        participant: Some("SOAK".to_owned()),
        record_dir: None,
        mode: Mode::Simulated,
    };
    eprintln!("soak: {} devices, {hours} h of session time", profiles.len());
    if let Some((rss, hwm)) = rss_kb() {
        eprintln!("start: VmRSS {rss} kB, VmHWM {hwm} kB");
    }
    let (mut samples, mut output) = (Vec::new(), Vec::new());
    let (mut notifications, mut next_report_h) = (0_u64, 1_u64);
    let t0 = std::time::Instant::now();
    for batch in scenario.batches(1) {
        notifications += batch.events.len() as u64;
        p.process(&batch.events, batch.until, &mut samples, &mut output);
        // Sinks would drain these; keeping them would measure our own Vec.
        samples.clear();
        output.clear();
        std::hint::black_box(p.snapshot(&base));
        if batch.until >= SessionTime::from_secs(next_report_h * 3600) {
            if let Some((rss, hwm)) = rss_kb() {
                eprintln!("{next_report_h:>2} h: VmRSS {rss} kB, VmHWM {hwm} kB ({notifications} events so far)");
            }
            next_report_h = if next_report_h == 1 { 4 } else { next_report_h + 4 }.min(hours);
            if batch.until >= SessionTime::from_secs(hours * 3600) {
                break;
            }
        }
    }
    eprintln!("done: {notifications} events in {:.2?} wall", t0.elapsed());
    Ok(())
}
