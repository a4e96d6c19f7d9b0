//! Event sources: BLE, simulator, NDJSON streams, replay.
pub mod ble;
