//! The pipeline benchmark's stream for a profiler, without criterion's
//! warm-up and sampling: instruction counts per notification are then
//! `Ir(run_core) / notifications` from
//!
//! ```sh
//! cargo build --release --example pipeline_profile
//! valgrind --tool=callgrind --toggle-collect='*run_core*' \
//!     target/release/examples/pipeline_profile 4 3
//! ```
//!
//! Arguments: devices (4), runs (3), `record` to include the recorder
//! message and channel send (then toggle on `*pipeline::run*`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// `benches` (the criterion entry point) is unused here.
#[allow(dead_code)]
#[path = "../benches/cpu.rs"]
mod cpu;
#[allow(dead_code)]
#[path = "../benches/pipeline.rs"]
mod pipeline;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let runs = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let record = args.get(3).is_some_and(|a| a == "record");
    pipeline::profile(devices, runs, record);
}
