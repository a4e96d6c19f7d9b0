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
//! Arguments: devices (4), runs (3), then `record` to include the recorder
//! message and channel send (then toggle on `*pipeline::run*`), or `same`
//! for one pipeline through consecutive stretches instead of a fresh one
//! per run (the pipeline alone: does the spread come from each run's
//! memory layout?). Each run first takes a fresh pipeline through an
//! untimed warm stretch (outside the toggled function), as the bench does.
//!
//! Without valgrind it also prints the pipeline thread's CPU time per run,
//! best, median and deciles: on a shared machine other users only ever add
//! to a run's time, so with a few hundred runs the best is the steadiest
//! figure of what the code costs (`pipeline_profile 100 300 record`). Before
//! each run it times a fixed reference work (`cpu::Reference`: dependent
//! loads through 128 KB, or `REF_SLOTS` × 64 bytes; `REF_KIND=wide` for
//! independent arithmetic chains instead) and prints the spread of both,
//! which tells the machine's speed apart from the code's.
//! `PP_TRACE=1` prints each run's time in milliseconds, in order.

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
    match args.get(3).map(String::as_str) {
        Some("same") => pipeline::profile_same_pipeline(devices, runs),
        mode => pipeline::profile(devices, runs, mode == Some("record")),
    }
}
