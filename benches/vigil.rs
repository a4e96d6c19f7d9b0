//! vigil's benchmark harness: one criterion binary, one module per stage.
//!
//! Run all with `cargo bench`, or one group with e.g.
//! `cargo bench --bench vigil -- alarms`.

use criterion::{criterion_group, criterion_main};

mod alarms;

criterion_group!(benches, alarms::benches);
criterion_main!(benches);
