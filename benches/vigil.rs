//! vigil's benchmark harness: one criterion binary, one module per stage.
//!
//! Run all with `cargo bench`, or one group with e.g.
//! `cargo bench --bench vigil -- pipeline`.

// Benchmarks build their own inputs; a panic there is a broken bench.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main};

mod alarms;
mod cpu;
mod dashboard;
mod gatt;
mod messages;
mod pipeline;
mod record;
mod simulate;

criterion_group!(
    benches,
    gatt::benches,
    pipeline::benches,
    alarms::benches,
    simulate::benches,
    record::benches,
    dashboard::benches
);
criterion_main!(benches);
