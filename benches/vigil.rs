//! The one criterion bench binary; each area adds `mod <area>;` and its
//! function to the group.

use criterion::{criterion_group, criterion_main};

mod gatt;

criterion_group!(benches, gatt::benches);
criterion_main!(benches);
