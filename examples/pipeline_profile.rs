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
//! message and channel send (then toggle on `*pipeline::run*`). Each run
//! first takes a fresh pipeline through an untimed warm stretch (outside the
//! toggled function), as the bench does.
//!
//! Without valgrind it also prints the pipeline thread's CPU time per run,
//! best and median: on a shared machine other users only ever add to a
//! run's time, so with a few hundred runs the best is the steadiest figure
//! of what the code costs (`pipeline_profile 100 300 record`).

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
