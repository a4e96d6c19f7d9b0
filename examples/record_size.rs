//! Record a session and print the compacted sizes (bytes per sample is
//! DESIGN.md's budget: ≤ 4).
//!
//! `cargo run --example record_size [SCENARIO | HOURS]`: a simulator scenario
//! (`mdma-session`, run through the real pipeline) or HOURS of the 4-device
//! synthetic session (default 8).
use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::pipeline::Pipeline;
use vigil::record::{RecordMsg, RecordOptions, Recorder, synthetic};
use vigil::sources::simulate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "8".to_owned());
    let msgs: Vec<RecordMsg> = match arg.parse::<u64>() {
        Ok(hours) => synthetic::session(4, hours * 3600, 1)
            .map(|s| RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .collect(),
        Err(_) => {
            let scenario = simulate::load(&arg)?;
            let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
            for (label, profile) in scenario.device_profiles() {
                p.set_device(&label, vigil::app::device_setup(&profile));
            }
            scenario
                .batches(1)
                .map(|b| {
                    let (mut samples, mut output) = (Vec::new(), Vec::new());
                    p.process(&b.events, b.until, &mut samples, &mut output);
                    RecordMsg::Batch { events: b.events, samples, output }
                })
                .collect()
        }
    };
    // RECORD_SIZE_KEEP=DIR keeps the recording there, to look inside.
    let root = tempfile::tempdir()?;
    let root_path =
        std::env::var_os("RECORD_SIZE_KEEP").map_or_else(|| root.path().to_owned(), std::path::PathBuf::from);
    let opts = RecordOptions { root: root_path, participant: None, resume: None };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")?.with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null)?;
    let tx = rec.sender();
    let t0 = std::time::Instant::now();
    for m in msgs {
        tx.blocking_send(m)?;
    }
    drop(tx);
    let info = rec.finish()?;
    for f in ["notifications.arrow", "samples.arrow", "events.arrow"] {
        eprintln!("{f}: {} bytes", std::fs::metadata(info.dir.join(f))?.len());
    }
    #[allow(clippy::cast_precision_loss)]
    let per = info.samples_bytes as f64 / info.samples as f64;
    eprintln!(
        "{arg}: {} samples, samples.arrow {} B = {per:.2} B/sample; recorded in {:?}",
        info.samples,
        info.samples_bytes,
        t0.elapsed()
    );
    Ok(())
}
