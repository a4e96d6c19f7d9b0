//! vigil's benchmark harness: one criterion binary, one module per stage.
//!
//! Run all with `cargo bench`, or one group with e.g.
//! `cargo bench --bench vigil -- dashboard`.

use criterion::{criterion_group, criterion_main};

mod dashboard;

criterion_group!(benches, dashboard::benches);
criterion_main!(benches);
