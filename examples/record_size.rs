//! Record a synthetic 8-hour, 4-device session and print the compacted sizes
//! (bytes per sample is DESIGN.md's budget: ≤ 4).
//!
//! `cargo run --example record_size [hours]`
use vigil::record::{RecordMsg, RecordOptions, Recorder, synthetic};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hours: u64 = std::env::args().nth(1).and_then(|h| h.parse().ok()).unwrap_or(8);
    let root = tempfile::tempdir()?;
    let opts = RecordOptions { root: root.path().to_owned(), participant: None, resume: None };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")?.with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null)?;
    let tx = rec.sender();
    let t0 = std::time::Instant::now();
    for s in synthetic::session(4, hours * 3600, 1) {
        tx.blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })?;
    }
    drop(tx);
    let info = rec.finish()?;
    let dir = info.dir.clone();
    for f in ["notifications.arrow", "samples.arrow", "events.arrow"] {
        eprintln!("{f}: {} bytes", std::fs::metadata(dir.join(f))?.len());
    }
    #[allow(clippy::cast_precision_loss)]
    let per = info.samples_bytes as f64 / info.samples as f64;
    eprintln!(
        "{} samples, samples.arrow {} B = {per:.2} B/sample; {:?}",
        info.samples,
        info.samples_bytes,
        t0.elapsed()
    );
    Ok(())
}
