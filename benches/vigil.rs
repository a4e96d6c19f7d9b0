//! vigil's benchmark harness: one criterion binary, one module per stage.
//!
//! Run all with `cargo bench`, or one group with e.g.
//! `cargo bench --bench vigil -- pipeline`.

use criterion::{criterion_group, criterion_main};

mod gatt;
mod pipeline;
mod simulate;

criterion_group!(benches, gatt::benches, pipeline::benches, simulate::benches);
criterion_main!(benches);
