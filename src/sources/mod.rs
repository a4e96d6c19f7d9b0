//! Event sources: BLE, simulator, NDJSON streams, replay.

pub mod ble;
pub mod simulate;
pub mod stream;
