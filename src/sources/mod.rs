//! Event sources: BLE, simulator, NDJSON streams, replay.

pub mod ble;
pub mod replay;
pub mod simulate;
pub mod stream;
