//! vigil — a physiological session monitor for wearable BLE sensors.
//!
//! # Data flow
//!
//! ```text
//!  sources (each a task)          pipeline (one task owns all state)          sinks
//!  sources::ble      ─┐           gatt:     GATT bytes -> samples            ┌─ watch   -> dashboard (ratatui)
//!  sources::simulate ─┼─ Batch ─▶ history:  ring buffers per stream  ───────┼─ bounded -> record (Arrow, own thread)
//!  sources::stream   ─┤  channel  alarms:   pure state machine              └─ bounded -> headless (JSON lines)
//!  sources::replay   ─┘           operator actions (ack, marker, …)  ◀── keys / stream action lines
//! ```
//!
//! # Layout
//!
//! - [`model`]: the shared vocabulary (session time, source events, samples,
//!   alarm and operator events).
//! - [`clock`]: real or virtual session time, the only time events, samples
//!   and alarm timers are stamped in. Elsewhere the monotonic clock only
//!   paces I/O (replay, dashboard frames, recorder flushes, BLE reconnects)
//!   and watches liveness (a silent sensor, a stalled tick, a stuck alarm
//!   command).
//! - [`gatt`]: decoders and encoders for the Bluetooth SIG characteristics
//!   and Polar's PMD ECG frames.
//! - [`ecg`]: when each sample of a PMD ECG frame was taken, in session
//!   time (the strap's rate measured from its timestamps).
//! - [`history`]: per-device, per-quantity ring buffers and the whole-session
//!   trend; memory bounded for any session length.
//! - [`alarms`]: the IEC 60601-1-8 style alarm engine (pure, deterministic).
//! - [`verdict`]: whether a device's data is stale, without contact or
//!   invalid; the alarms, the snapshot and the BLE supervisor all ask it.
//! - [`config`]: layered, validated configuration (alarm limits).
//! - [`devices`]: device profiles (`devices/*.toml`) and the setup a
//!   profile gives a device.
//! - [`device_table`]: the session's devices, numbered, at most
//!   `[session] max_devices`; the stream source, the pipeline and its alarm
//!   engine share it and know a device by its `DeviceId`.
//! - [`pipeline`]: decoders, history and alarms, owned by the session loop.
//! - [`snapshot`]: what the dashboard reads.
//! - [`sources`]: BLE, simulator, NDJSON streams, replay.
//! - [`analysis`]: offline analysis, pure functions: alarm episodes, vital
//!   statistics and data quality, beats and segments, HRV, windows. The
//!   summary, the headless summary, the report and `vigil analyze` share it.
//! - [`analyze`]: `vigil analyze`, rows per recording, window and device,
//!   and their table, JSON, CSV and Parquet forms.
//! - [`record`]: Arrow recordings and the readers behind replay, summary,
//!   export (CSV, Parquet, EDF+, BIDS) and report.
//! - [`headless`]: the JSON lines of headless output, as types.
//! - [`mqtt`]: the central station's topics and payloads.
//! - [`central`]: `vigil central`, the station: the ward model fed from
//!   the broker, its screen and headless lines, the `--demo` bedsides.
//! - [`alarm_command`]: `--alarm-command`, a supervised child fed alarm
//!   lines; its failure is the technical alarm `tech.alarm_command`.
//! - [`dashboard`]: the live terminal screen.
//! - [`session`]: wires sources, pipeline and sinks. It makes the channels
//!   between stages (capacities named there) and starts every long-lived
//!   task: the source and the dashboard through their factories, the
//!   recorder, the headless writer and the alarm command's supervisor. A
//!   stage's private helpers (BLE per-device supervisors, the stream file
//!   reader, the dashboard's key reader) are the stage's own, each bounded by
//!   a named constant.
//! - [`cli`]: the command line; [`app`]: what each subcommand does.
//! - [`excerpt`]: input text as an error message quotes it (cut, escaped).

pub mod alarm_command;
pub mod alarms;
pub mod analysis;
pub mod analyze;
pub mod app;
pub mod central;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod device_table;
pub mod devices;
pub mod ecg;
pub mod excerpt;
pub mod gatt;
pub mod headless;
pub mod history;
pub mod model;
pub mod mqtt;
pub mod pipeline;
pub mod record;
pub mod session;
pub mod snapshot;
pub mod sources;
pub mod verdict;
