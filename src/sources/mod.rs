//! Event sources: BLE, simulator, NDJSON streams, replay.
